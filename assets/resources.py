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
import pandas as pd
import pyarrow as pa
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

    def replace_tables(self, schema: str, frames: dict[str, pd.DataFrame]) -> None:
        """Write each frame as `<schema>.<name>`, replacing the table, in one transaction.

        A column with no value at all is stored as text rather than DuckDB's NULL type, so that a
        table keeps one schema from one snapshot date to the next (its Parquet history stays readable).
        """
        with self.connect() as conn:
            conn.execute(f"create schema if not exists {schema}")
            conn.execute("begin transaction")
            for name, frame in frames.items():
                table = pa.Table.from_pandas(frame, preserve_index=False)
                table = table.cast(pa.schema(
                    [field.with_type(pa.string()) if pa.types.is_null(field.type) else field for field in table.schema]))
                conn.register("frame", table)
                conn.execute(f"create or replace table {schema}.{name} as select * from frame")
                conn.unregister("frame")
            conn.execute("commit")


class RunSettings(ConfigurableResource):
    """Settings of every run: the plan file (the snapshot date is the run's partition)."""

    plan_path: str = ""  # empty means the repository's plan.yml
    # True: the solve hands each independent part of the plan to a step of its own, which an executor that
    # runs steps side by side solves in parallel. False, for runs whose steps go one after another in one
    # process (the territory command): one step takes the whole plan, and the engine solves its parts
    # side by side itself (territory.engine.solve.solve). The plan is the same either way.
    parts_as_steps: bool = True

    def plan(self) -> Plan:
        """The validated plan configuration; a bad file raises PlanError naming the key."""
        return load_plan(self.plan_path or None)

    def dbt_vars(self, snapshot_date: dt.date) -> dict:
        """What the dbt models read: the snapshot date and every section of the plan."""
        return {"snapshot_date": snapshot_date.isoformat(), **self.plan().dbt_vars()}


class CrmSource(ConfigurableResource):
    """A CRM source: lands the canonical raw files in a folder that ingest loads.

    A source that maps a CRM's own records (assets/crm_sources.py) writes beside them the values it
    could not map (`_unmapped.csv`, territory/sources/canonical.py), which ingest reports.
    """

    def land(self, home: TerritoryHome, plan: Plan) -> Path:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class FileCrmSource(CrmSource):
    """A folder of canonical files, one `<table>.parquet` or `<table>.csv` per raw table."""

    path: str

    def land(self, home: TerritoryHome, plan: Plan) -> Path:
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

    def land(self, home: TerritoryHome, plan: Plan) -> Path:
        spec = self.spec()
        folder = home.sources / "demo" / f"{spec.accounts}x{spec.reps}-seed{spec.seed}-{spec.as_of.isoformat()}"
        marker = folder / "_spec.json"
        if not marker.exists():  # the generator is deterministic: a complete folder is reusable
            write_tables(generate_demo_crm(spec), folder)
            marker.write_text(json.dumps({**self.model_dump(), "as_of": spec.as_of.isoformat()}))
        return folder

    def describe(self) -> str:
        return f"demo CRM ({self.accounts:,} accounts, {self.reps} reps, seed {self.seed})"
