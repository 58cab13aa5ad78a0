"""Capacity gap per market: hours shared from reps (or pools) to markets, and the recommendation, by hand."""

import numpy as np
import pandas as pd
import pytest

from territory.capacity import CapacitySettings, capacity_gap_by_market

SETTINGS = CapacitySettings(rep_hours_per_year=1600.0, appointment_setting_hours_per_meeting=0.5, headroom=0.9)


def _markets(experience: dict[str, str]) -> pd.DataFrame:
    ids = list(experience)
    return pd.DataFrame({
        "market_id": ids, "region": ["us_east"] * len(ids), "industry_group": ids, "size_band": ["1-49"] * len(ids),
        "intensity": ["high"] * len(ids), "experience_required": list(experience.values()),
    })


def _accounts(rows: list[tuple]) -> pd.DataFrame:
    """(account_id, market_id, workload_hours, prospecting_hours, prospect_meetings[, pool]) per account."""
    columns = ["account_id", "market_id", "workload_hours", "prospecting_hours", "prospect_meetings", "pool"]
    return pd.DataFrame(rows, columns=columns[:len(rows[0])])


def _reps(capacity: dict[str, float], pool: dict[str, str] | None = None) -> pd.DataFrame:
    reps = pd.DataFrame({"rep_id": list(capacity), "capacity_hours": list(capacity.values())})
    if pool is not None:
        reps["pool"] = reps["rep_id"].map(pool)
    return reps


def _by_market(gap: pd.DataFrame) -> pd.DataFrame:
    return gap.set_index("market_id")


def test_with_a_plan_each_rep_shares_capacity_by_the_hours_they_carry_in_each_market():
    accounts = _accounts([("a1", "M1", 30.0, 0.0, 0.0), ("a2", "M2", 10.0, 0.0, 0.0), ("a3", "M2", 50.0, 0.0, 0.0)])
    reps = _reps({"R1": 100.0, "R2": 60.0, "R3": 80.0})
    assignment = pd.Series({"a1": "R1", "a2": "R1", "a3": "R2"})
    gap = _by_market(capacity_gap_by_market(
        accounts, reps, _markets({"M1": "senior", "M2": "any", "M3": "experienced"}), SETTINGS, assignment))
    # R1 carries 30 h in M1 and 10 h in M2: 100 x 30/40 = 75 h to M1, 100 x 10/40 = 25 h to M2.
    # R2 carries 50 h in M2: all 60 h to M2. R3 has no work: nothing, anywhere.
    assert gap["available_hours"].to_dict() == pytest.approx({"M1": 75.0, "M2": 25.0 + 60.0, "M3": 0.0})
    assert gap["required_hours"].to_dict() == {"M1": 30.0, "M2": 60.0, "M3": 0.0}
    assert gap["accounts"].to_dict() == {"M1": 1, "M2": 2, "M3": 0}
    assert gap["reps_serving"].to_dict() == {"M1": 1, "M2": 2, "M3": 0}
    # utilization: 30 / 75 = 0.4; 60 / 85; nothing available in M3 -> NaN
    assert gap.loc["M1", "utilization"] == pytest.approx(0.4)
    assert gap.loc["M2", "utilization"] == pytest.approx(60 / 85)
    assert np.isnan(gap.loc["M3", "utilization"])
    assert gap["missing_hours"].eq(0).all() and gap["reps_to_hire"].eq(0).all()
    assert gap["recommendation"].eq("covered").all()
    assert gap["experience_level_to_hire"].isna().all()


def test_without_a_plan_each_pool_shares_capacity_by_its_required_hours_in_each_market():
    accounts = _accounts([
        ("a1", "M1", 60.0, 0.0, 0.0, "P1"), ("a2", "M2", 40.0, 0.0, 0.0, "P1"),
        ("a3", "M2", 80.0, 0.0, 0.0, "P2"), ("a4", "M3", 20.0, 0.0, 0.0, "P3"),
    ])
    reps = _reps({"R1": 100.0, "R2": 50.0, "R3": 40.0}, pool={"R1": "P1", "R2": "P1", "R3": "P2"})
    gap = capacity_gap_by_market(accounts, reps, _markets({"M1": "senior", "M2": "experienced", "M3": "any"}), SETTINGS)
    # P1 = R1 + R2 = 150 h for 100 h of work: 150 x 60/100 = 90 h to M1, 150 x 40/100 = 60 h to M2.
    # P2 = 40 h, all to M2 (its only market): M2 has 60 + 40 = 100 h for 40 + 80 = 120 h -> 20 h missing.
    # P3 has no reps: M3's 20 h are all missing.
    # Sorted by missing hours, ties by market_id: M2 (20), M3 (20), M1 (0).
    assert gap["market_id"].tolist() == ["M2", "M3", "M1"]
    assert gap["available_hours"].tolist() == pytest.approx([100.0, 0.0, 90.0])
    assert gap["missing_hours"].tolist() == pytest.approx([20.0, 20.0, 0.0])
    assert gap["reps_serving"].tolist() == [3, 0, 2]  # the reps of the pools with work there
    # nothing to outsource: ceil(20 / 1600) = 1 rep of the market's experience
    assert gap["reps_to_hire"].tolist() == [1, 1, 0]
    assert gap["experience_level_to_hire"].dropna().tolist() == ["experienced", "any"]  # M1 hires nobody
    assert gap["recommendation"].tolist() == [
        "hire 1 experienced rep (20 h uncovered)", "hire 1 rep (20 h uncovered)", "covered"]


def test_a_shortfall_goes_to_lead_generation_then_appointment_setting_then_hires():
    # (account, market, workload, prospecting hours, prospect meetings); each market's rep has 100 h
    accounts = _accounts([
        ("a1", "X1", 3000.0, 0.0, 0.0), ("a2", "X1", 400.0, 300.0, 200.0),
        ("a3", "X2", 150.0, 80.0, 10.0),
        ("a4", "X3", 200.0, 30.0, 100.0),
        ("a5", "X4", 160.0, 40.0, 100.0),
    ])
    reps = _reps({"R1": 100.0, "R2": 100.0, "R3": 100.0, "R4": 100.0})
    assignment = pd.Series({"a1": "R1", "a2": "R1", "a3": "R2", "a4": "R3", "a5": "R4"})
    markets = _markets({"X1": "senior", "X2": "experienced", "X3": "any", "X4": "senior"})
    gap = _by_market(capacity_gap_by_market(accounts, reps, markets, SETTINGS, assignment))
    # X1: 3400 - 100 = 3300 missing; lead generation min(3300, 300) = 300; appointment setting
    #     min(3000, 200 x 0.5 = 100) = 100; 2900 h left -> ceil(2900 / 1600) = 2 senior reps.
    # X2: 150 - 100 = 50 missing, all lead generation (80 h of it): nothing left to book or hire for.
    # X3: 200 - 100 = 100 missing; 30 lead generation; min(70, 100 x 0.5 = 50) = 50 appointment
    #     setting; 20 h left -> ceil(20 / 1600) = 1 rep of any level.
    # X4: 160 - 100 = 60 missing; 40 lead generation; min(20, 50) = 20 appointment setting; none left.
    assert gap.index.tolist() == ["X1", "X3", "X4", "X2"]  # by missing hours: 3300, 100, 60, 50
    assert gap["missing_hours"].to_dict() == {"X1": 3300.0, "X3": 100.0, "X4": 60.0, "X2": 50.0}
    assert gap["outsourced_lead_generation_hours"].to_dict() == {"X1": 300.0, "X3": 30.0, "X4": 40.0, "X2": 50.0}
    assert gap["outsourced_appointment_setting_hours"].to_dict() == {"X1": 100.0, "X3": 50.0, "X4": 20.0, "X2": 0.0}
    assert gap["reps_to_hire"].to_dict() == {"X1": 2, "X3": 1, "X4": 0, "X2": 0}
    assert gap["experience_level_to_hire"].dropna().to_dict() == {"X1": "senior", "X3": "any"}  # null: no hire
    assert gap["recommendation"].to_dict() == {
        "X1": "hire 2 senior reps (2,900 h uncovered); "
              "outsource 300 h of lead generation and 100 h of appointment setting",
        "X3": "hire 1 rep (20 h uncovered); outsource 30 h of lead generation and 50 h of appointment setting",
        "X4": "outsource 40 h of lead generation and 20 h of appointment setting",
        "X2": "outsource 50 h of lead generation",
    }


def test_a_covered_market_above_the_headroom_has_little_headroom():
    accounts = _accounts([
        ("a1", "H1", 100.5, 0.0, 0.0), ("a2", "H2", 1499.5, 0.0, 0.0),
        ("a3", "H3", 95.0, 0.0, 0.0), ("a4", "H4", 90.0, 0.0, 0.0),
    ])
    reps = _reps({"R1": 1600.0, "R2": 100.0, "R3": 100.0})
    assignment = pd.Series({"a1": "R1", "a2": "R1", "a3": "R2", "a4": "R3"})
    markets = _markets({"H1": "any", "H2": "any", "H3": "any", "H4": "any"})
    gap = _by_market(capacity_gap_by_market(accounts, reps, markets, SETTINGS, assignment))
    # R1 is exactly full across H1 and H2: 1600 x 100.5/1600 comes back 1.4e-14 h short of 100.5 in
    # floating point, which is no shortfall. H3: 95/100 > 0.9; H4: 90/100 is not above 0.9.
    assert gap["missing_hours"].eq(0).all() and gap["reps_to_hire"].eq(0).all()
    assert gap["utilization"].to_dict() == pytest.approx({"H1": 1.0, "H2": 1.0, "H3": 0.95, "H4": 0.9})
    assert gap["recommendation"].to_dict() == {
        "H1": "covered, with little headroom", "H2": "covered, with little headroom",
        "H3": "covered, with little headroom", "H4": "covered",
    }


def test_the_columns_and_their_order_are_the_published_contract():
    accounts = _accounts([("a1", "M1", 10.0, 0.0, 0.0)])
    gap = capacity_gap_by_market(
        accounts, _reps({"R1": 10.0}), _markets({"M1": "any"}), SETTINGS, pd.Series({"a1": "R1"}))
    assert gap.columns.tolist() == [
        "market_id", "region", "industry_group", "size_band", "intensity", "accounts", "reps_serving",
        "required_hours", "available_hours", "utilization", "missing_hours", "outsourced_lead_generation_hours",
        "outsourced_appointment_setting_hours", "reps_to_hire", "experience_level_to_hire", "recommendation",
    ]


def test_inputs_that_cannot_be_shared_are_refused():
    accounts = _accounts([("a1", "M1", 10.0, 0.0, 0.0), ("a2", "M1", 5.0, 0.0, 0.0)])
    reps, markets = _reps({"R1": 10.0}), _markets({"M1": "any"})
    with pytest.raises(ValueError, match="account a2 has no rep"):
        capacity_gap_by_market(accounts, reps, markets, SETTINGS, pd.Series({"a1": "R1"}))
    with pytest.raises(ValueError, match="accounts lacks the column.s. pool"):
        capacity_gap_by_market(accounts, reps, markets, SETTINGS)  # no plan: the pools are needed
    with pytest.raises(ValueError, match="not in markets"):
        capacity_gap_by_market(accounts, reps, _markets({"M2": "any"}), SETTINGS, pd.Series({"a1": "R1", "a2": "R1"}))
    with pytest.raises(ValueError, match="headroom"):
        CapacitySettings(rep_hours_per_year=1600.0, appointment_setting_hours_per_meeting=0.5, headroom=1.5)
