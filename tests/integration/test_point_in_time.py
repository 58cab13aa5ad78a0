"""Point in time: the same CRM extract, transformed as of an earlier date, describes the CRM of that date."""

import datetime as dt

import duckdb
import pytest
from dagster import AssetSelection, DagsterInstance

from assets.resources import DemoCrmSource
from pipelines.definitions import build_definitions

EXTRACT_AS_OF = "2026-06-30"  # the demo extract's date
EARLIER = dt.date(2025, 12, 31)
TRANSFORM = AssetSelection.groups("ingest", "validate", "transform")


def _transform(home, snapshot_date: str):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TERRITORY_HOME", str(home))
        definitions = build_definitions(
            crm_source=DemoCrmSource(accounts=1_000, reps=12, seed=5, as_of=EXTRACT_AS_OF)
        )
        result = definitions.resolve_job_def("build_territories_job").execute_in_process(
            instance=DagsterInstance.ephemeral(),
            asset_selection=sorted(TRANSFORM.resolve(definitions.resolve_asset_graph())),
            partition_key=snapshot_date,
            raise_on_error=False,
        )
    assert result.success
    return duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    earlier = _transform(tmp_path_factory.mktemp("earlier"), EARLIER.isoformat())
    latest = _transform(tmp_path_factory.mktemp("latest"), EXTRACT_AS_OF)
    yield earlier, latest
    earlier.close()
    latest.close()


def _one(conn, sql):
    return conn.execute(sql).fetchone()


def test_accounts_created_after_the_snapshot_are_excluded(warehouses):
    earlier, latest = warehouses
    cutoff = f"timestamp '{EARLIER + dt.timedelta(days=1)}'"
    expected = _one(earlier, f"select count(*) from raw.accounts where created_at < {cutoff}")[0]
    total = _one(earlier, "select count(*) from raw.accounts")[0]
    assert 0 < expected < total
    assert _one(earlier, "select count(*) from dim_accounts")[0] == expected
    assert _one(earlier, f"select count(*) from dim_accounts where created_at >= {cutoff}")[0] == 0
    assert _one(latest, "select count(*) from dim_accounts")[0] == total
    # contacts follow: none created after the snapshot, and only on accounts that existed
    assert _one(earlier, f"select count(*) from int_contacts__as_of where created_at >= {cutoff}")[0] == 0


def test_deals_closed_after_the_snapshot_were_still_open_then(warehouses):
    earlier, _ = warehouses
    cutoff = f"date '{EARLIER}'"
    later_closed = _one(
        earlier,
        f"""
        select count(*), count(*) filter (where not o.is_closed and not o.is_won and o.stage is null and o.loss_reason is null)
        from int_opportunities__as_of as o
        inner join raw.opportunities as r using (opportunity_id)
        where r.is_closed and r.close_date > {cutoff}
        """,
    )
    assert later_closed[0] > 0 and later_closed[0] == later_closed[1]
    assert _one(earlier, f"select count(*) from int_opportunities__as_of where created_at >= {cutoff} + 1")[0] == 0


def test_activity_and_performance_windows_end_at_the_snapshot(warehouses):
    earlier, latest = warehouses
    cutoff = f"timestamp '{EARLIER + dt.timedelta(days=1)}'"
    window_start = f"timestamp '{EARLIER - dt.timedelta(days=364)}'"
    expected = _one(
        earlier, f"select count(*) from raw.activities where occurred_at < {cutoff} and occurred_at >= {window_start}"
    )[0]
    assert _one(earlier, "select sum(actual_touches) from int_accounts__engagement")[0] == expected
    assert _one(earlier, f"select count(*) from int_activities__as_of where occurred_at >= {cutoff}")[0] == 0
    # the two dates give different answers for the same rep
    earlier_reps = dict(earlier.execute("select rep_id, activities from dim_reps").fetchall())
    latest_reps = dict(latest.execute("select rep_id, activities from dim_reps").fetchall())
    assert earlier_reps != {rep: latest_reps[rep] for rep in earlier_reps}
