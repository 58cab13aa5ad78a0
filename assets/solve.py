"""Solve: decide which rep owns which account and write the plan to the warehouse schema `solve`."""


import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from assets.resources import RunSettings, Warehouse
from territory.baseline import Accounts, Reps, greedy_nearest_baseline, summarize

ACCOUNTS_QUERY = """
    select account_id, latitude, longitude, segment, tier, workload_hours, potential, owner_rep_id
    from main.dim_accounts order by account_id
"""
REPS_QUERY = """
    select rep_id, rep_name, segment, region, home_latitude, home_longitude, capacity_hours
    from main.dim_reps where is_active order by rep_id
"""


def _engine_inputs(accounts: pd.DataFrame, reps: pd.DataFrame) -> tuple[Accounts, Reps]:
    rep_index = pd.Series(np.arange(len(reps)), index=reps["rep_id"])
    current = accounts["owner_rep_id"].map(rep_index).fillna(-1).astype(np.int64).to_numpy()
    return (
        Accounts(
            account_id=accounts["account_id"].to_numpy(dtype=object),
            latitude=accounts["latitude"].to_numpy(dtype=float, na_value=np.nan),
            longitude=accounts["longitude"].to_numpy(dtype=float, na_value=np.nan),
            segment=accounts["segment"].to_numpy(dtype=object),
            workload_hours=accounts["workload_hours"].to_numpy(dtype=float),
            potential=accounts["potential"].to_numpy(dtype=float, na_value=0.0),
            current_rep=current,
        ),
        Reps(
            rep_id=reps["rep_id"].to_numpy(dtype=object),
            latitude=reps["home_latitude"].to_numpy(dtype=float),
            longitude=reps["home_longitude"].to_numpy(dtype=float),
            segment=reps["segment"].to_numpy(dtype=object),
            capacity_hours=reps["capacity_hours"].to_numpy(dtype=float),
        ),
    )


@asset(
    key=AssetKey(["solve", "baseline_assignment"]),
    group_name="solve",
    deps=[AssetKey("dim_accounts"), AssetKey("dim_reps")],
    kinds={"python", "duckdb"},
)
def baseline_assignment(context: AssetExecutionContext, warehouse: Warehouse, run_settings: RunSettings) -> MaterializeResult:
    """Greedy nearest-rep territory plan: the baseline every optimised plan is measured against."""
    top_tier = next(iter(run_settings.plan().tiers))
    with warehouse.connect(read_only=True) as conn:
        accounts_df = conn.execute(ACCOUNTS_QUERY).df()
        reps_df = conn.execute(REPS_QUERY).df()
    accounts, reps = _engine_inputs(accounts_df, reps_df)
    context.log.info(f"Assigning {len(accounts_df):,} accounts to {len(reps_df):,} active reps")
    plan = greedy_nearest_baseline(accounts, reps)
    summary = summarize(accounts, reps, plan)

    assigned_rep = reps.rep_id[plan.rep]
    assignments = pd.DataFrame(
        {
            "account_id": accounts.account_id,
            "rep_id": assigned_rep,
            "previous_rep_id": accounts_df["owner_rep_id"],
            "changed": accounts_df["owner_rep_id"].ne(pd.Series(assigned_rep)).to_numpy(),
            "locked": False,
            "reason": plan.reason,
            "distance_km": plan.distance_km,
        }
    )
    per_rep = pd.DataFrame(
        {
            "rep_id": reps.rep_id,
            "rep_name": reps_df["rep_name"],
            "segment": reps.segment,
            "region": reps_df["region"],
            "accounts": summary.accounts,
            "top_tier_accounts": np.bincount(
                plan.rep, weights=(accounts_df["tier"] == top_tier).to_numpy(dtype=float), minlength=len(reps.rep_id)
            ).astype(np.int64),
            "potential": summary.potential,
            "workload_hours": summary.workload_hours,
            "capacity_hours": summary.capacity_hours,
            "utilization": summary.utilization,
            "accounts_deviation": summary.accounts_deviation,
            "potential_deviation": summary.potential_deviation,
            "workload_deviation": summary.workload_deviation,
        }
    )
    with warehouse.connect() as conn:
        conn.execute("create schema if not exists solve")
        conn.execute("create or replace table solve.territory_assignments as select * from assignments")
        conn.execute("create or replace table solve.territory_summary as select * from per_rep")

    over_capacity = per_rep[per_rep["utilization"] > 1.0]
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(assignments),
            "moved_share": float(assignments["changed"].mean()) if len(assignments) else 0.0,
            "reps_over_capacity": len(over_capacity),
            "max_utilization": float(np.nanmax(summary.utilization)) if len(per_rep) else 0.0,
            "max_abs_workload_deviation": float(np.nanmax(np.abs(summary.workload_deviation))) if len(per_rep) else 0.0,
            "reasons": MetadataValue.md(assignments["reason"].value_counts().to_markdown()),
        }
    )
