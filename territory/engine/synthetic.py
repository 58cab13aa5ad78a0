"""Synthetic assignment instances: a plausible US sales organisation of any size, from a seed.

The model, in the order it is drawn (every draw vectorised, one generator, so the same
arguments give the same instance array for array):

* units (accounts) belong to a segment (more small accounts than large ones) and cluster around
  the continental US metros of `territory.geo.METROS`, most within ~30 km of the centre and some
  out in the region; an industry is drawn from a realistic mix of ten;
* families: `families_share` of the units are members of a family, a parent and one to three
  children that share the parent's segment, industry and (usually) metro and owner;
* potential is log-normal (sigma 0.8, larger in higher segments); value = potential x a win
  probability (Beta(2, 4), mean 1/3); visits are 0-6 a year, more for larger accounts;
  workload hours = a log-normal base growing mildly with potential, plus two hours per visit
  (mean about 14 h a year in the first segment);
* top tier: the `top_tier_share` of units with the highest potential, which only reps with at
  least TOP_TIER_MIN_EXPERIENCE years may own;
* reps serve exactly one segment; each segment gets reps in proportion to its workload, and
  within a segment each metro in proportion to its workload, so bases sit where the demand is;
* reps have experience (0-15 years, skewed junior, at least half of each segment above the
  top-tier minimum), a level in {0.8, 1, 1.2, 1.5} that follows experience, a skill in
  [0.3, 0.95] that grows with it, two or three industries, and a capacity of about 1,600 h (some
  part-timers) scaled per segment so that the segment's capacity is CAPACITY_HEADROOM x its
  workload: the capacity measure always fits;
* current owner: usually one of the four nearest reps of the unit's segment, sometimes any rep
  (an owner from another segment, as real CRMs hold), sometimes none;
* `locked_share` of the units keep their current owner; only units owned within their segment,
  outside families, whose owner may hold them (top tier) are locked, so locks never contradict
  eligibility.

Measures, in order: workload_hours (the capacity measure, fair share by capacity), potential
(fair share by capacity x level) and accounts (one per unit, by capacity), all with `tolerance`.
With more than one segment, eligibility is by segment; fit is by industry.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from territory.engine.instance import Instance, Measure, Reps, Units
from territory.geo import METROS, unit_vectors

US_METROS = tuple(metro for metro in METROS if metro.country == "US")
CONTINENTAL_US_LATITUDE = (24.5, 49.4)
CONTINENTAL_US_LONGITUDE = (-124.7, -66.9)

SEGMENT_NAMES = ("smb", "mid_market", "enterprise")  # beyond three segments: segment_4, segment_5, ...
SEGMENT_UNIT_RATIO = 0.55  # each segment has this share of the previous segment's units
SEGMENT_POTENTIAL_GROWTH = 3.0  # median potential x this per segment up
SEGMENT_WORKLOAD_GROWTH = 1.5

INDUSTRIES = (
    "software", "financial_services", "healthcare", "manufacturing", "retail",
    "professional_services", "education", "energy", "media", "transportation",
)  # fmt: skip
INDUSTRY_WEIGHTS = np.array([14, 11, 10, 11, 9, 12, 5, 4, 4, 4], dtype=float)

MEDIAN_POTENTIAL = 40_000.0  # first segment, in the currency of value
POTENTIAL_SIGMA = 0.8
MAX_VISITS = 6
HOURS_PER_VISIT = 2.0

LEVELS = np.array([0.8, 1.0, 1.2, 1.5])
LEVEL_EXPERIENCE_EDGES = np.array([2.0, 6.0, 10.0])  # years at which the level steps up
MAX_EXPERIENCE = 15.0
TOP_TIER_MIN_EXPERIENCE = 3.0
FULL_TIME_HOURS = 1_600.0
PART_TIME_SHARE = 0.08
CAPACITY_HEADROOM = 1.15  # segment capacity / segment workload

NEAREST_OWNER_PREFERENCE = np.array([0.55, 0.25, 0.12, 0.08])  # chance the owner is the k-th nearest rep
OTHER_OWNER_SHARE = 0.03  # owned by any rep at all
UNOWNED_SHARE = 0.03
FAMILY_SHARES_METRO = 0.7  # a child sits in its parent's metro
FAMILY_SHARES_OWNER = 0.8  # a child has its parent's owner


def _categorical(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """`size` draws of category indices with probability proportional to `weights`."""
    cumulative = np.cumsum(weights, dtype=float)
    return np.searchsorted(cumulative / cumulative[-1], rng.random(size), side="right").clip(0, len(weights) - 1)


def _apportion(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Split `total` into integers proportional to `weights` (largest remainder), each at least `minimum`."""
    counts = np.full(len(weights), minimum, dtype=np.int64)
    left = total - counts.sum()
    quota = left * weights / weights.sum()
    counts += np.floor(quota).astype(np.int64)
    short = total - counts.sum()
    counts[np.argsort(-(quota - np.floor(quota)), kind="stable")[:short]] += 1
    return counts


def _near(rng: np.random.Generator, latitude: np.ndarray, longitude: np.ndarray, spread_deg: np.ndarray):
    """Points scattered around (latitude, longitude) by about `spread_deg` degrees north-south and east-west."""
    lat = latitude + rng.normal(0.0, 1.0, len(latitude)) * spread_deg
    lon = longitude + rng.normal(0.0, 1.0, len(latitude)) * spread_deg / np.cos(np.radians(latitude))
    return np.clip(lat, *CONTINENTAL_US_LATITUDE), np.clip(lon, *CONTINENTAL_US_LONGITUDE)


def _ids(prefix: str, count: int) -> np.ndarray:
    return np.strings.add(prefix, np.strings.zfill(np.arange(1, count + 1).astype(str), len(str(count))))


def synthetic_instance(
    units: int,
    reps: int,
    seed: int,
    *,
    segments: int = 1,
    tolerance: float = 0.05,
    families_share: float = 0.03,
    locked_share: float = 0.01,
    top_tier_share: float = 0.05,
    max_moved_share: float | None = None,
) -> Instance:
    """An instance of `units` accounts and `reps` reps drawn as the module docstring describes."""
    if units < 1 or reps < segments or segments < 1:
        raise ValueError(f"need at least one unit and one rep per segment: {units} units, {reps} reps, {segments} segments")
    rng = np.random.default_rng(seed)
    n, m = units, reps
    segment_names = np.array([*SEGMENT_NAMES, *(f"segment_{s + 1}" for s in range(3, segments))][:segments])
    metro_lat = np.array([metro.latitude for metro in US_METROS])
    metro_lon = np.array([metro.longitude for metro in US_METROS])

    segment = _categorical(rng, SEGMENT_UNIT_RATIO ** np.arange(segments), n)
    metro = _categorical(rng, np.array([metro.weight for metro in US_METROS]), n)
    industry = _categorical(rng, INDUSTRY_WEIGHTS, n)

    # Families: disjoint random members, the first of each family its parent, whom children follow.
    family_sizes = 1 + rng.integers(1, 4, int(families_share * n / 3))  # a parent and 1-3 children: 3 on average
    family_sizes = family_sizes[np.cumsum(family_sizes) <= n]
    members = rng.choice(n, int(family_sizes.sum()), replace=False)
    family = np.full(n, -1, dtype=np.int64)
    family[members] = np.repeat(np.arange(len(family_sizes)), family_sizes)
    parent_of = members[np.repeat(np.cumsum(family_sizes) - family_sizes, family_sizes)]  # per member
    segment[members] = segment[parent_of]
    industry[members] = industry[parent_of]
    follows_metro = rng.random(len(members)) < FAMILY_SHARES_METRO
    metro[members[follows_metro]] = metro[parent_of[follows_metro]]

    # Most accounts are in town, some out in the region around it.
    spread = np.where(rng.random(n) < 0.85, 0.25, 1.2)
    latitude, longitude = _near(rng, metro_lat[metro], metro_lon[metro], spread)

    median_potential = MEDIAN_POTENTIAL * SEGMENT_POTENTIAL_GROWTH**segment
    potential = np.round(median_potential * rng.lognormal(0.0, POTENTIAL_SIGMA, n), -2)
    relative_size = potential / median_potential
    value = potential * rng.beta(2.0, 4.0, n)
    visits = np.minimum(MAX_VISITS, rng.poisson(1.2 * relative_size**0.4 * (1 + 0.5 * segment))).astype(float)
    workload = np.round(
        rng.lognormal(np.log(10.0), 0.5, n) * relative_size**0.3 * SEGMENT_WORKLOAD_GROWTH**segment
        + HOURS_PER_VISIT * visits,
        1,
    )
    top_tier = np.zeros(n, dtype=bool)
    if top_tier_share > 0:
        top_tier = potential >= np.quantile(potential, 1.0 - top_tier_share)

    # Reps where the work is: per segment by its workload, within it per metro by the metro's workload.
    segment_workload = np.bincount(segment, weights=workload, minlength=segments)
    rep_segment = np.repeat(np.arange(segments), _apportion(m, segment_workload, minimum=1))
    rep_metro = np.empty(m, dtype=np.int64)
    for s in range(segments):
        metro_workload = np.bincount(metro[segment == s], weights=workload[segment == s], minlength=len(US_METROS))
        count = int((rep_segment == s).sum())
        rep_metro[rep_segment == s] = np.repeat(np.arange(len(US_METROS)), _apportion(count, metro_workload + 1e-9))
    rep_lat, rep_lon = _near(rng, metro_lat[rep_metro], metro_lon[rep_metro], np.full(m, 0.15))

    # At least half of every segment's reps may own top-tier accounts: the top tier holds about a
    # fifth of the potential, which a few seniors could not take within their potential band.
    experience = np.minimum(MAX_EXPERIENCE, rng.gamma(2.0, 2.8, m))
    senior_floor = TOP_TIER_MIN_EXPERIENCE + rng.exponential(2.0, m)
    for s in range(segments):
        in_segment = np.flatnonzero(rep_segment == s)
        seniors = in_segment[np.argsort(-experience[in_segment], kind="stable")[: -(-len(in_segment) // 2)]]
        experience[seniors] = np.maximum(experience[seniors], senior_floor[seniors])
    experience = np.round(np.minimum(MAX_EXPERIENCE, experience), 1)
    level = LEVELS[np.digitize(experience + rng.normal(0.0, 1.0, m), LEVEL_EXPERIENCE_EDGES)]
    skill = np.round(np.clip(0.3 + 0.5 * rng.beta(3.0, 2.5, m) + 0.15 * experience / MAX_EXPERIENCE, 0.3, 0.95), 3)
    base_capacity = FULL_TIME_HOURS * rng.uniform(0.92, 1.08, m) * np.where(
        rng.random(m) < PART_TIME_SHARE, rng.uniform(0.5, 0.75, m), 1.0
    )
    segment_base_capacity = np.bincount(rep_segment, weights=base_capacity, minlength=segments)
    capacity = np.round(base_capacity * (CAPACITY_HEADROOM * segment_workload / segment_base_capacity)[rep_segment], 1)

    # Two or three industries per rep, weighted by the market's mix (Gumbel top-k sampling).
    industry_rank = np.argsort(-(rng.gumbel(size=(m, len(INDUSTRIES))) + np.log(INDUSTRY_WEIGHTS)), axis=1)
    industries_served = 2 + (rng.random(m) < 0.5)

    current_rep = _current_owners(rng, latitude, longitude, segment, rep_lat, rep_lon, rep_segment)
    child_follows = rng.random(len(members)) < FAMILY_SHARES_OWNER  # a parent "following" itself changes nothing
    current_rep[members[child_follows]] = current_rep[parent_of[child_follows]]

    may_lock = (current_rep >= 0) & (family < 0)
    may_lock[may_lock] = rep_segment[current_rep[may_lock]] == segment[may_lock]
    may_lock &= ~top_tier | (experience[current_rep] >= TOP_TIER_MIN_EXPERIENCE)
    candidates = np.flatnonzero(may_lock)
    locked = np.zeros(n, dtype=bool)
    locked[rng.choice(candidates, min(len(candidates), round(locked_share * n)), replace=False)] = True

    industry_names = np.array(INDUSTRIES)
    unit_attributes = {"industry": industry_names[industry]}
    rep_attributes = {
        "industry": tuple(frozenset(industry_names[industry_rank[j, : industries_served[j]]].tolist()) for j in range(m))
    }
    if segments > 1:
        unit_attributes["segment"] = segment_names[segment]
        rep_attributes["segment"] = tuple(frozenset({name}) for name in segment_names[rep_segment].tolist())
    return Instance(
        units=Units(
            unit_id=_ids("U", n),
            latitude=latitude,
            longitude=longitude,
            measures=np.column_stack([workload, potential, np.ones(n)]),
            visits=visits,
            value=value,
            current_rep=current_rep,
            locked=locked,
            family=family,
            top_tier=top_tier,
            attributes=unit_attributes,
        ),
        reps=Reps(
            rep_id=_ids("R", m),
            latitude=rep_lat,
            longitude=rep_lon,
            capacity=capacity,
            level=level,
            experience_years=experience,
            skill=skill,
            attributes=rep_attributes,
        ),
        measures=(
            Measure("workload_hours", tolerance, "capacity", is_capacity=True),
            Measure("potential", tolerance, "capacity_x_level"),
            Measure("accounts", tolerance, "capacity"),
        ),
        eligibility=("segment",) if segments > 1 else (),
        fit_attributes=("industry",),
        top_tier_min_experience=TOP_TIER_MIN_EXPERIENCE,
        max_moved_share=max_moved_share,
    )


def _current_owners(
    rng: np.random.Generator,
    latitude: np.ndarray,
    longitude: np.ndarray,
    segment: np.ndarray,
    rep_lat: np.ndarray,
    rep_lon: np.ndarray,
    rep_segment: np.ndarray,
) -> np.ndarray:
    """Owner per unit (-1 for none): usually one of the nearest reps of its segment, sometimes any rep."""
    n, m = len(latitude), len(rep_lat)
    owner = np.empty(n, dtype=np.int64)
    points = unit_vectors(latitude, longitude)
    rep_points = unit_vectors(rep_lat, rep_lon)
    for s in np.unique(rep_segment):
        pool = np.flatnonzero(rep_segment == s)
        members = np.flatnonzero(segment == s)
        k = min(len(NEAREST_OWNER_PREFERENCE), len(pool))
        _, nearest = cKDTree(rep_points[pool]).query(points[members], k=k)
        nearest = nearest.reshape(len(members), k)
        choice = _categorical(rng, NEAREST_OWNER_PREFERENCE[:k], len(members))
        owner[members] = pool[nearest[np.arange(len(members)), choice]]
    anyone = rng.random(n) < OTHER_OWNER_SHARE
    owner[anyone] = rng.integers(0, m, int(anyone.sum()))
    owner[rng.random(n) < UNOWNED_SHARE] = -1
    return owner
