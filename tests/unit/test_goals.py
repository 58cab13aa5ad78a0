"""Company goals: quotas allocated to territories, and progress against milestones (hand-computed)."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from territory.goals import (
    PROGRESS_COLUMNS,
    QUOTA_COLUMNS,
    Goal,
    Milestone,
    QuotaSettings,
    expected_share,
    goal_progress,
    growth_target,
    territory_quotas,
)

SETTINGS = QuotaSettings(ramp_months=3, ramp_start_share=0.5,
                         experience_factor={"junior": 0.8, "experienced": 1.0, "senior": 1.2})
RAMP_DAYS = 3 * 365.25 / 12  # 91.3125
START, DEADLINE = date(2025, 1, 1), date(2025, 12, 31)  # 364 days apart
MILESTONES = (Milestone(date(2025, 3, 31), 0.2), Milestone(date(2025, 6, 30), 0.5))  # days 89 and 180


def _goal(**changes) -> Goal:
    fields = {"name": "smb_revenue", "metric": "revenue", "target": 1000.0, "start": START, "deadline": DEADLINE,
              "segment": "smb", "milestones": MILESTONES}
    return Goal(**(fields | changes))


# ----------------------------------------------------------------------------------------------- quotas

def _reps() -> pd.DataFrame:
    return pd.DataFrame({
        "rep_id": ["R1", "R2", "R3", "R4"], "rep_name": ["Ann", "Bob", "Cy", "Di"],
        "segment": ["smb", "smb", "smb", "enterprise"], "region": ["east", "east", "west", "west"],
        # R1 ramped long ago; R2 hired 31 days before the start; R3 hired mid-period, 182 days after it
        "hire_date": [date(2015, 3, 1), date(2024, 12, 1), date(2025, 7, 2), None],
        "experience_level": ["senior", "junior", "experienced", "senior"],
    })


def _accounts() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": ["A1", "A2", "A3", "A4", "A8", "A5", "A9", "A6", "A7"],
        "segment": ["smb"] * 7 + ["enterprise"] * 2,
        "region": ["east"] * 5 + ["west"] * 4,
        "potential": [500.0, 100.0, 300.0, 200.0, 100.0, 400.0, 100.0, 1000.0, 250.0],
        "win_probability": [0.5, 0.2, 0.4, 0.1, 0.3, 0.25, 0.5, 0.5, 0.4],
        "funnel_stage": ["customer", "lead", "prospect", "customer", "churned", "open_opportunity", "at_risk",
                         "lead", "customer"],
    })


def _assignments() -> pd.DataFrame:
    return pd.DataFrame({"account_id": ["A1", "A2", "A7", "A3", "A4", "A8", "A5", "A9", "A6"],
                         "rep_id": ["R1", "R1", "R1", "R2", "R2", "R2", "R3", "R3", "R4"]})


def _crm_quotas() -> pd.DataFrame:
    return pd.DataFrame({
        "rep_id": ["R1", "R1", "R1", "R2", "R3"],
        "period_start": [date(2024, 10, 1), date(2025, 1, 1), date(2025, 12, 1), date(2024, 12, 1), date(2026, 1, 1)],
        "period_end": [date(2024, 12, 31), date(2025, 3, 31), date(2026, 2, 28), date(2025, 1, 30), date(2026, 3, 31)],
        "quota_amount": [920.0, 900.0, 900.0, 610.0, 999.0],
    })


# Mean ramp over the 364 days, s0 = 0.5, L = 91.3125, ramp(t) = 0.5 + 0.5 * min((t - hire) / L, 1):
# R2 (31 to 395 days after hire): 0.5 * 364 + 0.5 * [(395 - L / 2) - 31^2 / (2L)]
#   = 182 + 0.5 * (349.34375 - 5.2621492) = 354.0408004, / 364 = 0.9726396
R2_RAMP = (0.5 * 364 + 0.5 * ((395 - RAMP_DAYS / 2) - 31**2 / (2 * RAMP_DAYS))) / 364
# R3 (nothing for 182 days, then 0 to 182 days after hire): 0.5 * 182 + 0.5 * (182 - L / 2)
#   = 91 + 0.5 * 136.34375 = 159.171875, / 364 = 0.4372854
R3_RAMP = (0.5 * 182 + 0.5 * (182 - RAMP_DAYS / 2)) / 364


def test_hand_computed_ramps():
    assert R2_RAMP == pytest.approx(354.0408004 / 364)
    assert R3_RAMP == pytest.approx(159.171875 / 364)


def test_revenue_quotas_follow_potential_ramp_and_experience():
    quotas = territory_quotas([_goal()], SETTINGS, _assignments(), _accounts(), _reps(), _crm_quotas())
    assert tuple(quotas.columns) == QUOTA_COLUMNS
    assert quotas["rep_id"].tolist() == ["R1", "R2", "R3"]  # R4 holds only enterprise accounts
    # smb potential: R1 500 + 100 (A7 is enterprise) = 600; R2 300 + 200 + 100 = 600; R3 400 + 100 = 500
    assert quotas["accounts"].tolist() == [2, 3, 2]
    assert quotas["basis"].tolist() == pytest.approx([600.0, 600.0, 500.0])
    assert quotas["ramp_factor"].tolist() == pytest.approx([1.0, R2_RAMP, R3_RAMP])
    assert quotas["experience_factor"].tolist() == pytest.approx([1.2, 0.8, 1.0])
    # weights: 600 * 1 * 1.2 = 720; 600 * 0.97264 * 0.8 = 466.867; 500 * 0.43729 * 1 = 218.643; total 1405.510
    weights = np.array([720.0, 600 * R2_RAMP * 0.8, 500 * R3_RAMP])
    assert weights.tolist() == pytest.approx([720.0, 466.8670, 218.6427], abs=1e-3)
    assert quotas["weight_share"].tolist() == pytest.approx((weights / weights.sum()).tolist())
    assert quotas["quota"].tolist() == pytest.approx([512.27, 332.17, 155.56], abs=0.01)
    assert quotas["quota"].sum() == pytest.approx(1000.0, rel=1e-12)
    assert quotas["rep_name"].tolist() == ["Ann", "Bob", "Cy"]
    assert quotas["region"].tolist() == ["east", "east", "west"]
    assert set(quotas["period_start"]) == {START} and set(quotas["period_end"]) == {DEADLINE}


def test_crm_quota_is_prorated_by_the_days_inside_the_goal_window():
    quotas = territory_quotas([_goal()], SETTINGS, _assignments(), _accounts(), _reps(), _crm_quotas())
    # R1: Q4 2024 lies outside (0); Q1 2025 wholly inside (900); Dec 2025 - Feb 2026 has 31 of its 90 days
    #     inside: 900 * 31 / 90 = 310; total 1210
    # R2: 2024-12-01 .. 2025-01-30 has 30 of its 61 days inside: 610 * 30 / 61 = 300
    # R3: only a 2026 period: null
    assert quotas["crm_quota"].tolist()[:2] == pytest.approx([1210.0, 300.0])
    assert np.isnan(quotas["crm_quota"].iloc[2])
    without = territory_quotas([_goal()], SETTINGS, _assignments(), _accounts(), _reps())
    assert without["crm_quota"].isna().all()


def test_a_goal_without_segment_takes_every_account():
    quotas = territory_quotas([_goal(segment=None)], SETTINGS, _assignments(), _accounts(), _reps())
    # R1 now holds A7 too (600 + 250); R4 (hire date unknown: fully ramped) joins with A6 (1000)
    assert quotas["rep_id"].tolist() == ["R1", "R2", "R3", "R4"]
    assert quotas["basis"].tolist() == pytest.approx([850.0, 600.0, 500.0, 1000.0])
    assert quotas["ramp_factor"].iloc[3] == 1.0
    weights = np.array([850 * 1.2, 600 * R2_RAMP * 0.8, 500 * R3_RAMP, 1000 * 1.2])
    assert quotas["quota"].tolist() == pytest.approx((1000 * weights / weights.sum()).tolist())
    assert quotas["segment"].isna().all()


def test_new_logo_basis_is_the_expected_value_of_accounts_not_yet_customers():
    goal = _goal(name="smb_logos", metric="new_logos", target=30.0)
    quotas = territory_quotas([goal], SETTINGS, _assignments(), _accounts(), _reps())
    # R1: A2 lead 100 * 0.2 = 20 (A1 is a customer); R2: A3 prospect 300 * 0.4 = 120 (A4 is a customer; A8 churned
    # won before, so it cannot be a new logo); R3: A5 open opportunity 400 * 0.25 = 100 (A9 at_risk is a customer)
    assert quotas["basis"].tolist() == pytest.approx([20.0, 120.0, 100.0])
    # weights 20 * 1.2 = 24; 120 * 0.972640 * 0.8 = 93.3734; 100 * 0.437285 = 43.7285; total 161.1019
    weights = np.array([20 * 1.2, 120 * R2_RAMP * 0.8, 100 * R3_RAMP])
    assert quotas["quota"].tolist() == pytest.approx((30 * weights / weights.sum()).tolist())
    assert quotas["quota"].tolist() == pytest.approx([4.4692, 17.3878, 8.1430], abs=1e-4)  # 30 * w / 161.1019
    assert (quotas["metric"] == "new_logos").all()


def test_quotas_sum_to_each_target():
    goals = [_goal(), _goal(name="all_revenue", segment=None, target=1234.5),
             _goal(name="smb_logos", metric="new_logos", target=7.0)]
    quotas = territory_quotas(goals, SETTINGS, _assignments(), _accounts(), _reps())
    assert quotas["goal"].unique().tolist() == ["smb_revenue", "all_revenue", "smb_logos"]
    assert quotas.groupby("goal", sort=False)["quota"].sum().tolist() == pytest.approx([1000.0, 1234.5, 7.0], rel=1e-12)


def test_a_goal_without_weight_cannot_be_allocated():
    with pytest.raises(ValueError, match="'mid': the 0 rep.*total weight of 0"):
        territory_quotas([_goal(name="mid", segment="mid_market")], SETTINGS, _assignments(), _accounts(), _reps())
    customers = _accounts().assign(funnel_stage="customer")  # no account can become a new logo
    with pytest.raises(ValueError, match="'logos': the 3 rep.*total weight of 0"):
        territory_quotas([_goal(name="logos", metric="new_logos")], SETTINGS, _assignments(), customers, _reps())


def test_no_goals_no_rows():
    assert territory_quotas([], SETTINGS, _assignments(), _accounts(), _reps()).empty
    assert goal_progress([], pd.DataFrame(), _assignments(), _accounts(), _reps(), pd.DataFrame(
        {"account_id": [], "close_date": [], "amount": [], "is_won": []}), START).empty


def test_goal_names_must_be_unique():
    with pytest.raises(ValueError, match="goal names must be unique"):
        territory_quotas([_goal(), _goal(target=5.0)], SETTINGS, _assignments(), _accounts(), _reps())


# ----------------------------------------------------------------------------------------------- expected share

@pytest.mark.parametrize(("on", "share"), [
    (date(2024, 12, 31), 0.0),  # before the start
    (START, 0.0),
    (date(2025, 2, 15), 0.2 * 45 / 89),  # 45 of the 89 days to the first milestone
    (date(2025, 3, 31), 0.2),  # on the first milestone
    (date(2025, 5, 15), 0.2 + 0.3 * 45 / 91),  # 45 of the 91 days between the milestones
    (date(2025, 9, 29), 0.5 + 0.5 * 91 / 184),  # 91 of the 184 days from the last milestone to the deadline
    (DEADLINE, 1.0),
    (date(2026, 3, 1), 1.0),  # after the deadline
])
def test_expected_share_is_piecewise_linear_through_the_milestones(on, share):
    assert expected_share(_goal(), on) == pytest.approx(share)


def test_expected_share_without_milestones_and_with_milestones_on_the_window_ends():
    assert expected_share(_goal(milestones=()), date(2025, 7, 1)) == pytest.approx(181 / 364)
    on_ends = _goal(milestones=(Milestone(START, 0.1), Milestone(DEADLINE, 0.9)))
    # the start milestone is due from day one; the deadline still asks for the whole target
    assert expected_share(on_ends, START) == pytest.approx(0.1)
    assert expected_share(on_ends, date(2025, 7, 1)) == pytest.approx(0.1 + 0.9 * 181 / 364)
    assert expected_share(on_ends, DEADLINE) == 1.0


# ----------------------------------------------------------------------------------------------- progress

def _progress_reps() -> pd.DataFrame:
    return pd.DataFrame({"rep_id": ["P1", "P2", "P3", "P4"], "region": ["east", "east", "west", "west"]})


def _progress_accounts() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": ["C1", "C2", "C3", "C4", "C5"], "segment": ["smb"] * 4 + ["enterprise"],
        "region": ["east", "east", "west", "west", "east"], "potential": 100.0, "win_probability": 0.5,
        "funnel_stage": "customer",
    })


def _progress_assignments() -> pd.DataFrame:
    return pd.DataFrame({"account_id": ["C1", "C2", "C3", "C4", "C5"], "rep_id": ["P1", "P2", "P3", "P4", "P1"]})


def _opportunities() -> pd.DataFrame:
    rows = [
        ("o1", "C1", "P1", 120.0, date(2025, 3, 15), True, True),
        ("o2", "C1", "P1", 500.0, date(2024, 12, 31), True, True),  # before the start
        ("o3", "C2", "X9", 40.0, date(2025, 5, 1), True, True),  # closed by someone else: counts for C2's owner
        ("o10", "C2", "P2", 20.0, date(2025, 6, 1), True, True),
        ("o4", "C2", "P2", 1000.0, date(2025, 7, 1), True, True),  # after 2025-06-30
        ("o5", "C3", "P3", 45.0, date(2025, 6, 30), True, True),  # on the as-of date: counts
        ("o6", "C3", "P3", 999.0, date(2025, 4, 1), True, False),  # lost
        ("o7", "C4", "P4", 20.0, date(2025, 1, 1), True, True),  # on the start date: counts
        ("o8", "C5", "P1", 700.0, date(2025, 2, 1), True, True),  # enterprise account: outside the smb goal
        ("o9", "C4", "P4", 300.0, date(2025, 5, 1), False, None),  # open
    ]
    return pd.DataFrame(rows, columns=["opportunity_id", "account_id", "owner_rep_id", "amount", "close_date",
                                       "is_closed", "is_won"])


def _progress_quotas(goal: str, quota: float) -> pd.DataFrame:
    return pd.DataFrame({"goal": goal, "rep_id": ["P1", "P2", "P3", "P4"], "quota": quota})


def _progress(goal: Goal, quota: float, as_of: date) -> pd.DataFrame:
    return goal_progress([goal], _progress_quotas(goal.name, quota), _progress_assignments(), _progress_accounts(),
                         _progress_reps(), _opportunities(), as_of)


def test_progress_statuses_and_roll_ups_at_a_milestone():
    progress = _progress(_goal(target=400.0), 100.0, date(2025, 6, 30))
    assert tuple(progress.columns) == PROGRESS_COLUMNS
    assert progress["level"].tolist() == ["company", "region", "region", "rep", "rep", "rep", "rep"]
    assert progress["region"].tolist()[1:] == ["east", "west", "east", "east", "west", "west"]
    assert progress["rep_id"].tolist()[3:] == ["P1", "P2", "P3", "P4"]
    assert progress["region"].iloc[0] is None and progress["rep_id"].iloc[:3].isna().all()
    # half the target is due by 2025-06-30: 50 per rep
    # P1 120 (o1; o2 before the start, o8 enterprise): reached; P2 40 + 20 = 60, pace 1.2: on track;
    # P3 45, pace 0.9: behind; P4 20, pace 0.4: at risk
    # east: 200 quota, 100 expected, 180 actual (pace 1.8); west 200, 100, 65 (0.65); company 400, 200, 245 (1.225)
    assert progress["quota"].tolist() == [400.0, 200.0, 200.0, 100.0, 100.0, 100.0, 100.0]
    assert progress["expected_to_date"].tolist() == pytest.approx([200.0, 100.0, 100.0, 50.0, 50.0, 50.0, 50.0])
    assert progress["actual_to_date"].tolist() == pytest.approx([245.0, 180.0, 65.0, 120.0, 60.0, 45.0, 20.0])
    assert progress["attainment"].tolist() == pytest.approx([0.6125, 0.9, 0.325, 1.2, 0.6, 0.45, 0.2])
    assert progress["pace"].tolist() == pytest.approx([1.225, 1.8, 0.65, 2.4, 1.2, 0.9, 0.4])
    assert progress["gap_to_expected"].tolist() == pytest.approx([-45.0, -80.0, 35.0, -70.0, -10.0, 5.0, 30.0])
    assert progress["status"].tolist() == ["on_track", "on_track", "at_risk", "reached", "on_track", "behind",
                                           "at_risk"]
    # the 2025-06-30 milestone is today's: the next one is the deadline, with the whole quota due
    assert set(progress["next_milestone"]) == {DEADLINE}
    assert progress["due_at_next_milestone"].tolist() == progress["quota"].tolist()
    assert (progress["goal"] == "smb_revenue").all() and (progress["metric"] == "revenue").all()


def test_progress_before_between_and_after_the_milestones():
    before = _progress(_goal(target=400.0), 100.0, date(2024, 12, 15))
    assert set(before["status"]) == {"not_started"}
    assert (before["expected_to_date"] == 0).all() and (before["actual_to_date"] == 0).all()
    assert before["pace"].isna().all()
    assert set(before["next_milestone"]) == {date(2025, 3, 31)}
    assert before["due_at_next_milestone"].tolist() == pytest.approx([80.0, 40.0, 40.0, 20.0, 20.0, 20.0, 20.0])

    between = _progress(_goal(target=400.0), 100.0, date(2025, 4, 1))
    assert set(between["next_milestone"]) == {date(2025, 6, 30)}
    assert between["due_at_next_milestone"].iloc[-1] == pytest.approx(50.0)

    after = _progress(_goal(target=400.0), 100.0, date(2026, 1, 15))
    # everything is due; P2 adds o4 (1000): 1060
    assert after["expected_to_date"].tolist() == after["quota"].tolist()
    assert after["actual_to_date"].iloc[3:].tolist() == pytest.approx([120.0, 1060.0, 45.0, 20.0])
    assert after["next_milestone"].isna().all() and after["due_at_next_milestone"].isna().all()
    assert after["status"].iloc[3:].tolist() == ["reached", "reached", "at_risk", "at_risk"]


def test_a_started_goal_with_nothing_due_yet_is_on_track():
    progress = _progress(_goal(target=400.0), 100.0, START)
    # expected 0 on the start day; P4's deal o7 closed that day: 20
    assert (progress["expected_to_date"] == 0).all() and progress["pace"].isna().all()
    assert progress["status"].tolist() == ["on_track"] * 7


def test_new_logos_count_first_ever_wins_only():
    goal = _goal(name="smb_logos", metric="new_logos", target=4.0, milestones=())
    progress = _progress(goal, 1.0, date(2025, 6, 30))
    # C1 first won on 2024-12-31, before the window: not a new logo although it won again (o1)
    # C2 first won 2025-05-01 (o3) and again 2025-06-01 (o10): one logo; C3 first won 2025-06-30; C4 2025-01-01
    assert progress["actual_to_date"].tolist() == [3.0, 1.0, 2.0, 0.0, 1.0, 1.0, 1.0]
    share = 180 / 364  # no milestones: linear from the start to the deadline
    assert progress["expected_to_date"].tolist() == pytest.approx([4 * share, 2 * share, 2 * share] + [share] * 4)
    # P1 0 of 0.49 due: at risk; the others hold their whole quota of 1; company 3 against 1.98 due
    assert progress["status"].tolist() == ["on_track", "on_track", "reached", "at_risk", "reached", "reached",
                                           "reached"]
    assert set(progress["next_milestone"]) == {DEADLINE}


def test_progress_runs_on_allocated_quotas():
    quotas = territory_quotas([_goal()], SETTINGS, _assignments(), _accounts(), _reps())
    progress = goal_progress([_goal()], quotas, _assignments(), _accounts(), _reps(), pd.DataFrame({
        "opportunity_id": ["o1"], "account_id": ["A3"], "owner_rep_id": ["R2"], "amount": [50.0],
        "close_date": [pd.Timestamp("2025-02-01")], "is_closed": [True], "is_won": [True],
    }), date(2025, 3, 31))
    company = progress.iloc[0]
    assert company["quota"] == pytest.approx(1000.0)
    assert company["expected_to_date"] == pytest.approx(200.0)
    assert company["actual_to_date"] == 50.0 and company["status"] == "at_risk"  # pace 0.25
    assert progress["rep_id"].tolist()[3:] == ["R1", "R2", "R3"]


# ----------------------------------------------------------------------------------------------- validation

@pytest.mark.parametrize(("changes", "message"), [
    ({"start": DEADLINE}, "must be before the deadline"),
    ({"deadline": date(2024, 6, 30)}, "must be before the deadline"),
    ({"target": 0.0}, "target must be a positive number"),
    ({"target": float("nan")}, "target must be a positive number"),
    ({"metric": "margin"}, "metric must be one of"),
    ({"milestones": (Milestone(date(2024, 12, 31), 0.1),)}, "lies outside"),
    ({"milestones": (Milestone(date(2026, 1, 1), 0.1),)}, "lies outside"),
    ({"milestones": (Milestone(date(2025, 6, 30), 0.5), Milestone(date(2025, 3, 31), 0.6))}, "list them by date"),
    ({"milestones": (Milestone(date(2025, 3, 31), 0.5), Milestone(date(2025, 6, 30), 0.2))}, "must not decrease"),
])
def test_invalid_goals_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        _goal(**changes)


def test_invalid_milestones_and_settings_are_refused():
    with pytest.raises(ValueError, match="share must be in"):
        Milestone(date(2025, 3, 31), 1.5)
    with pytest.raises(ValueError, match="ramp_months"):
        QuotaSettings(-1, 0.5, {})
    with pytest.raises(ValueError, match="ramp_start_share"):
        QuotaSettings(3, 1.5, {})
    with pytest.raises(ValueError, match=r"experience_factor\['junior'\]"):
        QuotaSettings(3, 0.5, {"junior": -0.1})


def test_progress_needs_quotas_and_a_sensible_threshold():
    # a goal that territory_quotas never allocated
    with pytest.raises(ValueError, match="'other' has no quotas"):
        goal_progress([_goal(name="other")], _progress_quotas("smb_revenue", 1.0), _progress_assignments(),
                      _progress_accounts(), _progress_reps(), _opportunities(), date(2025, 6, 30))
    with pytest.raises(ValueError, match="behind_pace"):
        goal_progress([_goal()], _progress_quotas("smb_revenue", 1.0), _progress_assignments(), _progress_accounts(),
                      _progress_reps(), _opportunities(), date(2025, 6, 30), behind_pace=1.5)


def test_a_growth_target_grows_what_the_scope_won_in_the_span_before_the_goal():
    accounts = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "segment": ["smb", "enterprise", "mid_market"]})
    opportunities = pd.DataFrame({
        "account_id": ["A1", "A1", "A2"],
        "amount": [50.0, 100.0, 200.0],
        "close_date": [date(2025, 6, 30), date(2025, 8, 1), date(2026, 6, 30)],
        "is_won": [True, True, True],
    })
    # the goal runs 2026-07-01 .. 2027-06-30 (364 days after its start), so the baseline is
    # 2025-07-01 .. 2026-06-30: A1's 100 and A2's 200 count, A1's 50 closed the day before
    window = (date(2026, 7, 1), date(2027, 6, 30))
    assert growth_target("revenue", 0.1, *window, None, accounts, opportunities) == pytest.approx(1.1 * 300)
    assert growth_target("revenue", 0.1, *window, "smb", accounts, opportunities) == pytest.approx(1.1 * 100)
    # new logos: A2's first win falls in the baseline, A1's first win (2025-06-30) before it
    assert growth_target("new_logos", 0.5, *window, None, accounts, opportunities) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="no revenue was won from 2025-07-01 to 2026-06-30 in segment mid_market"):
        growth_target("revenue", 0.1, *window, "mid_market", accounts, opportunities)


def test_a_rep_hired_after_the_deadline_has_no_quota_rather_than_reaching_it():
    goal = _goal(segment=None)
    reps = _reps().assign(hire_date=[date(2020, 1, 1), date(2020, 1, 1), DEADLINE + pd.Timedelta(days=30),
                                     date(2020, 1, 1)])
    quotas = territory_quotas([goal], SETTINGS, _assignments(), _accounts(), reps)
    assert quotas.set_index("rep_id").loc["R3", "quota"] == 0.0  # never on board during the window
    progress = goal_progress([goal], quotas, _assignments(), _accounts(), reps, _opportunities(), DEADLINE)
    assert progress.set_index("rep_id").loc["R3", "status"] == "no_quota"
