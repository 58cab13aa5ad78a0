"""`territory backfill` as an operator runs it: interrupted and resumed, re-run, and rebuilt date by date."""

import datetime as dt
import json
import os
import signal
import subprocess

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.e2e.test_cli import TERRITORY, territory

pytestmark = pytest.mark.e2e
START, END = dt.date(2026, 6, 28), dt.date(2026, 6, 30)
DATES = [START + dt.timedelta(days=n) for n in range(3)]
DEMO = ["--accounts", "500", "--reps", "8", "--seed", "3", "--as-of", END.isoformat()]
BACKFILL = ["backfill", "--start", START.isoformat(), "--end", END.isoformat(), *DEMO]
# Tables whose every value follows from the inputs (solver_runs also records run ids and seconds).
DETERMINED = ("territory_assignments", "territory_summary", "territory_moves", "contact_plan", "rotation_schedule",
              "territory_quotas", "goal_progress", "capacity_gap", "territory_history")


def _partition(home, table: str, day: dt.date):
    return pq.read_table(home / "published" / table / f"snapshot_date={day}" / "part-0.parquet")


def _run_until_the_second_date_starts_then_kill(home) -> str:
    env = {**os.environ, "TERRITORY_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    process = subprocess.Popen([*TERRITORY, *BACKFILL], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    seen, first_built = [], False
    for line in process.stderr:
        seen.append(line)
        first_built = first_built or line.startswith(f"[1/3] {DATES[0]} built")
        if first_built and line.startswith("> "):  # a step of the next date has started: crash now
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    return "".join(seen)


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    home = tmp_path_factory.mktemp("backfill")
    interrupted = _run_until_the_second_date_starts_then_kill(home)
    resumed = territory(home, *BACKFILL)
    return home, interrupted, resumed


def test_an_interrupted_backfill_resumes_without_redoing_finished_dates(backfilled):
    home, interrupted, resumed = backfilled
    assert "[1/3] building 2026-06-28" in interrupted and "[2/3] building 2026-06-29" in interrupted
    assert resumed.returncode == 0, resumed.stderr
    assert "1 of 3 dates already built by this backfill" in resumed.stderr
    assert "[1/2] building 2026-06-29" in resumed.stderr and "[2/2] building 2026-06-30" in resumed.stderr
    assert "Backfilled 2 date(s)" in resumed.stdout and "Traceback" not in resumed.stderr


def test_every_date_is_published_with_its_history(backfilled):
    home, _, _ = backfilled
    for table in DETERMINED:
        folders = sorted(p.name for p in (home / "published" / table).iterdir())
        assert folders == [f"snapshot_date={day}" for day in DATES], table
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        assert conn.execute("select distinct snapshot_date from territory_assignments").fetchall() == [(END,)]
        first, accounts, spans = conn.execute(
            "select min(valid_from), count(distinct account_id), count(*) from territory_history").fetchall()[0]
        owners = conn.execute("select count(*) from owners_on('2026-06-29')").fetchall()[0][0]
    assert first == START and accounts == 500 and spans >= 500
    assert owners == _partition(home, "territory_assignments", DATES[1]).num_rows  # who owned what on a past day
    touches = _partition(home, "contact_plan", END).to_pandas()
    assert touches["touch_date"].min() == dt.date(2026, 7, 6)  # the Monday after the snapshot date


def test_status_shows_the_backfill_and_its_dates(backfilled):
    home, _, _ = backfilled
    result = territory(home, "status", "--json")
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    whole_range = {"first_date": str(START), "last_date": str(END), "dates": 3, "built": 3}
    assert any(whole_range.items() <= backfill.items() for backfill in state["backfills"])
    assert (state["published"]["dates"], state["published"]["missing"]) == (3, [])
    assert {run["partition"] for run in state["runs"] if run["job"] == "rebuild_snapshot_job"} >= {str(day) for day in DATES}


def test_rerunning_the_same_backfill_does_nothing(backfilled):
    home, _, _ = backfilled
    result = territory(home, *BACKFILL)
    assert result.returncode == 0, result.stderr
    assert "3 of 3 dates already built" in result.stderr and "Backfilled 0 date(s)" in result.stdout


def test_rebuilding_one_date_replaces_exactly_it_with_identical_results(backfilled):
    home, _, _ = backfilled
    others = {p: p.read_bytes() for p in (home / "published").rglob("*") if p.is_file() and f"={DATES[1]}" not in str(p)}
    before = {table: _partition(home, table, DATES[1]) for table in DETERMINED}
    result = territory(home, "backfill", "--start", str(DATES[1]), "--end", str(DATES[1]), *DEMO, "--restart")
    assert result.returncode == 0, result.stderr
    assert {p: p.read_bytes() for p in others} == others
    for table in DETERMINED:
        assert _partition(home, table, DATES[1]).equals(before[table]), table


def test_a_backfill_with_dates_out_of_order_says_so(tmp_path):
    result = territory(tmp_path, "backfill", "--start", "2026-06-30", "--end", "2026-06-01")
    assert result.returncode == 1 and "before the start date" in result.stderr and "Traceback" not in result.stderr
