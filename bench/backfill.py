"""Backfill benchmark: a 30-day backfill of the default demo, and where its time goes.

The backfill runs in this process as `territory backfill` runs it (pipelines.backfill), into a
temporary TERRITORY_HOME. From the Dagster event log it sums, over every date, the time of the dbt
step and of the solver step; the rest (landing and validating the extract once, the plan's other
steps, the checks, publication with its history, Dagster's own work) is the time spent outside
the solver and dbt. The baseline is what a backfill without this command costs: each date run as
its own `territory run` (the whole job, the extract landed and validated every time), measured
on the first --baseline-dates dates and scaled to the range.

    .venv/bin/python bench/backfill.py [--days 30] [--end 2026-11-27] [--accounts 20000] [--reps 80]
                                       [--baseline-dates 3] [--keep DIR]
"""

import argparse
import contextlib
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

DBT_STEP = "territory_dbt_models"
SOLVER_STEP = "solve__territory_plan"


def _step_seconds(instance, run_ids: list[str]) -> dict[str, float]:
    """Seconds per step key, summed over the runs."""
    seconds: dict[str, float] = defaultdict(float)
    for run_id in run_ids:
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is not None and event.event_type_value == "STEP_SUCCESS":
                seconds[event.step_key] += event.event_specific_data.duration_ms / 1000
    return seconds


def _run_ids(instance, tag_value: str) -> list[str]:
    from dagster import RunsFilter

    from pipelines.backfill import BACKFILL_TAG

    return [run.run_id for run in instance.get_runs(RunsFilter(tags={BACKFILL_TAG: tag_value}))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=80)
    parser.add_argument("--baseline-dates", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the TERRITORY_HOME here instead of a temporary folder")
    options = parser.parse_args()

    work = options.keep or Path(tempfile.mkdtemp(prefix="territory-bench-backfill-"))
    os.environ.update(TERRITORY_HOME=str(work / "home"), DAGSTER_DISABLE_TELEMETRY="1",
                      DBT_SEND_ANONYMOUS_USAGE_STATS="False", GX_ANALYTICS_ENABLED="false")
    from dagster import DagsterInstance

    from assets.resources import DemoCrmSource
    from pipelines.backfill import RUN_CONFIG, dates_between, ledger_for, run_backfill
    from pipelines.definitions import build_definitions
    from pipelines.progress import ProgressBars
    from territory.paths import TerritoryHome

    home = TerritoryHome.from_env()
    start = options.end - dt.timedelta(days=options.days - 1)
    dates = dates_between(start, options.end)
    source = DemoCrmSource(accounts=options.accounts, reps=options.reps, as_of=options.end.isoformat())
    definitions = build_definitions(crm_source=source)
    ledger = ledger_for(home, start, options.end, source.model_dump(), None)
    try:
        with DagsterInstance.ephemeral() as instance, contextlib.redirect_stdout(sys.stderr):
            started = time.perf_counter()
            run_backfill(definitions, instance, home, dates, ledger, restart=True, progress=ProgressBars(None))
            backfill_seconds = time.perf_counter() - started
            steps = _step_seconds(instance, _run_ids(instance, ledger.path.stem))

            # Baseline: the whole job per date, on a fresh home.
            baseline_home = work / "baseline"
            os.environ["TERRITORY_HOME"] = str(baseline_home)
            job = build_definitions(crm_source=source).resolve_job_def("build_territories_job")
            started = time.perf_counter()
            for day in dates[: options.baseline_dates]:
                result = job.execute_in_process(run_config=RUN_CONFIG, instance=instance, partition_key=day.isoformat())
                assert result.success
            per_date_baseline = (time.perf_counter() - started) / options.baseline_dates
        published = sorted((home.published / "territory_assignments").iterdir())
        history_rows = sum(1 for _ in (home.published / "territory_history").iterdir())
    finally:
        if options.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    dbt, solver = steps[DBT_STEP], steps[SOLVER_STEP]
    outside = backfill_seconds - dbt - solver
    baseline = per_date_baseline * len(dates)
    print(f"\n{len(dates)}-day backfill, {start} to {options.end}, demo {options.accounts:,} accounts x {options.reps} reps")
    print(f"  dated folders written          {len(published)} (history: {history_rows})")
    print(f"  {'measure':<44} {'seconds':>9} {'share':>7}")
    for name, seconds in (("whole backfill", backfill_seconds), ("dbt build (all dates)", dbt),
                          ("solver (all dates)", solver), ("outside the solver and dbt", outside)):
        print(f"  {name:<44} {seconds:9.1f} {seconds / backfill_seconds:7.1%}")
    print(f"  {'per date':<44} {backfill_seconds / len(dates):9.1f}")
    rest = sorted(((s, k) for k, s in steps.items() if k not in (DBT_STEP, SOLVER_STEP)), reverse=True)
    print("  outside the solver and dbt, by step (all dates):")
    for seconds, step in rest:
        print(f"    {step:<52} {seconds:7.1f} s")
    print(f"    {'Dagster and the command between steps':<52} {outside - sum(s for s, _ in rest):7.1f} s")
    print(f"\nbaseline: each date as its own run of the whole job, {per_date_baseline:.1f} s a date "
          f"(measured on {options.baseline_dates}), {baseline:.0f} s for the range")
    print(f"  backfill / baseline            {backfill_seconds / baseline:.2f}")


if __name__ == "__main__":
    main()
