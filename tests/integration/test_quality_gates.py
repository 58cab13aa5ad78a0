"""Data-quality gates: bad rows are quarantined with their rule, too many halt the run, drift blocks it."""

import datetime as dt

import duckdb
import pyarrow as pa
import pytest
from dagster import DagsterInstance

from assets.resources import FileCrmSource
from pipelines.definitions import build_definitions
from territory.demo_data import DemoSpec, generate_demo_crm, write_tables

SNAPSHOT = "2026-06-30"


def _with_values(table: pa.Table, column: str, rows: list[int], value) -> pa.Table:
    values = table[column].to_pylist()
    for row in rows:
        values[row] = value
    return table.set_column(table.schema.get_field_index(column), column, pa.array(values, table.schema.field(column).type))


def _run(home, folder, instance):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TERRITORY_HOME", str(home))
        definitions = build_definitions(crm_source=FileCrmSource(path=str(folder)))
        return definitions.resolve_job_def("build_territories_job").execute_in_process(
            instance=instance, partition_key=SNAPSHOT, raise_on_error=False
        )


def _plain(table: pa.Table) -> pa.Table:
    """`table` with dictionary-encoded columns decoded, so that single values can be replaced."""
    return pa.table({c: table[c].cast(table[c].type.value_type) if pa.types.is_dictionary(table[c].type) else table[c]
                     for c in table.column_names})


@pytest.fixture(scope="module")
def crm():
    tables = generate_demo_crm(DemoSpec(accounts=800, reps=8, seed=9, as_of=dt.date.fromisoformat(SNAPSHOT)))
    return {name: _plain(table) for name, table in tables.items()}


@pytest.fixture(scope="module")
def dirty_run(crm, tmp_path_factory):
    """A CRM with a few bad rows: they are set aside and the plan is published without them."""
    accounts = _with_values(crm["accounts"], "latitude", [0, 1, 2], 200.0)
    accounts = _with_values(accounts, "annual_revenue", [3], -5.0)
    accounts = pa.concat_tables([accounts, accounts.slice(4, 1)])  # a duplicate id
    activities = _with_values(crm["activities"], "activity_type", [0, 1], "carrier_pigeon")
    folder = tmp_path_factory.mktemp("dirty")
    write_tables({**crm, "accounts": accounts, "activities": activities}, folder)
    home = tmp_path_factory.mktemp("home")
    instance = DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("assets.validate.GX_MAX_ROWS", 5_000)  # activities are validated on a sample
        result = _run(home, folder, instance)
    assert result.success
    return home, result, instance, crm


def test_bad_rows_are_quarantined_with_their_rule_and_run(dirty_run):
    home, result, _, crm = dirty_run
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        rules = dict(conn.execute("select quarantine_rule, count(*) from quarantine.accounts group by 1").fetchall())
        runs = {r[0] for r in conn.execute("select distinct run_id from quarantine.accounts").fetchall()}
        activity_rules = dict(conn.execute("select quarantine_rule, count(*) from quarantine.activities group by 1").fetchall())
        unknown_types = conn.execute(
            "select count(*) from quarantine.activities where quarantine_rules like '%activity_type in (call, %'"
        ).fetchone()[0]
        validated = conn.execute("select count(*) from validated.accounts").fetchone()[0]
    assert rules == {"latitude >= -90 and <= 90": 3, "annual_revenue >= 0": 1, "account_id is unique": 2}
    assert runs == {result.run_id}
    assert unknown_types == 2  # each row lists every rule it broke; the first is in quarantine_rule
    # activities of the quarantined accounts go too: they refer to no valid account
    assert activity_rules["account_id refers to an existing accounts.account_id"] > 0
    assert validated == crm["accounts"].num_rows - 5


def test_the_plan_covers_only_clean_accounts_and_the_report_says_what_was_set_aside(dirty_run):
    home, _, _, crm = dirty_run
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        planned = conn.execute("select count(*) from territory_assignments").fetchone()[0]
    assert planned == crm["accounts"].num_rows - 5
    report = (home / "reports" / SNAPSHOT / "index.html").read_text()
    assert "accounts: 6 row(s) set aside" in report and "Data Docs" in report
    assert (home / "quality" / "index.html").is_file()


def test_row_rule_failures_are_warnings_listed_with_counts_and_samples(dirty_run):
    _, result, _, _ = dirty_run
    checks = {
        e.event_specific_data.asset_key.path[-1]: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.asset_key.path[0] == "raw"
    }
    assert set(checks) == {"accounts", "contacts", "opportunities", "activities", "reps", "quotas", "assessments"}
    accounts = checks["accounts"]
    assert not accounts.passed and accounts.severity.value == "WARN"
    listing = accounts.metadata["failing_expectations"].value
    assert "latitude >= -90 and <= 90" in listing and "200.0" in listing
    assert checks["reps"].passed
    activities = checks["activities"].metadata
    assert activities["validated_rows"].value == 5_000 < activities["rows"].value


def test_the_key_outputs_meet_their_suites(dirty_run):
    _, result, _, _ = dirty_run
    outputs = {
        e.event_specific_data.asset_key.to_user_string(): e.event_specific_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.check_name == "satisfies_expectation_suite"
        and e.event_specific_data.asset_key.path[0] != "raw"
    }
    assert outputs == {"dim_accounts": True, "dim_reps": True, "solve/territory_plan": True}


def test_too_many_bad_rows_halt_the_run_and_leave_the_publication(dirty_run, crm, tmp_path):
    home, _, instance, _ = dirty_run
    before = (home / "analytics.duckdb").read_bytes()
    accounts = _with_values(crm["accounts"], "employees", list(range(0, 800, 10)), -1)  # 10% of accounts
    write_tables({**crm, "accounts": accounts}, tmp_path)
    result = _run(home, tmp_path, instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.user_failure_data.description
    assert "accounts: 80 of 800 rows (10.0%) break a rule, more than the 5.0% allowed" in message
    assert "employees >= 0: 80" in message
    assert (home / "analytics.duckdb").read_bytes() == before


def test_a_row_count_drifting_from_the_previous_run_blocks_everything_downstream(dirty_run, crm, tmp_path):
    home, _, instance, _ = dirty_run
    before = (home / "analytics.duckdb").read_bytes()
    write_tables({**crm, "accounts": crm["accounts"].slice(0, 300)}, tmp_path)  # 300 accounts where 800 were
    result = _run(home, tmp_path, instance)
    assert not result.success
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    accounts = next(c for c in checks if c.asset_key.path == ["raw", "accounts"])
    assert not accounts.passed and accounts.severity.value == "ERROR"
    assert "row count within bounds" in accounts.metadata["failing_expectations"].value
    executed = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "validated_crm_tables" not in executed and "publish__territory_publication" not in executed
    assert (home / "analytics.duckdb").read_bytes() == before
    # the drift is measured from the last run that passed: running the same extract again is blocked again
    assert not _run(home, tmp_path, instance).success
