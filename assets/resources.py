"""Resources the assets use: the warehouse, the CRM source, and the run's snapshot date.

Defined here, beside the assets, so that assets never import `pipelines`; `pipelines.definitions`
chooses which ones a deployment gets.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from territory.demo_data import DemoSpec, generate_demo_crm, write_tables
from territory.paths import TerritoryHome
from territory.plan import Plan, load_plan
from territory.warehouse import connect


class Warehouse(ConfigurableResource):
    """The pipeline's DuckDB files under TERRITORY_HOME (warehouse.duckdb and what is published)."""

    home: str

    @property
    def paths(self) -> TerritoryHome:
        return TerritoryHome(Path(self.home))

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to warehouse.duckdb, closed on exit so that dbt can open the file next."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        conn = connect(self.paths.warehouse, read_only=read_only)
        try:
            yield conn
        finally:
            conn.close()


class RunSettings(ConfigurableResource):
    """Settings of one run: the snapshot date it describes (YYYY-MM-DD; empty means today, UTC) and its plan file."""

    snapshot_date: str = ""
    plan_path: str = ""  # empty means the repository's plan.yml

    def plan(self) -> Plan:
        """The validated plan configuration; a bad file raises PlanError naming the key."""
        return load_plan(self.plan_path or None)

    def dbt_vars(self) -> dict:
        """What the dbt models read: the snapshot date and every section of the plan."""
        return {"snapshot_date": self.snapshot().isoformat(), **self.plan().dbt_vars()}

    def snapshot(self) -> dt.date:
        if not self.snapshot_date:
            return dt.datetime.now(dt.UTC).date()
        try:
            return dt.date.fromisoformat(self.snapshot_date)
        except ValueError as error:
            raise ValueError(f"snapshot date '{self.snapshot_date}' is not a date of the form YYYY-MM-DD") from error


class CrmSource(ConfigurableResource):
    """A CRM source: lands the canonical raw files in a folder that ingest loads."""

    def land(self, home: TerritoryHome) -> Path:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class FileCrmSource(CrmSource):
    """A folder of canonical files, one `<table>.parquet` or `<table>.csv` per raw table."""

    path: str

    def land(self, home: TerritoryHome) -> Path:
        return Path(self.path).expanduser().resolve()

    def describe(self) -> str:
        return f"files in {Path(self.path).expanduser().resolve()}"


class DemoCrmSource(CrmSource):
    """The generated demo CRM (territory.demo_data), cached under TERRITORY_HOME/sources/demo."""

    accounts: int = 20_000
    reps: int = 80
    seed: int = 7
    as_of: str = ""  # YYYY-MM-DD; empty means today, UTC

    def spec(self) -> DemoSpec:
        if self.as_of:
            return DemoSpec(self.accounts, self.reps, self.seed, dt.date.fromisoformat(self.as_of))
        return DemoSpec(self.accounts, self.reps, self.seed)

    def land(self, home: TerritoryHome) -> Path:
        spec = self.spec()
        folder = home.sources / "demo" / f"{spec.accounts}x{spec.reps}-seed{spec.seed}-{spec.as_of.isoformat()}"
        marker = folder / "_spec.json"
        if not marker.exists():  # the generator is deterministic: a complete folder is reusable
            write_tables(generate_demo_crm(spec), folder)
            marker.write_text(json.dumps({**self.model_dump(), "as_of": spec.as_of.isoformat()}))
        return folder

    def describe(self) -> str:
        return f"demo CRM ({self.accounts:,} accounts, {self.reps} reps, seed {self.seed})"
