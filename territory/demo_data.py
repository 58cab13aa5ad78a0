"""Synthetic CRM and sales-performance data in the canonical raw contract.

The generator draws a plausible sales organisation and its market, vectorised with numpy and
pyarrow so that a million accounts take well under two minutes:

* accounts cluster around real metro areas; industries follow a realistic mix; employees are
  log-normal (heavy-tailed) and revenue is employees x industry revenue-per-employee x noise;
  parent/child families and duplicate records sharing a domain exist;
* current ownership is what a real CRM holds: mostly a nearby rep of the right segment, but
  some accounts are unowned, owned by inactive reps or by a rep of another segment, and some
  contacts and opportunities are owned by someone other than their account's owner;
* opportunity win rates depend on the owner's latent skill, industry experience and product
  fit; lost deals carry a reason; activities of all five types span the last 24 months;
* reps carry roles, segments, home bases, capacity, industries, languages and hire dates;
  quotas are quarterly; PACE assessments correlate with the same latent skill.

Same `DemoSpec` (seed and as-of date included), same tables, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from scipy.spatial import cKDTree

from territory.contract import ACTIVITY_TYPES, LIFECYCLE_STAGES, OPPORTUNITY_STAGES, RAW_TABLES, REP_ROLES, SEGMENTS
from territory.geo import METROS, unit_vectors

INDUSTRIES: tuple[str, ...] = (
    "Software", "Financial Services", "Healthcare", "Manufacturing", "Retail",
    "Professional Services", "Education", "Government", "Energy", "Media",
    "Telecommunications", "Transportation", "Real Estate", "Hospitality", "Construction",
    "Life Sciences",
)  # fmt: skip
INDUSTRY_WEIGHTS = np.array([14, 10, 10, 11, 9, 12, 5, 3, 3, 4, 3, 4, 4, 3, 3, 2], dtype=float)
REVENUE_PER_EMPLOYEE = np.array(
    [260, 420, 180, 230, 190, 160, 90, 110, 520, 240, 380, 200, 300, 80, 170, 340], dtype=float
) * 1_000.0

PRODUCT_LINES: tuple[str, ...] = ("core_platform", "analytics", "integrations", "security", "premium_support")
LOSS_REASONS: tuple[str, ...] = ("price", "competitor", "no_decision", "timing", "missing_feature")
DEPARTMENTS: tuple[str, ...] = (
    "Sales", "Marketing", "IT", "Finance", "Operations", "Human Resources", "Executive",
    "Engineering", "Procurement", "Legal",
)  # fmt: skip
DEPARTMENT_WEIGHTS = np.array([14, 12, 16, 12, 14, 7, 5, 10, 6, 4], dtype=float)
SENIORITIES: tuple[str, ...] = ("c_level", "vp", "director", "manager", "individual_contributor")
SENIORITY_WEIGHTS = np.array([4, 9, 18, 30, 39], dtype=float)
SENIORITY_TITLE_PATTERNS = ("Chief {d} Officer", "VP of {d}", "Director of {d}", "{d} Manager", "{d} Specialist")

NAME_PREFIXES = (
    "Blue", "North", "Summit", "Silver", "Granite", "Harbor", "Evergreen", "Pioneer", "Crescent",
    "Atlas", "Beacon", "Cedar", "Falcon", "Golden", "Iron", "Keystone", "Liberty", "Maple",
    "Meridian", "Nova", "Oak", "Pinnacle", "Quantum", "Redwood", "Sterling", "Titan", "Union",
    "Vertex", "Westfield", "Zenith", "Apex", "Bright", "Coastal", "Delta", "Eagle", "Frontier",
    "Horizon", "Lakeside", "Orion", "Prairie",
)  # fmt: skip
NAME_ROOTS = (
    "Bridge", "Stone", "Point", "Ridge", "Field", "Works", "Labs", "Logic", "Path", "Wave",
    "Gate", "Peak", "Line", "Core", "Forge", "Light", "Grove", "Rock", "Port", "Vale", "Crest",
    "Mark", "Star", "Shore", "Spring", "Wood", "Hill", "Brook", "Tech", "Data",
)  # fmt: skip
NAME_SUFFIXES = ("Inc", "LLC", "Group", "Partners", "Systems", "Holdings", "Solutions", "Co", "Ltd", "GmbH")
FIRST_NAMES = (
    "Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Jamie", "Riley", "Avery", "Quinn",
    "Maria", "James", "Priya", "Chen", "Fatima", "Lukas", "Sofia", "Kenji", "Amara", "Diego",
    "Hannah", "Omar", "Elena", "Noah", "Aisha", "Mateo", "Ingrid", "Yuki", "Claire", "Ravi",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Garcia", "Mueller", "Tanaka", "Okafor", "Rossi", "Dubois", "Kowalski", "Nguyen",
    "Johnson", "Silva", "Haddad", "Larsen", "Patel", "Kim", "Brown", "Martin", "Novak", "Cohen",
    "Williams", "Lopez", "Schmidt", "Sato", "Murphy", "Andersson", "Costa", "Ali", "Evans",
)  # fmt: skip
COUNTRY_TLD = {"US": "com", "CA": "ca", "GB": "co.uk", "IE": "ie", "DE": "de", "CH": "ch", "AT": "at",
               "FR": "fr", "NL": "nl", "BE": "be", "ES": "es", "IT": "it", "SE": "se", "DK": "dk",
               "JP": "jp", "AU": "com.au", "SG": "sg", "MX": "mx", "BR": "com.br"}  # fmt: skip

SECONDS_PER_DAY = 86_400
ACTIVITY_WINDOW_DAYS = 730
OPPORTUNITY_WINDOW_DAYS = 730

# Segment by employees, the same cut-offs as the dbt staging layer's default configuration.
SEGMENT_EMPLOYEE_FLOORS = (0, 100, 1000)

# Activity mix per rep segment: call, voicemail, email, meeting_in_person, meeting_online.
ACTIVITY_MIX = np.array([[38, 17, 35, 2, 8], [33, 14, 33, 6, 14], [26, 8, 30, 16, 20]], dtype=float)
ACTIVITY_MINUTES = np.array([8.0, 1.5, 6.0, 70.0, 35.0])

# Product fit per industry (rows follow INDUSTRIES, columns PRODUCT_LINES): demand and win lift.
_PRODUCT_AFFINITY = np.array(
    [[5, 3, 4, 2, 1], [3, 4, 1, 5, 2], [3, 2, 2, 5, 3], [4, 3, 4, 1, 2], [4, 4, 2, 1, 1],
     [4, 3, 2, 1, 2], [4, 1, 1, 2, 3], [3, 1, 1, 5, 3], [3, 4, 3, 2, 1], [4, 4, 2, 1, 1],
     [3, 3, 5, 3, 2], [4, 3, 4, 1, 1], [4, 3, 1, 1, 2], [5, 2, 1, 1, 2], [4, 2, 3, 1, 1],
     [3, 4, 2, 4, 2]], dtype=float,
)  # fmt: skip


@dataclass(frozen=True)
class DemoSpec:
    """What to generate: sizes, seed and the as-of date the CRM extract describes."""

    accounts: int = 20_000
    reps: int = 80
    seed: int = 7
    as_of: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    # Multipliers of the per-account Poisson rates of contacts and of activities. At 1.0 (the
    # default) the draws, and so every seeded output, are exactly those of the generator without
    # them. The rates give about 4.64 contacts and 18.3 activities per account; to reach a target
    # total (the nightly benchmark's 5 and 20 per account), scale by target / that: see
    # CONTACTS_PER_ACCOUNT, ACTIVITIES_PER_ACCOUNT and rate_scale_for().
    contacts_scale: float = 1.0
    activities_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.accounts < 10:
            raise ValueError(f"accounts must be at least 10, got {self.accounts}")
        if self.reps < 3:
            raise ValueError(f"reps must be at least 3 (one per segment), got {self.reps}")
        for name in ("contacts_scale", "activities_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


# Mean rows per account at scale 1.0, measured at 1,000,000 accounts (seed 7): 4.64 million contacts and
# 18.27 million activities. Smaller extracts draw about 1% fewer or more (20,000 accounts: 4.61 and 18.17).
CONTACTS_PER_ACCOUNT = 4.64
ACTIVITIES_PER_ACCOUNT = 18.27


def rate_scale_for(target_per_account: float, per_account: float, margin: float = 0.005) -> float:
    """The rate multiplier that draws `target_per_account` rows per account, plus `margin` (a share) so that the
    Poisson draws' spread stays above the target at a million accounts: e.g. rate_scale_for(5,
    CONTACTS_PER_ACCOUNT) = 1.083 gives 5,023,037 contacts for 1,000,000 accounts (seed 7). Check the counts
    at other sizes; the multipliers are rounded to 4 places, so that they are easy to pass to the CLI."""
    return round(target_per_account / per_account * (1 + margin), 4)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """String ids such as A0000042 for numbers 42, built in Arrow rather than Python."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _pick(vocabulary, indices: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Dictionary-encoded strings vocabulary[indices]; null where mask is true."""
    idx = pa.array(indices.astype(np.int32), mask=mask)
    dictionary = vocabulary if isinstance(vocabulary, pa.Array) else pa.array(list(vocabulary), pa.string())
    return pa.DictionaryArray.from_arrays(idx, dictionary)


def _categorical(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    return rng.choice(len(weights), size=size, p=weights / weights.sum())


def _categorical_rows(rng: np.random.Generator, weight_rows: np.ndarray, row_of: np.ndarray) -> np.ndarray:
    """One draw per element from the categorical distribution in weight_rows[row_of[i]]."""
    cumulative = np.cumsum(weight_rows / weight_rows.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(row_of))
    draws = np.zeros(len(row_of), dtype=np.int64)
    for column in range(weight_rows.shape[1] - 1):
        draws += u > cumulative[row_of, column]
    return draws


def _timestamps(as_of: dt.date, seconds_before: np.ndarray) -> pa.Array:
    end = np.datetime64(as_of, "s")
    return pa.array(end - seconds_before.astype("timedelta64[s]"), pa.timestamp("s"))


def _segment_of(employees: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(SEGMENT_EMPLOYEE_FLOORS[1:]), employees, side="right")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def generate_demo_crm(spec: DemoSpec) -> dict[str, pa.Table]:
    """All seven raw tables for `spec`, as Arrow tables in the canonical column order."""
    rng = np.random.default_rng(spec.seed)
    reps, rep_state = _generate_reps(rng, spec)
    accounts, account_state = _generate_accounts(rng, spec, rep_state)
    tables = {
        "reps": reps,
        "accounts": accounts,
        "contacts": _generate_contacts(rng, spec, account_state, rep_state),
        "opportunities": _generate_opportunities(rng, spec, account_state, rep_state),
        "activities": _generate_activities(rng, spec, account_state, rep_state),
        "quotas": _generate_quotas(rng, spec, rep_state),
        "assessments": _generate_assessments(rng, spec, rep_state),
    }
    return {table.name: tables[table.name].select(list(table.columns)) for table in RAW_TABLES}


def _generate_reps(rng: np.random.Generator, spec: DemoSpec) -> tuple[pa.Table, dict]:
    m = spec.reps
    metro_weights = np.array([metro.weight for metro in METROS])
    metro = _categorical(rng, metro_weights, m)
    latitude = np.array([METROS[k].latitude for k in metro]) + rng.normal(0, 0.06, m)
    longitude = np.array([METROS[k].longitude for k in metro]) + rng.normal(0, 0.06, m)

    # Reps per segment follow each segment's share of the planned workload (smb, mid-market,
    # enterprise), so that every segment's team can cover its accounts; every segment has an
    # active, non-manager rep; managers (player-coaches) are one in nine.
    share = np.array([34.0, 52.0, 14.0]) / 100
    count = np.maximum(1, np.floor(share * m).astype(int))
    count[np.argmax(share * m - count)] += m - count.sum()
    segment = rng.permutation(np.repeat(np.arange(3), count))
    guaranteed = np.array([rng.choice(np.flatnonzero(segment == s)) for s in range(3)])
    is_manager = rng.random(m) < 1 / 9
    is_manager[guaranteed] = False
    role = np.where(segment == 0, 0, np.where((segment == 2) & (rng.random(m) < 0.7), 2, 1))
    role = np.where(is_manager, 3, role)
    capacity = np.array([1700.0, 1650.0, 1600.0, 500.0])[role] * rng.uniform(0.92, 1.05, m)

    tenure_years = np.clip(rng.exponential(3.0, m) + np.where(role >= 2, 2.5, 0.0), 0.1, 18.0)
    hire_date = np.datetime64(spec.as_of, "D") - (tenure_years * 365.25).astype("timedelta64[D]")
    skill = rng.normal(0.0, 1.0, m) + 0.12 * np.minimum(tenure_years, 8.0)

    # Industry experience: one to three industries per rep, weighted by the market's mix.
    n_industries = rng.integers(1, 4, m)
    gumbel = rng.gumbel(size=(m, len(INDUSTRIES))) + np.log(INDUSTRY_WEIGHTS)
    ranked = np.argsort(-gumbel, axis=1)
    knows_industry = np.zeros((m, len(INDUSTRIES)), dtype=bool)
    for k in range(3):
        chosen = n_industries > k
        knows_industry[np.nonzero(chosen)[0], ranked[chosen, k]] = True

    languages = []
    for k in metro:
        spoken = [METROS[k].language]
        if spoken[0] != "en" and rng.random() < 0.7:
            spoken.append("en")
        if rng.random() < 0.15:
            spoken.append(["es", "fr", "de", "pt", "ja"][rng.integers(0, 5)])
        languages.append(";".join(dict.fromkeys(spoken)))

    # About one rep in twenty has left but still owns accounts in the CRM.
    is_active = np.ones(m, dtype=bool)
    others = np.setdiff1d(np.arange(m), guaranteed)
    is_active[rng.choice(others, size=max(1, round(0.05 * m)), replace=False)] = False
    rep_numbers = np.arange(1, m + 1)
    rep_ids = _ids("R", rep_numbers, 5)
    managers = np.nonzero(is_manager)[0]
    region = np.array([METROS[k].region for k in metro])
    manager_of = np.full(m, -1)
    for i in range(m):
        if is_manager[i] or len(managers) == 0:
            continue
        same_region = managers[region[managers] == region[i]]
        pool = same_region if len(same_region) else managers
        manager_of[i] = pool[rng.integers(0, len(pool))]

    first = rng.integers(0, len(FIRST_NAMES), m)
    last = rng.integers(0, len(LAST_NAMES), m)
    names = [f"{FIRST_NAMES[f]} {LAST_NAMES[g]}" for f, g in zip(first, last)]
    emails = [
        f"{FIRST_NAMES[f].lower()}.{LAST_NAMES[g].lower()}{n}@sales.territory-demo.example"
        for f, g, n in zip(first, last, rep_numbers)
    ]
    table = pa.table(
        {
            "rep_id": rep_ids,
            "name": pa.array(names),
            "email": pa.array(emails),
            "role": _pick(REP_ROLES, role),
            "segment": _pick(SEGMENTS, segment),
            "region": pa.array(region),
            "home_latitude": pa.array(np.round(latitude, 5)),
            "home_longitude": pa.array(np.round(longitude, 5)),
            "capacity_hours": pa.array(np.round(capacity, 0)),
            "hire_date": pa.array(hire_date, pa.date32()),
            "industries": pa.array([";".join(np.array(INDUSTRIES)[row]) for row in knows_industry]),
            "languages": pa.array(languages),
            "is_active": pa.array(is_active),
            "manager_id": rep_ids.take(pa.array(np.maximum(manager_of, 0), mask=manager_of < 0)),
        }
    )
    state = {
        "ids": rep_ids,
        "segment": segment,
        "region": region,
        "latitude": latitude,
        "longitude": longitude,
        "skill": skill,
        "knows_industry": knows_industry,
        "is_active": is_active,
        "role": role,
    }
    return table, state


def _generate_accounts(rng: np.random.Generator, spec: DemoSpec, reps: dict) -> tuple[pa.Table, dict]:
    n = spec.accounts
    metro_weights = np.array([metro.weight for metro in METROS])
    metro = _categorical(rng, metro_weights, n)
    metro_lat = np.array([m.latitude for m in METROS])
    metro_lon = np.array([m.longitude for m in METROS])
    latitude = metro_lat[metro] + rng.normal(0, 0.16, n)
    longitude = metro_lon[metro] + rng.normal(0, 0.16, n) / np.cos(np.radians(metro_lat[metro]))

    industry = _categorical(rng, INDUSTRY_WEIGHTS, n)
    employees = np.clip(np.ceil(np.exp(rng.normal(3.3, 1.9, n))), 1, 400_000).astype(np.int64)

    # Families: a few larger accounts are parents; children share the parent's industry.
    numbers = np.arange(1, n + 1)
    order = rng.permutation(n)
    n_children = int(0.06 * n)
    n_duplicates = int(0.012 * n)
    candidates_parent = order[employees[order] >= 200]
    n_parents = max(1, min(len(candidates_parent) // 2, n_children // 3))
    parents = np.sort(candidates_parent[:n_parents])
    rest = np.setdiff1d(order, parents, assume_unique=True)
    rest = rest[rng.permutation(len(rest))]
    children = rest[:n_children]
    duplicates = rest[n_children : n_children + n_duplicates]
    originals = rest[n_children + n_duplicates : n_children + 2 * n_duplicates]
    parent_of = np.full(n, -1)
    parent_of[children] = parents[rng.integers(0, len(parents), len(children))]
    industry[children] = industry[parent_of[children]]
    near_parent = children[rng.random(len(children)) < 0.5]
    metro[near_parent] = metro[parent_of[near_parent]]
    latitude[near_parent] = metro_lat[metro[near_parent]] + rng.normal(0, 0.16, len(near_parent))
    longitude[near_parent] = metro_lon[metro[near_parent]] + rng.normal(0, 0.16, len(near_parent))

    # Duplicates: a second record of an existing company, same domain, slightly different data.
    for array in (metro, industry):
        array[duplicates] = array[originals]
    latitude[duplicates] = latitude[originals] + rng.normal(0, 0.01, n_duplicates)
    longitude[duplicates] = longitude[originals] + rng.normal(0, 0.01, n_duplicates)
    employees[duplicates] = np.maximum(1, (employees[originals] * rng.uniform(0.8, 1.2, n_duplicates)).astype(np.int64))

    revenue = np.round(employees * REVENUE_PER_EMPLOYEE[industry] * rng.lognormal(0, 0.45, n), -3)
    segment = _segment_of(employees)
    lifecycle_by_segment = np.array([[32, 15, 10, 9, 26, 8], [22, 12, 12, 13, 33, 8], [14, 8, 12, 18, 42, 6]], dtype=float)
    lifecycle = _categorical_rows(rng, lifecycle_by_segment, segment)

    age_days = rng.uniform(30, 8 * 365, n)
    age_days[duplicates] = rng.uniform(5, 365, n_duplicates)
    created_seconds = (age_days * SECONDS_PER_DAY).astype(np.int64)
    updated_seconds = (created_seconds * rng.random(n)).astype(np.int64)

    prefix = rng.integers(0, len(NAME_PREFIXES), n)
    root = rng.integers(0, len(NAME_ROOTS), n)
    suffix = rng.integers(0, len(NAME_SUFFIXES), n)
    for array in (prefix, root):
        array[duplicates] = array[originals]
    stem = pc.binary_join_element_wise(
        _pick(NAME_PREFIXES, prefix).cast(pa.string()), _pick(NAME_ROOTS, root).cast(pa.string()), " "
    )
    name = pc.binary_join_element_wise(stem, _pick(NAME_SUFFIXES, suffix).cast(pa.string()), " ")
    domain_number = numbers.copy()
    domain_number[duplicates] = numbers[originals]
    tld = [COUNTRY_TLD[m.country] for m in METROS]
    domain = pc.binary_join_element_wise(
        pc.utf8_lower(pc.replace_substring(stem, " ", "")),
        pc.cast(pa.array(domain_number), pa.string()),
        pc.binary_join_element_wise(".", _pick(tld, metro).cast(pa.string()), ""),
        "",
    )
    postal_code = pc.binary_join_element_wise(
        _pick([m.postal_prefix for m in METROS], metro).cast(pa.string()),
        pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 100, n)), pa.string()), width=2, padding="0"),
        "",
    )

    owner = _current_owners(rng, latitude, longitude, segment, reps)
    account_ids = _ids("A", numbers, 8)
    table = pa.table(
        {
            "account_id": account_ids,
            "name": name,
            "domain": domain,
            "industry": _pick(INDUSTRIES, industry),
            "employees": pa.array(employees),
            "annual_revenue": pa.array(revenue),
            "country": _pick([m.country for m in METROS], metro),
            "state": _pick([m.state for m in METROS], metro),
            "city": _pick([m.city for m in METROS], metro),
            "postal_code": postal_code,
            "latitude": pa.array(np.round(latitude, 5)),
            "longitude": pa.array(np.round(longitude, 5)),
            "lifecycle_stage": _pick(LIFECYCLE_STAGES, lifecycle),
            "owner_rep_id": _pick(reps["ids"], np.maximum(owner, 0), owner < 0),
            "parent_account_id": account_ids.take(pa.array(np.maximum(parent_of, 0), mask=parent_of < 0)),
            "created_at": _timestamps(spec.as_of, created_seconds),
            "updated_at": _timestamps(spec.as_of, updated_seconds),
        }
    )
    state = {
        "ids": account_ids,
        "owner": owner,
        "segment": segment,
        "industry": industry,
        "employees": employees,
        "revenue": revenue,
        "lifecycle": lifecycle,
        "created_seconds": created_seconds,
        "region": np.array([m.region for m in METROS])[metro],
    }
    return table, state


def _current_owners(rng, latitude, longitude, segment, reps) -> np.ndarray:
    """Owner index per account (-1 unowned): usually a nearby rep of the account's segment."""
    n = len(latitude)
    owner = np.full(n, -1)
    points = unit_vectors(latitude, longitude)
    rep_points = unit_vectors(reps["latitude"], reps["longitude"])
    preference = np.array([0.55, 0.25, 0.12, 0.08])
    for s in range(len(SEGMENTS)):
        pool = np.nonzero(reps["segment"] == s)[0]
        members = np.nonzero(segment == s)[0]
        k = min(len(preference), len(pool))
        _, nearest = cKDTree(rep_points[pool]).query(points[members], k=k)
        nearest = nearest.reshape(len(members), k)
        choice = _categorical(rng, preference[:k], len(members))
        owner[members] = pool[nearest[np.arange(len(members)), choice]]
    mismatched = rng.random(n) < 0.03
    owner[mismatched] = rng.integers(0, len(reps["ids"]), mismatched.sum())
    owner[rng.random(n) < 0.04] = -1
    return owner


def _other_rep(rng, owner: np.ndarray, share: float, n_reps: int) -> np.ndarray:
    """A copy of owner where a share of entries (and every -1) is a random rep instead."""
    result = owner.copy()
    replace = (rng.random(len(owner)) < share) | (owner < 0)
    result[replace] = rng.integers(0, n_reps, replace.sum())
    return result


def _generate_contacts(rng, spec: DemoSpec, accounts: dict, reps: dict) -> pa.Table:
    rate = 1.5 + 0.9 * np.log1p(accounts["employees"])
    counts = rng.poisson(rate * spec.contacts_scale)  # x 1.0 is exact: same draws
    account = np.repeat(np.arange(spec.accounts), counts)
    c = len(account)
    department = _categorical(rng, DEPARTMENT_WEIGHTS, c)
    seniority = _categorical(rng, SENIORITY_WEIGHTS, c)
    titles = [pattern.format(d=d) for pattern in SENIORITY_TITLE_PATTERNS for d in DEPARTMENTS]
    owner = accounts["owner"][account]
    owner = np.where(rng.random(c) < 0.06, rng.integers(0, spec.reps, c), owner)
    created = (accounts["created_seconds"][account] * rng.random(c)).astype(np.int64)
    return pa.table(
        {
            "contact_id": _ids("C", np.arange(1, c + 1), 9),
            "account_id": accounts["ids"].take(pa.array(account)),
            "title": _pick(titles, seniority * len(DEPARTMENTS) + department),
            "department": _pick(DEPARTMENTS, department),
            "seniority": _pick(SENIORITIES, seniority),
            "owner_rep_id": _pick(reps["ids"], np.maximum(owner, 0), owner < 0),
            "created_at": _timestamps(spec.as_of, created),
        }
    )


def _generate_opportunities(rng, spec: DemoSpec, accounts: dict, reps: dict) -> pa.Table:
    rate_by_stage = np.array([0.1, 0.2, 0.5, 1.4, 2.4, 1.5])
    size_factor = 1.0 + 0.1 * np.log1p(accounts["employees"])
    counts = rng.poisson(rate_by_stage[accounts["lifecycle"]] * size_factor)
    account = np.repeat(np.arange(spec.accounts), counts)
    o = len(account)
    owner = _other_rep(rng, accounts["owner"][account], 0.07, spec.reps)

    industry = accounts["industry"][account]
    product = _categorical_rows(rng, _PRODUCT_AFFINITY, industry)
    segment = accounts["segment"][account]
    age_days = rng.uniform(0, OPPORTUNITY_WINDOW_DAYS, o)
    account_age_days = accounts["created_seconds"][account] / SECONDS_PER_DAY
    age_days = np.minimum(age_days, account_age_days)
    cycle_days = 20 + rng.gamma(2.0, np.array([20.0, 45.0, 75.0])[segment])
    days_to_close = cycle_days - age_days  # negative: closed that many days ago
    is_closed = days_to_close < 0
    progress = np.clip(age_days / cycle_days, 0, 0.999)

    logit = (
        -1.6
        + 0.45 * reps["skill"][owner]
        + 0.6 * reps["knows_industry"][owner, industry]
        + 0.3 * (reps["segment"][owner] == segment)
        + 0.25 * (_PRODUCT_AFFINITY[industry, product] - 3.0)
        + 0.4 * (accounts["lifecycle"][account] == 4)
    )
    is_won = is_closed & (rng.random(o) < _sigmoid(logit))
    open_stage = np.floor(progress * 4).astype(np.int64)
    stage = np.where(is_closed, np.where(is_won, 4, 5), open_stage)
    loss_by_segment = np.array([[40, 20, 15, 15, 10], [25, 30, 20, 12, 13], [12, 28, 32, 13, 15]], dtype=float)
    loss_reason = _categorical_rows(rng, loss_by_segment, segment)
    amount = np.clip(np.round(accounts["revenue"][account] * 0.002 * rng.lognormal(0, 0.6, o), -2), 1_000, 5_000_000)

    as_of = np.datetime64(spec.as_of, "D")
    close_date = as_of + np.round(days_to_close).astype("timedelta64[D]")
    created_seconds = (age_days * SECONDS_PER_DAY).astype(np.int64)
    return pa.table(
        {
            "opportunity_id": _ids("O", np.arange(1, o + 1), 9),
            "account_id": accounts["ids"].take(pa.array(account)),
            "owner_rep_id": _pick(reps["ids"], owner),
            "stage": _pick(OPPORTUNITY_STAGES, stage),
            "amount": pa.array(amount),
            "product_line": _pick(PRODUCT_LINES, product),
            "created_at": _timestamps(spec.as_of, created_seconds),
            "close_date": pa.array(close_date, pa.date32()),
            "is_closed": pa.array(is_closed),
            "is_won": pa.array(is_won),
            "loss_reason": _pick(LOSS_REASONS, loss_reason, ~(is_closed & ~is_won)),
        }
    )


def _generate_activities(rng, spec: DemoSpec, accounts: dict, reps: dict) -> pa.Table:
    rate_by_stage = np.array([3.0, 6.0, 12.0, 30.0, 35.0, 8.0])
    size_factor = 0.6 + 0.15 * np.log1p(accounts["employees"])
    unowned_factor = np.where(accounts["owner"] < 0, 0.3, 1.0)
    rate = rate_by_stage[accounts["lifecycle"]] * size_factor * unowned_factor
    counts = rng.poisson(rate * spec.activities_scale)  # x 1.0 is exact: same draws
    account = np.repeat(np.arange(spec.accounts), counts)
    a = len(account)
    rep = _other_rep(rng, accounts["owner"][account], 0.2, spec.reps)
    activity_type = _categorical_rows(rng, ACTIVITY_MIX, reps["segment"][rep])
    duration = np.maximum(1, np.round(ACTIVITY_MINUTES[activity_type] * rng.lognormal(0, 0.4, a))).astype(np.int32)
    day = rng.integers(1, ACTIVITY_WINDOW_DAYS + 1, a)
    seconds_into_day = rng.integers(8 * 3600, 18 * 3600, a)  # business hours, UTC for simplicity
    seconds_before = day * SECONDS_PER_DAY - seconds_into_day
    return pa.table(
        {
            "activity_id": _ids("T", np.arange(1, a + 1), 10),
            "account_id": accounts["ids"].take(pa.array(account)),
            "rep_id": _pick(reps["ids"], rep),
            "activity_type": _pick(ACTIVITY_TYPES, activity_type),
            "occurred_at": _timestamps(spec.as_of, seconds_before),
            "duration_minutes": pa.array(duration),
        }
    )


def _quarter_starts(as_of: dt.date, before: int, after: int) -> list[dt.date]:
    first_month = 3 * ((as_of.month - 1) // 3) + 1
    index = as_of.year * 4 + (first_month - 1) // 3
    return [dt.date(q // 4, 3 * (q % 4) + 1, 1) for q in range(index - before, index + after + 1)]


def _generate_quotas(rng, spec: DemoSpec, reps: dict) -> pa.Table:
    starts = _quarter_starts(spec.as_of, before=4, after=1)
    m = len(reps["segment"])
    base = np.array([150_000.0, 320_000.0, 650_000.0])[reps["segment"]] * np.where(reps["role"] == 3, 0.5, 1.0)
    rep = np.repeat(np.arange(m), len(starts))
    quarter = np.tile(np.arange(len(starts)), m)
    growth = 1.0 + 0.03 * quarter
    amount = np.round(base[rep] * growth * rng.uniform(0.85, 1.15, len(rep)), -3)
    ends = [dt.date(s.year + (s.month + 3 > 12), (s.month + 2) % 12 + 1, 1) - dt.timedelta(days=1) for s in starts]
    return pa.table(
        {
            "rep_id": _pick(reps["ids"], rep),
            "period_start": pa.array([starts[q] for q in quarter], pa.date32()),
            "period_end": pa.array([ends[q] for q in quarter], pa.date32()),
            "quota_amount": pa.array(amount),
        }
    )


def _generate_assessments(rng, spec: DemoSpec, reps: dict) -> pa.Table:
    m = len(reps["segment"])
    per_rep = rng.integers(1, 4, m)
    rep = np.repeat(np.arange(m), per_rep)
    nth = np.concatenate([np.arange(k) for k in per_rep])
    days_ago = nth * 182 + rng.integers(1, 60, len(rep))
    scores = {
        name: np.clip(np.round(3.0 + 0.6 * reps["skill"][rep] + rng.normal(0, 0.8, len(rep))), 1, 5).astype(np.int32)
        for name in ("passion", "awareness", "curiosity", "energy")
    }
    assessed = np.datetime64(spec.as_of, "D") - days_ago.astype("timedelta64[D]")
    return pa.table(
        {"rep_id": _pick(reps["ids"], rep), "assessed_at": pa.array(assessed, pa.date32())}
        | {name: pa.array(values) for name, values in scores.items()}
    )


def write_tables(tables: dict[str, pa.Table], out_dir: Path, file_format: str = "parquet") -> list[Path]:
    """Write each table to `out_dir/<table>.<parquet|csv>`; returns the paths written."""
    if file_format not in ("parquet", "csv"):
        raise ValueError(f"file format must be 'parquet' or 'csv', got '{file_format}'")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        path = out_dir / f"{name}.{file_format}"
        if file_format == "parquet":
            pq.write_table(table, path, compression="zstd")
        else:
            plain = pa.table({col: _undictionary(table[col]) for col in table.column_names})
            pacsv.write_csv(plain, path)
        written.append(path)
    return written


def _undictionary(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
