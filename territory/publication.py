"""Publication: what analysts read, written so that no reader ever sees half a run.

Each table is stamped with its snapshot date and written twice:

* `published/<table>/snapshot_date=YYYY-MM-DD/part-0.parquet`, the history, one folder per
  date: a date's folder is built beside its final place and swapped in, replacing exactly
  that date;
* `analytics.duckdb`, the latest publication: a complete new database file is built beside the
  old one and moved over it with one atomic rename, the commit point of the run. Readers with
  the old file open keep reading the old publication; a run that fails before the rename
  leaves the previous publication as it was.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from territory.paths import TerritoryHome
from territory.warehouse import connect


# The tables a run publishes, by where they come from in the warehouse.
PUBLISHED_TABLE_SOURCES: dict[str, str] = {
    "territory_assignments": "solve.territory_assignments",
    "territory_summary": "solve.territory_summary",
    "territory_moves": "solve.territory_moves",
    "capacity_gap": "solve.capacity_gap",
    "solver_runs": "solve.solver_runs",
    "account_segments": "main.dim_accounts",
    "segment_needs": "main.fct_segment_needs",
    "territory_conflicts": "main.fct_territory_conflicts",
}
PUBLISHED_TABLES: tuple[str, ...] = tuple(PUBLISHED_TABLE_SOURCES)


@dataclass(frozen=True)
class Publication:
    """Where one run's tables went."""

    snapshot_date: dt.date
    analytics: Path
    parquet: dict[str, Path]
    rows: dict[str, int]


def stamp(table: pa.Table, snapshot_date: dt.date) -> pa.Table:
    """`table` with a leading snapshot_date column."""
    return table.add_column(0, "snapshot_date", pa.repeat(pa.scalar(snapshot_date, pa.date32()), table.num_rows))


def _write_partition(target: Path, table: pa.Table) -> None:
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    pq.write_table(table, staging / "part-0.parquet", compression="zstd")
    retired = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def _replace_database(target: Path, tables: dict[str, pa.Table]) -> None:
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    staging.unlink(missing_ok=True)
    conn = connect(staging)
    try:
        for name, table in tables.items():
            conn.register("incoming", table)
            conn.execute(f'create table "{name}" as select * from incoming')
            conn.unregister("incoming")
        conn.execute("checkpoint")
    finally:
        conn.close()
    os.replace(staging, target)


def publish(home: TerritoryHome, snapshot_date: dt.date, tables: dict[str, pa.Table]) -> Publication:
    """Publish `tables` for `snapshot_date` to dated Parquet, then atomically to analytics.duckdb."""
    stamped = {name: stamp(table, snapshot_date) for name, table in tables.items()}
    parquet = {}
    for name, table in stamped.items():
        parquet[name] = home.published_partition(name, snapshot_date)
        _write_partition(parquet[name], table)
    home.root.mkdir(parents=True, exist_ok=True)
    _replace_database(home.analytics, stamped)
    return Publication(snapshot_date, home.analytics, parquet, {name: t.num_rows for name, t in stamped.items()})
