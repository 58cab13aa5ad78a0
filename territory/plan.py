"""The plan configuration: one YAML file that the dbt models (as vars) and the engine both read.

`load_plan(path)` parses and validates it; a bad value raises `PlanError` naming the file, the
key and what is wrong. The sections and their meaning are documented in `plan.yml` itself and
in docs/configuration.md. Every top-level section becomes a dbt var of the same name.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from territory import goals
from territory.contract import ACTIVITY_TYPES, SEGMENTS

DEFAULT_PLAN_PATH = Path(__file__).resolve().parents[1] / "plan.yml"
FUNNEL_STAGES: tuple[str, ...] = ("lead", "prospect", "open_opportunity", "customer", "at_risk", "churned")
EXPERIENCE_LEVELS: tuple[str, ...] = ("junior", "experienced", "senior")

# A mapping keyed by exactly the experience levels, in their order.
EVERY_EXPERIENCE_LEVEL = AfterValidator(lambda value: _exactly(value, EXPERIENCE_LEVELS, "experience levels"))
PERSONA_NAME = re.compile(r"[a-z][a-z0-9_]*")
Share = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]
Percentile = Annotated[float, Field(ge=0, le=100)]


class PlanError(ValueError):
    """The plan file is missing, is not YAML, or holds a value the plan cannot use."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _floors(floors: dict[str, float], what: str) -> dict[str, float]:
    """Floors must start at 0 and rise strictly, so that every value falls in exactly one band."""
    values = list(floors.values())
    if not values or values[0] != 0:
        raise ValueError(f"the first {what} must have floor 0, so that every value has a band")
    for (lower_name, lower), (name, value) in zip(floors.items(), list(floors.items())[1:]):
        if value <= lower:
            raise ValueError(f"{what} floors must rise: '{name}' ({value:g}) is not above '{lower_name}' ({lower:g})")
    return floors


class Funnel(_Section):
    activity_window_days: Annotated[int, Field(gt=0)]
    prospect_activity_days: Annotated[int, Field(gt=0)]
    at_risk_silent_days: Annotated[int, Field(gt=0)]
    at_risk_recent_losses: Annotated[int, Field(gt=0)]


class EmployeeRange(_Section):
    min: Annotated[int, Field(ge=0)]
    max: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _ordered(self) -> EmployeeRange:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) is below min ({self.min})")
        return self


class Persona(_Section):
    seniorities: list[str] = Field(min_length=1)
    departments: list[str] = Field(min_length=1)


class IcpWeights(_Section):
    industry: NonNegative
    size: NonNegative
    region: NonNegative
    personas: NonNegative

    @model_validator(mode="after")
    def _some_weight(self) -> IcpWeights:
        if self.industry + self.size + self.region + self.personas <= 0:
            raise ValueError("at least one ICP weight must be above 0")
        return self


class FitCutoffs(_Section):
    ideal: Share
    good: Share
    partial: Share

    @model_validator(mode="after")
    def _descending(self) -> FitCutoffs:
        if not self.ideal > self.good > self.partial:
            raise ValueError(f"cut-offs must fall: ideal > good > partial, got {self.ideal} / {self.good} / {self.partial}")
        return self


class Icp(_Section):
    industries: list[str]
    employees: EmployeeRange
    regions: list[str]
    personas: dict[str, Persona] = Field(min_length=1)
    weights: IcpWeights
    fit_cutoffs: FitCutoffs

    @field_validator("personas")
    @classmethod
    def _persona_names_are_column_names(cls, value: dict[str, Persona]) -> dict[str, Persona]:
        for name in value:  # each persona becomes a column <name>_contacts
            if not PERSONA_NAME.fullmatch(name):
                raise ValueError(f"persona name '{name}' must be lower_snake_case (it names a column)")
        return value


class Potential(_Section):
    share_of_revenue: NonNegative
    open_pipeline_weight: Share
    won_expansion_rate: NonNegative


class WinProbability(_Section):
    by_funnel_stage: dict[str, Share]
    icp_lift: Annotated[float, Field(ge=0, le=2)]
    prior_strength: NonNegative
    max: Annotated[float, Field(gt=0, le=1)]

    @field_validator("by_funnel_stage")
    @classmethod
    def _every_stage(cls, value: dict[str, float]) -> dict[str, float]:
        return _exactly(value, FUNNEL_STAGES, "funnel stages")


class CostToServe(_Section):
    cost_per_km: NonNegative
    cost_per_hour: NonNegative
    visits_per_year: dict[str, NonNegative]
    support_hours_per_year: dict[str, NonNegative]

    @field_validator("visits_per_year", "support_hours_per_year")
    @classmethod
    def _every_segment(cls, value: dict[str, float]) -> dict[str, float]:
        return _exactly(value, SEGMENTS, "segments")


class Cadence(_Section):
    touches_per_year: dict[str, dict[str, NonNegative]]
    minutes_per_touch: dict[str, NonNegative]
    travel_speed_kmh: Annotated[float, Field(gt=0)]
    max_travel_hours_per_visit: NonNegative

    @field_validator("minutes_per_touch")
    @classmethod
    def _every_channel(cls, value: dict[str, float]) -> dict[str, float]:
        return _exactly(value, ACTIVITY_TYPES, "channels")

    @field_validator("touches_per_year")
    @classmethod
    def _every_channel_per_tier(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for tier, touches in value.items():
            try:
                _exactly(touches, ACTIVITY_TYPES, "channels")
            except ValueError as error:
                raise ValueError(f"tier {tier}: {error}") from None
        return value


class IntensityCutoffs(_Section):
    high: Percentile
    medium: Percentile

    @model_validator(mode="after")
    def _descending(self) -> IntensityCutoffs:
        if not self.high > self.medium:
            raise ValueError(f"high ({self.high}) must be above medium ({self.medium})")
        return self


class Markets(_Section):
    intensity_cutoffs: IntensityCutoffs
    rep_hours_per_year: Annotated[float, Field(gt=0)]
    experience_by_intensity: dict[Literal["high", "medium", "low"], Literal["senior", "experienced", "any"]]

    @field_validator("experience_by_intensity")
    @classmethod
    def _every_intensity(cls, value: dict[str, str]) -> dict[str, str]:
        return _exactly(value, ("high", "medium", "low"), "intensities")


class ExperienceYears(_Section):
    experienced: NonNegative
    senior: NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> ExperienceYears:
        if self.senior < self.experienced:
            raise ValueError(f"senior ({self.senior}) must not be below experienced ({self.experienced})")
        return self


class Reps(_Section):
    experience_years: ExperienceYears
    performance_window_days: Annotated[int, Field(gt=0)]
    min_decisions: Annotated[int, Field(ge=1)]
    win_rate_margin: Share
    attainment_strength: NonNegative
    attainment_weakness: NonNegative
    pace_strength: Annotated[int, Field(ge=1, le=5)]
    pace_weakness: Annotated[int, Field(ge=1, le=5)]

    @model_validator(mode="after")
    def _ordered(self) -> Reps:
        if self.attainment_weakness >= self.attainment_strength:
            raise ValueError("attainment_weakness must be below attainment_strength")
        if self.pace_weakness >= self.pace_strength:
            raise ValueError("pace_weakness must be below pace_strength")
        return self


class Needs(_Section):
    min_wins: Annotated[int, Field(ge=1)]


BALANCE_MEASURES: tuple[str, ...] = ("workload_hours", "potential", "accounts")
ELIGIBILITY_KEYS: tuple[str, ...] = ("segment", "region")


class AssignmentWeights(_Section):
    travel_per_km: NonNegative
    fit: Share
    disruption: Share


class Assignment(_Section):
    """What the assignment engine balances, forbids and weighs (only the engine reads it)."""

    balance: dict[str, Share]
    eligibility: list[Literal["segment", "region"]]
    top_tiers: list[str]
    top_tier_experience: Literal["junior", "experienced", "senior"]
    potential_share_by_experience: Annotated[dict[str, Annotated[float, Field(gt=0)]], EVERY_EXPERIENCE_LEVEL]
    weights: AssignmentWeights
    max_moved_share: Share | None = None
    max_moved_value_share: Share | None = None

    @field_validator("balance")
    @classmethod
    def _known_measures(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [name for name in value if name not in BALANCE_MEASURES]
        if unknown or "workload_hours" not in value:
            raise ValueError(f"balance measures are {', '.join(BALANCE_MEASURES)} (workload_hours required), got {', '.join(value)}")
        if any(tolerance >= 1 for tolerance in value.values()):
            raise ValueError("a balance tolerance is a share below 1, e.g. 0.05 for 5%")
        return value

    @model_validator(mode="after")
    def _one_budget(self) -> Assignment:
        if self.max_moved_share is not None and self.max_moved_value_share is not None:
            raise ValueError("set max_moved_share or max_moved_value_share, not both")
        return self


class ContactPlan(_Section):
    """How the cadence becomes dated touches for the next weeks (territory/contact_plan.py)."""

    weeks: Annotated[int, Field(ge=1, le=53)]
    min_gap_days: dict[str, Annotated[int, Field(ge=1)]]
    max_gap_days: dict[str, Annotated[int, Field(ge=1)]]
    filler_channel: str

    @field_validator("filler_channel")
    @classmethod
    def _a_channel(cls, value: str) -> str:
        if value not in ACTIVITY_TYPES:
            raise ValueError(f"must be one of the channels {', '.join(ACTIVITY_TYPES)}, got '{value}'")
        return value

    @model_validator(mode="after")
    def _gaps_ordered(self) -> ContactPlan:
        for tier, fewest in self.min_gap_days.items():
            most = self.max_gap_days.get(tier)
            if most is not None and most < fewest + 2:  # two days apart may leave only a weekend between
                raise ValueError(f"tier {tier}: max_gap_days ({most}) must be at least min_gap_days ({fewest}) + 2")
        return self


class Rotation(_Section):
    """Who is on call each week: teams are the reps sharing these attributes."""

    team_by: list[Literal["segment", "region"]] = Field(min_length=1)


class Milestone(_Section):
    due: dt.date
    share: Share


class Goal(_Section):
    """A company goal: a `target`, or `growth` over the won business of the same span just before `start`."""

    name: str
    metric: Literal["revenue", "new_logos"]
    target: Annotated[float, Field(gt=0)] | None = None
    growth: Annotated[float, Field(gt=-1)] | None = None
    start: dt.date
    deadline: dt.date
    segment: Literal[SEGMENTS] | None = None  # type: ignore[valid-type]
    milestones: list[Milestone] = []

    @model_validator(mode="after")
    def _one_target(self) -> Goal:
        if (self.target is None) == (self.growth is None):
            raise ValueError(f"goal '{self.name}': give either target or growth, not {'both' if self.target else 'neither'}")
        self.to_goal(self.target or 1.0)  # the dates and milestones, checked where they are used
        return self

    def to_goal(self, target: float) -> goals.Goal:
        milestones = tuple(goals.Milestone(m.due, m.share) for m in self.milestones)
        return goals.Goal(self.name, self.metric, target, self.start, self.deadline, self.segment, milestones)


class Goals(_Section):
    """The company's goals, and how quotas follow a rep's ramp and experience (territory/goals.py)."""

    ramp_months: NonNegative
    ramp_start_share: Share
    experience_factor: Annotated[dict[str, NonNegative], EVERY_EXPERIENCE_LEVEL]
    targets: list[Goal]

    @field_validator("targets")
    @classmethod
    def _names_once(cls, value: list[Goal]) -> list[Goal]:
        names = [goal.name for goal in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"goal names must be unique, repeated: {', '.join(repeated)}")
        return value

    def quota_settings(self) -> goals.QuotaSettings:
        return goals.QuotaSettings(self.ramp_months, self.ramp_start_share, dict(self.experience_factor))


class Capacity(_Section):
    """How a shortfall of hours becomes a recommendation (territory/capacity.py)."""

    appointment_setting_hours_per_meeting: NonNegative
    headroom: Annotated[float, Field(gt=0, le=1)]


def _dataclass_from(settings: dict[str, Any], build: Callable[..., Any], what: str) -> Any:
    """`build(**settings)`, with a setting the dataclass lacks or refuses named in a ValueError."""
    try:
        return build(**settings)
    except TypeError as error:  # an unknown keyword
        unknown = re.search(r"keyword argument '(\w+)'", str(error))
        raise ValueError(f"'{unknown[1] if unknown else settings}' is not a {what} setting") from None


class SalesforceSource(_Section):
    """How an org's Salesforce records map to the raw contract, for `salesforce` and `postgres` sources."""

    # SalesforceMapping's settings (docs/sources/salesforce.md); those left out keep their defaults
    mapping: dict[str, Any] = {}

    @model_validator(mode="after")
    def _valid_mapping(self) -> SalesforceSource:
        self.salesforce_mapping()
        return self

    def salesforce_mapping(self):
        from territory.sources.salesforce import SalesforceMapping

        return _dataclass_from(self.mapping, SalesforceMapping, "Salesforce mapping")


class HubSpotSource(_Section):
    """How a HubSpot portal's records map to the raw contract, and where the reps' profiles are."""

    # HubSpotMapping's settings (docs/sources/hubspot.md); rep_defaults is a mapping of RepDefaults' settings
    mapping: dict[str, Any] = {}

    @model_validator(mode="after")
    def _valid_mapping(self) -> HubSpotSource:
        self.hubspot_mapping()
        return self

    def hubspot_mapping(self):
        from territory.sources.hubspot import HubSpotMapping, RepDefaults

        settings = dict(self.mapping)
        if "rep_defaults" in settings:
            settings["rep_defaults"] = _dataclass_from(settings["rep_defaults"], RepDefaults, "HubSpot rep_defaults")
        return _dataclass_from(settings, HubSpotMapping, "HubSpot mapping")


class Writeback(_Section):
    """Which records follow an account to its new owner when the plan is written back to the CRM."""

    contacts: Literal["all", "previous_owner", "none"] = "previous_owner"
    open_opportunities: bool = True


class Sources(_Section):
    """How each CRM's records map to the raw contract, and how the plan goes back; connections come from the environment."""

    salesforce: SalesforceSource = SalesforceSource()
    hubspot: HubSpotSource = HubSpotSource()
    writeback: Writeback = Writeback()


# Sections only Python reads; the rest become dbt vars.
PYTHON_SECTIONS = frozenset({"assignment", "contact_plan", "rotation", "goals", "capacity", "sources"})


class Plan(_Section):
    """The whole plan; each field is one section of plan.yml and, except PYTHON_SECTIONS, one dbt var."""

    segments: dict[str, NonNegative]
    size_bands: dict[str, NonNegative]
    revenue_bands: dict[str, NonNegative]
    industry_groups: dict[str, list[str]]
    regions: dict[str, list[str]]
    funnel: Funnel
    icp: Icp
    potential: Potential
    win_probability: WinProbability
    cost_to_serve: CostToServe
    tiers: dict[str, Percentile]
    cadence: Cadence
    markets: Markets
    reps: Reps
    needs: Needs
    assignment: Assignment
    contact_plan: ContactPlan
    rotation: Rotation
    goals: Goals
    capacity: Capacity
    sources: Sources = Sources()

    @field_validator("segments")
    @classmethod
    def _segment_floors(cls, value: dict[str, float]) -> dict[str, float]:
        return _floors(_exactly(value, SEGMENTS, "segments"), "segment")

    @field_validator("size_bands", "revenue_bands")
    @classmethod
    def _band_floors(cls, value: dict[str, float]) -> dict[str, float]:
        return _floors(value, "band")

    @field_validator("industry_groups")
    @classmethod
    def _industries_in_one_group(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return _each_member_once(value, "industry")

    @field_validator("regions")
    @classmethod
    def _places_in_one_region(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for region, places in value.items():
            for place in places:
                country, dash, state = place.partition("-")
                if len(country) != 2 or not country.isupper() or (dash and not state):
                    raise ValueError(f"region {region}: '{place}' is neither a country code (US) nor COUNTRY-STATE (US-NY)")
        return _each_member_once(value, "place")

    @field_validator("tiers")
    @classmethod
    def _tier_floors(cls, value: dict[str, float]) -> dict[str, float]:
        floors = list(value.values())
        if len(floors) < 2 or floors[-1] != 0:
            raise ValueError("list at least two tiers, best first; the last needs floor 0 so that every account has a tier")
        if any(lower >= higher for higher, lower in zip(floors, floors[1:])):
            raise ValueError(f"tier floors must fall from the best tier to the last, got {value}")
        return value

    @model_validator(mode="after")
    def _labels_are_plain(self) -> Plan:
        for section in ("size_bands", "revenue_bands", "industry_groups", "regions", "tiers"):
            for label in getattr(self, section):  # labels become SQL string literals
                if "'" in label or "\\" in label:
                    raise ValueError(f"{section}: the label {label!r} must not contain quotes or backslashes")
        return self

    @model_validator(mode="after")
    def _cross_references(self) -> Plan:
        if set(self.cadence.touches_per_year) != set(self.tiers):
            raise ValueError(
                f"cadence.touches_per_year must list exactly the tiers {sorted(self.tiers)}, "
                f"got {sorted(self.cadence.touches_per_year)}"
            )
        unknown = sorted(set(self.icp.regions) - set(self.regions))
        if unknown:
            raise ValueError(f"icp.regions names regions that the regions section does not define: {', '.join(unknown)}")
        unknown = sorted(set(self.assignment.top_tiers) - set(self.tiers))
        if unknown:
            raise ValueError(f"assignment.top_tiers names tiers that the tiers section does not define: {', '.join(unknown)}")
        for gaps in ("min_gap_days", "max_gap_days"):
            if set(getattr(self.contact_plan, gaps)) != set(self.tiers):
                raise ValueError(f"contact_plan.{gaps} must list exactly the tiers {sorted(self.tiers)}, "
                                 f"got {sorted(getattr(self.contact_plan, gaps))}")
        return self

    def dbt_vars(self) -> dict:
        """The plan as dbt vars: one var per section the models read, in plain JSON types."""
        return self.model_dump(mode="json", exclude=set(PYTHON_SECTIONS))


def _exactly(value: dict, expected: tuple[str, ...], what: str) -> dict:
    missing = [key for key in expected if key not in value]
    extra = [key for key in value if key not in expected]
    if missing or extra:
        parts = [f"missing {', '.join(missing)}" if missing else "", f"unknown {', '.join(extra)}" if extra else ""]
        raise ValueError(f"needs exactly the {what} {', '.join(expected)}: {'; '.join(p for p in parts if p)}")
    return {key: value[key] for key in expected}


def _each_member_once(groups: dict[str, list[str]], what: str) -> dict[str, list[str]]:
    seen: dict[str, str] = {}
    for group, members in groups.items():
        for member in members:
            if member in seen:
                raise ValueError(f"{what} '{member}' is listed under both '{seen[member]}' and '{group}'")
            seen[member] = group
    return groups


def load_plan(path: Path | str | None = None) -> Plan:
    """The validated plan at `path` (default: the repository's plan.yml)."""
    path = Path(path) if path else DEFAULT_PLAN_PATH
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PlanError(f"cannot read the plan file {path}: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise PlanError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise PlanError(f"{path} must hold a mapping of plan sections, got {type(document).__name__}")
    try:
        return Plan.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'plan'}: {_message(e)}" for e in error.errors())
        raise PlanError(f"{path}: {problems}") from None


def _message(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "is not a plan setting (check the spelling)"
    return error["msg"].removeprefix("Value error, ")
