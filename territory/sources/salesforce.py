"""Salesforce: an org's objects mapped to the canonical raw contract, and the export folder source.

`to_canonical` is the one mapping every Salesforce source calls (this export folder, the REST API
pull, the PostgreSQL replica): it takes a DataFrame per object, as text (an export) or typed (an
API), and returns a CanonicalExtract. Object and field names are matched case-insensitively, as
replicas often lowercase them. The rules, field by field, are in docs/sources/salesforce.md;
what an org may change (picklist maps, custom field names, defaults) is `SalesforceMapping`.

Ids are kept as Salesforce writes them, except that a 15-character id is given its 18-character
case-safe form, so that references match whichever form each export used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pycountry

from territory.contract import (
    ACTIVITY_TYPES,
    LIFECYCLE_STAGES,
    OPPORTUNITY_STAGES,
    REP_ROLES,
    SEGMENTS,
    raw_table,
)
from territory.raw_loader import SourceError
from territory.sources.canonical import UNMAPPED_COLUMNS, CanonicalExtract, land_canonical


@dataclass(frozen=True)
class SalesforceObject:
    """An object the source reads: the fields its records must hold, those used when present, and if it is required."""

    required_fields: tuple[str, ...]
    optional_fields: tuple[str, ...] = ()
    required: bool = True

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required_fields + self.optional_fields


# The standard objects and fields read; `SalesforceMapping.objects()` adds the org's custom fields.
SALESFORCE_OBJECTS: dict[str, SalesforceObject] = {
    "Account": SalesforceObject(
        (
            "Id",
            "Name",
            "Website",
            "Industry",
            "NumberOfEmployees",
            "AnnualRevenue",
            "BillingCountry",
            "BillingState",
            "BillingCity",
            "BillingPostalCode",
            "BillingLatitude",
            "BillingLongitude",
            "Type",
            "OwnerId",
            "ParentId",
            "CreatedDate",
            "LastModifiedDate",
        ),
        ("BillingCountryCode", "BillingStateCode", "SystemModstamp", "IsDeleted"),
    ),
    "Contact": SalesforceObject(
        ("Id", "AccountId", "Title", "Department", "OwnerId", "CreatedDate"), ("SystemModstamp", "IsDeleted")
    ),
    "Opportunity": SalesforceObject(
        ("Id", "AccountId", "OwnerId", "StageName", "Amount", "CloseDate", "IsClosed", "IsWon", "CreatedDate"),
        ("SystemModstamp", "IsDeleted"),
    ),
    "User": SalesforceObject(
        ("Id", "Name", "Email", "IsActive", "ManagerId", "LanguageLocaleKey", "Latitude", "Longitude"),
        ("SystemModstamp",),
    ),
    "Task": SalesforceObject(
        ("Id", "AccountId", "OwnerId", "TaskSubtype", "CallDurationInSeconds", "ActivityDate", "CreatedDate"),
        ("CallDisposition", "Subject", "SystemModstamp", "IsDeleted"),
        required=False,
    ),
    "Event": SalesforceObject(
        ("Id", "AccountId", "OwnerId", "StartDateTime", "DurationInMinutes", "Location"),
        ("SystemModstamp", "IsDeleted"),
        required=False,
    ),
    "ForecastingQuota": SalesforceObject(
        ("QuotaOwnerId", "StartDate", "QuotaAmount"), ("Id", "SystemModstamp"), required=False
    ),
}

# The standard Opportunity.StageName picklist; from Value Proposition on, the buyer weighs an offer.
STANDARD_STAGES: Mapping[str, str] = {
    "Prospecting": "prospecting",
    "Qualification": "qualification",
    "Needs Analysis": "qualification",
    "Value Proposition": "proposal",
    "Id. Decision Makers": "proposal",
    "Perception Analysis": "proposal",
    "Proposal/Price Quote": "proposal",
    "Negotiation/Review": "negotiation",
    "Closed Won": "closed_won",
    "Closed Lost": "closed_lost",
}
# Account.Type values that state a lifecycle stage; other types leave it to the account's deals.
LIFECYCLE_BY_TYPE: Mapping[str, str] = {
    "Customer - Direct": "customer",
    "Customer - Channel": "customer",
    "Former Customer": "churned",
}
TASK_TYPES: Mapping[str, str] = {"Call": "call", "Email": "email", "ListEmail": "email"}
# Seniority read from a contact's title: the first pattern that matches wins ("Vice President" before "President").
SENIORITY_BY_TITLE: tuple[tuple[str, str], ...] = (
    ("vp", r"\b(?:vp|svp|evp|avp|vice[ -]president)\b"),
    ("c_level", r"\b(?:chief|ceo|cfo|coo|cto|cio|cmo|cro|ciso|president|founder)\b"),
    ("director", r"\b(?:director|head of)\b"),
    ("manager", r"\b(?:manager|supervisor|team lead)\b"),
)
SENIORITIES = ("c_level", "vp", "director", "manager", "individual_contributor")
PACE_SCORES = ("passion", "awareness", "curiosity", "energy")
PACE_FIELDS: Mapping[str, str] = {
    "rep_id": "User__c",
    "assessed_at": "Assessed_On__c",
    "passion": "Passion__c",
    "awareness": "Awareness__c",
    "curiosity": "Curiosity__c",
    "energy": "Energy__c",
}
MEETING_TYPES = ("meeting_in_person", "meeting_online")
OPEN_STAGES = tuple(stage for stage in OPPORTUNITY_STAGES if not stage.startswith("closed"))


@dataclass(frozen=True)
class SalesforceMapping:
    """How one org's Salesforce records become canonical rows: picklist maps, rules, custom field names, defaults.

    The defaults fit an org on the standard picklists. A configured custom field that the records
    do not hold gives every record its default, and is listed in the unmapped report.
    """

    stages: Mapping[str, str] = field(default_factory=lambda: dict(STANDARD_STAGES))
    open_stage_fallback: str = "qualification"
    product_line_field: str = "Product_Line__c"
    loss_reason_field: str = "Loss_Reason__c"
    lifecycle_field: str | None = "Lifecycle_Stage__c"
    lifecycle_by_type: Mapping[str, str] = field(default_factory=lambda: dict(LIFECYCLE_BY_TYPE))
    seniority_field: str | None = None
    task_types: Mapping[str, str] = field(default_factory=lambda: dict(TASK_TYPES))
    voicemail_pattern: str = r"voice\s*-?mail"
    online_meeting_pattern: str = r"https?://|zoom|teams|webex|google meet|meet\.google|online|video|virtual"
    meeting_without_location: str = "meeting_online"
    rep_role_field: str = "Sales_Role__c"
    rep_segment_field: str = "Segment__c"
    rep_region_field: str = "Sales_Region__c"
    rep_capacity_field: str = "Capacity_Hours__c"
    rep_industries_field: str = "Industries__c"
    rep_hire_date_field: str = "Hire_Date__c"
    default_role: str = "account_executive"
    default_segment: str = "mid_market"
    default_capacity_hours: float = 1600.0
    quota_period_months: int = 3
    assessment_object: str = "PACE_Assessment__c"
    assessment_fields: Mapping[str, str] = field(default_factory=lambda: dict(PACE_FIELDS))

    def __post_init__(self) -> None:
        _check_values("stages", self.stages.values(), OPPORTUNITY_STAGES)
        _check_values("open_stage_fallback", [self.open_stage_fallback], OPEN_STAGES)
        _check_values("lifecycle_by_type", self.lifecycle_by_type.values(), LIFECYCLE_STAGES)
        _check_values("task_types", self.task_types.values(), ACTIVITY_TYPES)
        _check_values("meeting_without_location", [self.meeting_without_location], MEETING_TYPES)
        _check_values("default_role", [self.default_role], REP_ROLES)
        _check_values("default_segment", [self.default_segment], SEGMENTS)
        if set(self.assessment_fields) != set(PACE_FIELDS):
            raise ValueError(f"assessment_fields must name the field of each of {', '.join(PACE_FIELDS)}")
        if self.default_capacity_hours <= 0:
            raise ValueError(f"default_capacity_hours must be above 0, got {self.default_capacity_hours}")
        if self.quota_period_months < 1:
            raise ValueError(f"quota_period_months must be at least 1, got {self.quota_period_months}")
        for name in ("voicemail_pattern", "online_meeting_pattern"):
            try:
                re.compile(getattr(self, name))
            except re.error as error:
                raise ValueError(f"{name} is not a valid regular expression: {error}") from None

    def objects(self) -> dict[str, SalesforceObject]:
        """Every object this mapping reads and its fields, the configured custom fields among the optional ones."""
        custom = {
            "Account": (self.lifecycle_field,),
            "Contact": (self.seniority_field,),
            "Opportunity": (self.product_line_field, self.loss_reason_field),
            "User": (
                self.rep_role_field,
                self.rep_segment_field,
                self.rep_region_field,
                self.rep_capacity_field,
                self.rep_industries_field,
                self.rep_hire_date_field,
            ),
        }
        objects = {
            name: SalesforceObject(
                spec.required_fields,
                spec.optional_fields + tuple(field_name for field_name in custom.get(name, ()) if field_name),
                spec.required,
            )
            for name, spec in SALESFORCE_OBJECTS.items()
        }
        objects[self.assessment_object] = SalesforceObject(
            tuple(self.assessment_fields.values()), ("Id", "SystemModstamp", "IsDeleted"), required=False
        )
        return objects


def _check_values(setting: str, values, allowed) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValueError(f"{setting} holds {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")


def to_canonical(
    objects: Mapping[str, pd.DataFrame], mapping: SalesforceMapping = SalesforceMapping()
) -> CanonicalExtract:
    """The canonical raw tables of an org's records (a DataFrame per object name), and what did not map.

    Deleted records (IsDeleted true) are left out; timestamps become naive UTC and dates dates.
    """
    unmapped = _Unmapped()
    records = _records(objects, mapping, unmapped)
    opportunities = _opportunities(records["Opportunity"], mapping)
    tables = {
        "accounts": _accounts(records["Account"], opportunities, mapping),
        "contacts": _contacts(records["Contact"], mapping),
        "opportunities": opportunities,
        "activities": pd.concat(
            [_tasks(records["Task"], mapping), _events(records["Event"], mapping)], ignore_index=True
        ),
        "reps": _reps(records["User"], mapping),
        "quotas": _quotas(records["ForecastingQuota"], mapping),
        "assessments": _assessments(records[mapping.assessment_object], mapping),
    }
    return CanonicalExtract(
        {name: table[list(raw_table(name).columns)].reset_index(drop=True) for name, table in tables.items()},
        unmapped.frame(),
    )


def read_export(folder: Path, mapping: SalesforceMapping = SalesforceMapping()) -> dict[str, pd.DataFrame]:
    """The records of each object in a Data Export or Data Loader folder of `<Object>.csv` files, as text.

    File names match object names case-insensitively; only the fields the mapping uses are read.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"Salesforce export folder {folder} does not exist or is not a folder")
    files: dict[str, Path] = {}
    for path in sorted(folder.glob("*")):
        if path.suffix.lower() == ".csv":
            if path.stem.lower() in files:
                raise SourceError(f"{folder} holds both {files[path.stem.lower()].name} and {path.name}; keep one")
            files[path.stem.lower()] = path
    specs = mapping.objects()
    missing = [name for name, spec in specs.items() if spec.required and name.lower() not in files]
    if missing:
        raise SourceError(
            f"{folder} has no {', '.join(f'{name}.csv' for name in missing)}: a Salesforce export needs "
            f"{_listing(name for name, spec in specs.items() if spec.required)}; "
            f"{_listing(name for name, spec in specs.items() if not spec.required)} are optional"
        )
    return {name: _read_csv(files[name.lower()], spec) for name, spec in specs.items() if name.lower() in files}


def land_export(folder: Path, target: Path, mapping: SalesforceMapping = SalesforceMapping()) -> Path:
    """Map the Salesforce export in `folder` and land it as the canonical folder `target` (replaced whole)."""
    return land_canonical(to_canonical(read_export(folder, mapping), mapping), target)


def _read_csv(path: Path, spec: SalesforceObject) -> pd.DataFrame:
    wanted = {name.lower() for name in spec.fields}
    try:
        records = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,  # "NA" is Namibia, not a missing value
            na_values=[""],
            encoding="utf-8-sig",
            usecols=lambda column: column.strip().lower() in wanted,
        )
    except ValueError as error:  # unreadable bytes, an empty file, a broken line
        raise SourceError(f"{path}: cannot be read as a UTF-8 CSV export ({error})") from None
    return _conform(records, spec, str(path))


def _conform(records: pd.DataFrame, spec: SalesforceObject, where: str) -> pd.DataFrame:
    """`records` with the fields of `spec` under their API names; a SourceError names any required field missing."""
    by_lower = {name.lower(): name for name in spec.fields}
    conformed = records.rename(columns=lambda column: by_lower.get(str(column).strip().lower(), column))
    missing = [name for name in spec.required_fields if name not in conformed.columns]
    if missing:
        needed = ", ".join(spec.required_fields)
        raise SourceError(f"{where}: missing field(s) {', '.join(missing)}; the Salesforce source needs {needed}")
    return conformed


def _listing(names) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


class _Unmapped:
    """The values that did not map, collected while mapping; one row per object, field, value and treatment."""

    def __init__(self) -> None:
        self._counts: list[pd.DataFrame] = []

    def add(self, obj: str, source_field: str, values: pd.Series, treatment: str | pd.Series) -> None:
        """Count `values` (those of the records that got a fallback) by value and treatment."""
        if values.empty:
            return
        counts = (
            pd.DataFrame({"value": values.astype("string"), "treatment": treatment}, index=values.index)
            .value_counts(dropna=False)
            .rename("records")
            .reset_index()
        )
        self._counts.append(counts.assign(source_object=obj, source_field=source_field))

    def frame(self) -> pd.DataFrame:
        if not self._counts:
            return pd.DataFrame(columns=list(UNMAPPED_COLUMNS))
        report = pd.concat(self._counts, ignore_index=True)[list(UNMAPPED_COLUMNS)]
        return report.sort_values(["source_object", "source_field", "value"], ignore_index=True)


@dataclass(frozen=True)
class _Records:
    """One object's records, read field by field into typed columns; a bad value names the object and field.

    A field the records lack (an optional or custom one) reads as all missing.
    """

    name: str
    frame: pd.DataFrame
    unmapped: _Unmapped

    def has(self, source_field: str | None) -> bool:
        return source_field is not None and source_field in self.frame.columns

    def subset(self, keep: pd.Series) -> _Records:
        return _Records(self.name, self.frame[keep.to_numpy(dtype=bool)], self.unmapped)

    def report(self, source_field: str, values: pd.Series, treatment: str | pd.Series) -> None:
        self.unmapped.add(self.name, source_field, values, treatment)

    def report_if_absent(self, source_field: str | None, column: str, treatment: str) -> bool:
        """Whether a configured custom field is missing from the records; if so it is reported for every record."""
        if source_field is None or self.has(source_field):
            return False
        missing = pd.Series(pd.NA, index=self.frame.index, dtype="string")
        self.report(source_field, missing, f"field absent from the {self.name} records: {column} {treatment}")
        return True

    def text(self, source_field: str | None) -> pd.Series:
        """The field as trimmed text, empty values missing."""
        if not self.has(source_field):
            return pd.Series(pd.NA, index=self.frame.index, dtype="string")
        values = self.frame[source_field].astype("string").str.strip()
        return values.mask(values == "")

    def ids(self, source_field: str) -> pd.Series:
        return salesforce_ids(self.text(source_field))

    def numbers(self, source_field: str | None) -> pd.Series:
        text = self.text(source_field)
        return self._checked(source_field, text, pd.to_numeric(text, errors="coerce"), "a number").astype(float)

    def whole_numbers(self, source_field: str) -> pd.Series:
        return self.numbers(source_field).round().astype("Int64")

    def flags(self, source_field: str) -> pd.Series:
        text = self.text(source_field).str.lower()
        flags = text.map({"true": True, "1": True, "false": False, "0": False}).astype("boolean")
        return self._checked(source_field, text, flags, "true or false")

    def timestamps(self, source_field: str) -> pd.Series:
        """The field as naive UTC timestamps; a stamp without an offset is taken to be UTC."""
        text = self.text(source_field)
        stamps = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        stamps = self._checked(source_field, text, stamps, "a timestamp like 2026-06-30T14:05:00.000Z")
        return stamps.dt.tz_convert(None)

    def days(self, source_field: str | None) -> pd.Series:
        """The field as dates at midnight (datetime64, for date arithmetic)."""
        text = self.text(source_field)
        days = pd.to_datetime(text, format="ISO8601", errors="coerce")
        return self._checked(source_field, text, days, "a date like 2026-06-30").dt.normalize()

    def _checked(self, source_field: str | None, text: pd.Series, parsed: pd.Series, expected: str) -> pd.Series:
        bad = text[(text.notna() & parsed.isna()).to_numpy(dtype=bool)]
        if not bad.empty:
            examples = ", ".join(repr(value) for value in bad.drop_duplicates().head(3))
            values = "values are" if len(bad) > 1 else "value is"
            raise SourceError(
                f"{self.name}.{source_field}: {len(bad)} {values} not {expected} (e.g. {examples}); "
                "correct them in Salesforce or in the export"
            )
        return parsed


_CHECKSUM_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)


def salesforce_ids(ids: pd.Series) -> pd.Series:
    """Salesforce ids in their 18-character case-safe form: a 15-character id gets its 3-character checksum.

    Each checksum character encodes which of five characters of the id are upper case, so that ids
    differing only in case stay distinct where case is ignored.
    """
    ids = ids.astype("string")
    short = ids.str.fullmatch(r"[0-9A-Za-z]{15}").fillna(False).to_numpy(dtype=bool)
    if not short.any():
        return ids
    chars = ids[short].to_numpy(dtype=object).astype("S15").view(np.uint8).reshape(-1, 3, 5)
    upper = (chars >= ord("A")) & (chars <= ord("Z"))
    checksum = np.ascontiguousarray(_CHECKSUM_ALPHABET[upper @ (1 << np.arange(5))]).view("S3").ravel().astype(str)
    normalised = ids.copy()
    normalised[short] = ids[short] + checksum
    return normalised


def country_codes(countries: pd.Series) -> pd.Series:
    """ISO 3166 alpha-2 codes of countries as people write them ('United States', 'USA', 'us'); missing if unknown."""
    known = {name: _alpha_2(name) for name in countries.dropna().unique()}
    return countries.map(known).astype("string")


def _alpha_2(country: str) -> str | None:
    try:
        return pycountry.countries.lookup(country).alpha_2
    except LookupError:
        return None


def _snake(values: pd.Series) -> pd.Series:
    """Picklist labels in the contract's spelling: 'Mid-Market' -> mid_market, 'Sales Manager' -> sales_manager."""
    return values.str.lower().str.replace(r"[^0-9a-z]+", "_", regex=True).str.strip("_")


def _matches(values: pd.Series, pattern: str) -> pd.Series:
    return values.str.contains(pattern, case=False, regex=True).fillna(False).astype(bool)


def _optional(records: _Records, source_field: str, column: str) -> pd.Series:
    """A free-text custom field; when the records lack it, every record is left empty and the absence reported."""
    records.report_if_absent(source_field, column, "left empty")
    return records.text(source_field)


def _defaulted(records: _Records, source_field: str, column: str, values: pd.Series, shown: pd.Series, default):
    """`values` with `default` where missing; reported once if the records lack the field, else by `shown` value."""
    missing = values.isna().to_numpy(dtype=bool)
    if not records.report_if_absent(source_field, column, f"set to {default!r}"):
        records.report(source_field, shown[missing], f"{column} set to {default!r}")
    return values.mask(missing, default)


def _choice(records: _Records, source_field: str, column: str, allowed, default: str) -> pd.Series:
    """A picklist custom field in the contract's spelling; an empty or unknown value gets `default`."""
    text = records.text(source_field)
    choice = _snake(text)
    return _defaulted(records, source_field, column, choice.where(choice.isin(allowed)), text, default)


def _preferred(records: _Records, source_field: str | None, column: str, allowed, derived: pd.Series, rule: str):
    """A custom field's value in the contract's spelling where it is `allowed`, else the value `derived` by `rule`.

    An empty field takes the rule as documented; a value that is not allowed is reported.
    """
    if source_field is None:
        return derived
    records.report_if_absent(source_field, column, f"from {rule}")
    text = records.text(source_field)
    value = _snake(text)
    valid = value.isin(allowed).to_numpy(dtype=bool)
    records.report(source_field, text[text.notna().to_numpy(dtype=bool) & ~valid], f"{column} from {rule} instead")
    return value.where(valid, derived)


def _records(
    objects: Mapping[str, pd.DataFrame], mapping: SalesforceMapping, unmapped: _Unmapped
) -> dict[str, _Records]:
    """Each object's records, fields under their API names, deleted ones left out; none for an absent optional one."""
    given = {name.lower(): frame for name, frame in objects.items()}
    specs = mapping.objects()
    missing = [name for name, spec in specs.items() if spec.required and name.lower() not in given]
    if missing:
        raise SourceError(
            f"the Salesforce records lack {_listing(missing)}: {_listing(n for n, s in specs.items() if s.required)} "
            f"are required, {_listing(n for n, s in specs.items() if not s.required)} optional"
        )
    records = {}
    for name, spec in specs.items():
        frame = given.get(name.lower(), pd.DataFrame(columns=list(spec.fields), dtype="string"))
        read = _Records(name, _conform(frame, spec, f"the {name} records"), unmapped)
        records[name] = read.subset(~read.flags("IsDeleted").fillna(False))
    return records


def _linked(records: _Records) -> _Records:
    """The records linked to an account; the others (a task on a lead, a private contact) are left out, and reported."""
    account = records.text("AccountId")
    records.report("AccountId", account[account.isna()], "record left out: not linked to an account")
    return records.subset(account.notna())


# The host of a website as people write it: "https://www.example.com/about" -> example.com.
_WEBSITE_HOST = r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?([^/:?#\s]+)"


def _accounts(records: _Records, opportunities: pd.DataFrame, mapping: SalesforceMapping) -> pd.DataFrame:
    account_id = records.ids("Id")
    country = records.text("BillingCountry")
    code = records.text("BillingCountryCode").fillna(country_codes(country))
    unknown = (code.isna() & country.notna()).to_numpy(dtype=bool)
    records.report("BillingCountry", country[unknown], "country kept as written: not a known country name or code")
    return pd.DataFrame(
        {
            "account_id": account_id,
            "name": records.text("Name"),
            "domain": records.text("Website").str.lower().str.extract(_WEBSITE_HOST, expand=False),
            "industry": records.text("Industry"),
            "employees": records.whole_numbers("NumberOfEmployees"),
            "annual_revenue": records.numbers("AnnualRevenue"),
            "country": code.fillna(country),
            "state": records.text("BillingStateCode").fillna(records.text("BillingState")),
            "city": records.text("BillingCity"),
            "postal_code": records.text("BillingPostalCode"),
            "latitude": records.numbers("BillingLatitude"),
            "longitude": records.numbers("BillingLongitude"),
            "lifecycle_stage": _lifecycle(records, account_id, opportunities, mapping),
            "owner_rep_id": records.ids("OwnerId"),
            "parent_account_id": records.ids("ParentId"),
            "created_at": records.timestamps("CreatedDate"),
            "updated_at": records.timestamps("LastModifiedDate"),
        }
    )


def _lifecycle(records: _Records, account_id: pd.Series, opportunities: pd.DataFrame, mapping: SalesforceMapping):
    """The lifecycle field; else what Account.Type states; else customer (won deal), opportunity (open deal), lead."""
    won = account_id.isin(opportunities.loc[opportunities["is_won"].fillna(False), "account_id"])
    open_deal = account_id.isin(opportunities.loc[~opportunities["is_closed"].fillna(False), "account_id"])
    by_deals = pd.Series(np.select([won, open_deal], ["customer", "opportunity"], "lead"), index=account_id.index)
    derived = records.text("Type").map(mapping.lifecycle_by_type).fillna(by_deals)
    rule = "Account.Type and deals"
    return _preferred(records, mapping.lifecycle_field, "lifecycle_stage", LIFECYCLE_STAGES, derived, rule)


def _contacts(records: _Records, mapping: SalesforceMapping) -> pd.DataFrame:
    records = _linked(records)
    title = records.text("Title")
    matched = [_matches(title, pattern) for _, pattern in SENIORITY_BY_TITLE]
    levels = [level for level, _ in SENIORITY_BY_TITLE]
    by_title = pd.Series(np.select(matched, levels, "individual_contributor"), index=title.index).where(title.notna())
    seniority = _preferred(records, mapping.seniority_field, "seniority", SENIORITIES, by_title, "Title")
    return pd.DataFrame(
        {
            "contact_id": records.ids("Id"),
            "account_id": records.ids("AccountId"),
            "title": title,
            "department": records.text("Department"),
            "seniority": seniority,
            "owner_rep_id": records.ids("OwnerId"),
            "created_at": records.timestamps("CreatedDate"),
        }
    )


def _opportunities(records: _Records, mapping: SalesforceMapping) -> pd.DataFrame:
    records = _linked(records)
    closed, won = records.flags("IsClosed"), records.flags("IsWon")
    stage_name = records.text("StageName")
    is_closed = closed.fillna(False).to_numpy(dtype=bool)
    by_status = pd.Series(
        np.select(
            [is_closed & won.fillna(False).to_numpy(dtype=bool), is_closed],
            ["closed_won", "closed_lost"],
            mapping.open_stage_fallback,
        ),
        index=stage_name.index,
    )
    stage = stage_name.map(mapping.stages)
    unknown = stage.isna().to_numpy(dtype=bool)
    records.report("StageName", stage_name[unknown], "stage set to '" + by_status[unknown] + "' by IsClosed and IsWon")
    return pd.DataFrame(
        {
            "opportunity_id": records.ids("Id"),
            "account_id": records.ids("AccountId"),
            "owner_rep_id": records.ids("OwnerId"),
            "stage": stage.fillna(by_status),
            "amount": records.numbers("Amount"),
            "product_line": _optional(records, mapping.product_line_field, "product_line"),
            "created_at": records.timestamps("CreatedDate"),
            "close_date": records.days("CloseDate").dt.date,
            "is_closed": closed,
            "is_won": won,
            "loss_reason": _optional(records, mapping.loss_reason_field, "loss_reason"),
        }
    )


def _tasks(records: _Records, mapping: SalesforceMapping) -> pd.DataFrame:
    """Calls, voicemails and emails, dated when logged; one logged days after its ActivityDate is dated that day, 00:00.

    ActivityDate is the rep's local date, so a day's difference is only a time zone and keeps the logged time.
    """
    records = _linked(records)
    subtype = records.text("TaskSubtype")
    kind = subtype.map(mapping.task_types)
    markers = records.text("CallDisposition").str.cat(records.text("Subject"), sep=" ", na_rep="")
    kind = kind.mask((kind == "call") & _matches(markers, mapping.voicemail_pattern), "voicemail")
    unknown = kind.isna().to_numpy(dtype=bool)
    records.report("TaskSubtype", subtype[unknown], "activity_type left empty: not a call, voicemail or email")
    logged, day = records.timestamps("CreatedDate"), records.days("ActivityDate")
    return pd.DataFrame(
        {
            "activity_id": records.ids("Id"),
            "account_id": records.ids("AccountId"),
            "rep_id": records.ids("OwnerId"),
            "activity_type": kind.astype("string"),
            "occurred_at": logged.mask(day < logged.dt.normalize() - pd.Timedelta(days=1), day),
            "duration_minutes": (records.numbers("CallDurationInSeconds") / 60).round().astype("Int64"),
        }
    )


def _events(records: _Records, mapping: SalesforceMapping) -> pd.DataFrame:
    """Meetings: online when the location looks like a video link or service, else in person."""
    records = _linked(records)
    location = records.text("Location")
    kind = pd.Series(
        np.where(_matches(location, mapping.online_meeting_pattern), "meeting_online", "meeting_in_person"),
        index=location.index,
        dtype="string",
    ).mask(location.isna(), mapping.meeting_without_location)
    records.report("Location", location[location.isna()], f"activity_type set to '{mapping.meeting_without_location}'")
    return pd.DataFrame(
        {
            "activity_id": records.ids("Id"),
            "account_id": records.ids("AccountId"),
            "rep_id": records.ids("OwnerId"),
            "activity_type": kind,
            "occurred_at": records.timestamps("StartDateTime"),
            "duration_minutes": records.whole_numbers("DurationInMinutes"),
        }
    )


def _reps(records: _Records, mapping: SalesforceMapping) -> pd.DataFrame:
    """Users with a sales role (every user when the records lack the role field)."""
    if records.has(mapping.rep_role_field):
        role = records.text(mapping.rep_role_field)
        records.report(mapping.rep_role_field, role[role.isna()], "user left out of reps: no sales role")
        records = records.subset(role.notna())
    capacity_text = records.text(mapping.rep_capacity_field)
    capacity = _defaulted(
        records,
        mapping.rep_capacity_field,
        "capacity_hours",
        records.numbers(mapping.rep_capacity_field),
        capacity_text,
        mapping.default_capacity_hours,
    )
    records.report_if_absent(mapping.rep_hire_date_field, "hire_date", "left empty")
    return pd.DataFrame(
        {
            "rep_id": records.ids("Id"),
            "name": records.text("Name"),
            "email": records.text("Email"),
            "role": _choice(records, mapping.rep_role_field, "role", REP_ROLES, mapping.default_role),
            "segment": _choice(records, mapping.rep_segment_field, "segment", SEGMENTS, mapping.default_segment),
            "region": _snake(_optional(records, mapping.rep_region_field, "region")),
            "home_latitude": records.numbers("Latitude"),
            "home_longitude": records.numbers("Longitude"),
            "capacity_hours": capacity,
            "hire_date": records.days(mapping.rep_hire_date_field).dt.date,
            "industries": _optional(records, mapping.rep_industries_field, "industries"),
            "languages": records.text("LanguageLocaleKey").str.extract(r"^([A-Za-z]+)", expand=False).str.lower(),
            "is_active": records.flags("IsActive"),
            "manager_id": records.ids("ManagerId"),
        }
    )


def _quotas(records: _Records, mapping: SalesforceMapping) -> pd.DataFrame:
    """Quotas per forecast period; a period ends the day before the next starts, `quota_period_months` later."""
    start = records.days("StartDate")
    end = start + pd.DateOffset(months=mapping.quota_period_months) - pd.Timedelta(days=1)
    return pd.DataFrame(
        {
            "rep_id": records.ids("QuotaOwnerId"),
            "period_start": start.dt.date,
            "period_end": end.dt.date,
            "quota_amount": records.numbers("QuotaAmount"),
        }
    )


def _assessments(records: _Records, mapping: SalesforceMapping) -> pd.DataFrame:
    fields = mapping.assessment_fields
    return pd.DataFrame(
        {
            "rep_id": records.ids(fields["rep_id"]),
            "assessed_at": records.days(fields["assessed_at"]).dt.date,
            **{score: records.whole_numbers(fields[score]) for score in PACE_SCORES},
        }
    )
