"""Quarantine and suites: each row rule sets aside exactly the rows that break it, with its name."""

import duckdb
import pandas as pd
import pytest

from territory.quality import Suite, describe_rule, load_suite, row_count_bounds, split_quarantine, validate_frame


def _rule(kind, **kwargs):
    return {"type": kind, "kwargs": kwargs, "severity": "warning"}


SUITE = Suite(
    name="test_accounts",
    expectations=[
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": {"$PARAMETER": "min_rows"}, "max_value": {"$PARAMETER": "max_rows"}}, "severity": "critical"},
        _rule("expect_column_values_to_not_be_null", column="id"),
        _rule("expect_column_values_to_be_unique", column="id"),
        _rule("expect_column_values_to_be_between", column="lat", min_value=-90, max_value=90),
        _rule("expect_column_values_to_be_between", column="capacity", min_value=0, strict_min=True),
        _rule("expect_column_values_to_be_in_set", column="kind", value_set=["call", "email"]),
        _rule("expect_column_values_to_be_in_set", column="rep_id", value_set={"$PARAMETER": "reps__rep_id"}),
    ],
    min_rows=1,
    max_row_count_change=0.5,
    max_quarantined_share=0.1,
)


@pytest.fixture()
def conn():
    conn = duckdb.connect()
    conn.execute("create schema raw; create schema validated")
    conn.execute("create table validated.reps as select * from (values ('r1'), ('r2')) as t(rep_id)")
    conn.execute(
        """
        create table raw.accounts as select * from (values
            ('a1', 10.0, 5.0, 'call', 'r1'),    -- clean
            ('a2', 200.0, 5.0, 'email', 'r2'),  -- latitude out of range
            ('a3', 10.0, 0.0, 'fax', 'r9'),     -- capacity not > 0, unknown kind, unknown rep
            ('a4', null, 5.0, null, null),      -- nulls pass every rule but not-null
            ('a5', 10.0, 5.0, 'call', 'r1'),    -- duplicate id: both rows go
            ('a5', 11.0, 5.0, 'call', 'r1'),
            (null, 10.0, 5.0, 'call', 'r1')     -- no id
        ) as t(id, lat, capacity, kind, rep_id)
        """
    )
    return conn


def test_each_rule_quarantines_exactly_the_rows_that_break_it(conn):
    report = split_quarantine(conn, "accounts", SUITE, run_id="run-1")
    clean = sorted(r[0] for r in conn.execute("select id from validated.accounts").fetchall())
    assert clean == ["a1", "a4"]
    assert (report.rows, report.quarantined) == (7, 5)
    broken = {b.rule: (b.rows, b.samples) for b in report.broken}
    assert broken == {
        "id is not null": (1, ["null"]),
        "id is unique": (2, ["a5"]),
        "lat >= -90 and <= 90": (1, ["200.0"]),
        "capacity > 0": (1, ["0.0"]),
        "kind in (call, email)": (1, ["fax"]),
        "rep_id refers to an existing reps.rep_id": (1, ["r9"]),
    }
    rows = dict(conn.execute("select id, quarantine_rules from quarantine.accounts where id = 'a3'").fetchall())
    assert rows["a3"] == "capacity > 0; kind in (call, email); rep_id refers to an existing reps.rep_id"
    assert conn.execute("select distinct run_id from quarantine.accounts").fetchall() == [("run-1",)]


def test_quarantine_keeps_earlier_runs(conn):
    split_quarantine(conn, "accounts", SUITE, run_id="run-1")
    split_quarantine(conn, "accounts", SUITE, run_id="run-2")
    assert conn.execute("select run_id, count(*) from quarantine.accounts group by 1 order by 1").fetchall() == [
        ("run-1", 5),
        ("run-2", 5),
    ]


def test_row_count_bounds_follow_the_last_validated_run():
    assert row_count_bounds(SUITE, None) == {"min_rows": 1, "max_rows": None}
    assert row_count_bounds(SUITE, 1000) == {"min_rows": 500, "max_rows": 1501}


def test_rules_read_as_sentences():
    assert describe_rule(_rule("expect_column_values_to_be_between", column="x", min_value=1, max_value=5)) == "x >= 1 and <= 5"
    assert describe_rule(_rule("expect_column_values_to_be_in_set", column="tier", value_set={"$PARAMETER": "plan_tiers"})) == "tier in plan_tiers"


def test_great_expectations_reports_counts_and_samples_and_severity():
    frame = pd.DataFrame({"id": ["a", "b", "b", None], "lat": [1.0, 200.0, 2.0, 3.0], "capacity": [1.0] * 4,
                          "kind": ["call"] * 4, "rep_id": ["r1"] * 4})
    report = validate_frame(frame, SUITE, {"min_rows": 10, "max_rows": None, "reps__rep_id": ["r1"]})
    assert [o.rule for o in report.critical_failures] == ["row count within bounds"]
    warnings = {o.rule: (o.unexpected_count, o.samples) for o in report.warnings}
    assert warnings["lat >= -90 and <= 90"] == (1, ["200.0"])
    assert warnings["id is unique"][0] == 2 and warnings["id is not null"][0] == 1


def test_every_stored_suite_loads_and_names_its_rules():
    for name in ("accounts", "contacts", "opportunities", "activities", "reps", "quotas", "assessments"):
        suite = load_suite(f"raw_{name}")
        assert suite.row_rules and all(describe_rule(rule) for rule in suite.expectations)
    for name in ("dim_accounts", "dim_reps", "territory_assignments"):
        assert load_suite(f"output_{name}").row_rules == []  # outputs are never quarantined: every rule is critical


def test_a_broken_output_fails_critically():
    frame = pd.DataFrame(
        {"account_id": ["a", "a"], "segment": ["smb", "smb"], "tier": ["A", "Z"], "icp_fit": [0.5, 1.5],
         "potential": [1.0, 1.0], "win_probability": [0.5, 0.5], "cost_to_serve": [1.0, 1.0], "net_value": [0.0, 0.0],
         "quality_score": [50.0, 50.0], "workload_hours": [1.0, 1.0], "owner_rep_id": ["r1", None]}
    )
    suite = load_suite("output_dim_accounts")
    report = validate_frame(frame, suite, {"min_rows": 1, "max_rows": None, "plan_tiers": ["A", "B"]})
    assert {o.rule for o in report.critical_failures} == {"account_id is unique", "tier in plan_tiers", "icp_fit >= 0 and <= 1"}
    assert report.warnings == []
