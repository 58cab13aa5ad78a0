"""The territory command as a user runs it: real processes, a temporary TERRITORY_HOME."""

import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from territory.paths import TerritoryHome
from territory.plan import DEFAULT_PLAN_PATH
from territory.publication import PUBLISHED_TABLES, publish
from territory.report import REPORT_TABLES

pytestmark = pytest.mark.e2e
TERRITORY = [str(Path(sys.executable).with_name("territory"))]  # the installed console script
SNAPSHOT = "2026-06-30"


def territory(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TERRITORY_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([*TERRITORY, *args], capture_output=True, text=True, env=env, timeout=600)


def analytics_rows(home: Path, sql: str):
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo")
    result = territory(home, "demo", "--accounts", "1500", "--reps", "16", "--snapshot-date", SNAPSHOT)
    assert result.returncode == 0, result.stderr
    return home, result


def test_demo_publishes_every_account_once_and_says_where(demo_home):
    home, result = demo_home
    assert analytics_rows(home, "select count(*), count(distinct account_id) from territory_assignments") == [(1500, 1500)]
    assert f"{home / 'analytics.duckdb'}" in result.stdout
    report = home / "reports" / SNAPSHOT / "index.html"
    assert str(report) in result.stdout and report.is_file()
    assert 'territory query "select' in result.stdout
    assert "> raw_crm_tables" in result.stderr  # progress goes to stderr
    assert "Traceback" not in result.stderr


def test_query_prints_the_published_tables(demo_home):
    home, _ = demo_home
    result = territory(home, "query", "select 'reps=' || count(*) as answer from territory_summary")
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        active = conn.execute("select count(*) from raw.reps where is_active").fetchone()[0]
    assert f"reps={active}" in result.stdout


def test_query_prints_csv_and_json_for_scripts(demo_home):
    home, _ = demo_home
    sql = "select account_id, rep_id, snapshot_date, changed, 'nan'::double as score from territory_assignments order by 1"
    as_csv = territory(home, "query", "--csv", sql)
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout, newline="")))
    assert len(rows) == 1500 and list(rows[0]) == ["account_id", "rep_id", "snapshot_date", "changed", "score"]
    assert rows[0]["snapshot_date"] == SNAPSHOT and rows[0]["changed"] in ("true", "false") and rows[0]["score"] == ""
    as_json = territory(home, "query", "--json", sql)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [{**row, "changed": row["changed"] == "true", "score": None} for row in rows]


def test_a_bad_or_writing_query_fails_in_one_line(demo_home):
    home, _ = demo_home
    bad = territory(home, "query", "--csv", "selec account_id from territory_assignments")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("error: the query failed: Parser Error: syntax error") and bad.stderr.count("\n") == 1
    writing = territory(home, "query", "drop table territory_assignments")
    assert writing.returncode == 1 and writing.stderr.count("\n") == 1
    assert writing.stderr.startswith("error: analytics.duckdb is read-only: territory query cannot change it")
    assert analytics_rows(home, "select count(*) from territory_assignments") == [(1500,)]


def test_status_lists_the_published_tables_and_the_last_runs(demo_home):
    home, _ = demo_home
    result = territory(home, "status")
    assert result.returncode == 0, result.stderr
    assert f"{home / 'analytics.duckdb'}  (snapshot date {SNAPSHOT})" in result.stdout
    assert all(re.search(rf"^  {table} +[\d,]+ rows$", result.stdout, re.MULTILINE) for table in PUBLISHED_TABLES)
    assert re.search(r"^  territory_assignments +1,500 rows$", result.stdout, re.MULTILINE)
    assert f"1 date(s), {SNAPSHOT} to {SNAPSHOT}" in result.stdout and "missing" not in result.stdout
    assert str(home / "reports" / SNAPSHOT / "index.html") in result.stdout
    assert re.search(rf"^  \w{{8}}  build_territories_job +{SNAPSHOT}  SUCCESS .* \d+ passed$", result.stdout, re.MULTILINE)


def test_status_as_json(demo_home):
    home, _ = demo_home
    result = territory(home, "status", "--json", "--runs", "1")
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    published = state["published"]
    assert published["snapshot_date"] == SNAPSHOT and published["tables"]["territory_assignments"] == 1500
    assert (published["dates"], published["first_date"], published["missing"]) == (1, SNAPSHOT, [])
    [run] = state["runs"]
    assert (run["job"], run["partition"]) == ("build_territories_job", SNAPSHOT) and run["checks_passed"] > 0
    assert state["dagster_home"] == str(home / "dagster") and state["backfills"] == []


def test_status_names_the_dates_missing_from_the_history(tmp_path):
    for day in ("2026-06-01", "2026-06-02", "2026-06-05", "2026-06-07"):
        (tmp_path / "published" / "territory_assignments" / f"snapshot_date={day}").mkdir(parents=True)
    result = territory(tmp_path, "status")
    assert result.returncode == 0, result.stderr
    assert "4 date(s), 2026-06-01 to 2026-06-07" in result.stdout
    assert "  missing 2026-06-03 to 2026-06-04\n  missing 2026-06-06\n" in result.stdout


def test_status_before_any_run_says_what_to_do(tmp_path):
    result = territory(tmp_path, "status")
    assert result.returncode == 1
    assert "nothing has run" in result.stderr and "territory demo" in result.stderr and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())  # looking creates nothing


def test_files_source_runs_a_csv_export_end_to_end(tmp_path):
    export = tmp_path / "export"
    made = territory(tmp_path, "demo-data", "--accounts", "800", "--reps", "9", "--seed", "2",
                     "--as-of", SNAPSHOT, "--out", str(export), "--format", "csv")
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in export.iterdir()) == sorted(
        f"{t}.csv" for t in ("accounts", "contacts", "opportunities", "activities", "reps", "quotas", "assessments")
    )
    home = tmp_path / "home"
    result = territory(home, "run", "--source", "files", "--path", str(export), "--snapshot-date", SNAPSHOT)
    assert result.returncode == 0, result.stderr
    assert analytics_rows(home, "select count(distinct account_id) from territory_assignments") == [(800,)]


def test_a_broken_source_fails_plainly_and_leaves_the_publication_alone(demo_home, tmp_path):
    home, _ = demo_home
    before = (home / "analytics.duckdb").read_bytes()
    result = territory(home, "run", "--source", "files", "--path", str(tmp_path / "missing"), "--snapshot-date", SNAPSHOT)
    assert result.returncode == 1
    assert "error: the run failed" in result.stderr
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert (home / "analytics.duckdb").read_bytes() == before
    [run] = json.loads(territory(home, "status", "--json", "--runs", "1").stdout)["runs"]
    assert (run["status"], run["failed_steps"]) == ("FAILURE", ["raw_crm_tables"])


def test_query_before_any_run_says_what_to_do(tmp_path):
    result = territory(tmp_path, "query", "select 1")
    assert result.returncode == 1
    assert "nothing is published yet" in result.stderr and "territory demo" in result.stderr


def test_plan_check_accepts_the_shipped_plan_and_names_a_bad_key(tmp_path):
    result = territory(tmp_path, "plan", "check")
    assert result.returncode == 0, result.stderr
    assert "valid; tiers A, B, C, D" in result.stdout
    bad = tmp_path / "plan.yml"
    bad.write_text(DEFAULT_PLAN_PATH.read_text().replace("tiers: {A: 90,", "tiers: {A: 20,"))
    result = territory(tmp_path, "plan", "check", str(bad))
    assert result.returncode == 1
    assert f"error: {bad}: tiers: tier floors must fall" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_plan_stops_the_run_before_any_work(tmp_path):
    bad = tmp_path / "plan.yml"
    bad.write_text("segments: {smb: 0}\n")
    result = territory(tmp_path / "home", "--plan", str(bad), "demo", "--accounts", "100", "--reps", "3")
    assert result.returncode == 1
    assert f"error: {bad}: segments: needs exactly the segments" in result.stderr
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()


def test_dbt_commands_run_with_the_plan_and_docs_generate(demo_home, tmp_path):
    home, _ = demo_home
    result = territory(home, "dbt", "docs", "generate", "--target-path", str(tmp_path / "target"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "target" / "catalog.json").is_file() and (tmp_path / "target" / "index.html").is_file()


def test_explain_names_an_accounts_rep_and_a_reps_bands(demo_home):
    home, _ = demo_home
    account, rep = analytics_rows(home, "select account_id, rep_id from territory_assignments order by account_id limit 1")[0]
    result = territory(home, "explain", account)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{account} -> {rep}") and "not " in result.stdout
    result = territory(home, "explain", "--rep", rep)
    assert result.returncode == 0, result.stderr
    assert "workload_hours" in result.stdout and "fair share" in result.stdout and "band" in result.stdout
    missing = territory(home, "explain", "NO-SUCH-ACCOUNT")
    assert missing.returncode == 1 and "no account 'NO-SUCH-ACCOUNT'" in missing.stderr
    missing = territory(home, "explain", "--rep", "NO-SUCH-REP")
    assert missing.returncode == 1 and "no active rep 'NO-SUCH-REP'" in missing.stderr


@pytest.mark.parametrize("command", [["explain", "A00000001"], ["explain", "--rep", "R00001"], ["query", "select 1"],
                                     ["report"], ["status"]])
def test_every_reading_command_says_plainly_that_nothing_has_run_yet(tmp_path, command):
    result = territory(tmp_path, *command)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("error: ") and "territory demo" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_plan_no_territory_can_keep_fails_with_the_binding_rule_and_keeps_the_publication(demo_home, tmp_path):
    home, _ = demo_home
    before = (home / "analytics.duckdb").read_bytes()
    strict = tmp_path / "strict.yml"
    strict.write_text(DEFAULT_PLAN_PATH.read_text().replace("top_tiers: []", "top_tiers: [A, B]")
                      .replace("top_tier_experience: experienced", "top_tier_experience: senior"))
    result = territory(home, "--plan", str(strict), "demo", "--accounts", "1500", "--reps", "16", "--snapshot-date", SNAPSHOT)
    assert result.returncode == 1
    assert "no territory plan keeps every rule" in result.stderr and "top-tier accounts bring" in result.stderr
    assert "Traceback" not in result.stderr
    assert (home / "analytics.duckdb").read_bytes() == before
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("select status from solve.solver_runs").fetchall() == [("infeasible",)]


def _publish_for_the_report(home: Path, tables, *days: dt.date) -> None:
    for day in days:
        publish(TerritoryHome(home), day, {name: pa.Table.from_pandas(getattr(tables, name), preserve_index=False)
                                           for name in REPORT_TABLES})


def test_report_renders_a_published_date_again(tmp_path, report_tables):
    home = tmp_path / "home"
    _publish_for_the_report(home, report_tables(accounts=300, reps=6), dt.date(2026, 6, 29), dt.date(2026, 6, 30))
    result = territory(home, "report")  # the latest date
    assert result.returncode == 0, result.stderr
    latest = home / "reports" / "2026-06-30" / "index.html"
    assert result.stdout.strip() == str(latest)
    page = latest.read_text()
    assert "Territory plan for 2026-06-30" in page and '<section id="markets">' in page
    assert page.count("data:image/png;base64,") == 6 and "://" not in page  # ':' is not in base64
    out = tmp_path / "earlier.html"
    result = territory(home, "report", "--snapshot-date", "2026-06-29", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out) and "Territory plan for 2026-06-29" in out.read_text()


def test_report_says_plainly_when_there_is_nothing_to_report(tmp_path, report_tables):
    result = territory(tmp_path, "report")
    assert result.returncode == 1
    assert "error: nothing is published yet" in result.stderr and "Traceback" not in result.stderr
    _publish_for_the_report(tmp_path, report_tables(accounts=20, reps=3), dt.date(2026, 6, 30))
    result = territory(tmp_path, "report", "--snapshot-date", "2026-01-01")
    assert result.returncode == 1
    assert "error: no plan is published for 2026-01-01; the latest published date is 2026-06-30" in result.stderr


def test_every_query_of_the_analyst_guide_runs_on_a_published_plan(demo_home):
    home, _ = demo_home
    guide = (Path(__file__).parents[2] / "docs" / "analyst-guide.md").read_text()
    queries = re.findall(r"```sql\n(.*?)```", guide, flags=re.DOTALL)
    assert len(queries) >= 12
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        for sql in queries:  # the guide's paths are relative to the repository, whose data/ is TERRITORY_HOME
            conn.execute(sql.replace("data/published/", f"{home}/published/")).fetchall()
