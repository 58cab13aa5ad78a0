"""From the marts to the engine's instance, and the engine's answer back to the plan tables."""

import numpy as np
import pandas as pd
import pytest

from territory.engine.bands import bands
from territory.engine.costs import CostModel
from territory.engine.explain import explain_rep, explain_unit
from territory.engine.solve import solve
from territory.plan import load_plan
from territory.planning import MOVED_FROM_INELIGIBLE, NEWLY_OWNED, instance_from_marts, plan_tables


def _accounts() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": ["A1", "A2", "A3", "A4", "A5", "A6"],
        "account_name": ["a1", "a2", "a3", "a4", "a5", "a6"],
        "owner_rep_id": ["R1", "R1", "R9", None, "R2", "R3"],  # R9 is not an active rep
        "parent_account_id": [None, "A1", None, None, None, None],  # A1 and A2 are a family
        "segment": ["smb", "enterprise", "smb", "smb", "smb", "smb"],  # A2 follows its parent's segment
        "region": ["us_east"] * 6,
        "industry": ["Retail", "Retail", "Software", "Retail", "Software", "Retail"],
        "latitude": [40.7, 40.8, 42.3, 40.7, 42.4, 40.6],
        "longitude": [-74.0, -74.1, -71.0, -74.0, -71.1, -73.9],
        "tier": ["A", "B", "C", "D", "C", "B"],
        "potential": [1000.0, 500.0, 300.0, 100.0, 400.0, 200.0],
        "win_probability": [0.5, 0.2, 0.1, 0.1, 0.5, 0.3],
        "workload_hours": [10.0, 5.0, 4.0, 2.0, 6.0, 3.0],
        "planned_meeting_in_person_touches": [2.0, 1.0, 0.0, 0.0, 1.0, 0.0],
        "contacts": [3, 1, 2, 0, 1, 1],
        "open_opportunities": [1, 0, 0, 0, 1, 0],
        "open_pipeline_amount": [500.0, 0, 0, 0, 100.0, 0],
        "days_since_last_activity": [10, 40, 200, 400, 5, 30],
        "funnel_stage": ["customer", "customer", "prospect", "lead", "open_opportunity", "customer"],
        "planned_call_touches": [18.0, 10.0, 4.0, 1.0, 4.0, 10.0],
        "planned_voicemail_touches": [6.0, 4.0, 3.0, 1.0, 3.0, 4.0],
        "planned_email_touches": [24.0, 18.0, 8.0, 4.0, 8.0, 18.0],
        "planned_meeting_online_touches": [8.0, 3.0, 1.0, 0.0, 1.0, 3.0],
        "planned_travel_hours": [1.0, 0.5, 0.0, 0.0, 0.2, 0.0],
        "market_id": ["east-retail", "east-retail", "east-software", "east-retail", "east-software", "east-retail"],
    })


def _markets() -> pd.DataFrame:
    return pd.DataFrame({
        "market_id": ["east-retail", "east-software"], "region": ["us_east"] * 2, "industry_group": ["consumer", "technology"],
        "size_band": ["1-49"] * 2, "intensity": ["high", "low"], "experience_required": ["senior", "any"],
    })


def _reps() -> pd.DataFrame:
    return pd.DataFrame({
        "rep_id": ["R1", "R2", "R3"], "rep_name": ["one", "two", "three"], "segment": ["smb", "smb", "enterprise"],
        "region": ["us_east"] * 3, "home_latitude": [40.7, 42.36, 40.7], "home_longitude": [-74.0, -71.06, -74.0],
        "capacity_hours": [100.0, 100.0, 100.0], "tenure_years": [1.0, 6.0, 3.0],
        "experience_level": ["junior", "senior", "experienced"], "industries": ["Retail;Software", "Software", None],
        "win_rate": [0.4, 0.2, None], "closed_deals": [10, 10, 0], "pace_score": [5.0, 1.0, 3.0],
    })


def test_marts_become_an_instance_as_documented():
    instance = instance_from_marts(_accounts(), _reps(), load_plan())
    units, reps = instance.units, instance.reps
    assert [measure.name for measure in instance.measures] == ["workload_hours", "potential", "accounts"]
    assert units.current_rep.tolist() == [0, 0, -1, -1, 1, 2]  # inactive or unknown owners count as none
    assert units.family.tolist() == [0, 0, -1, -1, -1, -1]
    assert units.attributes["segment"].tolist() == ["smb", "smb", "smb", "smb", "smb", "smb"]  # the family's head
    assert units.value.tolist() == pytest.approx([500.0, 100.0, 30.0, 10.0, 200.0, 60.0])
    assert units.visits.tolist() == [2.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    assert reps.level.tolist() == [0.8, 1.25, 1.0]
    # skill: mean of (pace - 1) / 4 and the win rate's percentile among judged reps (0.5 when unjudged)
    assert reps.skill.tolist() == pytest.approx([(1.0 + 1.0) / 2, (0.0 + 0.5) / 2, (0.5 + 0.5) / 2])
    assert reps.attributes["industry"] == (frozenset({"Retail", "Software"}), frozenset({"Software"}), frozenset())


def _wide_plan():
    """The repository's plan with bands wide enough for six accounts."""
    plan = load_plan()
    wide = plan.assignment.model_copy(update={"balance": {"workload_hours": 0.9, "potential": 0.9, "accounts": 0.9}})
    return plan.model_copy(update={"assignment": wide})


def test_the_plan_tables_say_why_each_account_moved():
    accounts, reps, plan = _accounts(), _reps(), _wide_plan()
    instance = instance_from_marts(accounts, reps, plan)
    solution = solve(instance)
    assert solution.feasible
    found = bands(instance, CostModel(instance))
    tables = plan_tables(instance, accounts, reps, solution, found, "run-1", plan, _markets())
    assignments = tables.territory_assignments.set_index("account_id")
    assert assignments.loc["A4", "reason"] == NEWLY_OWNED and assignments.loc["A3", "reason"] == NEWLY_OWNED
    assert assignments.loc["A6", "reason"] == MOVED_FROM_INELIGIBLE  # owned by the enterprise rep
    assert assignments.loc["A1", "rep_id"] == assignments.loc["A2", "rep_id"]  # the family stays together
    summary = tables.territory_summary.set_index("rep_id")
    assert summary["accounts"].sum() == 6 and summary.loc["R3", "accounts"] == 0  # nothing in R3's segment
    assert summary["top_tier_accounts"].sum() == 1
    assert summary.loc["R2", ["home_latitude", "home_longitude"]].tolist() == [42.36, -71.06]  # the report's map
    moves = tables.territory_moves
    assert set(moves["account_id"]) == set(assignments.index[assignments["changed"] & assignments["previous_rep_id"].notna()]) - {"A3"}
    assert tables.solver_runs.loc[0, "status"] in {"optimal", "feasible"} and tables.solver_runs.loc[0, "run_id"] == "run-1"
    gap = tables.capacity_gap.set_index("market_id")
    assert gap["missing_hours"].eq(0).all()
    # required: retail A1 + A2 + A4 + A6 = 10 + 5 + 2 + 3 = 20 h, software A3 + A5 = 4 + 6 = 10 h
    assert gap["required_hours"].to_dict() == {"east-retail": 20.0, "east-software": 10.0}
    assert gap.loc["east-retail", "intensity"] == "high"
    assert moves.set_index("account_id").loc["A6", "from_rep_id"] == "R3"


def test_an_explanation_names_the_band_that_priced_out_a_cheaper_rep():
    instance = instance_from_marts(_accounts(), _reps(), load_plan())
    plan = np.array([0, 0, 1, 0, 1, 1])
    prices = np.zeros((3, 3))
    prices[0, 0] = 1e6  # R1's workload band is full
    found = explain_unit(instance, plan, prices, unit=3)  # A4 sits with R1, next to R1's base
    assert found.chosen.rep_id == "R1"
    loaded = explain_unit(instance, np.array([0, 0, 1, 1, 1, 1]), prices, unit=3)
    (alternative,) = [option for option in loaded.alternatives if option.rep_id == "R1"]
    assert "workload_hours band full" in alternative.reason and alternative.band_price == pytest.approx(2e6)
    rep = explain_rep(instance, bands(instance, CostModel(instance)), plan, prices, rep=0)
    assert rep.units == 3 and rep.loads[0].total == pytest.approx(17.0) and rep.loads[0].price == 1e6
