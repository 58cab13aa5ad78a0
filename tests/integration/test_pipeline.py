"""Materialise the whole asset graph into a temporary TERRITORY_HOME and read what it published."""

import json

import duckdb
import pytest
from dagster import DagsterInstance

from assets.resources import DemoCrmSource
from pipelines.definitions import build_definitions
from territory.publication import PUBLISHED_TABLES

SNAPSHOT = "2026-06-30"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TERRITORY_HOME", str(home))
        definitions = build_definitions(
            crm_source=DemoCrmSource(accounts=1_200, reps=15, seed=4, as_of=SNAPSHOT)
        )
        result = definitions.resolve_job_def("build_territories_job").execute_in_process(
            instance=DagsterInstance.ephemeral(), partition_key=SNAPSHOT, raise_on_error=False
        )
    assert result.success
    return home, result


def test_every_account_gets_exactly_one_owner(published):
    home, _ = published
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        rows, distinct, unowned = conn.execute(
            "select count(*), count(distinct account_id), count(*) filter (where rep_id is null) from territory_assignments"
        ).fetchone()
        snapshot_dates = conn.execute("select distinct snapshot_date::varchar from territory_assignments").fetchall()
    assert rows == distinct == 1_200 and unowned == 0
    assert snapshot_dates == [(SNAPSHOT,)]


def test_the_summary_has_one_row_per_active_rep_and_adds_up(published):
    home, _ = published
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        active = {r[0] for r in conn.execute("select rep_id from raw.reps where is_active").fetchall()}
        total_workload, tier_a = conn.execute("select sum(workload_hours), count(*) filter (where tier = 'A') from dim_accounts").fetchone()
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        summary = conn.execute("select rep_id, accounts, workload_hours, top_tier_accounts from territory_summary").fetchall()
        owners = {r[0] for r in conn.execute("select distinct rep_id from territory_assignments").fetchall()}
    assert {r[0] for r in summary} == active
    assert owners <= active
    assert sum(r[1] for r in summary) == 1_200
    assert sum(r[2] for r in summary) == pytest.approx(total_workload)
    assert sum(r[3] for r in summary) == tier_a > 0


def test_account_segments_describe_every_account_with_its_scores(published):
    home, _ = published
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        rows, distinct, tiers, scored = conn.execute(
            """
            select count(*), count(distinct account_id), count(distinct tier),
                count(*) filter (where icp_fit between 0 and 1 and quality_score between 0 and 100
                    and abs(potential - potential_firmographic - potential_pipeline - potential_expansion) < 1e-6
                    and abs(net_value - (potential * win_probability - cost_to_serve)) < 1e-6
                    and workload_hours > 0)
            from account_segments
            """
        ).fetchone()
        needs = conn.execute("select count(*), count(*) filter (where is_winning_product) from segment_needs").fetchone()
        conflict_types = {r[0] for r in conn.execute("select distinct conflict_type from territory_conflicts").fetchall()}
    assert rows == distinct == scored == 1_200
    assert tiers == 4
    assert needs[0] > 0 and needs[1] > 0
    # the demo CRM is dirty on purpose: each kind of conflict shows up
    assert {"unowned_account", "inactive_owner", "contact_owner_mismatch", "family_split", "duplicate_domain"} <= conflict_types


def test_the_warehouse_holds_the_marts(published):
    home, _ = published
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        tables = {r[0] for r in conn.execute("select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
        markets = conn.execute("select count(*), sum(accounts), count(*) filter (where reps_needed >= 1) from dim_markets").fetchone()
    assert {"dim_accounts", "dim_reps", "dim_markets", "fct_segment_needs", "fct_territory_conflicts"} <= tables
    assert markets[1] == 1_200 and markets[2] == markets[0]


def test_parquet_history_and_report_are_written(published):
    home, _ = published
    for table in PUBLISHED_TABLES:
        assert (home / "published" / table / f"snapshot_date={SNAPSHOT}" / "part-0.parquet").is_file()
    report = (home / "reports" / SNAPSHOT / "index.html").read_text()
    assert "Territory plan for 2026-06-30" in report and "<table>" in report


def test_dbt_checks_ran_and_passed(published):
    _, result = published
    evaluations = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert len(evaluations) >= 20
    assert all(e.event_specific_data.passed for e in evaluations)


def test_every_model_and_column_is_documented(published):
    home, _ = published
    manifest = json.loads(next((home / "dbt" / "runs").glob("*/manifest.json")).read_text())
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        for model in models:
            built = [r[0] for r in conn.execute(f"describe main.{model['name']}").fetchall()]
            documented = {name: column["description"] for name, column in model["columns"].items()}
            assert model["description"], f"{model['name']} has no description"
            assert list(documented) == built, f"{model['name']}: documented columns differ from the built ones"
            assert all(documented.values()), f"{model['name']} has a column without a description"


def test_every_published_table_is_in_the_analytics_database_with_rows(published):
    home, _ = published
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        rows = {table: conn.execute(f"select count(*) from {table}").fetchall()[0][0] for table in PUBLISHED_TABLES}
        history = conn.execute(
            "select count(*), count(distinct account_id) from territory_history where valid_to is null").fetchall()[0]
        touches = conn.execute("""
            select min(touch_date), max(touch_date), count(*) filter (where gap_days < 3),
                count(*) filter (where isodow(touch_date) > 5)
            from contact_plan""").fetchall()[0]
        goals = conn.execute("select goal, status from goal_progress where level = 'company' order by goal").fetchall()
        handoffs = conn.execute("select count(*) filter (where activities_90d is not null) = count(*) from territory_moves").fetchall()
    assert all(rows[table] > 0 for table in PUBLISHED_TABLES if table != "territory_moves"), rows
    assert history == (1_200, 1_200)  # the first snapshot: one open span per account
    first, last, too_close, weekend = touches
    assert str(first) >= "2026-07-06" and str(last) < "2026-10-05"  # 13 weeks from the Monday after 30 June
    assert too_close == 0 and weekend == 0  # no two touches of an account within the tightest min gap (3 days)
    assert handoffs == [(True,)]
    # the plan's goals start on 1 July, the day after this snapshot
    assert goals == [(name, "not_started") for name in ("fy2027_enterprise_growth", "fy2027_new_logos", "fy2027_revenue")]


def test_the_publication_shows_the_busiest_reps_and_a_picture_of_every_load_in_the_dagster_ui(published):
    import base64
    import re

    _, result = published
    [publication] = [m for m in result.asset_materializations_for_node("publish__territory_publication")]
    metadata = publication.metadata
    busiest = metadata["busiest_reps"].value.splitlines()
    assert busiest[0].startswith("| rep_id") and len(busiest) == 2 + 10  # header, rule, ten reps
    picture = re.fullmatch(r"!\[[^\]]+\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", metadata["rep_loads"].value)
    assert picture is not None
    assert base64.b64decode(picture.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
