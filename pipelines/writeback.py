"""Write a published plan's ownership changes back to the CRM its data came from.

The changes are the records whose CRM owner (in the raw tables of the last ingest) is not their
planned rep: the moved accounts, and the contacts and open opportunities that follow them as the
plan file's `sources.writeback` says. They go out as the CRM's own import files, or through its
API in batches, each recorded in a ledger under TERRITORY_HOME/writeback/<crm>/ (what, when, by
which write-back), so that a write-back is idempotent and resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from territory.paths import TerritoryHome
from territory.plan import Writeback
from territory.publication import ASSIGNMENTS_TABLE
from territory.sources.writeback import (
    HUBSPOT_OBJECT_NAMES,
    SALESFORCE_OBJECT_NAMES,
    FollowRules,
    OwnerChange,
    data_loader_files,
    owner_changes,
)

CRMS = {"salesforce": SALESFORCE_OBJECT_NAMES, "hubspot": HUBSPOT_OBJECT_NAMES}


def planned_changes(home: TerritoryHome, day: dt.date, crm: str, rules: Writeback) -> list[OwnerChange]:
    """The owner changes that bring `crm` in line with the plan published for `day`."""
    assignments = pq.read_table(home.published_partition(ASSIGNMENTS_TABLE, day)).to_pandas()
    raw = _raw_tables(home, "accounts", "contacts", "opportunities")
    return owner_changes(assignments, raw["accounts"], raw["contacts"], raw["opportunities"],
                         FollowRules(rules.contacts, rules.open_opportunities), CRMS[crm])


def import_files(home: TerritoryHome, crm: str, changes: list[OwnerChange], folder: Path) -> list[Path]:
    """The CRM's own import files for `changes`: Data Loader CSVs for Salesforce, import CSVs for HubSpot."""
    if crm == "salesforce":
        return data_loader_files(changes, folder)
    from territory.sources.hubspot import hubspot_import_files

    reps = _raw_tables(home, "reps")["reps"]
    return hubspot_import_files(changes, folder, reps.rename(columns={"rep_id": "id"})[["id", "email"]])


def ledger(home: TerritoryHome, crm: str, day: dt.date) -> Path:
    """The ledger of the API write-backs of `day`'s plan to `crm`."""
    return home.writeback / crm / f"{day.isoformat()}.jsonl"


def _raw_tables(home: TerritoryHome, *names: str) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(home.warehouse), read_only=True) as conn:
        return {name: conn.sql(f"select * from raw.{name}").df() for name in names}
