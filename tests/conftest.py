"""Shared test set-up: quiet tools, and small demo data made once per session."""

import datetime as dt
import os

import pyarrow as pa
import pytest

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from territory.demo_data import DemoSpec, generate_demo_crm  # noqa: E402

SMALL_AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="session")
def small_spec() -> DemoSpec:
    return DemoSpec(accounts=3_000, reps=24, seed=11, as_of=SMALL_AS_OF)


@pytest.fixture(scope="session")
def small_crm(small_spec) -> dict[str, pa.Table]:
    return generate_demo_crm(small_spec)


def synthetic_report_tables(accounts: int = 240, reps: int = 9, seed: int = 0, moves: bool = True,
                            capacity_gap: bool = True):
    """Published tables for the plan report, made up but shaped as published: `accounts` around the reps' bases.

    Without `moves` every account keeps its owner; without `capacity_gap` every market is covered.
    """
    import numpy as np
    import pandas as pd

    from territory.report import ReportTables

    rng = np.random.default_rng(seed)
    rep_ids = np.array([f"R{j:05d}" for j in range(reps)])
    segment = np.array(["enterprise", "mid_market", "smb"])[np.arange(reps) % 3]
    home_lat, home_lon = rng.uniform(25, 55, reps), rng.uniform(-120, 20, reps)
    account_ids = np.array([f"A{i:08d}" for i in range(accounts)])
    owner = rng.integers(0, reps, accounts)
    previous = rep_ids[owner].astype(object)
    if moves:
        moved = rng.random(accounts) < 0.15
        previous[moved] = rep_ids[rng.integers(0, reps, moved.sum())]
        previous[rng.random(accounts) < 0.05] = None
    changed = previous != rep_ids[owner]
    reason = np.where(pd.isna(previous), "newly_owned", np.where(
        changed, rng.choice(["moved_for_balance", "moved_to_a_better_fit", "previous_owner_not_eligible"], accounts),
        "kept_current_owner"))
    potential = rng.lognormal(10, 1.2, accounts)
    workload = rng.uniform(5, 40, accounts)
    assignments = pd.DataFrame({
        "account_id": account_ids, "rep_id": rep_ids[owner], "previous_rep_id": previous, "changed": changed,
        "locked": False, "reason": reason, "cost_travel": 0.0, "cost_fit": 1.0, "cost_disruption": 0.0,
    })
    places = pd.DataFrame({
        "account_id": account_ids, "account_name": [f"Company {i} & <Sons>" for i in range(accounts)],
        "latitude": home_lat[owner] + rng.normal(0, 1.0, accounts),
        "longitude": home_lon[owner] + rng.normal(0, 1.5, accounts),
    })
    totals = {name: np.bincount(owner, weights=values, minlength=reps) for name, values in
              (("potential", potential), ("workload_hours", workload), ("accounts", np.ones(accounts)))}
    capacity = np.full(reps, 1.05 * totals["workload_hours"].max())
    capacity[0] = 0.9 * totals["workload_hours"][0]  # one rep over capacity
    summary = pd.DataFrame({
        "rep_id": rep_ids, "rep_name": [f"Rep {j}" for j in range(reps)], "segment": segment, "region": "us_east",
        "pool": [f"segment={s}" for s in segment], "accounts": totals["accounts"].astype(int), "top_tier_accounts": 1,
        "potential": totals["potential"], "workload_hours": totals["workload_hours"], "capacity_hours": capacity,
        "utilization": totals["workload_hours"] / capacity,
    })
    for name, total in totals.items():
        fair = np.full(reps, total.mean())
        summary[f"fair_{name}"] = fair
        summary[f"{name.removesuffix('_hours')}_deviation"] = total / fair - 1
        summary[f"price_{name}"] = 0.0
    summary["home_latitude"], summary["home_longitude"] = home_lat, home_lon
    handoff = assignments[assignments["changed"] & assignments["previous_rep_id"].notna()]
    moves_frame = pd.DataFrame({
        "account_id": handoff["account_id"], "from_rep_id": handoff["previous_rep_id"], "to_rep_id": handoff["rep_id"],
        "reason": handoff["reason"], "cost_with_previous_rep": 1.0, "cost_with_new_rep": 2.0,
        "account_name": places.loc[handoff.index, "account_name"], "tier": "A", "funnel_stage": "customer",
        "potential": potential[handoff.index], "contacts": 3, "open_opportunities": 1, "open_pipeline_amount": 48_000.0,
        "days_since_last_activity": 12, "activities_90d": 4, "last_activity_at": pd.Timestamp("2026-06-18 09:30"),
        "last_activity_type": "call", "last_activity_rep_id": handoff["previous_rep_id"],
        "open_opportunities_summary": "negotiation 48,000 (analytics, closes 2026-12-01)",
        "open_opportunity_stages": "negotiation", "key_contacts": "VP of Sales (Sales, vp)",
        "last_won_at": pd.NaT, "last_lost_reason": None,
    })
    market_ids = [f"{region} | {group} | {band}" for region in ("us_east", "dach")
                  for group in ("tech", "health", "retail") for band in ("1-49", "5000+")]
    markets = pd.DataFrame({
        "market_id": market_ids, "accounts": rng.integers(1, 400, len(market_ids)),
        "total_potential": rng.lognormal(14, 1.5, len(market_ids)), "penetration": rng.uniform(0, 0.6, len(market_ids)),
        "intensity": rng.choice(["high", "medium", "low"], len(market_ids)),
    })
    required = rng.uniform(100, 3000, len(market_ids))
    available = required * rng.uniform(0.7 if capacity_gap else 1.05, 1.6, len(market_ids))
    missing = np.maximum(required - available, 0)
    gap = pd.DataFrame({
        "market_id": market_ids, "intensity": markets["intensity"], "accounts": markets["accounts"], "reps_serving": 2,
        "required_hours": required, "available_hours": available, "utilization": required / available,
        "missing_hours": missing,
        "recommendation": np.where(missing > 0, "hire 1 senior reps (900 h uncovered)", "covered"),
    })
    solver_runs = pd.DataFrame([{
        "run_id": "run-1", "status": "optimal", "objective": 100.0, "lower_bound": 99.9, "gap": 0.001, "seconds": 4.2,
        "accounts": accounts, "reps": reps, "moved_share": changed.mean(), "moved_value_share": 0.05,
        "max_deviation_workload_hours": 0.05, "max_deviation_potential": 0.19, "max_deviation_accounts": 0.15,
        "diagnosis": None,
    }])
    conflict_types = {"unowned_account": "high", "inactive_owner": "high", "family_split": "medium",
                      "contact_owner_mismatch": "low"}
    kinds = rng.choice(list(conflict_types), accounts // 4)
    conflicts = pd.DataFrame({"conflict_type": kinds, "severity": [conflict_types[k] for k in kinds],
                              "account_id": account_ids[: len(kinds)]})
    goals = []
    for goal, metric in (("fy_revenue", "revenue"), ("fy_new_logos", "new_logos")):
        goals.append({"goal": goal, "metric": metric, "level": "company", "rep_id": None, "quota": 1e6,
                      "expected_to_date": 4e5, "actual_to_date": 3.5e5, "attainment": 0.35, "pace": 0.875,
                      "next_milestone": dt.date(2026, 12, 31), "status": "behind"})
        goals += [{"goal": goal, "metric": metric, "level": "rep", "rep_id": rep, "quota": 1e6 / reps, "status": status}
                  for rep, status in zip(rep_ids, rng.choice(["reached", "on_track", "at_risk"], reps))]
    weeks = pd.date_range("2026-07-06", periods=13, freq="7D").date
    hours = rng.uniform(10, 40, (reps, len(weeks)))
    weekly = pd.DataFrame({
        "rep_id": np.repeat(rep_ids, len(weeks)), "week_start": np.tile(weeks, reps), "touches": 20,
        "hours": hours.ravel(), "capacity_hours": 35.0, "over_capacity": hours.ravel() > 35.0,
    })
    return ReportTables(
        territory_assignments=assignments, territory_summary=summary,
        territory_moves=moves_frame.reset_index(drop=True),
        account_segments=places, capacity_gap=gap, solver_runs=solver_runs, territory_conflicts=conflicts,
        markets=markets, goal_progress=pd.DataFrame(goals), contact_plan_weeks=weekly,
    )


@pytest.fixture
def report_tables():
    """Builds made-up published tables for the plan report: `report_tables(accounts=..., reps=..., moves=False)`."""
    return synthetic_report_tables
