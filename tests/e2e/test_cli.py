"""The territory command as a user runs it: real processes, a temporary TERRITORY_HOME."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from territory.plan import DEFAULT_PLAN_PATH

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
