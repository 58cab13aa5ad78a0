"""From the marts to an engine instance, and from the engine's solution to the plan tables.

Accounts are units and active reps are reps (docs/engine.md states the model):

- measures: workload_hours (capped by capacity), potential (fair share by capacity x the
  experience factor of `assignment.potential_share_by_experience`) and accounts (one each),
  those listed under `assignment.balance` with their tolerances;
- value = potential x win probability (expected yearly value), the weight of fit and
  disruption; visits = planned in-person meetings per year, the weight of travel;
- current rep = the CRM owner when that rep is active; family = the account's parent (the
  parent and its children move together, served by the team of the parent's segment and
  region); top tier = tier in `assignment.top_tiers`;
- skill of a rep (0..1) = the mean of their PACE score rescaled from 1-5 and their win
  rate's percentile among the reps (0.5 when a rep has too few closed deals to judge);
- eligibility: the attributes in `assignment.eligibility`; fit: the rep's industries.

Nothing here reads or writes files: the solve asset and `territory explain` do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from territory.capacity import CapacitySettings, capacity_gap_by_market
from territory.contract import ACTIVITY_TYPES
from territory.engine.bands import Bands
from territory.engine.costs import CostModel
from territory.engine.instance import Instance, Measure, Reps, Units, Weights
from territory.engine.solution import Solution
from territory.plan import Plan

ACCOUNT_COLUMNS = (
    "account_id", "account_name", "owner_rep_id", "parent_account_id", "segment", "region", "industry", "latitude",
    "longitude", "tier", "potential", "win_probability", "workload_hours", *(f"planned_{c}_touches" for c in ACTIVITY_TYPES),
    "planned_travel_hours", "contacts", "open_opportunities", "open_pipeline_amount", "days_since_last_activity",
    "funnel_stage", "market_id",
)
REP_COLUMNS = (
    "rep_id", "rep_name", "segment", "region", "home_latitude", "home_longitude", "capacity_hours", "tenure_years",
    "experience_level", "industries", "win_rate", "closed_deals", "pace_score",
)
SHARE_BASIS = {"workload_hours": "capacity", "potential": "capacity_x_level", "accounts": "capacity"}


def _families(accounts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per account: its family index (-1 when in none) and the row of its family's head (its parent, or itself).

    A parent and its children share one family, which the engine moves as one.
    """
    ids = accounts["account_id"].to_numpy(dtype=object)
    row_of = pd.Series(np.arange(len(ids)), index=ids)
    parent_row = accounts["parent_account_id"].map(row_of)
    has_parent = parent_row.notna().to_numpy()
    head = np.where(has_parent, parent_row.fillna(-1).to_numpy(dtype=np.int64), np.arange(len(ids)))
    in_family = has_parent | np.isin(np.arange(len(ids)), head[has_parent])
    family = np.full(len(ids), -1)
    if in_family.any():
        family[in_family] = pd.factorize(head[in_family], sort=True)[0]
    return family, head


def _skill(reps: pd.DataFrame, min_decisions: int) -> np.ndarray:
    pace = ((reps["pace_score"].astype(float) - 1.0) / 4.0).clip(0, 1).fillna(0.5)
    judged = reps["closed_deals"].fillna(0) >= min_decisions
    win_rank = reps["win_rate"].where(judged).rank(pct=True).fillna(0.5)
    return ((pace + win_rank) / 2).to_numpy(dtype=float)


def instance_from_marts(accounts: pd.DataFrame, reps: pd.DataFrame, plan: Plan) -> Instance:
    """The assignment question of one snapshot: dim_accounts rows and the active dim_reps rows."""
    settings = plan.assignment
    rep_index = pd.Series(np.arange(len(reps)), index=reps["rep_id"].to_numpy())
    potential = accounts["potential"].fillna(0.0).clip(lower=0).to_numpy(dtype=float)
    all_measures = {
        "workload_hours": accounts["workload_hours"].fillna(0.0).clip(lower=0).to_numpy(dtype=float),
        "potential": potential,
        "accounts": np.ones(len(accounts)),
    }
    names = [name for name in all_measures if name in settings.balance]
    experienced = plan.reps.experience_years
    min_years = {"junior": 0.0, "experienced": experienced.experienced, "senior": experienced.senior}
    industries = reps["industries"].fillna("").astype(str)
    family, head = _families(accounts)
    return Instance(
        units=Units(
            unit_id=accounts["account_id"].to_numpy(dtype=str),
            latitude=accounts["latitude"].to_numpy(dtype=float, na_value=np.nan),
            longitude=accounts["longitude"].to_numpy(dtype=float, na_value=np.nan),
            measures=np.column_stack([all_measures[name] for name in names]),
            visits=accounts["planned_meeting_in_person_touches"].fillna(0.0).to_numpy(dtype=float),
            value=potential * accounts["win_probability"].fillna(0.0).to_numpy(dtype=float),
            current_rep=accounts["owner_rep_id"].map(rep_index).fillna(-1).astype(np.int64).to_numpy(),
            locked=np.zeros(len(accounts), dtype=bool),
            family=family,
            top_tier=accounts["tier"].isin(settings.top_tiers).to_numpy(),
            # a family is served by the team of its head's segment and region
            attributes={
                "segment": accounts["segment"].astype(str).to_numpy()[head],
                "region": accounts["region"].astype(str).to_numpy()[head],
                "industry": accounts["industry"].fillna("").astype(str).to_numpy(),
            },
        ),
        reps=Reps(
            rep_id=reps["rep_id"].to_numpy(dtype=str),
            latitude=reps["home_latitude"].to_numpy(dtype=float),
            longitude=reps["home_longitude"].to_numpy(dtype=float),
            capacity=reps["capacity_hours"].to_numpy(dtype=float),
            level=reps["experience_level"].map(settings.potential_share_by_experience).fillna(1.0).to_numpy(dtype=float),
            experience_years=reps["tenure_years"].fillna(0.0).to_numpy(dtype=float),
            skill=_skill(reps, plan.reps.min_decisions),
            attributes={
                "segment": tuple(frozenset({value}) for value in reps["segment"].astype(str)),
                "region": tuple(frozenset({value}) for value in reps["region"].astype(str)),
                "industry": tuple(frozenset(value.split(";")) - {""} for value in industries),
            },
        ),
        measures=tuple(
            Measure(name, settings.balance[name], SHARE_BASIS[name], is_capacity=name == "workload_hours") for name in names
        ),
        weights=Weights(travel=settings.weights.travel_per_km, fit=settings.weights.fit, disruption=settings.weights.disruption),
        eligibility=tuple(settings.eligibility),
        fit_attributes=("industry",),
        top_tier_min_experience=min_years[settings.top_tier_experience],
        max_moved_share=settings.max_moved_share,
        max_moved_value_share=settings.max_moved_value_share,
    )


@dataclass(frozen=True)
class PlanTables:
    """The tables the solve step writes (each becomes a published table of the same name)."""

    territory_assignments: pd.DataFrame
    territory_summary: pd.DataFrame
    territory_moves: pd.DataFrame
    capacity_gap: pd.DataFrame
    solver_runs: pd.DataFrame


MOVED_CHEAPER = "moved_to_a_better_fit"  # the new owner costs less, disruption included
MOVED_FOR_BALANCE = "moved_for_balance"  # the old owner was cheaper, but their bands could not keep it
MOVED_FROM_INELIGIBLE = "previous_owner_not_eligible"
KEPT = "kept_current_owner"
NEWLY_OWNED = "newly_owned"  # no active owner before


def _reasons(instance: Instance, costs: CostModel, solution: Solution) -> tuple[np.ndarray, np.ndarray]:
    """Why each account has its rep, and the cost it would have with its previous rep (NaN if none)."""
    units = instance.units
    previous = units.current_rep
    owned = previous >= 0
    reason = np.where(owned, KEPT, NEWLY_OWNED).astype(object)
    previous_cost = np.full(units.count, np.nan)
    moved = np.flatnonzero(owned & (solution.rep != previous))
    if len(moved):
        previous_cost[moved] = costs.cost(moved, previous[moved, None])[:, 0]
        eligible = costs.eligible(moved)[np.arange(len(moved)), previous[moved]]
        cheaper = solution.cost_terms[moved].sum(axis=1) < previous_cost[moved]
        reason[moved] = np.where(~eligible, MOVED_FROM_INELIGIBLE, np.where(cheaper, MOVED_CHEAPER, MOVED_FOR_BALANCE))
    return reason, previous_cost


PROSPECT_STAGES = ("lead", "prospect")  # whose calls, voicemails and emails an agency can make
MEETINGS = ("meeting_in_person", "meeting_online")


def _capacity_gap(
    accounts: pd.DataFrame, reps: pd.DataFrame, markets: pd.DataFrame, plan: Plan, bands: Bands, owner: np.ndarray | None,
) -> pd.DataFrame:
    """Per market: required against available hours, and the outsourcing or hires that close a gap.

    `owner` is each account's rep in the plan, None when no plan was found (capacity is then shared by pool).
    """
    prospect = accounts["funnel_stage"].isin(PROSPECT_STAGES).to_numpy()
    minutes = plan.cadence.minutes_per_touch
    remote = sum(accounts[f"planned_{c}_touches"].fillna(0.0) * minutes[c] for c in ACTIVITY_TYPES if c not in MEETINGS)
    meetings = sum(accounts[f"planned_{c}_touches"].fillna(0.0) for c in MEETINGS)
    pools = np.array(bands.pool_names)
    work = pd.DataFrame({
        "account_id": accounts["account_id"], "market_id": accounts["market_id"],
        "workload_hours": accounts["workload_hours"].fillna(0.0),
        "prospecting_hours": np.where(prospect, remote / 60.0, 0.0), "prospect_meetings": np.where(prospect, meetings, 0.0),
        "pool": pools[bands.unit_pool],
    })
    team = pd.DataFrame({"rep_id": reps["rep_id"], "capacity_hours": reps["capacity_hours"], "pool": pools[bands.rep_pool]})
    settings = CapacitySettings(
        plan.markets.rep_hours_per_year, plan.capacity.appointment_setting_hours_per_meeting, plan.capacity.headroom,
    )
    assignment = None if owner is None else pd.Series(owner, index=accounts["account_id"].to_numpy())
    return capacity_gap_by_market(work, team, markets, settings, assignment)


def plan_tables(
    instance: Instance, accounts: pd.DataFrame, reps: pd.DataFrame, solution: Solution, bands: Bands,
    run_id: str, plan: Plan, markets: pd.DataFrame,
) -> PlanTables:
    """The plan as tables. With an infeasible solution only capacity_gap and solver_runs have rows.

    `top_tier_accounts` in the summary counts each rep's accounts of the plan's first tier;
    `markets` are dim_markets rows.
    """
    best_tier = next(iter(plan.tiers))
    units, m = instance.units, instance.reps.count
    names = [measure.name for measure in instance.measures]
    run = pd.DataFrame([{
        "run_id": run_id, "status": solution.status,
        "objective": solution.objective, "lower_bound": solution.lower_bound, "gap": solution.gap,
        "seconds": solution.seconds, "peak_memory_mb": solution.peak_memory_mb,
        "accounts": units.count, "reps": m, "moved_share": solution.moved_share,
        "moved_value_share": solution.moved_value_share,
        **{f"max_deviation_{name}": solution.max_deviation[name] for name in names},
        "diagnosis": "; ".join(binding.message for binding in solution.diagnosis) or None,
        "log": "\n".join(solution.log),
    }])
    owner = instance.reps.rep_id[solution.rep] if solution.feasible else None
    gap = _capacity_gap(accounts, reps, markets, plan, bands, owner)
    if not solution.feasible:
        empty = pd.DataFrame()
        return PlanTables(empty, empty, empty, gap, run)

    costs = CostModel(instance)
    reason, previous_cost = _reasons(instance, costs, solution)
    rep_ids = instance.reps.rep_id
    previous_rep = accounts["owner_rep_id"].to_numpy(dtype=object)
    assigned = rep_ids[solution.rep]
    travel, fit, disruption = solution.cost_terms.T
    assignments = pd.DataFrame({
        "account_id": units.unit_id, "rep_id": assigned, "previous_rep_id": previous_rep,
        "changed": pd.Series(previous_rep).ne(pd.Series(assigned)).to_numpy(), "locked": units.locked,
        "reason": reason, "cost_travel": travel, "cost_fit": fit, "cost_disruption": disruption,
    })
    totals, fair = solution.totals, solution.fair_share
    top = np.bincount(solution.rep, weights=(accounts["tier"] == best_tier).to_numpy(dtype=float), minlength=m)
    capacity = instance.reps.capacity.astype(float)
    workload_column = names.index("workload_hours")
    summary = pd.DataFrame({
        "rep_id": rep_ids, "rep_name": reps["rep_name"].to_numpy(), "segment": reps["segment"].to_numpy(),
        "region": reps["region"].to_numpy(), "pool": np.array(bands.pool_names)[bands.rep_pool],
        "accounts": np.bincount(solution.rep, minlength=m), "top_tier_accounts": top.astype(np.int64),
        "potential": np.bincount(solution.rep, weights=accounts["potential"].fillna(0.0).to_numpy(), minlength=m),
        "workload_hours": totals[:, workload_column], "capacity_hours": capacity,
        "utilization": np.divide(totals[:, workload_column], capacity, out=np.full(m, np.nan), where=capacity > 0),
    })
    for k, name in enumerate(names):
        summary[f"fair_{name}"] = fair[:, k]
        summary[f"{name.removesuffix('_hours')}_deviation"] = np.divide(
            totals[:, k], fair[:, k], out=np.full(m, np.nan), where=fair[:, k] > 0) - 1.0
        summary[f"price_{name}"] = solution.prices[:, k]
    # Last, so that the published columns before them keep their places: the report marks the bases on its map.
    summary["home_latitude"] = reps["home_latitude"].to_numpy(dtype=float)
    summary["home_longitude"] = reps["home_longitude"].to_numpy(dtype=float)
    moved = assignments["changed"].to_numpy() & (units.current_rep >= 0)
    handoff = accounts.loc[moved, ["account_id", "account_name", "tier", "funnel_stage", "potential", "contacts",
                                   "open_opportunities", "open_pipeline_amount", "days_since_last_activity"]]
    moves = pd.DataFrame({
        "account_id": units.unit_id[moved], "from_rep_id": previous_rep[moved], "to_rep_id": assigned[moved],
        "reason": reason[moved], "cost_with_previous_rep": previous_cost[moved],
        "cost_with_new_rep": solution.cost_terms[moved].sum(axis=1),
    }).merge(handoff, on="account_id", how="left")
    return PlanTables(assignments, summary, moves, gap, run)
