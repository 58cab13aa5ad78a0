"""The demo generator: deterministic, referentially sound, and dirty in the ways real CRMs are."""

import datetime as dt

import duckdb
import numpy as np
import pyarrow.compute as pc
import pytest

from territory.contract import ACTIVITY_TYPES, RAW_TABLES
from territory.demo_data import DemoSpec, generate_demo_crm, write_tables
from territory.geo import METROS
from territory.raw_loader import find_source_files, load_raw_tables


@pytest.fixture(scope="module")
def db(small_crm):
    conn = duckdb.connect()
    for name, table in small_crm.items():
        conn.register(name, table)
    yield conn
    conn.close()


def scalar(db, sql):
    return db.execute(sql).fetchone()[0]


def test_same_seed_gives_identical_tables_and_another_seed_does_not(small_spec, small_crm):
    again = generate_demo_crm(small_spec)
    assert all(again[name].equals(small_crm[name]) for name in small_crm)
    other = generate_demo_crm(DemoSpec(small_spec.accounts, small_spec.reps, small_spec.seed + 1, small_spec.as_of))
    assert not other["accounts"].equals(small_crm["accounts"])


def test_every_table_of_the_contract_in_contract_order(small_crm):
    assert list(small_crm) == [t.name for t in RAW_TABLES]
    for table in RAW_TABLES:
        assert small_crm[table.name].column_names == list(table.columns)
        assert small_crm[table.name].num_rows > 0


def test_keys_are_unique_and_never_null(db):
    for table, key in [("accounts", "account_id"), ("contacts", "contact_id"), ("opportunities", "opportunity_id"),
                       ("activities", "activity_id"), ("reps", "rep_id")]:
        assert scalar(db, f"select count(*) - count(distinct {key}) from {table}") == 0
        assert scalar(db, f"select count(*) from {table} where {key} is null") == 0


@pytest.mark.parametrize(
    "child, column, parent, key",
    [
        ("contacts", "account_id", "accounts", "account_id"),
        ("opportunities", "account_id", "accounts", "account_id"),
        ("activities", "account_id", "accounts", "account_id"),
        ("accounts", "owner_rep_id", "reps", "rep_id"),
        ("accounts", "parent_account_id", "accounts", "account_id"),
        ("contacts", "owner_rep_id", "reps", "rep_id"),
        ("opportunities", "owner_rep_id", "reps", "rep_id"),
        ("activities", "rep_id", "reps", "rep_id"),
        ("reps", "manager_id", "reps", "rep_id"),
        ("quotas", "rep_id", "reps", "rep_id"),
        ("assessments", "rep_id", "reps", "rep_id"),
    ],
)
def test_every_reference_points_at_an_existing_row(db, child, column, parent, key):
    orphans = scalar(db, f"select count(*) from {child} where {column} is not null and {column} not in (select {key} from {parent})")
    assert orphans == 0


def test_account_families_are_one_level_deep_and_share_the_industry(db):
    assert scalar(db, "select count(*) from accounts where parent_account_id is not null") > 0
    grandchildren = """select count(*) from accounts c join accounts p on c.parent_account_id = p.account_id
                       where p.parent_account_id is not null"""
    assert scalar(db, grandchildren) == 0
    mismatched = """select count(*) from accounts c join accounts p on c.parent_account_id = p.account_id
                    where c.industry <> p.industry"""
    assert scalar(db, mismatched) == 0


def test_the_crm_is_dirty_the_way_real_ones_are(db):
    assert scalar(db, "select count(*) from accounts where owner_rep_id is null") > 0
    owned_by_inactive = "select count(*) from accounts a join reps r on a.owner_rep_id = r.rep_id where not r.is_active"
    assert scalar(db, owned_by_inactive) > 0
    assert scalar(db, "select count(*) from (select domain from accounts group by domain having count(*) > 1)") > 0
    for child, owner in [("contacts", "owner_rep_id"), ("opportunities", "owner_rep_id")]:
        other_owner = f"select count(*) from {child} c join accounts a using (account_id) where c.{owner} <> a.owner_rep_id"
        assert scalar(db, other_owner) > 0


def test_firmographics_are_heavy_tailed_correlated_and_spread_over_real_metros(small_crm, db):
    employees = small_crm["accounts"]["employees"].to_numpy()
    revenue = small_crm["accounts"]["annual_revenue"].to_numpy()
    assert employees.min() >= 1 and revenue.min() > 0
    assert employees.mean() > 3 * np.median(employees)  # heavy tail
    assert np.corrcoef(np.log(employees), np.log(revenue))[0, 1] > 0.7
    assert scalar(db, "select count(distinct city) from accounts") >= 50
    assert len(METROS) >= 50 and len({m.country for m in METROS}) >= 10
    assert scalar(db, "select count(*) from accounts where latitude not between -90 and 90 or longitude not between -180 and 180") == 0
    industries = db.execute("select industry, count(*) n from accounts group by 1 order by n desc").fetchall()
    assert len(industries) >= 12 and industries[0][1] < 0.3 * len(employees)


def test_activities_cover_all_five_types_within_the_last_24_months(small_spec, db):
    types = {row[0] for row in db.execute("select distinct activity_type from activities").fetchall()}
    assert types == set(ACTIVITY_TYPES)
    first, last = db.execute("select min(occurred_at), max(occurred_at) from activities").fetchone()
    as_of = dt.datetime.combine(small_spec.as_of, dt.time())
    assert last < as_of
    assert first >= as_of - dt.timedelta(days=731)
    assert (as_of - first).days > 365  # history reaches past twelve months


def test_win_rates_reward_industry_experience(db):
    rates = db.execute(
        """select list_contains(string_split(r.industries, ';'), a.industry) as experienced, avg(o.is_won::int)
           from opportunities o join accounts a using (account_id) join reps r on o.owner_rep_id = r.rep_id
           where o.is_closed group by 1"""
    ).fetchall()
    rate = dict(rates)
    assert rate[True] > rate[False] + 0.03
    assert 0.1 < scalar(db, "select avg(is_won::int) from opportunities where is_closed") < 0.5
    assert scalar(db, "select count(*) from opportunities where is_won and not is_closed") == 0
    assert scalar(db, "select count(*) from opportunities where stage = 'closed_lost' and loss_reason is null") == 0


def test_reps_quotas_and_pace_assessments_are_plausible(db):
    assert scalar(db, "select count(distinct segment) from reps") == 3
    assert scalar(db, "select min(capacity_hours) from reps") > 0
    assert scalar(db, "select count(*) from reps where manager_id is not null and manager_id not in (select rep_id from reps where role = 'sales_manager')") == 0
    for score in ("passion", "awareness", "curiosity", "energy"):
        assert scalar(db, f"select count(*) from assessments where {score} not between 1 and 5") == 0
    assert scalar(db, "select count(*) from quotas where period_end <= period_start or quota_amount <= 0") == 0
    assert scalar(db, "select count(distinct period_start) from quotas") == 6


def test_csv_output_loads_through_the_contract_like_parquet(tmp_path):
    tables = generate_demo_crm(DemoSpec(accounts=200, reps=5, seed=3, as_of=dt.date(2026, 1, 15)))
    write_tables(tables, tmp_path, "csv")
    conn = duckdb.connect()
    loaded = {t.name: t.rows for t in load_raw_tables(conn, find_source_files(tmp_path))}
    assert loaded == {name: table.num_rows for name, table in tables.items()}
    reloaded = conn.sql("select * from raw.accounts order by account_id").to_arrow_table()
    assert pc.all(pc.equal(reloaded["employees"], tables["accounts"]["employees"])).as_py()


def test_spec_rejects_sizes_too_small_to_make_sense():
    with pytest.raises(ValueError, match="reps must be at least 3"):
        DemoSpec(accounts=100, reps=2)


def test_rate_scales_draw_more_contacts_and_activities_and_leave_the_rest_alone(small_spec, small_crm):
    import dataclasses

    from territory.demo_data import ACTIVITIES_PER_ACCOUNT, CONTACTS_PER_ACCOUNT, rate_scale_for

    unscaled = generate_demo_crm(dataclasses.replace(small_spec, contacts_scale=1.0, activities_scale=1.0))
    assert all(unscaled[name].equals(small_crm[name]) for name in small_crm)  # 1.0, the default, changes nothing
    scales = {"contacts_scale": rate_scale_for(5, CONTACTS_PER_ACCOUNT),
              "activities_scale": rate_scale_for(20, ACTIVITIES_PER_ACCOUNT)}
    scaled = generate_demo_crm(dataclasses.replace(small_spec, **scales))
    assert scaled["contacts"].num_rows > 1.05 * small_crm["contacts"].num_rows
    assert scaled["activities"].num_rows > 1.07 * small_crm["activities"].num_rows
    assert all(scaled[name].equals(small_crm[name]) for name in ("reps", "accounts"))  # drawn before them
    with pytest.raises(ValueError, match="contacts_scale must be positive"):
        DemoSpec(accounts=100, reps=3, contacts_scale=0)
