"""Geography: the metro areas demo accounts cluster around, and great-circle distances."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Metro:
    """A real metro area: where it is, how much business it holds, and who sells there."""

    city: str
    state: str
    country: str
    latitude: float
    longitude: float
    weight: float  # relative number of businesses
    language: str
    region: str  # the sales region that covers it
    postal_prefix: str


METROS: tuple[Metro, ...] = (
    Metro("New York", "NY", "US", 40.7128, -74.0060, 20.0, "en", "us_east", "100"),
    Metro("Los Angeles", "CA", "US", 34.0522, -118.2437, 13.0, "en", "us_west", "900"),
    Metro("Chicago", "IL", "US", 41.8781, -87.6298, 9.0, "en", "us_central", "606"),
    Metro("Dallas", "TX", "US", 32.7767, -96.7970, 7.0, "en", "us_central", "752"),
    Metro("Houston", "TX", "US", 29.7604, -95.3698, 7.0, "en", "us_central", "770"),
    Metro("Washington", "DC", "US", 38.9072, -77.0369, 6.0, "en", "us_east", "200"),
    Metro("Philadelphia", "PA", "US", 39.9526, -75.1652, 6.0, "en", "us_east", "191"),
    Metro("Miami", "FL", "US", 25.7617, -80.1918, 6.0, "en", "us_east", "331"),
    Metro("Atlanta", "GA", "US", 33.7490, -84.3880, 6.0, "en", "us_east", "303"),
    Metro("Boston", "MA", "US", 42.3601, -71.0589, 5.0, "en", "us_east", "021"),
    Metro("Phoenix", "AZ", "US", 33.4484, -112.0740, 5.0, "en", "us_west", "850"),
    Metro("San Francisco", "CA", "US", 37.7749, -122.4194, 6.0, "en", "us_west", "941"),
    Metro("Seattle", "WA", "US", 47.6062, -122.3321, 4.5, "en", "us_west", "981"),
    Metro("Minneapolis", "MN", "US", 44.9778, -93.2650, 3.5, "en", "us_central", "554"),
    Metro("San Diego", "CA", "US", 32.7157, -117.1611, 3.3, "en", "us_west", "921"),
    Metro("Denver", "CO", "US", 39.7392, -104.9903, 3.0, "en", "us_west", "802"),
    Metro("Detroit", "MI", "US", 42.3314, -83.0458, 4.0, "en", "us_central", "482"),
    Metro("Tampa", "FL", "US", 27.9506, -82.4572, 3.0, "en", "us_east", "336"),
    Metro("St. Louis", "MO", "US", 38.6270, -90.1994, 2.6, "en", "us_central", "631"),
    Metro("Baltimore", "MD", "US", 39.2904, -76.6122, 2.6, "en", "us_east", "212"),
    Metro("Charlotte", "NC", "US", 35.2271, -80.8431, 2.5, "en", "us_east", "282"),
    Metro("Portland", "OR", "US", 45.5152, -122.6784, 2.3, "en", "us_west", "972"),
    Metro("San Antonio", "TX", "US", 29.4241, -98.4936, 2.4, "en", "us_central", "782"),
    Metro("Austin", "TX", "US", 30.2672, -97.7431, 2.3, "en", "us_central", "787"),
    Metro("Pittsburgh", "PA", "US", 40.4406, -79.9959, 2.2, "en", "us_east", "152"),
    Metro("Salt Lake City", "UT", "US", 40.7608, -111.8910, 1.2, "en", "us_west", "841"),
    Metro("Nashville", "TN", "US", 36.1627, -86.7816, 1.9, "en", "us_central", "372"),
    Metro("Columbus", "OH", "US", 39.9612, -82.9988, 2.0, "en", "us_central", "432"),
    Metro("Indianapolis", "IN", "US", 39.7684, -86.1581, 2.0, "en", "us_central", "462"),
    Metro("Kansas City", "MO", "US", 39.0997, -94.5786, 2.0, "en", "us_central", "641"),
    Metro("Raleigh", "NC", "US", 35.7796, -78.6382, 1.4, "en", "us_east", "276"),
    Metro("Las Vegas", "NV", "US", 36.1699, -115.1398, 2.2, "en", "us_west", "891"),
    Metro("Cleveland", "OH", "US", 41.4993, -81.6944, 2.0, "en", "us_central", "441"),
    Metro("Toronto", "ON", "CA", 43.6532, -79.3832, 6.0, "en", "canada", "M5"),
    Metro("Montreal", "QC", "CA", 45.5017, -73.5673, 4.0, "fr", "canada", "H2"),
    Metro("Vancouver", "BC", "CA", 49.2827, -123.1207, 2.5, "en", "canada", "V6"),
    Metro("Calgary", "AB", "CA", 51.0447, -114.0719, 1.5, "en", "canada", "T2"),
    Metro("London", "ENG", "GB", 51.5074, -0.1278, 10.0, "en", "uk_ireland", "EC"),
    Metro("Manchester", "ENG", "GB", 53.4808, -2.2426, 2.5, "en", "uk_ireland", "M"),
    Metro("Birmingham", "ENG", "GB", 52.4862, -1.8904, 2.4, "en", "uk_ireland", "B"),
    Metro("Edinburgh", "SCT", "GB", 55.9533, -3.1883, 1.2, "en", "uk_ireland", "EH"),
    Metro("Dublin", "D", "IE", 53.3498, -6.2603, 1.8, "en", "uk_ireland", "D0"),
    Metro("Berlin", "BE", "DE", 52.5200, 13.4050, 4.0, "de", "dach", "10"),
    Metro("Munich", "BY", "DE", 48.1351, 11.5820, 3.0, "de", "dach", "80"),
    Metro("Frankfurt", "HE", "DE", 50.1109, 8.6821, 2.5, "de", "dach", "60"),
    Metro("Hamburg", "HH", "DE", 53.5511, 9.9937, 2.5, "de", "dach", "20"),
    Metro("Zurich", "ZH", "CH", 47.3769, 8.5417, 1.5, "de", "dach", "80"),
    Metro("Vienna", "W", "AT", 48.2082, 16.3738, 1.8, "de", "dach", "10"),
    Metro("Paris", "IDF", "FR", 48.8566, 2.3522, 8.0, "fr", "france_benelux", "75"),
    Metro("Lyon", "ARA", "FR", 45.7640, 4.8357, 2.0, "fr", "france_benelux", "69"),
    Metro("Amsterdam", "NH", "NL", 52.3676, 4.9041, 2.5, "nl", "france_benelux", "10"),
    Metro("Brussels", "BRU", "BE", 50.8503, 4.3517, 1.5, "fr", "france_benelux", "10"),
    Metro("Madrid", "MD", "ES", 40.4168, -3.7038, 3.5, "es", "southern_europe", "28"),
    Metro("Barcelona", "CT", "ES", 41.3874, 2.1686, 3.0, "es", "southern_europe", "08"),
    Metro("Milan", "LOM", "IT", 45.4642, 9.1900, 3.0, "it", "southern_europe", "20"),
    Metro("Rome", "LAZ", "IT", 41.9028, 12.4964, 2.5, "it", "southern_europe", "00"),
    Metro("Stockholm", "AB", "SE", 59.3293, 18.0686, 1.8, "sv", "nordics", "11"),
    Metro("Copenhagen", "84", "DK", 55.6761, 12.5683, 1.5, "da", "nordics", "1"),
    Metro("Tokyo", "13", "JP", 35.6762, 139.6503, 10.0, "ja", "apac", "100"),
    Metro("Osaka", "27", "JP", 34.6937, 135.5023, 4.0, "ja", "apac", "530"),
    Metro("Sydney", "NSW", "AU", -33.8688, 151.2093, 4.0, "en", "apac", "20"),
    Metro("Melbourne", "VIC", "AU", -37.8136, 144.9631, 3.5, "en", "apac", "30"),
    Metro("Singapore", "SG", "SG", 1.3521, 103.8198, 3.0, "en", "apac", "01"),
    Metro("Mexico City", "CMX", "MX", 19.4326, -99.1332, 5.0, "es", "latam", "06"),
    Metro("Sao Paulo", "SP", "BR", -23.5505, -46.6333, 6.0, "pt", "latam", "01"),
)


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees; numpy broadcasting applies."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2))
    sin_dlat = np.sin((lat2 - lat1) / 2.0)
    sin_dlon = np.sin((lon2 - lon1) / 2.0)
    a = sin_dlat**2 + np.cos(lat1) * np.cos(lat2) * sin_dlon**2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def unit_vectors(latitude, longitude) -> np.ndarray:
    """Points on the unit sphere, shape (n, 3): Euclidean nearness there is great-circle nearness."""
    lat = np.radians(np.asarray(latitude, dtype=float))
    lon = np.radians(np.asarray(longitude, dtype=float))
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))
