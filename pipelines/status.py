"""`territory status`: what is published, the last runs with their checks, and the backfills, without a daemon.

Each part is a plain dict (what `--json` prints); only the runs import Dagster, and only when
runs were recorded, so the rest answers fast and nothing is created in an empty home.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import Path

from territory.paths import TerritoryHome


def print_status(state: dict, echo: Callable[[str], None]) -> None:
    """The status, as `territory status` prints it for people, a line at a time through `echo`."""
    published = state["published"]
    if published["analytics"]:
        echo(f"Published  {published['analytics']}  (snapshot date {published['snapshot_date']})")
        width = max(map(len, published["tables"]), default=0)
        for name, rows in published["tables"].items():
            echo(f"  {name:<{width}}  {rows:>12,} rows")
    else:
        echo(f"Published  nothing yet in {state['home']}")
    if published["dates"]:
        echo(f"History    {published['parquet']}: {published['dates']} date(s), "
                   f"{published['first_date']} to {published['last_date']}")
        for gap in published["missing"]:
            echo(f"  missing {gap['first']}" + (f" to {gap['last']}" if gap["last"] != gap["first"] else ""))
    if published["report"]:
        echo(f"Report     {published['report']}")

    if not state["runs"]:
        echo(f"\nRuns       none recorded in {state['dagster_home']}")
    else:
        echo(f"\nLast {len(state['runs'])} run(s) in {state['dagster_home']}")
        echo(f"  {'run':<8}  {'job':<22} {'partition':<10}  {'status':<8}  {'started (UTC)':<16}  {'took':>7}  checks")
    for run in state["runs"]:
        started = run["started"][:16].replace("T", " ") if run["started"] else "-"
        seconds = run["seconds"]
        took = "-" if seconds is None else f"{seconds:.0f} s" if seconds < 100 else f"{seconds / 60:.1f} min"
        counts = ((run["checks_passed"], "passed"), (len(run["failed_checks"]), "failed"))
        checks = ", ".join(f"{count} {outcome}" for count, outcome in counts if count) or "none"
        echo(f"  {run['run_id'][:8]}  {run['job']:<22} {run['partition'] or '-':<10}  {run['status']:<8}  "
                   f"{started:<16}  {took:>7}  {checks}")
        for step in run["failed_steps"]:
            echo(f"      failed step   {step}")
        for check in run["failed_checks"]:
            echo(f"      failed check  {check['check']} ({check['severity']})")

    if state["sources"]:
        echo("\nSources    (under sources/ of the home)")
    for source in state["sources"]:
        landed = source["landed_at"][:16].replace("T", " ") if source["landed_at"] else "never"
        echo(f"  {source['source']:<17} landed {landed} UTC, {source['unmapped_values']} unmapped value(s)")
        for obj in source["objects"]:
            echo(f"    {obj['object']:<20} {obj['records']:>12,} records  watermark {obj['watermark'] or '-'}")

    if state["writebacks"]:
        echo("\nWrite-backs through the CRMs' APIs")
    for ledger in state["writebacks"]:
        echo(f"  {ledger['crm']:<10} plan of {ledger['snapshot_date']}: {ledger['written']:,} written, "
             f"{ledger['refused']:,} refused, last at {ledger['last_written_at']}  ({ledger['ledger']})")

    if state["backfills"]:
        echo("\nBackfills")
    for backfill in state["backfills"]:
        echo(f"  {backfill['first_date']} to {backfill['last_date']}: {backfill['built']} of {backfill['dates']} "
                   f"date(s) built  ({backfill['ledger']})")


def publication_status(home: TerritoryHome) -> dict:
    """What analytics.duckdb, the Parquet history and the reports hold; reads no Dagster."""
    import duckdb

    from territory.publication import ASSIGNMENTS_TABLE, published_dates

    tables, snapshot_date = {}, None
    if home.analytics.exists():
        with duckdb.connect(str(home.analytics), read_only=True) as conn:
            names = conn.sql("select table_name from information_schema.tables "
                             "where table_type = 'BASE TABLE' order by table_name").fetchall()
            tables = {name: conn.sql(f'select count(*) from "{name}"').fetchall()[0][0] for (name,) in names}
            snapshot_date = conn.sql(f"select max(snapshot_date) from {ASSIGNMENTS_TABLE}").fetchall()[0][0]
    dates = published_dates(home)
    day = dt.timedelta(days=1)
    gaps = [(before + day, after - day) for before, after in itertools.pairwise(dates) if after - before > day]
    reports = sorted(home.reports.glob("*/index.html"))
    return {
        "analytics": str(home.analytics) if home.analytics.exists() else None,
        "snapshot_date": snapshot_date.isoformat() if snapshot_date else None,
        "tables": tables,
        "parquet": str(home.published),
        "dates": len(dates),
        "first_date": dates[0].isoformat() if dates else None,
        "last_date": dates[-1].isoformat() if dates else None,
        "missing": [{"first": first.isoformat(), "last": last.isoformat()} for first, last in gaps],
        "report": str(reports[-1]) if reports else None,
    }


def run_status(dagster_home: Path, count: int) -> list[dict]:
    """The last `count` runs recorded in `dagster_home` (DAGSTER_HOME), newest first, with their failed steps and checks."""
    if not dagster_home.is_dir():  # nothing has run: do not let Dagster create its storage
        return []
    from dagster import DagsterEventType, DagsterInstance

    from pipelines.progress import check_name

    runs = []
    with DagsterInstance.get() as instance:
        for record in instance.get_run_records(limit=count):
            run = record.dagster_run
            events = [entry.dagster_event for entry in instance.all_logs(
                run.run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.ASSET_CHECK_EVALUATION})]
            checks = [event.asset_check_evaluation_data for event in events if not event.is_step_failure]
            runs.append({
                "run_id": run.run_id,
                "job": run.job_name,
                "partition": run.tags.get("dagster/partition"),  # the snapshot date
                "status": run.status.value,
                "started": (dt.datetime.fromtimestamp(record.start_time, dt.UTC).isoformat(timespec="seconds")
                            if record.start_time else None),
                "seconds": round(record.end_time - record.start_time, 1) if record.end_time and record.start_time else None,
                "failed_steps": [event.step_key for event in events if event.is_step_failure],
                "checks_passed": sum(check.passed for check in checks),
                "failed_checks": [{"check": check_name(check), "severity": check.severity.value}
                                  for check in checks if not check.passed],
            })
    return runs


def backfill_status(home: TerritoryHome) -> list[dict]:
    """Each backfill's range and how many of its dates are built, from its ledger."""
    if not home.backfills.is_dir():
        return []
    from pipelines.backfill import ledgers

    backfills = []
    for ledger in ledgers(home):
        dates = ledger.dates()
        backfills.append({"ledger": str(ledger.path), "first_date": dates[0].isoformat(),
                          "last_date": dates[-1].isoformat(), "dates": len(dates), "built": len(ledger.built(home))})
    return backfills


def source_status(home: TerritoryHome) -> list[dict]:
    """What each CRM source holds under TERRITORY_HOME/sources: its objects' records and watermarks, its last landing."""
    import pyarrow.parquet as pq

    from territory.sources.canonical import read_unmapped
    from territory.sources.object_store import ObjectStore

    sources = []
    for folder in sorted(path for path in home.sources.glob("*") if (path / "landed").is_dir() or (path / "objects").is_dir()):
        store, landed = ObjectStore(folder / "objects"), folder / "landed"
        objects = [{"object": path.stem, "records": pq.read_metadata(path).num_rows, "watermark": store.watermark(path.stem)}
                   for path in sorted(store.folder.glob("*.parquet"))]
        sources.append({
            "source": folder.name,
            "landed_at": (dt.datetime.fromtimestamp(landed.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")
                          if landed.is_dir() else None),
            "unmapped_values": len(read_unmapped(landed)) if landed.is_dir() else 0,
            "objects": objects,
        })
    return sources


def writeback_status(home: TerritoryHome) -> list[dict]:
    """Each API write-back's ledger: the plan it wrote, how many changes were written or refused, and when last."""
    import json

    ledgers = []
    for path in sorted(home.writeback.glob("*/*.jsonl")):
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.endswith("}")]
        ledgers.append({
            "crm": path.parent.name, "snapshot_date": path.stem, "ledger": str(path),
            "written": sum(line["ok"] for line in lines), "refused": sum(not line["ok"] for line in lines),
            "last_written_at": max((line["written_at"] for line in lines), default=None),
        })
    return ledgers
