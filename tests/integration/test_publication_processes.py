"""The publication's promises, tested with real processes: readers are never blocked or shown half a
run, and a publisher killed (SIGKILL) at any moment leaves the previous publication intact."""

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from territory.paths import TerritoryHome
from territory.publication import PUBLISHED_TABLES, published_dates, recover

ROWS = 300_000
BASE = dt.date(2026, 5, 1)
# Publishes generations FIRST..LAST of the test tables, generation G for BASE + G days; says "publishing"
# when it starts. With "pause", it says "applying" once the first folder is in place and pauses there.
PUBLISHER = f"""
import datetime as dt, shutil, sys, time
import pyarrow as pa
from territory import publication
from territory.paths import TerritoryHome
from territory.publication import publish

home, first, last = TerritoryHome(__import__("pathlib").Path(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
if sys.argv[4] == "pause":
    remove = shutil.rmtree
    def pause_then_remove(*args, **kwargs):
        print("applying", flush=True)
        time.sleep(5)
        remove(*args, **kwargs)
    publication.shutil.rmtree = pause_then_remove  # called after each folder is swapped in
for generation in range(first, last + 1):
    ids = pa.array([f"A{{i:07d}}" for i in range({ROWS})])
    tables = {{
        "territory_assignments": pa.table({{"account_id": ids, "rep_id": pa.repeat(f"R{{generation}}", {ROWS})}}),
        "territory_summary": pa.table({{"rep_id": [f"R{{generation}}"], "accounts": [{ROWS}]}}),
        "solver_runs": pa.table({{"generation": [generation]}}),
    }}
    print("publishing", flush=True)
    publish(home, dt.date.fromisoformat("{BASE}") + dt.timedelta(days=generation), tables)
print("done", flush=True)
"""
TABLES = ("territory_assignments", "territory_summary", "solver_runs", "territory_history")


def _publisher(home, first: int, last: int, mode: str = "run") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(home.root), str(first), str(last), mode],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


def _read_publication(home) -> tuple[dt.date, int]:
    """The one snapshot date every table of analytics.duckdb holds, and its generation; fails on a mix."""
    with duckdb.connect(str(home.analytics), read_only=True) as conn:
        dates = {row[0] for table in TABLES for row in conn.sql(f"select distinct snapshot_date from {table}").fetchall()}
        ((generation,),) = conn.sql("select generation from solver_runs").fetchall()
        reps = conn.sql("select distinct rep_id from territory_assignments").fetchall()
        ((rows,),) = conn.sql("select count(*) from territory_assignments").fetchall()
    assert len(dates) == 1, f"analytics.duckdb mixes snapshot dates {dates}"
    assert reps == [(f"R{generation}",)] and rows == ROWS, "analytics.duckdb holds half a publication"
    return dates.pop(), generation


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A home with generation 0 published, by a real process."""
    home = TerritoryHome(tmp_path_factory.mktemp("baseline") / "home")
    publisher = _publisher(home, 0, 0)
    assert publisher.communicate(timeout=120)[0].strip().endswith("done")
    return home


def test_readers_are_never_blocked_nor_shown_half_a_run_while_runs_publish(baseline, tmp_path):
    home = TerritoryHome(tmp_path / "home")
    shutil.copytree(baseline.root, home.root)
    publisher = _publisher(home, 1, 4)
    seen, reads = set(), 0
    while publisher.poll() is None:
        seen.add(_read_publication(home))  # a lock error or a mixed state fails here
        reads += 1
    assert publisher.returncode == 0
    assert reads > 10 and len(seen) >= 2, f"only {reads} reads saw {seen}: the test did not overlap the publications"
    assert _read_publication(home) == (BASE + dt.timedelta(days=4), 4)


def _kill_during_publication(home, after: float, mode: str) -> None:
    publisher = _publisher(home, 1, 1, mode)
    assert publisher.stdout.readline().strip() == "publishing"
    if mode == "pause":  # after the commit point, with one folder swapped in
        assert publisher.stdout.readline().strip() == "applying"
    time.sleep(after)
    publisher.send_signal(signal.SIGKILL)
    publisher.wait()


def test_a_publisher_killed_at_any_moment_leaves_the_previous_publication_readable(baseline, tmp_path):
    # How long one publication takes here, to spread the kills over it.
    timing = TerritoryHome(tmp_path / "timing")
    shutil.copytree(baseline.root, timing.root)
    publisher = _publisher(timing, 1, 1)
    assert publisher.stdout.readline().strip() == "publishing"
    started = time.perf_counter()
    assert publisher.stdout.readline().strip() == "done"
    duration = time.perf_counter() - started
    publisher.wait()

    old_files = {path.relative_to(baseline.root): path.read_bytes() for path in baseline.published.rglob("*.parquet")}
    outcomes = []
    trials = [(share * duration, "run") for share in (0.0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9)] + [(0.0, "pause")]
    for trial, (after, mode) in enumerate(trials):
        home = TerritoryHome(tmp_path / f"trial{trial}")
        shutil.copytree(baseline.root, home.root)
        _kill_during_publication(home, after, mode)
        # Right after the kill: analytics.duckdb is whole, and the earlier date's files are untouched.
        snapshot, _ = _read_publication(home)
        assert {p: (home.root / p).read_bytes() for p in old_files} == old_files
        # The next publication's first act: finish a committed publication, or drop an uncommitted one.
        recover(home)
        after = _read_publication(home)
        dates = published_dates(home)
        assert dates in ([BASE], [BASE, BASE + dt.timedelta(days=1)])
        for table in PUBLISHED_TABLES:  # the date is there for every table or for none
            if (home.published / table).exists():
                assert published_dates(home, table) == dates
        assert after[0] == dates[-1] and not (home.root / ".staging").exists()
        outcomes.append((snapshot, after[0]))
    # The kills fell both before the commit point (the old publication stays) and after it (the new one is completed).
    assert outcomes[-1] == (BASE, BASE + dt.timedelta(days=1)) and outcomes[0] == (BASE, BASE), outcomes


def test_the_history_spans_the_publications(baseline, tmp_path):
    home = TerritoryHome(tmp_path / "home")
    shutil.copytree(baseline.root, home.root)
    publisher = _publisher(home, 1, 2)
    publisher.communicate(timeout=120)
    with duckdb.connect(str(home.analytics), read_only=True) as conn:
        spans = conn.sql("select rep_id, valid_from, valid_to from territory_history where account_id = 'A0000007' "
                         "order by valid_from").fetchall()
    day = [BASE + dt.timedelta(days=n) for n in range(4)]
    assert spans == [("R0", day[0], day[1]), ("R1", day[1], day[2]), ("R2", day[2], None)]
