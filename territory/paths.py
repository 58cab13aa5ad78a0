"""Where Territory Planner keeps its files: everything generated lives under TERRITORY_HOME."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "data"


@dataclass(frozen=True)
class TerritoryHome:
    """The folder layout under TERRITORY_HOME (see docs/operations.md)."""

    root: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TerritoryHome:
        return cls(Path(environ.get("TERRITORY_HOME") or DEFAULT_HOME).expanduser().resolve())

    @property
    def warehouse(self) -> Path:
        """The pipeline's working DuckDB database (raw, staging, marts, solve)."""
        return self.root / "warehouse.duckdb"

    @property
    def analytics(self) -> Path:
        """The published DuckDB database analysts query; replaced atomically by each run."""
        return self.root / "analytics.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "published"

    @property
    def sources(self) -> Path:
        """Files that sources land before loading (e.g. the generated demo CRM)."""
        return self.root / "sources"

    @property
    def dbt_runs(self) -> Path:
        """dbt's artifacts (run_results.json, logs, compiled SQL), one folder per run."""
        return self.root / "dbt" / "runs"

    @property
    def quality(self) -> Path:
        """Great Expectations Data Docs of the latest validation (index.html)."""
        return self.root / "quality"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def reports(self) -> Path:
        """The plan reports, one folder per snapshot date holding index.html."""
        return self.root / "reports"

    @property
    def backfills(self) -> Path:
        """The ledgers of `territory backfill`, one per backfill."""
        return self.root / "backfills"

    @property
    def writeback(self) -> Path:
        """What went back to the CRMs: import files and API ledgers, under <crm>/."""
        return self.root / "writeback"

    def published_partition(self, table: str, snapshot_date: dt.date) -> Path:
        return self.published / table / f"snapshot_date={snapshot_date.isoformat()}"

    def report_dir(self, snapshot_date: dt.date) -> Path:
        return self.reports / snapshot_date.isoformat()
