"""HubSpot: the CRM's objects mapped to the canonical raw contract, its export files, and owner import files.

HubSpot holds companies, contacts, deals, the calls, emails and meetings logged on them, and the
owners of all of these. `to_canonical` maps them, named by HubSpot's internal property names, to the
tables of `territory.contract`. What HubSpot does not hold about reps (segment, region, home base,
capacity, ...), their quotas and their PACE assessments come from a rep profiles file keyed by the
owner's email (`read_rep_profiles`). `read_export` reads HubSpot's export files (property labels as
headers) into the same shape that `territory.sources.hubspot_api` pulls from the CRM API, and
`hubspot_import_files` writes planned owner changes as files HubSpot's import accepts.

Values that do not map keep their record with a documented fallback and are listed in the
extract's `unmapped` report. The field-by-field mapping is in docs/sources/hubspot.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from territory.contract import RAW_TABLES
from territory.raw_loader import SourceError
from territory.sources.canonical import UNMAPPED_COLUMNS, CanonicalExtract, land_canonical
from territory.sources.salesforce import country_codes
from territory.sources.writeback import OwnerChange

CRM_OBJECTS = ("companies", "contacts", "deals", "calls", "emails", "meetings")
ENGAGEMENTS = ("calls", "emails", "meetings")
# The objects whose account is the company they are associated with.
COMPANY_ASSOCIATED = ("contacts", "deals", *ENGAGEMENTS)
OWNERS = "owners"
OWNER_COLUMNS = ("id", "email", "firstName", "lastName", "userId", "archived")
KEY_PROPERTY = "hs_object_id"
OWNER_PROPERTY = "hubspot_owner_id"
# Contacts keep their modification stamp in `lastmodifieddate`; every other object in `hs_lastmodifieddate`.
MODIFIED_PROPERTY = {obj: "hs_lastmodifieddate" for obj in CRM_OBJECTS} | {"contacts": "lastmodifieddate"}
# A record carries its company associations as HubSpot's exports write them: ids separated by ";".
COMPANY_IDS = "associated_company_ids"
PRIMARY_COMPANY_ID = "primary_company_id"
ASSOCIATION_COLUMNS = ("from_id", "to_id", "primary")

STANDARD_PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": (KEY_PROPERTY, "name", "domain", "industry", "numberofemployees", "annualrevenue", "country",
                  "state", "city", "zip", "lifecyclestage", OWNER_PROPERTY, "hs_parent_company_id", "createdate",
                  "hs_lastmodifieddate"),
    "contacts": (KEY_PROPERTY, "jobtitle", OWNER_PROPERTY, "createdate", "lastmodifieddate"),
    "deals": (KEY_PROPERTY, "dealname", "pipeline", "dealstage", "amount", "closedate", "createdate", OWNER_PROPERTY,
              "closed_lost_reason", "hs_is_closed", "hs_is_closed_won", "hs_lastmodifieddate"),
    "calls": (KEY_PROPERTY, "hs_timestamp", OWNER_PROPERTY, "hs_call_duration", "hs_call_disposition",
              "hs_lastmodifieddate"),
    "emails": (KEY_PROPERTY, "hs_timestamp", OWNER_PROPERTY, "hs_email_direction", "hs_lastmodifieddate"),
    "meetings": (KEY_PROPERTY, "hs_timestamp", OWNER_PROPERTY, "hs_meeting_start_time", "hs_meeting_end_time",
                 "hs_meeting_location", "hs_meeting_outcome", "hs_lastmodifieddate"),
}

# HubSpot's default lifecycle stages; "other" has no canonical equivalent and is reported.
LIFECYCLE_STAGES = {
    "subscriber": "lead",
    "lead": "lead",
    "marketingqualifiedlead": "mql",
    "salesqualifiedlead": "sql",
    "opportunity": "opportunity",
    "customer": "customer",
    "evangelist": "customer",
}
# The stages of HubSpot's default sales pipeline.
DEAL_STAGES = {
    "appointmentscheduled": "prospecting",
    "qualifiedtobuy": "qualification",
    "presentationscheduled": "proposal",
    "decisionmakerboughtin": "negotiation",
    "contractsent": "negotiation",
    "closedwon": "closed_won",
    "closedlost": "closed_lost",
}
# HubSpot's default call outcome (hs_call_disposition) for a voicemail: its id, and its label in exports.
LEFT_VOICEMAIL = ("b2cf5968-551e-4856-9783-52b3da59a7d0", "Left voicemail")
SENIORITY_RULES = (
    ("c_level", r"\bchief\b|\bc[efiomst]o\b|(?<!vice )\bpresident\b|\bfounder\b"),
    ("vp", r"\b[es]?vp\b|\bvice president\b"),
    ("director", r"\bdirector\b|\bhead of\b"),
    ("manager", r"\bmanager\b|\bsupervisor\b|\bteam lead\b"),
)
INDIVIDUAL_CONTRIBUTOR = "individual_contributor"
_NOT_KEY = r"[^0-9a-z]"

PROFILES_FILE = "rep_profiles.csv"
QUOTAS_FILE = "quotas.csv"
ASSESSMENTS_FILE = "assessments.csv"
PROFILE_ATTRIBUTES = ("role", "segment", "region", "home_latitude", "home_longitude", "capacity_hours", "hire_date",
                      "industries", "languages")
PROFILE_COLUMNS = ("email", *PROFILE_ATTRIBUTES, "manager_email")
QUOTA_COLUMNS = ("owner_email", "period_start", "period_end", "quota_amount")
ASSESSMENT_COLUMNS = ("owner_email", "assessed_at", "passion", "awareness", "curiosity", "energy")
PACE_SCORES = ("passion", "awareness", "curiosity", "energy")

HubSpotObjects = Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class RepDefaults:
    """What a rep gets for an attribute their profile leaves empty, or that has no profile; None leaves it empty."""

    role: str | None = "account_executive"
    segment: str | None = "mid_market"
    region: str | None = None
    home_latitude: float | None = None
    home_longitude: float | None = None
    capacity_hours: float | None = 1600.0
    hire_date: str | None = None
    industries: str | None = None
    languages: str | None = "en"


@dataclass(frozen=True)
class HubSpotMapping:
    """How a HubSpot portal's records become canonical rows: its stages, custom properties and fallbacks.

    Stage maps are keyed by HubSpot's internal value or its label, matched ignoring case, spaces and
    punctuation (HubSpot's default internal values are their labels run together, "Closed Won" ->
    `closedwon`), so one map serves the API and the exports. A custom property set to None is not read.
    """

    lifecycle_stages: Mapping[str, str] = field(default_factory=lambda: dict(LIFECYCLE_STAGES))
    deal_stages: Mapping[str, str] = field(default_factory=lambda: dict(DEAL_STAGES))
    # The stage of an open deal in a stage the map lacks; a closed one follows hs_is_closed_won.
    unknown_open_stage: str = "qualification"
    latitude_property: str | None = "latitude"
    longitude_property: str | None = "longitude"
    department_property: str | None = "department"
    # HubSpot has no standard seniority: without this property, or where it is empty, the job title decides.
    seniority_property: str | None = None
    seniority_rules: tuple[tuple[str, str], ...] = SENIORITY_RULES
    product_line_property: str | None = "product_line"
    voicemail_outcomes: tuple[str, ...] = LEFT_VOICEMAIL
    # A meeting whose location matches is online; any other location is in person.
    online_meeting_pattern: str = r"https?://|zoom|teams|meet\.google|google meet|webex|video|online|phone"
    # HubSpot logs no duration for an email.
    email_minutes: int = 5
    rep_defaults: RepDefaults = RepDefaults()

    def custom_properties(self, obj: str) -> tuple[str, ...]:
        """The portal's own properties this mapping reads from `obj`."""
        custom = {
            "companies": (self.latitude_property, self.longitude_property),
            "contacts": (self.department_property, self.seniority_property),
            "deals": (self.product_line_property,),
        }
        return tuple(name for name in custom.get(obj, ()) if name)

    def properties(self, obj: str) -> tuple[str, ...]:
        """Every property this mapping reads from `obj`."""
        return STANDARD_PROPERTIES[obj] + self.custom_properties(obj)


@dataclass(frozen=True)
class RepProfiles:
    """What HubSpot does not hold about reps, keyed by owner email: their profiles, quotas and PACE assessments."""

    profiles: pd.DataFrame
    quotas: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(QUOTA_COLUMNS)))
    assessments: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(ASSESSMENT_COLUMNS)))


def associations_of(obj: str) -> str:
    """The key of `obj`'s associations to companies in a mapping of HubSpot objects."""
    return f"{obj}_to_companies"


def association_pairs(records: pd.DataFrame) -> pd.DataFrame:
    """One row (from_id, to_id, primary) per company a record is associated with, from its ";"-separated ids."""
    if COMPANY_IDS not in records:
        return pd.DataFrame(columns=list(ASSOCIATION_COLUMNS))
    pairs = pd.DataFrame({"from_id": records[KEY_PROPERTY],
                          "to_id": records[COMPANY_IDS].astype("string").str.split(";")})
    pairs = pairs.explode("to_id").assign(to_id=lambda frame: frame["to_id"].str.strip())
    pairs = pairs[pairs["to_id"].notna() & (pairs["to_id"] != "")]
    primary = records.set_index(KEY_PROPERTY).get(PRIMARY_COMPANY_ID)
    pairs["primary"] = pairs["to_id"].eq(pairs["from_id"].map(primary)) if primary is not None else False
    return pairs.reset_index(drop=True)[list(ASSOCIATION_COLUMNS)]


def to_canonical(objects: HubSpotObjects, profiles: RepProfiles,
                 mapping: HubSpotMapping = HubSpotMapping()) -> CanonicalExtract:
    """The canonical raw tables of a portal's HubSpot objects and its reps' profiles, and what did not map.

    `objects` holds a frame per object of CRM_OBJECTS and OWNERS, named by internal property names,
    and per object of COMPANY_ASSOCIATED its associations to companies (`associations_of`).
    """
    missing = [key for key in (*CRM_OBJECTS, OWNERS, *map(associations_of, COMPANY_ASSOCIATED)) if key not in objects]
    if missing:
        raise SourceError(f"the HubSpot records lack {', '.join(missing)}; read them with read_export or read_store")
    report = _Unmapped()
    owner_ids = pd.Index(objects[OWNERS]["id"].astype(str))
    companies = {obj: _company_of(objects[associations_of(obj)]) for obj in COMPANY_ASSOCIATED}
    reps, quotas, assessments = _reps(objects[OWNERS], profiles, mapping.rep_defaults, report)
    tables = {
        "accounts": _accounts(objects["companies"], owner_ids, mapping, report),
        "contacts": _contacts(objects["contacts"], companies["contacts"], owner_ids, mapping, report),
        "opportunities": _opportunities(objects["deals"], companies["deals"], owner_ids, mapping, report),
        "activities": pd.concat([_activities(obj, objects[obj], companies[obj], owner_ids, mapping, report)
                                 for obj in ENGAGEMENTS], ignore_index=True),
        "reps": reps,
        "quotas": quotas,
        "assessments": assessments,
    }
    return CanonicalExtract({table.name: tables[table.name][list(table.columns)] for table in RAW_TABLES},
                            report.frame())


def read_rep_profiles(folder: Path) -> RepProfiles:
    """The rep profiles (`rep_profiles.csv`), and the quotas and assessments when present, of `folder`."""
    folder = Path(folder)
    if not (folder / PROFILES_FILE).is_file():
        raise SourceError(f"{folder} has no {PROFILES_FILE}: write one line per rep with at least the column email "
                          f"(see docs/sources/hubspot.md)")
    optional = {QUOTAS_FILE: QUOTA_COLUMNS, ASSESSMENTS_FILE: ASSESSMENT_COLUMNS}
    read = {name: _read_csv(folder / name, required) for name, required in optional.items()
            if (folder / name).is_file()}
    return RepProfiles(
        _read_csv(folder / PROFILES_FILE, ("email",)),
        read.get(QUOTAS_FILE, pd.DataFrame(columns=list(QUOTA_COLUMNS))),
        read.get(ASSESSMENTS_FILE, pd.DataFrame(columns=list(ASSESSMENT_COLUMNS))),
    )


# ---------------------------------------------------------------------------------------------- exports

EXPORT_FILES = {obj: f"{obj}.csv" for obj in (*CRM_OBJECTS, OWNERS)}
_RECORD_HEADERS = {
    "Record ID": KEY_PROPERTY,
    "Create Date": "createdate",
    "Associated Company IDs": COMPANY_IDS,
    "Associated Company IDs (Primary)": PRIMARY_COMPANY_ID,
}
_ENGAGEMENT_HEADERS = {"Activity date": "hs_timestamp", "Activity assigned to": OWNER_PROPERTY}
# The headers of HubSpot's export files (property labels) and the property each holds.
EXPORT_HEADERS: dict[str, dict[str, str]] = {
    "companies": _RECORD_HEADERS | {
        "Company name": "name", "Company Domain Name": "domain", "Industry": "industry",
        "Number of Employees": "numberofemployees", "Annual Revenue": "annualrevenue", "Country/Region": "country",
        "State/Region": "state", "City": "city", "Postal Code": "zip", "Lifecycle Stage": "lifecyclestage",
        "Company owner": OWNER_PROPERTY, "Parent Company ID": "hs_parent_company_id",
        "Last Modified Date": "hs_lastmodifieddate",
    },
    "contacts": _RECORD_HEADERS | {
        "First Name": "firstname", "Last Name": "lastname", "Email": "email", "Job Title": "jobtitle",
        "Contact owner": OWNER_PROPERTY, "Last Modified Date": "lastmodifieddate",
    },
    "deals": _RECORD_HEADERS | {
        "Deal Name": "dealname", "Pipeline": "pipeline", "Deal Stage": "dealstage", "Amount": "amount",
        "Close Date": "closedate", "Deal owner": OWNER_PROPERTY, "Closed Lost Reason": "closed_lost_reason",
        "Is Deal Closed?": "hs_is_closed", "Is Closed Won": "hs_is_closed_won",
        "Last Modified Date": "hs_lastmodifieddate",
    },
    "calls": _RECORD_HEADERS | _ENGAGEMENT_HEADERS | {
        "Call duration": "hs_call_duration", "Call outcome": "hs_call_disposition",
        "Last Modified Date": "hs_lastmodifieddate",
    },
    "emails": _RECORD_HEADERS | _ENGAGEMENT_HEADERS | {
        "Email direction": "hs_email_direction", "Last Modified Date": "hs_lastmodifieddate",
    },
    "meetings": _RECORD_HEADERS | _ENGAGEMENT_HEADERS | {
        "Meeting start time": "hs_meeting_start_time", "Meeting end time": "hs_meeting_end_time",
        "Meeting location": "hs_meeting_location", "Meeting outcome": "hs_meeting_outcome",
        "Last Modified Date": "hs_lastmodifieddate",
    },
    OWNERS: {"Owner ID": "id", "Email": "email", "First Name": "firstName", "Last Name": "lastName",
             "User ID": "userId", "Archived": "archived"},
}
DATETIME_PROPERTIES = ("createdate", "hs_lastmodifieddate", "lastmodifieddate", "closedate", "hs_timestamp",
                       "hs_meeting_start_time", "hs_meeting_end_time")


def read_export(folder: Path, mapping: HubSpotMapping = HubSpotMapping(),
                timezone: str = "UTC") -> dict[str, pd.DataFrame]:
    """The HubSpot objects of an export folder (`<object>.csv` per object and `owners.csv`), as text.

    Headers become internal property names (the portal's own properties are matched by name, so
    "Product Line" is `product_line`); owners given by name or email become owner ids; times, which
    HubSpot writes in the portal's `timezone`, become ISO 8601 UTC. Other values stay as written.
    """
    folder = Path(folder)
    missing = [name for name in EXPORT_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise SourceError(f"{folder} has no HubSpot export file(s) {', '.join(missing)}: export each object to "
                          f"<object>.csv, one of {', '.join(EXPORT_FILES.values())} (see docs/sources/hubspot.md)")
    owners = _read_export_file(folder / EXPORT_FILES[OWNERS], OWNERS, ())
    objects: dict[str, pd.DataFrame] = {OWNERS: owners}
    for obj in CRM_OBJECTS:
        records = _read_export_file(folder / EXPORT_FILES[obj], obj, mapping.custom_properties(obj))
        for name in DATETIME_PROPERTIES:
            if name in records:
                records[name] = _utc_iso(records[name], timezone)
        if OWNER_PROPERTY in records:
            records[OWNER_PROPERTY] = _owner_ids_of(records[OWNER_PROPERTY], owners)
        objects[obj] = records
        if obj in COMPANY_ASSOCIATED:
            objects[associations_of(obj)] = association_pairs(records)
    return objects


def land_export(folder: Path, target: Path, mapping: HubSpotMapping = HubSpotMapping(), timezone: str = "UTC") -> Path:
    """Map a HubSpot export folder, with its rep profiles, and land it as a canonical folder at `target`."""
    extract = to_canonical(read_export(folder, mapping, timezone), read_rep_profiles(folder), mapping)
    return land_canonical(extract, target)


# ---------------------------------------------------------------------------------------------- import files

# The owner column of each object in HubSpot's import, which matches an owner by email address.
IMPORT_OWNER_HEADERS = {"companies": "Company owner", "contacts": "Contact owner", "deals": "Deal owner"}


def hubspot_import_files(changes: Sequence[OwnerChange], folder: Path, owners: pd.DataFrame) -> list[Path]:
    """Write `changes` as HubSpot import files that set new owners, one per object, and return their paths.

    Each file has "Record ID" (so the import updates the existing record) and the object's owner
    column holding the new owner's email, which HubSpot's import matches to the owner; `owners` gives
    the emails (columns id, email). A SourceError names any object HubSpot's import cannot update.
    """
    if not changes:
        return []
    frame = pd.DataFrame([asdict(change) for change in changes])
    unknown = sorted(set(frame["object"]) - set(IMPORT_OWNER_HEADERS))
    if unknown:
        raise SourceError(f"HubSpot's owner import covers {', '.join(IMPORT_OWNER_HEADERS)}, not {', '.join(unknown)}")
    emails = frame["to_owner"].astype(str).map(owners.set_index(owners["id"].astype(str))["email"])
    no_email = sorted(set(frame.loc[emails.isna(), "to_owner"]))
    if no_email:
        raise SourceError(f"owner(s) {', '.join(no_email)} have no email in HubSpot's owners, which the import "
                          f"needs to match them; give them a user in HubSpot or leave these changes out")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for obj, rows in frame.assign(email=emails).groupby("object", sort=True):
        path = folder / f"hubspot_import_{obj}_owners.csv"
        owners_file = pd.DataFrame({"Record ID": rows["record_id"], IMPORT_OWNER_HEADERS[obj]: rows["email"]})
        owners_file.to_csv(path, index=False)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------------- the mapping


class _Unmapped:
    """The values a mapping could not carry over, gathered as the lines of an extract's `unmapped` report."""

    def __init__(self) -> None:
        self._lines: list[pd.DataFrame] = []

    def add(self, source_object: str, source_field: str, values: pd.Series, treatment: str) -> None:
        """Report `values` (one per record) of `source_object.source_field`, which got `treatment`."""
        counts = values.astype("string").fillna("").value_counts(sort=False)
        self._lines.append(pd.DataFrame({"source_object": source_object, "source_field": source_field,
                                         "value": counts.index, "records": counts.to_numpy(), "treatment": treatment}))

    def frame(self) -> pd.DataFrame:
        lines = [line for line in self._lines if not line.empty]
        if not lines:
            return pd.DataFrame(columns=list(UNMAPPED_COLUMNS))
        return pd.concat(lines, ignore_index=True)[list(UNMAPPED_COLUMNS)]


def _accounts(companies: pd.DataFrame, owner_ids: pd.Index, mapping: HubSpotMapping, report: _Unmapped) -> pd.DataFrame:
    obj = "companies"
    given = _column(companies, "lifecyclestage")
    lifecycle = _key(given).map(_keyed(mapping.lifecycle_stages))
    report.add(obj, "lifecyclestage", given[given.notna() & lifecycle.isna()],
               "lifecycle_stage left empty (not a stage the mapping knows)")
    return pd.DataFrame({
        "account_id": companies[KEY_PROPERTY],
        "name": _column(companies, "name"),
        "domain": _column(companies, "domain"),
        "industry": _column(companies, "industry"),
        "employees": _numbers(companies, obj, "numberofemployees", report).round().astype("Int64"),
        "annual_revenue": _numbers(companies, obj, "annualrevenue", report),
        "country": _country_codes(_column(companies, "country"), report),
        "state": _column(companies, "state"),
        "city": _column(companies, "city"),
        "postal_code": _column(companies, "zip"),
        "latitude": _numbers(companies, obj, mapping.latitude_property, report),
        "longitude": _numbers(companies, obj, mapping.longitude_property, report),
        "lifecycle_stage": lifecycle,
        "owner_rep_id": _owner_refs(companies, obj, owner_ids, report),
        "parent_account_id": _column(companies, "hs_parent_company_id"),
        "created_at": _times(companies, obj, "createdate", report),
        "updated_at": _times(companies, obj, "hs_lastmodifieddate", report),
    })


def _contacts(contacts: pd.DataFrame, company_of: pd.Series, owner_ids: pd.Index, mapping: HubSpotMapping,
              report: _Unmapped) -> pd.DataFrame:
    obj = "contacts"
    return pd.DataFrame({
        "contact_id": contacts[KEY_PROPERTY],
        "account_id": _account_of(contacts, obj, company_of, report),
        "title": _column(contacts, "jobtitle"),
        "department": _column(contacts, mapping.department_property),
        "seniority": _seniority(contacts, mapping, report),
        "owner_rep_id": _owner_refs(contacts, obj, owner_ids, report),
        "created_at": _times(contacts, obj, "createdate", report),
    })


def _opportunities(deals: pd.DataFrame, company_of: pd.Series, owner_ids: pd.Index, mapping: HubSpotMapping,
                   report: _Unmapped) -> pd.DataFrame:
    obj = "deals"
    given = _column(deals, "dealstage")
    stage = _key(given).map(_keyed(mapping.deal_stages))
    won, closed = _flag(_column(deals, "hs_is_closed_won")), _flag(_column(deals, "hs_is_closed"))
    fallbacks = (("closed_won", "hs_is_closed_won is true", won),
                 ("closed_lost", "hs_is_closed is true", closed & ~won),
                 (mapping.unknown_open_stage, "open", ~closed & ~won))
    unknown = stage.isna()
    for fallback, why, rows in fallbacks:
        report.add(obj, "dealstage", given[unknown & rows], f"stage set to '{fallback}' ({why})")
        stage = stage.mask(unknown & rows, fallback)
    is_closed = stage.isin(["closed_won", "closed_lost"])
    return pd.DataFrame({
        "opportunity_id": deals[KEY_PROPERTY],
        "account_id": _account_of(deals, obj, company_of, report),
        "owner_rep_id": _owner_refs(deals, obj, owner_ids, report),
        "stage": stage,
        "amount": _numbers(deals, obj, "amount", report),
        "product_line": _column(deals, mapping.product_line_property),
        "created_at": _times(deals, obj, "createdate", report),
        "close_date": _times(deals, obj, "closedate", report).astype("date32[pyarrow]"),
        "is_closed": is_closed,
        "is_won": stage.eq("closed_won"),
        "loss_reason": _column(deals, "closed_lost_reason").where(stage.eq("closed_lost")),
    })


def _activities(obj: str, engagements: pd.DataFrame, company_of: pd.Series, owner_ids: pd.Index,
                mapping: HubSpotMapping, report: _Unmapped) -> pd.DataFrame:
    kind, minutes = {"calls": _calls, "emails": _emails, "meetings": _meetings}[obj](engagements, mapping, report)
    return pd.DataFrame({
        "activity_id": engagements[KEY_PROPERTY],
        "account_id": _account_of(engagements, obj, company_of, report),
        "rep_id": _owner_refs(engagements, obj, owner_ids, report),
        "activity_type": kind,
        "occurred_at": _times(engagements, obj, "hs_timestamp", report),
        "duration_minutes": minutes.round().astype("Int64"),
    })


def _calls(calls: pd.DataFrame, mapping: HubSpotMapping, report: _Unmapped) -> tuple[pd.Series, pd.Series]:
    voicemail = _key(_column(calls, "hs_call_disposition")).isin(_key(pd.Series(mapping.voicemail_outcomes)))
    given = _column(calls, "hs_call_duration")
    report.add("calls", "hs_call_duration", given[given.isna()], "duration_minutes left empty (no call duration)")
    milliseconds = _numbers(calls, "calls", "hs_call_duration", report)
    return pd.Series(np.where(voicemail, "voicemail", "call"), index=calls.index), milliseconds / 60_000


def _emails(emails: pd.DataFrame, mapping: HubSpotMapping, report: _Unmapped) -> tuple[pd.Series, pd.Series]:
    return (pd.Series("email", index=emails.index, dtype=object),
            pd.Series(float(mapping.email_minutes), index=emails.index))


def _meetings(meetings: pd.DataFrame, mapping: HubSpotMapping, report: _Unmapped) -> tuple[pd.Series, pd.Series]:
    location = _column(meetings, "hs_meeting_location")
    online = location.str.contains(mapping.online_meeting_pattern, case=False, regex=True, na=False)
    report.add("meetings", "hs_meeting_location", location[location.isna()],
               "activity_type set to 'meeting_online' (no location)")
    kind = pd.Series(np.where(online | location.isna(), "meeting_online", "meeting_in_person"), index=meetings.index)
    started = _times(meetings, "meetings", "hs_meeting_start_time", report)
    took = _times(meetings, "meetings", "hs_meeting_end_time", report) - started
    report.add("meetings", "hs_meeting_end_time", _column(meetings, "hs_meeting_end_time")[took.isna()],
               "duration_minutes left empty (no meeting start or end time)")
    return kind, took.dt.total_seconds() / 60


def _seniority(contacts: pd.DataFrame, mapping: HubSpotMapping, report: _Unmapped) -> pd.Series:
    """The seniority property where set, else the level the job title names (an individual contributor by default)."""
    title = _column(contacts, "jobtitle")
    levels = [title.str.contains(pattern, case=False, regex=True, na=False) for _, pattern in mapping.seniority_rules]
    from_title = pd.Series(np.select(levels, [level for level, _ in mapping.seniority_rules], INDIVIDUAL_CONTRIBUTOR),
                           index=contacts.index).where(title.notna())
    seniority = _column(contacts, mapping.seniority_property).fillna(from_title)
    report.add("contacts", "jobtitle", title[seniority.isna()], "seniority left empty (no job title)")
    return seniority


def _reps(owners: pd.DataFrame, profiles: RepProfiles, defaults: RepDefaults,
          report: _Unmapped) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The reps (HubSpot owners with their profiles), their quotas and their PACE assessments."""
    email = _column(owners, "email").str.strip().str.lower()
    owner_by_email = pd.Series(owners["id"].astype(str).to_numpy(), index=email)
    owner_by_email = owner_by_email[~owner_by_email.index.duplicated()]
    held = profiles.profiles.assign(email=profiles.profiles["email"].str.strip().str.lower())
    profile = held.drop_duplicates("email", keep="last").set_index("email").reindex(email.to_numpy())
    attributes = {}
    for name in PROFILE_ATTRIBUTES:
        given = _column(profile, name).set_axis(owners.index)
        default = getattr(defaults, name)
        report.add(PROFILES_FILE, name, owners.loc[given.isna(), "email"],
                   f"{name} set to {default!r} (no value in {PROFILES_FILE})" if default is not None
                   else f"{name} left empty (no value in {PROFILES_FILE})")
        attributes[name] = given.fillna(default) if default is not None else given
    number = {name: pd.to_numeric(attributes[name], errors="coerce").astype(float)
              for name in ("home_latitude", "home_longitude", "capacity_hours")}
    manager_email = _column(profile, "manager_email").set_axis(owners.index)
    manager_id = manager_email.str.strip().str.lower().map(owner_by_email)
    report.add(PROFILES_FILE, "manager_email", manager_email[manager_email.notna() & manager_id.isna()],
               "manager_id left empty (no HubSpot owner has this email)")
    reps = pd.DataFrame({
        "rep_id": owners["id"].astype(str),
        "name": _full_names(owners).where(lambda names: names.ne("")),
        "email": owners["email"],
        "role": attributes["role"],
        "segment": attributes["segment"],
        "region": attributes["region"],
        **number,
        "hire_date": pd.to_datetime(attributes["hire_date"], errors="coerce").astype("date32[pyarrow]"),
        "industries": attributes["industries"],
        "languages": attributes["languages"],
        "is_active": ~_flag(_column(owners, "archived")),
        "manager_id": manager_id,
    })
    quotas = profiles.quotas.assign(rep_id=_rep_of(profiles.quotas, owner_by_email, QUOTAS_FILE, report))
    quotas = quotas.assign(
        period_start=pd.to_datetime(quotas["period_start"], errors="coerce").astype("date32[pyarrow]"),
        period_end=pd.to_datetime(quotas["period_end"], errors="coerce").astype("date32[pyarrow]"),
        quota_amount=pd.to_numeric(quotas["quota_amount"], errors="coerce").astype(float),
    )
    assessments = profiles.assessments.assign(
        rep_id=_rep_of(profiles.assessments, owner_by_email, ASSESSMENTS_FILE, report))
    assessments = assessments.assign(
        assessed_at=pd.to_datetime(assessments["assessed_at"], errors="coerce").astype("date32[pyarrow]"),
        **{score: pd.to_numeric(assessments[score], errors="coerce").astype("Int64") for score in PACE_SCORES},
    )
    return reps, quotas, assessments


def _rep_of(rows: pd.DataFrame, owner_by_email: pd.Series, file: str, report: _Unmapped) -> pd.Series:
    """The rep (owner id) of each row of a quotas or assessments file, by its owner_email."""
    rep_id = rows["owner_email"].str.strip().str.lower().map(owner_by_email)
    report.add(file, "owner_email", rows.loc[rep_id.isna(), "owner_email"],
               "rep_id left empty (no HubSpot owner has this email)")
    return rep_id


def _company_of(pairs: pd.DataFrame) -> pd.Series:
    """Each record's company: its primary association, else the first."""
    ordered = pairs.sort_values("primary", ascending=False, kind="stable").drop_duplicates("from_id")
    return pd.Series(ordered["to_id"].to_numpy(), index=ordered["from_id"].astype(str).to_numpy(), dtype=object)


def _account_of(records: pd.DataFrame, obj: str, company_of: pd.Series, report: _Unmapped) -> pd.Series:
    account = records[KEY_PROPERTY].astype(str).map(company_of)
    report.add(obj, "associations.companies", account[account.isna()], "account_id left empty (no associated company)")
    return account


def _owner_refs(records: pd.DataFrame, obj: str, owner_ids: pd.Index, report: _Unmapped) -> pd.Series:
    """The owner id of each record, kept only when it names a HubSpot owner."""
    owner = _column(records, OWNER_PROPERTY)
    unknown = owner.notna() & ~owner.astype(str).isin(owner_ids)
    report.add(obj, OWNER_PROPERTY, owner[unknown], "owner left empty (no such HubSpot owner)")
    return owner.where(~unknown)


def _numbers(records: pd.DataFrame, obj: str, name: str | None, report: _Unmapped) -> pd.Series:
    given = _column(records, name)
    number = pd.to_numeric(given.astype("string"), errors="coerce")
    report.add(obj, name or "", given[given.notna() & number.isna()], "left empty (not a number)")
    return number.astype(float)


def _times(records: pd.DataFrame, obj: str, name: str, report: _Unmapped) -> pd.Series:
    """`name` as UTC times without a zone, from ISO 8601 text."""
    given = _column(records, name)
    time = pd.to_datetime(given, utc=True, format="ISO8601", errors="coerce")
    report.add(obj, name, given[given.notna() & time.isna()], "left empty (not an ISO 8601 time)")
    return time.dt.tz_convert(None)


def _country_codes(country: pd.Series, report: _Unmapped) -> pd.Series:
    """ISO 3166-1 alpha-2 codes of countries as people write them (HubSpot's country is free text), else as written."""
    code = country_codes(country).astype(object)
    report.add("companies", "country", country[country.notna() & code.isna()],
               "country kept as written (not a known country)")
    return code.where(code.notna(), country)


def _column(frame: pd.DataFrame, name: str | None) -> pd.Series:
    """`frame[name]` as text, or an empty column when the frame lacks it (or no property is configured)."""
    if name is None or name not in frame:
        return pd.Series(None, index=frame.index, dtype=object)
    return frame[name].astype(object).where(frame[name].notna() & frame[name].astype(str).str.strip().ne(""))


def _key(values: pd.Series) -> pd.Series:
    """Values as HubSpot's default internal values relate to their labels: lower case letters and digits only."""
    return values.astype("string").str.lower().str.replace(_NOT_KEY, "", regex=True)


def _name_key(text: str) -> str:
    """`_key` of one name."""
    return re.sub(_NOT_KEY, "", text.lower())


def _keyed(table: Mapping[str, str]) -> dict[str, str]:
    return {_name_key(value): canonical for value, canonical in table.items()}


def _full_names(owners: pd.DataFrame) -> pd.Series:
    return (_column(owners, "firstName").fillna("") + " " + _column(owners, "lastName").fillna("")).str.strip()


def _flag(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.lower().isin(["true", "yes", "1"]).astype(bool)


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """A CSV file as text (empty fields missing); a SourceError says why it cannot be read or what it lacks."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise SourceError(f"{path}: not a readable CSV file ({str(error).splitlines()[0]}); save it as UTF-8 CSV "
                          f"with a header line") from error
    lacking = [name for name in required if name not in frame]
    if lacking:
        raise SourceError(f"{path}: missing column(s) {', '.join(lacking)}")
    return frame


def _read_export_file(path: Path, obj: str, custom: tuple[str, ...]) -> pd.DataFrame:
    """One export file with its headers as internal property names (the portal's own properties matched by name)."""
    headers = EXPORT_HEADERS[obj]
    key_header = next(label for label, name in headers.items() if name in (KEY_PROPERTY, "id"))
    frame = _read_csv(path, (key_header,))
    by_name = {_name_key(name): name for name in custom}
    renames = {label: headers.get(label) or by_name.get(_name_key(label)) for label in frame.columns}
    return frame.rename(columns={label: name for label, name in renames.items() if name})


def _utc_iso(times: pd.Series, timezone: str) -> pd.Series:
    """Export times in the portal's time zone as ISO 8601 UTC text; text that is not a time is kept as written."""
    parsed = pd.to_datetime(times, format="ISO8601", errors="coerce")
    utc = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    return utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ").where(utc.notna(), times)


def _owner_ids_of(owner: pd.Series, owners: pd.DataFrame) -> pd.Series:
    """Owner ids of export owner values, which hold an owner's id, email or (unique) full name; others as written."""
    ids = owners["id"].astype(str).to_numpy()
    names = _full_names(owners)
    lookup = pd.concat([
        pd.Series(ids, index=ids),
        pd.Series(ids, index=_column(owners, "email").fillna("").to_numpy()),
        pd.Series(ids, index=names.to_numpy())[~names.duplicated(keep=False).to_numpy()],
    ])
    lookup.index = lookup.index.str.strip().str.casefold()
    lookup = lookup[(lookup.index != "") & ~lookup.index.duplicated()]
    return owner.str.strip().str.casefold().map(lookup).fillna(owner)
