"""Solve: decide which rep owns which account and write the plan to the warehouse schema `solve`.

The asset is a graph of three ops, so that the engine's independent parts (the pools of the
eligibility rules when there is no disruption budget: territory/engine/decompose.py) are steps
of their own:

    split_territory_plan   the marts as an engine instance, yielded part by part (numpy arrays)
    solve_territory_part   one part solved: a step per part
    merge_territory_plan   the parts' plans merged (the bound is the sum of theirs), the tables written

Launched runs (the multiprocess executor, Dagster's default) or Celery and Kubernetes executors
solve the part steps side by side (docs/operations.md). Runs whose steps go one after another in
one process (the territory command: RunSettings.parts_as_steps is false) make the whole instance
one step, and the engine solves its parts itself, side by side on processes of its own for a
large plan. Either way the plan is the one `territory.engine.solve.solve` gives for the whole
instance, so the tables are the same.

Dynamic outputs rather than a partition per part: the parts are known only once the marts are
read (they follow the data and the plan file's eligibility rules), the asset's partitions are
already its snapshot dates, and the tables hold every part's plan, merged and written at once.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from dagster import (
    AssetIn,
    AssetKey,
    DynamicOut,
    DynamicOutput,
    Failure,
    In,
    MetadataValue,
    Nothing,
    OpExecutionContext,
    Out,
    graph_asset,
    op,
)

from assets.owners import SALES_OPERATIONS
from assets.partitions import one_date_per_run, snapshot_partitions
from assets.resources import RunSettings, Warehouse
from territory.engine.bands import Bands, bands
from territory.engine.costs import CostModel
from territory.engine.decompose import Part, independent_parts, merge
from territory.engine.instance import Instance
from territory.engine.solution import Solution
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
MARTS = ("dim_accounts", "dim_reps", "dim_markets", "fct_account_handoffs")


def _read_marts(warehouse: Warehouse) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The accounts, the active reps and the markets of the snapshot."""
    with warehouse.connect(read_only=True) as conn:
        return conn.sql(ACCOUNTS_QUERY).df(), conn.sql(REPS_QUERY).df(), conn.sql(MARKETS_QUERY).df()


def _steps(instance: Instance, run_settings: RunSettings, found: Bands | None = None) -> list[Part]:
    """What the run solves, a step each: the instance's independent parts, or with `parts_as_steps` false the
    whole instance as one part (its solve splits it again)."""
    parts = independent_parts(instance, found)
    if run_settings.parts_as_steps or len(parts) == 1:
        return parts
    whole = "; ".join(part.name for part in parts)
    return [Part(whole, np.arange(instance.units.count), np.arange(instance.reps.count), instance)]


@op(ins={mart: In(Nothing) for mart in MARTS}, out=DynamicOut(Part))
def split_territory_plan(
    context: OpExecutionContext, warehouse: Warehouse, run_settings: RunSettings,
) -> Iterator[DynamicOutput[Part]]:
    """The assignment question of the snapshot, as the independent parts that can be solved apart."""
    accounts, reps, _ = _read_marts(warehouse)
    if reps.empty:
        raise Failure("no active rep in dim_reps: nobody can own accounts")
    parts = _steps(instance_from_marts(accounts, reps, run_settings.plan()), run_settings)
    context.log.info(f"Assigning {len(accounts):,} accounts to {len(reps):,} active reps in {len(parts)} step(s): "
                     f"{' | '.join(part.name for part in parts)}")
    for index, part in enumerate(parts):
        yield DynamicOutput(part, mapping_key=f"part_{index + 1}")


@op
def solve_territory_part(context: OpExecutionContext, part: Part) -> Solution:
    """One part's plan, or why it has none; the engine's log lines reach the run's event log as they happen."""
    context.log.info(f"{part.name}: solving its {len(part.units):,} accounts and {len(part.reps):,} reps")
    with progress_to(context.log.info):
        return solve(part.instance)


def _discard_parts(context: OpExecutionContext) -> None:
    """Delete the parts and their plans that this run's steps stored (Dagster's default IO manager
    pickles each step's output under its storage folder): once merged they serve nothing, and at a
    million accounts they take some 150 MB a night. A run that fails before the merge keeps them,
    for a re-execution of its failed steps."""
    stored = Path(context.instance.storage_directory()) / context.run_id
    for step in (split_territory_plan.name, solve_territory_part.name):
        for folder in stored.glob(f"{context.node_handle.parent}.{step}*"):
            shutil.rmtree(folder, ignore_errors=True)


@op(out=Out(Nothing))
def merge_territory_plan(
    context: OpExecutionContext, warehouse: Warehouse, run_settings: RunSettings, solutions: list[Solution],
) -> None:
    """The parts' plans as one (in the order the parts were split), written to the `solve` schema.

    The instance is built again from the marts rather than passed between steps: the marts do not
    change during the run, and the engine splits them the same way each time.
    """
    plan = run_settings.plan()
    accounts, reps, markets = _read_marts(warehouse)
    instance = instance_from_marts(accounts, reps, plan)
    found = bands(instance, CostModel(instance))
    with progress_to(context.log.info):
        solution = merge(instance, _steps(instance, run_settings, found), solutions)
    tables = plan_tables(instance, accounts, reps, solution, found, context.run_id, plan, markets)
    written = {name: frame for name, frame in vars(tables).items() if solution.feasible or not frame.empty}
    warehouse.replace_tables("solve", written)
    _discard_parts(context)
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
    context.add_output_metadata({
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
    })


@graph_asset(
    key=AssetKey(["solve", "territory_plan"]),
    ins={mart: AssetIn(AssetKey(mart), dagster_type=Nothing) for mart in MARTS},
    group_name="solve",
    owners=SALES_OPERATIONS,
    kinds={"python", "duckdb"},
    partitions_def=snapshot_partitions,
    backfill_policy=one_date_per_run,
)
def territory_plan(dim_accounts, dim_reps, dim_markets, fct_account_handoffs):
    """Optimised territory plan: each account to one rep at least cost with every balance kept, and a proven bound."""
    parts = split_territory_plan(dim_accounts=dim_accounts, dim_reps=dim_reps, dim_markets=dim_markets,
                                 fct_account_handoffs=fct_account_handoffs)
    return merge_territory_plan(parts.map(solve_territory_part).collect())
