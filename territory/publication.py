"""Publication: what analysts read, written so that no reader ever sees half a run.

Each table is stamped with its snapshot date and written twice:

* `published/<table>/snapshot_date=YYYY-MM-DD/part-0.parquet`, the history, one folder per
  date; re-publishing a date replaces exactly that date's folders;
* `analytics.duckdb`, the latest publication, replaced by a date at least as late as every
  date already published; a backfill of past dates keeps its tables but rebuilds its
  `territory_history` over every published plan.

A publication is a transaction in three phases:

1. *stage*: every new folder and the new database are written completely under
   `.staging/<token>/` in TERRITORY_HOME (outside `published/`, so that no reader's glob
   finds them), and flushed to disk;
2. *commit*: a journal naming each staged file and its final place is written and renamed into
   place: from this instant the publication will happen;
3. *apply*: each folder is swapped with its old version (one atomic exchange where the file
   system offers it), then the new database is moved over the old one (one atomic rename);
   the journal and the old versions are removed.

A run killed before the commit leaves only staging files, which the next publication removes;
a run killed after it is completed by the next publication (or `recover`). Readers
with `analytics.duckdb` open keep reading the file they opened; a new connection sees either
the old publication or the new one.

`territory_history` is derived here, from the plans already published: one row per span of
ownership (account, rep, valid_from, valid_to), as known on the snapshot date.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import json
import os
import shutil
import uuid
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
    "contact_plan": "solve.contact_plan",
    "contact_plan_weeks": "solve.contact_plan_weeks",
    "rotation_schedule": "solve.rotation_schedule",
    "territory_quotas": "solve.territory_quotas",
    "goal_progress": "solve.goal_progress",
    "account_segments": "main.dim_accounts",
    "markets": "main.dim_markets",
    "segment_needs": "main.fct_segment_needs",
    "territory_conflicts": "main.fct_territory_conflicts",
}
HISTORY_TABLE = "territory_history"
PUBLISHED_TABLES: tuple[str, ...] = (*PUBLISHED_TABLE_SOURCES, HISTORY_TABLE)
ASSIGNMENTS_TABLE = "territory_assignments"
# Written inside each published folder: which publication wrote it (readers of *.parquet skip it).
MARKER = "_publication.json"

# Helpers for analysts, kept in analytics.duckdb: who owned what on a day, and what changed between two days.
ANALYST_MACROS = (
    f"""create macro owners_on(day) as table
        select account_id, rep_id, valid_from, valid_to from {HISTORY_TABLE}
        where valid_from <= day::date and (valid_to is null or valid_to > day::date)""",
    """create macro ownership_changes(from_day, to_day) as table
        select account_id, before.rep_id as from_rep_id, after.rep_id as to_rep_id
        from owners_on(from_day) as before full join owners_on(to_day) as after using (account_id)
        where before.rep_id is distinct from after.rep_id""",
)


@dataclass(frozen=True)
class Publication:
    """Where one run's tables went."""

    snapshot_date: dt.date
    analytics: Path | None  # None when a later date is published: the database keeps it (its history is rebuilt)
    parquet: dict[str, Path]
    rows: dict[str, int]
    recovered: str | None  # what was left of an interrupted publication, and what became of it


def stamp(table: pa.Table, snapshot_date: dt.date) -> pa.Table:
    """`table` with a leading snapshot_date column."""
    return table.add_column(0, "snapshot_date", pa.repeat(pa.scalar(snapshot_date, pa.date32()), table.num_rows))


def published_dates(home: TerritoryHome, table: str = ASSIGNMENTS_TABLE) -> list[dt.date]:
    """The snapshot dates `table` is published for, in order."""
    folder = home.published / table
    if not folder.is_dir():
        return []
    prefix = "snapshot_date="
    return sorted(dt.date.fromisoformat(p.name[len(prefix):]) for p in folder.iterdir() if p.name.startswith(prefix))


def _read_partition(path: Path) -> pa.Table:
    return pq.read_table(path / "part-0.parquet")


HISTORY_SCHEMA = pa.schema([
    ("account_id", pa.string()), ("rep_id", pa.string()), ("valid_from", pa.date32()), ("valid_to", pa.date32()),
])


def ownership_history(snapshots: list[tuple[dt.date, pa.Table]]) -> pa.Table:
    """Spans of ownership from dated plans: account_id, rep_id, valid_from, valid_to.

    A span starts on the first snapshot where the account has that owner and ends (valid_to,
    exclusive) on the first later snapshot where it has another owner or none; valid_to is null
    while the span lasts on the last snapshot. `snapshots` are (date, account_id/rep_id table).
    """
    conn = connect(Path(":memory:"))
    try:
        dated = [table.select(["account_id", "rep_id"]).append_column(
            "day", pa.repeat(pa.scalar(day, pa.date32()), table.num_rows)) for day, table in snapshots]
        conn.register("snapshots", pa.concat_tables(dated) if dated else HISTORY_SCHEMA.empty_table())
        return conn.sql("""
            with days as (
                select day, lead(day) over (order by day) as next_day, row_number() over (order by day) as day_number
                from (select distinct day from snapshots)
            ),
            owned as (
                select snapshots.account_id, snapshots.rep_id, days.*,
                    -- a new span starts when the owner changes or the account was missing from the previous snapshot
                    lag(snapshots.rep_id) over account_days is distinct from snapshots.rep_id
                        or lag(days.day_number) over account_days <> days.day_number - 1 as starts_span
                from snapshots join days using (day)
                window account_days as (partition by snapshots.account_id order by days.day)
            ),
            spans as (
                select *, sum(starts_span::int) over (partition by account_id order by day) as span from owned
            )
            select account_id, rep_id, min(day) as valid_from, arg_max_null(next_day, day) as valid_to
            from spans
            group by account_id, rep_id, span
            order by account_id, valid_from
        """).to_arrow_table().cast(HISTORY_SCHEMA)
    finally:
        conn.close()


def extend_history(history: pa.Table, snapshot_date: dt.date, assignments: pa.Table) -> pa.Table:
    """The history as of the previous snapshot, carried forward by the plan of `snapshot_date` (a later date).

    Equal to `ownership_history` over all the snapshots, in time proportional to one snapshot.
    """
    conn = connect(Path(":memory:"))
    try:
        conn.register("history", history.select(HISTORY_SCHEMA.names))
        conn.register("today", assignments.select(["account_id", "rep_id"]))
        return conn.sql("""
            with open_spans as (select * from history where valid_to is null),
            kept as (select open_spans.* from open_spans join today using (account_id, rep_id))
            select * from history where valid_to is not null
            union all
            select open_spans.account_id, open_spans.rep_id, open_spans.valid_from, $day::date
            from open_spans anti join kept using (account_id, rep_id)
            union all
            select * from kept
            union all
            select today.account_id, today.rep_id, $day::date, null from today anti join kept using (account_id, rep_id)
            order by account_id, valid_from
        """, params={"day": snapshot_date}).to_arrow_table().cast(HISTORY_SCHEMA)
    finally:
        conn.close()


def _history_for(home: TerritoryHome, snapshot_date: dt.date, assignments: pa.Table) -> pa.Table:
    """The ownership history as known on `snapshot_date`, from the published plans of earlier dates."""
    earlier = [day for day in published_dates(home) if day < snapshot_date]
    if earlier:
        previous = home.published_partition(HISTORY_TABLE, earlier[-1])
        if previous.is_dir():  # the usual nightly case: carry the last history one day forward
            return extend_history(_read_partition(previous), snapshot_date, assignments)
    plans = [(day, _read_partition(home.published_partition(ASSIGNMENTS_TABLE, day))) for day in earlier]
    return ownership_history([*plans, (snapshot_date, assignments)])


# --- the transaction --------------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(staged: Path, target: Path) -> bool:
    """Swap two existing paths atomically (Linux renameat2); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(staged), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), str(target))


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _marker_token(folder: Path) -> str | None:
    try:
        return json.loads((folder / MARKER).read_text())["token"]
    except (OSError, ValueError, KeyError):
        return None


def _journal(home: TerritoryHome) -> Path:
    return home.root / ".publication-journal.json"


def _staging(home: TerritoryHome) -> Path:
    return home.root / ".staging"


def _apply(home: TerritoryHome, journal: dict) -> None:
    """Move every staged file of a committed publication into place; safe to repeat after a crash."""
    token = journal["token"]
    for staged, target in map(lambda pair: (Path(pair[0]), Path(pair[1])), journal["folders"]):
        if _marker_token(target) == token:  # swapped before the crash
            shutil.rmtree(staged, ignore_errors=True)
            continue
        if not target.exists():
            staged.rename(target)
        elif not _exchange(staged, target):  # two renames: a reader may miss this one date for an instant
            retired = staged.with_name(staged.name + ".retired")
            target.rename(retired)
            staged.rename(target)
            staged = retired
        shutil.rmtree(staged, ignore_errors=True)
    if journal["analytics"] and Path(journal["analytics"]).exists():
        os.replace(journal["analytics"], home.analytics)
    shutil.rmtree(_staging(home) / token, ignore_errors=True)
    with contextlib.suppress(OSError):  # another publication's staging may be there
        _staging(home).rmdir()
    _journal(home).unlink()


def recover(home: TerritoryHome) -> str | None:
    """Finish a publication that was committed but interrupted, and drop staging files of one that was not.

    Returns what was done, for the log, or None when nothing was left over.
    """
    done = []
    journal_path = _journal(home)
    if journal_path.exists():
        journal = json.loads(journal_path.read_text())
        _apply(home, journal)
        done.append(f"completed the interrupted publication of {journal['snapshot_date']}")
    # Whatever staging is left belongs to a publication that never committed (or holds a swap's old versions).
    leftovers = sorted(_staging(home).glob("*"))
    if leftovers:
        shutil.rmtree(_staging(home))
        done.append(f"removed the staging files of {len(leftovers)} interrupted publication(s)")
    return "; ".join(done) or None


def _stage_folder(home: TerritoryHome, name: str, snapshot_date: dt.date, table: pa.Table, token: str) -> tuple[Path, Path]:
    target = home.published_partition(name, snapshot_date)
    staged = _staging(home) / token / name / target.name
    staged.mkdir(parents=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, staged / "part-0.parquet", compression="zstd")
    (staged / MARKER).write_text(json.dumps({"token": token, "snapshot_date": snapshot_date.isoformat(), "rows": table.num_rows}))
    for path in (staged / "part-0.parquet", staged / MARKER, staged):
        _fsync(path)
    return staged, target


def _stage_database(home: TerritoryHome, tables: dict[str, pa.Table], token: str, keep_the_rest: bool = False) -> Path:
    """A new analytics database holding `tables`; with `keep_the_rest`, also every other table of the current one."""
    staged = _staging(home) / token / home.analytics.name
    conn = connect(staged)
    try:
        for name, table in tables.items():
            conn.register("incoming", table)
            conn.execute(f'create table "{name}" as select * from incoming')
            conn.unregister("incoming")
        if keep_the_rest:
            conn.execute(f"attach '{home.analytics}' as current (read_only)")
            kept = conn.execute("select table_name from information_schema.tables "
                                "where table_catalog = 'current' and table_type = 'BASE TABLE'").fetchall()
            for (name,) in kept:
                if name not in tables:
                    conn.execute(f'create table "{name}" as select * from current."{name}"')
            conn.execute("detach current")
        for macro in ANALYST_MACROS:
            conn.execute(macro)
        conn.execute("checkpoint")
    finally:
        conn.close()
    _fsync(staged)
    return staged


def _whole_history(home: TerritoryHome, snapshot_date: dt.date, assignments: pa.Table, latest: dt.date) -> pa.Table:
    """The history over every published plan, with `assignments` as the plan of `snapshot_date`, stamped `latest`."""
    plans = {day: _read_partition(home.published_partition(ASSIGNMENTS_TABLE, day)) for day in published_dates(home)}
    plans[snapshot_date] = assignments
    return stamp(ownership_history(sorted(plans.items(), key=lambda plan: plan[0])), latest)


def publish(home: TerritoryHome, snapshot_date: dt.date, tables: dict[str, pa.Table]) -> Publication:
    """Publish `tables` (and the ownership history they extend) for `snapshot_date`, all or nothing.

    A date at least as late as every published one replaces analytics.duckdb. An earlier date
    (a backfill of the past) keeps its other tables and rebuilds only its territory_history,
    over every published plan, so that who owned what on any date stays answerable there.
    """
    home.root.mkdir(parents=True, exist_ok=True)
    recovered = recover(home)
    latest = max(published_dates(home), default=None)
    tables = {**tables, HISTORY_TABLE: _history_for(home, snapshot_date, tables[ASSIGNMENTS_TABLE])}
    stamped = {name: stamp(table, snapshot_date) for name, table in tables.items()}

    token = uuid.uuid4().hex
    folders = {name: _stage_folder(home, name, snapshot_date, table, token) for name, table in stamped.items()}
    is_latest = latest is None or snapshot_date >= latest
    if is_latest:
        analytics = _stage_database(home, stamped, token)
    elif home.analytics.exists():
        history = _whole_history(home, snapshot_date, tables[ASSIGNMENTS_TABLE], latest)
        analytics = _stage_database(home, {HISTORY_TABLE: history}, token, keep_the_rest=True)
    else:
        analytics = None
    journal = {
        "token": token, "snapshot_date": snapshot_date.isoformat(),
        "folders": [[str(staged), str(target)] for staged, target in folders.values()],
        "analytics": str(analytics) if analytics else None,
    }
    pending = _journal(home).with_suffix(".tmp")
    pending.write_text(json.dumps(journal))
    _fsync(pending)
    os.replace(pending, _journal(home))  # the commit point
    _fsync(home.root)
    _apply(home, journal)
    return Publication(
        snapshot_date, home.analytics if is_latest else None,
        {name: target for name, (_, target) in folders.items()}, {name: t.num_rows for name, t in stamped.items()},
        recovered,
    )
