"""Solve: decide which rep owns which account and write the plan to the warehouse schema `solve`."""

import numpy as np
from dagster import AssetExecutionContext, AssetKey, Failure, MaterializeResult, MetadataValue

from assets.owners import SALES_OPERATIONS
from assets.partitions import snapshot_asset
from assets.resources import RunSettings, Warehouse
from territory.engine.bands import bands
from territory.engine.costs import CostModel
from territory.engine.solve import progress_to, solve
from territory.planning import ACCOUNT_COLUMNS, REP_COLUMNS, instance_from_marts, plan_tables

ACCOUNTS_QUERY = f"select {', '.join(ACCOUNT_COLUMNS)} from main.dim_accounts order by account_id"
REPS_QUERY = f"select {', '.join(REP_COLUMNS)} from main.dim_reps where is_active order by rep_id"
HANDOFF_JOIN = """
    create or replace table solve.territory_moves as
    select moves.*, handoffs.* exclude (account_id, contacts_total)  -- moves already count the contacts
    from solve.territory_moves as moves left join main.fct_account_handoffs as handoffs using (account_id)
    order by moves.account_id
"""
MARKETS_QUERY = "select * from main.dim_markets order by market_id"


@snapshot_asset(
    key=AssetKey(["solve", "territory_plan"]),
    group_name="solve",
    owners=SALES_OPERATIONS,
    deps=[AssetKey("dim_accounts"), AssetKey("dim_reps"), AssetKey("dim_markets"), AssetKey("fct_account_handoffs")],
    kinds={"python", "duckdb"},
)
def territory_plan(context: AssetExecutionContext, warehouse: Warehouse, run_settings: RunSettings) -> MaterializeResult:
    """Optimised territory plan: each account to one rep at least cost with every balance kept, and a proven bound."""
    plan = run_settings.plan()
    with warehouse.connect(read_only=True) as conn:
        accounts = conn.sql(ACCOUNTS_QUERY).df()
        reps = conn.sql(REPS_QUERY).df()
        markets = conn.sql(MARKETS_QUERY).df()
    if reps.empty:
        raise Failure("no active rep in dim_reps: nobody can own accounts")
    instance = instance_from_marts(accounts, reps, plan)
    context.log.info(f"Assigning {len(accounts):,} accounts to {len(reps):,} active reps")
    with progress_to(context.log.info):
        solution = solve(instance)
    tables = plan_tables(
        instance, accounts, reps, solution, bands(instance, CostModel(instance)), context.run.run_id, plan, markets,
    )
    written = {name: frame for name, frame in vars(tables).items() if solution.feasible or not frame.empty}
    warehouse.replace_tables("solve", written)
    if solution.feasible:  # what the new owner of each moved account needs to know, typed as dbt made it
        with warehouse.connect() as conn:
            conn.execute(HANDOFF_JOIN)
    if not solution.feasible:
        raise Failure(
            "no territory plan keeps every rule: " + "; ".join(binding.message for binding in solution.diagnosis),
            metadata={"capacity_gap": MetadataValue.md(
                tables.capacity_gap.query("missing_hours > 0").to_markdown(index=False))},
        )
    summary = tables.territory_summary
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(tables.territory_assignments),
            "status": solution.status,
            "objective": solution.objective,
            "lower_bound": solution.lower_bound,
            "gap": solution.gap,
            "seconds": solution.seconds,
            "moved_share": solution.moved_share,
            **{f"max_deviation/{name}": value for name, value in solution.max_deviation.items()},
            "max_utilization": float(np.nanmax(summary["utilization"])),
            "reasons": MetadataValue.md(tables.territory_assignments["reason"].value_counts().to_markdown()),
        }
    )
