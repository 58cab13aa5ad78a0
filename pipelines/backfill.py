"""Headless backfills: build a range of snapshot dates in this process, resumably, without a daemon.

`dagster job backfill` only queues runs for a daemon. A backfill here lands and validates the
extract once (`ingest_crm_job`), then runs `rebuild_snapshot_job` for each date in order, in
process. A ledger under TERRITORY_HOME/backfills records each finished date, keyed by what
determines the result (the range, the source and the plan file's text): running the same
command again after an interruption resumes at the first unfinished date; `restart` redoes them
all. Each date's publication replaces exactly that date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from pipelines.progress import ProgressBars
from territory.paths import TerritoryHome
from territory.plan import DEFAULT_PLAN_PATH
from territory.publication import ASSIGNMENTS_TABLE

RUN_CONFIG = {"loggers": {"progress": {}}}
BACKFILL_TAG = "territory/backfill"


class BackfillFailed(RuntimeError):
    """A step of the backfill failed; `result` holds the failed run."""

    def __init__(self, message: str, result: ExecuteInProcessResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class Ledger:
    """The dates of one backfill that are finished, kept in a JSON file rewritten atomically."""

    path: Path

    def finished(self) -> dict[str, str]:
        """Finished date -> the run that built it."""
        if not self.path.exists():
            return {}
        return json.loads(self.path.read_text())["finished"]

    def dates(self) -> list[dt.date]:
        """Every date of the backfill's range, read from the ledger's name (<start>_<end>_<fingerprint>.json)."""
        start, end, _ = self.path.stem.split("_")
        return dates_between(dt.date.fromisoformat(start), dt.date.fromisoformat(end))

    def built(self, home: TerritoryHome) -> list[dt.date]:
        """The finished dates whose publication is still there: those the backfill skips when run again."""
        return [day for day in map(dt.date.fromisoformat, self.finished())
                if home.published_partition(ASSIGNMENTS_TABLE, day).is_dir()]

    def finish(self, day: dt.date, run_id: str) -> None:
        finished = {**self.finished(), day.isoformat(): run_id}
        pending = self.path.with_suffix(".tmp")
        pending.write_text(json.dumps({"finished": dict(sorted(finished.items()))}, indent=1))
        os.replace(pending, self.path)


def dates_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise ValueError(f"the end date {end} is before the start date {start}")
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


def ledger_for(home: TerritoryHome, start: dt.date, end: dt.date, source: dict, plan_path: str | None) -> Ledger:
    """The ledger of the backfill of `start`..`end` from `source` under this plan file."""
    plan_text = Path(plan_path or DEFAULT_PLAN_PATH).read_text()
    identity = json.dumps({"start": start.isoformat(), "end": end.isoformat(), "source": source, "plan": plan_text},
                          sort_keys=True)
    fingerprint = hashlib.sha256(identity.encode()).hexdigest()[:12]
    home.backfills.mkdir(parents=True, exist_ok=True)
    return Ledger(home.backfills / f"{start.isoformat()}_{end.isoformat()}_{fingerprint}.json")


def ledgers(home: TerritoryHome) -> list[Ledger]:
    """The ledger of every backfill under `home`, in the order of their ranges."""
    return [Ledger(path) for path in sorted(home.backfills.glob("*.json"))]


def run_backfill(
    definitions: Definitions,
    instance: DagsterInstance,
    home: TerritoryHome,
    dates: list[dt.date],
    ledger: Ledger,
    restart: bool,
    progress: ProgressBars,
) -> list[dt.date]:
    """Build every date of `dates` not finished yet (all with `restart`); returns the dates built.

    `progress` shows a line per date with the time left, under bars of the dates and steps at a terminal.
    Raises BackfillFailed at the first failure; the dates before it stay finished.
    """
    built = set() if restart else set(ledger.built(home))
    todo = [day for day in dates if day not in built]
    if len(todo) < len(dates):
        progress.say(f"{len(dates) - len(todo)} of {len(dates)} dates already built by this backfill: skipping them "
            f"(--restart redoes them)")
    if not todo:
        return []
    tags = {BACKFILL_TAG: ledger.path.stem}
    progress.say("Landing and validating the extract")
    ingest = definitions.resolve_job_def("ingest_crm_job")
    progress.start_run("extract", len(ingest.graph.nodes))
    result = ingest.execute_in_process(
        run_config=RUN_CONFIG, instance=instance, tags=tags, raise_on_error=False)
    if not result.success:
        raise BackfillFailed("the extract could not be landed; no date was built", result)

    rebuild = definitions.resolve_job_def("rebuild_snapshot_job")
    progress.start_dates(len(todo))
    started = time.perf_counter()
    for number, day in enumerate(todo, start=1):
        progress.say(f"[{number}/{len(todo)}] building {day}")
        progress.start_run(day.isoformat(), len(rebuild.graph.nodes))
        began = time.perf_counter()
        result = rebuild.execute_in_process(
            run_config=RUN_CONFIG, instance=instance, partition_key=day.isoformat(), tags=tags, raise_on_error=False)
        if not result.success:
            raise BackfillFailed(f"{day} failed; the {number - 1} date(s) before it are built", result)
        ledger.finish(day, result.run_id)
        progress.finish_date()
        elapsed = time.perf_counter() - started
        left = elapsed / number * (len(todo) - number)
        progress.say(f"[{number}/{len(todo)}] {day} built in {time.perf_counter() - began:.0f} s; "
            f"elapsed {elapsed / 60:.1f} min, about {left / 60:.1f} min left")
    return todo
