"""The contact plan (dated touches per account and rep) and the weekly on-call rotation."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from territory.contact_plan import CHANNELS, ContactPlanSettings, _repair, contact_plan
from territory.rotation import EPOCH, rotation_schedule

MONDAY = dt.date(2026, 7, 6)
MINUTES = {"call": 10, "voicemail": 2, "email": 6, "meeting_in_person": 60, "meeting_online": 40}
TIERS = {"A": (0.10, 60.0), "B": (0.20, 36.0), "C": (0.35, 16.0), "D": (0.35, 6.0)}  # share, touches a year
CHANNEL_MIX = np.array([0.30, 0.10, 0.40, 0.07, 0.13])  # of an account's touches, in CHANNELS order
MIN_GAP = {"A": 3, "B": 5, "C": 7, "D": 14}
MAX_GAP = {"A": 14, "B": 21, "C": 35, "D": 45}


def _settings(**changes) -> ContactPlanSettings:
    fields = {"start": MONDAY, "minutes_per_touch": MINUTES, "min_gap_days": MIN_GAP, "max_gap_days": MAX_GAP}
    return ContactPlanSettings(**{**fields, **changes})


def _accounts(rows: list[dict]) -> pd.DataFrame:
    """Accounts from rows giving account_id, rep_id, tier and some yearly planned touches (others 0)."""
    frame = pd.DataFrame(rows)
    for channel in CHANNELS:
        column = f"planned_{channel}_touches"
        frame[column] = frame[column].fillna(0.0) if column in frame else 0.0
    if "travel_hours_per_visit" not in frame:
        frame["travel_hours_per_visit"] = 0.0
    return frame


def _random_accounts(n: int, reps: int, seed: int) -> pd.DataFrame:
    """Realistic tiers: ~10% A with ~60 touches a year, 20% B ~36, 35% C ~16, 35% D ~6, rates +-20%."""
    rng = np.random.default_rng(seed)
    names = np.array(list(TIERS))
    tier = rng.choice(len(names), n, p=[share for share, _ in TIERS.values()])
    rate = np.array([rate for _, rate in TIERS.values()])[tier, None] * CHANNEL_MIX * rng.uniform(0.8, 1.2, (n, 1))
    return pd.DataFrame({
        "account_id": [f"ACC{i:05d}" for i in range(n)],
        "rep_id": [f"R{r:02d}" for r in rng.integers(0, reps, n)],
        "tier": names[tier],
        **{f"planned_{channel}_touches": rate[:, k] for k, channel in enumerate(CHANNELS)},
        "travel_hours_per_visit": rng.uniform(0.0, 3.0, n),
    })


def _reps(ids, capacity_hours) -> pd.DataFrame:
    return pd.DataFrame({"rep_id": list(ids), "capacity_hours": capacity_hours})


def _day(dates: pd.Series, start: dt.date = MONDAY) -> np.ndarray:
    return np.array([(day - start).days for day in dates])


def _horizon_hours(accounts: pd.DataFrame, settings: ContactPlanSettings) -> pd.Series:
    """Each rep's hours over the horizon (they do not depend on capacity, only the dates do)."""
    reps = _reps(sorted(accounts["rep_id"].unique()), 1e9)
    return contact_plan(accounts, reps, settings).touches.groupby("rep_id")["hours"].sum()


# the contact plan ------------------------------------------------------------------------------


def test_one_account_gets_the_hand_computed_dates_channels_and_fillers():
    # 4 calls a year over 13 of 52 weeks: exactly 1, whatever the phase. A max gap of 30 days over
    # a 91-day horizon takes ceil(91 / 30) = 4 touches evenly spaced: 3 filler emails.
    accounts = _accounts([{"account_id": "X", "rep_id": "R1", "tier": "T", "planned_call_touches": 4.0}])
    settings = _settings(min_gap_days={"T": 7}, max_gap_days={"T": 30})
    plan = contact_plan(accounts, _reps(["R2", "R1"], 1600.0), settings)
    touches = plan.touches
    # sequence: filler at 1/6, then call and filler both at 1/2 (call first), filler at 5/6; the only
    # account of its rep starts at u = 0, so its 4 touches aim at working days 0, 16.25, 32.5, 48.75
    # (of 65): Monday of week 0, Tuesday of week 3, Wednesday of week 6, Thursday of week 9.
    assert touches["touch_date"].tolist() == [
        dt.date(2026, 7, 6), dt.date(2026, 7, 28), dt.date(2026, 8, 19), dt.date(2026, 9, 10)]
    assert touches["week_start"].tolist() == [
        dt.date(2026, 7, 6), dt.date(2026, 7, 27), dt.date(2026, 8, 17), dt.date(2026, 9, 7)]
    assert touches["channel"].tolist() == ["email", "call", "email", "email"]
    assert touches["added_for_max_gap"].tolist() == [True, False, True, True]
    assert touches["touch_number"].tolist() == [1, 2, 3, 4]
    assert touches["gap_days"].tolist() == [pd.NA, 22, 22, 22]
    assert touches["hours"].tolist() == pytest.approx([0.1, 10 / 60, 0.1, 0.1])
    weeks = plan.rep_weeks  # every rep and week, R2 without accounts too
    assert weeks["rep_id"].tolist() == ["R1"] * 13 + ["R2"] * 13
    assert weeks["week_start"].tolist()[:2] == [dt.date(2026, 7, 6), dt.date(2026, 7, 13)]
    assert weeks["touches"].tolist() == [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0] + [0] * 13
    assert weeks["hours"].iloc[3] == pytest.approx(10 / 60)
    assert weeks["capacity_hours"].tolist() == pytest.approx([1600.0 / 52] * 26)
    assert not weeks["over_capacity"].any()


@pytest.mark.parametrize("min_gap, max_gap", [(MIN_GAP, MAX_GAP), ({"A": 4, "B": 6, "C": 9, "D": 20},
                                                                  {"A": 8, "B": 12, "C": 25, "D": 40})])
def test_gap_rules_hold_for_every_touch_on_a_random_case(min_gap, max_gap):
    accounts = _random_accounts(2_000, 6, seed=1)
    settings = _settings(min_gap_days=min_gap, max_gap_days=max_gap)
    plan = contact_plan(accounts, _reps([f"R{r:02d}" for r in range(6)], 1600.0), settings)
    touches = plan.touches.merge(accounts[["account_id", "tier"]], on="account_id")
    day = _day(touches["touch_date"])
    assert day.min() >= 0 and day.max() < settings.days
    assert all(date.weekday() < 5 for date in touches["touch_date"])
    assert (touches["week_start"] == [date - dt.timedelta(days=date.weekday()) for date in touches["touch_date"]]).all()

    by_account = touches.assign(day=day).sort_values(["account_id", "touch_number"])
    assert (by_account.groupby("account_id")["day"].diff().dropna() > 0).all()  # numbered in date order
    low, high = by_account["tier"].map(min_gap), by_account["tier"].map(max_gap)
    gap = by_account["gap_days"]
    between = gap.notna()
    assert (gap[between] >= low[between]).all() and (gap[between] <= high[between]).all()
    assert (gap[between].to_numpy() == by_account.groupby("account_id")["day"].diff().dropna().to_numpy()).all()
    first = by_account.groupby("account_id").head(1)
    last = by_account.groupby("account_id").tail(1)
    assert (first["touch_number"] == 1).all() and first["gap_days"].isna().all()
    assert (first["day"] <= first["tier"].map(max_gap)).all()  # from the horizon's start
    assert (settings.days - last["day"] <= last["tier"].map(max_gap)).all()  # to its end
    assert set(touches["account_id"]) == set(accounts["account_id"])  # every tier's max gap < 91 days

    expected_order = plan.touches.sort_values(["rep_id", "touch_date", "account_id"]).index
    assert (plan.touches.index == expected_order).all()


def test_counts_follow_the_cadence_over_many_accounts():
    # an account's count of a channel is off its expectation by less than 1 (sd <= 1/2): many accounts
    # make the smallest channel's 1% about two standard deviations
    accounts = _random_accounts(60_000, 60, seed=2)
    # a max gap beyond the horizon needs no filler: every touch is the cadence's
    settings = _settings(max_gap_days={tier: 120 for tier in TIERS})
    touches = contact_plan(accounts, _reps([f"R{r:02d}" for r in range(60)], 1e6), settings).touches
    assert not touches["added_for_max_gap"].any()
    for channel in CHANNELS:
        expected = accounts[f"planned_{channel}_touches"].sum() * 13 / 52
        assert (touches["channel"] == channel).sum() == pytest.approx(expected, rel=0.01)


def test_an_account_keeps_its_counts_whatever_the_other_accounts():
    accounts = _random_accounts(300, 3, seed=3)
    settings = _settings()
    reps = _reps([f"R{r:02d}" for r in range(3)], 1600.0)
    alone = contact_plan(accounts.iloc[:40], reps, settings).touches
    among = contact_plan(accounts, reps, settings).touches
    counts = [frame.groupby(["account_id", "channel"]).size() for frame in (alone, among)]
    pd.testing.assert_series_equal(counts[0], counts[1].loc[counts[0].index])


def test_filler_touches_appear_exactly_when_the_cadence_leaves_a_gap_over_the_max():
    # 4 touches a year are 1 in the horizon, whatever the phase; max gap 30 takes 4 touches
    rows = [{"account_id": f"X{k}", "rep_id": "R1", "tier": "T", "planned_call_touches": 4.0 * k} for k in range(7)]
    rows.append({"account_id": "Y", "rep_id": "R1", "tier": "U"})  # max gap beyond the horizon: none needed
    settings = _settings(min_gap_days={"T": 3, "U": 3}, max_gap_days={"T": 30, "U": 91})
    touches = contact_plan(_accounts(rows), _reps(["R1"], 1600.0), settings).touches
    fillers = touches[touches["added_for_max_gap"]].groupby("account_id").size()
    assert fillers.reindex([f"X{k}" for k in range(7)], fill_value=0).tolist() == [4, 3, 2, 1, 0, 0, 0]
    assert (touches.loc[touches["added_for_max_gap"], "channel"] == "email").all()
    assert touches.groupby("account_id").size().reindex([f"X{k}" for k in range(7)]).tolist() == [4, 4, 4, 4, 4, 5, 6]
    assert "Y" not in set(touches["account_id"])


def test_no_rep_week_goes_over_capacity_when_the_total_fits():
    accounts = _random_accounts(2_000, 5, seed=4)
    settings = _settings()
    hours = _horizon_hours(accounts, settings)
    # capacity for 98% utilisation over the horizon: tight, but it fits
    capacity = hours / 0.98 * 52 / 13
    plan = contact_plan(accounts, _reps(capacity.index, capacity.to_numpy()), settings)
    weeks = plan.rep_weeks
    assert not weeks["over_capacity"].any()
    assert (weeks["hours"] <= weeks["capacity_hours"] + 1e-6).all()
    assert weeks.groupby("rep_id")["hours"].sum().to_numpy() == pytest.approx(hours.to_numpy())
    assert len(weeks) == 5 * 13


def test_a_rep_over_capacity_is_reported_with_the_even_spread_not_raised():
    accounts = _random_accounts(500, 2, seed=5)
    settings = _settings()
    hours = _horizon_hours(accounts, settings)
    ample = contact_plan(accounts, _reps(hours.index, 1e6), settings)
    # R00 gets 80% of its load, R01 plenty
    short = contact_plan(accounts, _reps(hours.index, [hours["R00"] * 0.8 * 4, 1e6]), settings)
    pd.testing.assert_frame_equal(short.touches, ample.touches)  # no schedule fits: the even spread stays
    weeks = short.rep_weeks.set_index("rep_id")
    assert weeks.loc["R00", "over_capacity"].all()
    assert weeks.loc["R00", "utilization"].to_numpy() == pytest.approx(np.full(13, 1 / 0.8), rel=0.02)  # even: ~125%
    assert not weeks.loc["R01", "over_capacity"].any()


def test_the_repair_moves_a_touch_to_the_nearest_week_with_room_that_keeps_its_gaps():
    # one rep, 3 weeks, 1 hour a week. Week 0 holds 0.75 h (account 0, day 2) + 0.5 h (account 1,
    # day 3): over by 0.25. Account 1's touch cannot leave week 0: its next touch (day 9) is only 6
    # days later, its min gap 5. Week 1 holds account 1's 0.5 h: no room for 0.75 h. So account 0's
    # touch goes two weeks on, to the same weekday: day 16.
    day = np.array([2, 3, 9])
    account = np.array([0, 1, 1])
    repaired = _repair(day, hours=np.array([0.75, 0.5, 0.5]), account=account, rep=np.zeros(3, dtype=np.int64),
                       count=np.array([1, 2]), min_gap=np.array([1, 5, 5]), max_gap=np.array([20, 12, 12]),
                       weekly_capacity=np.array([1.0]), weeks=3)
    assert repaired.tolist() == [16, 3, 9]
    # with room in week 1, the lighter touch that can move goes there instead, the same weekday
    repaired = _repair(np.array([2, 3]), hours=np.array([0.75, 0.5]), account=np.array([0, 1]),
                       rep=np.zeros(2, dtype=np.int64), count=np.array([1, 1]), min_gap=np.array([1, 1]),
                       max_gap=np.array([20, 20]), weekly_capacity=np.array([1.0]), weeks=3)
    assert repaired.tolist() == [2, 10]


def test_weekly_hours_are_even_across_each_reps_weeks():
    accounts = _random_accounts(2_000, 5, seed=6)
    weeks = contact_plan(accounts, _reps([f"R{r:02d}" for r in range(5)], 1600.0), _settings()).rep_weeks
    hours = weeks.groupby("rep_id")["hours"]
    assert ((hours.max() - hours.min()) / hours.mean() < 0.02).all()
    assert weeks["touches"].sum() > 0


def test_the_same_inputs_give_the_same_plan_in_any_row_order():
    accounts = _random_accounts(1_000, 4, seed=7)
    reps = _reps([f"R{r:02d}" for r in range(4)], [900.0, 1200.0, 1600.0, 400.0])
    first = contact_plan(accounts, reps, _settings())
    again = contact_plan(accounts, reps, _settings())
    shuffled = contact_plan(accounts.sample(frac=1.0, random_state=1), reps.iloc[::-1], _settings())
    for plan in (again, shuffled):
        for name in ("touches", "rep_weeks"):
            pd.testing.assert_frame_equal(getattr(first, name), getattr(plan, name), check_exact=True)
            hashes = [pd.util.hash_pandas_object(getattr(p, name)).to_numpy() for p in (first, plan)]
            assert (hashes[0] == hashes[1]).all()


def test_touches_that_cannot_keep_the_min_gap_raise_a_clear_error():
    # 48 calls a year are 12 in 13 weeks; 10 days apart they would need 110 days
    accounts = _accounts([{"account_id": "X", "rep_id": "R1", "tier": "B", "planned_call_touches": 48.0}])
    settings = _settings(min_gap_days={"B": 10}, max_gap_days={"B": 30})
    with pytest.raises(ValueError, match=r"tier B: 12 touches in 13 weeks cannot be 10 days \(the min gap\) apart"):
        contact_plan(accounts, _reps(["R1"], 1600.0), settings)


@pytest.mark.parametrize("changes, message", [
    ({"min_gap_days": {"A": 10}, "max_gap_days": {"A": 7}}, r"tier A: min_gap_days \(10\) exceeds max_gap_days \(7\)"),
    ({"min_gap_days": {"A": 5}, "max_gap_days": {"A": 6}}, r"tier A: max_gap_days \(6\) must be at least"),
    ({"start": dt.date(2026, 7, 7)}, "start must be a Monday"),
    ({"filler_channel": "fax"}, "filler_channel must be one of"),
])
def test_settings_that_cannot_work_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        _settings(**changes)


def test_unknown_reps_and_tiers_are_refused():
    accounts = _accounts([{"account_id": "X", "rep_id": "R9", "tier": "A"}])
    with pytest.raises(ValueError, match="reps not in reps"):
        contact_plan(accounts, _reps(["R1"], 1600.0), _settings())
    with pytest.raises(ValueError, match=r"tiers without min_gap_days and max_gap_days: \['Z'\]"):
        contact_plan(accounts.assign(rep_id="R1", tier="Z"), _reps(["R1"], 1600.0), _settings())


# the rotation ----------------------------------------------------------------------------------


def test_the_roster_turns_on_the_absolute_week_as_computed_by_hand():
    start = EPOCH + dt.timedelta(weeks=10)  # absolute week 10
    reps = pd.DataFrame({"rep_id": ["r3", "r1", "r2"], "team": ["t"] * 3})  # ordered r1, r2, r3
    roster = rotation_schedule(reps, start, 2)
    # inbound: rep 10 mod 3 = 1 (r2), then 11 mod 3 = 2 (r3); cover: (10 + 1) mod 3 = 2 (r3), then 0 (r1)
    assert roster.to_dict("list") == {
        "week_start": [start, start, start + dt.timedelta(weeks=1), start + dt.timedelta(weeks=1)],
        "team": ["t"] * 4,
        "duty": ["absence_cover", "inbound_leads"] * 2,
        "rep_id": ["r3", "r2", "r1", "r3"],
    }


def test_every_window_of_weeks_shares_each_duty_evenly_with_two_reps_on_duty():
    reps = pd.DataFrame({"rep_id": [f"r{k}" for k in range(12)], "team": ["x"] * 5 + ["y"] * 4 + ["z"] * 2 + ["w"]})
    weeks = 23
    roster = rotation_schedule(reps, dt.date(2026, 7, 6), weeks)
    roster["week"] = [(day - dt.date(2026, 7, 6)).days // 7 for day in roster["week_start"]]
    for (team, duty), rows in roster[roster["team"] != "w"].groupby(["team", "duty"]):
        members = reps.loc[reps["team"] == team, "rep_id"]
        held = pd.crosstab(rows["week"], rows["rep_id"]).reindex(index=range(weeks), columns=members, fill_value=0)
        assert (held.sum(axis=1) == 1).all()  # one rep per week and duty
        running = np.vstack([np.zeros(len(members)), held.to_numpy().cumsum(axis=0)])
        for low in range(weeks):
            for high in range(low + 1, weeks + 1):
                in_window = running[high] - running[low]
                assert in_window.max() - in_window.min() <= 1, (team, duty, low, high)
    shared = roster[roster["team"] != "w"]
    both = shared.pivot_table(index=["week", "team"], columns="duty", values="rep_id", aggfunc="first")
    assert (both["inbound_leads"] != both["absence_cover"]).all()


def test_consecutive_runs_agree_on_the_weeks_they_share():
    reps = pd.DataFrame({"rep_id": [f"r{k}" for k in range(7)], "team": ["x"] * 4 + ["y"] * 3})
    tonight = rotation_schedule(reps, dt.date(2026, 7, 6), 8)
    next_week = rotation_schedule(reps, dt.date(2026, 7, 13), 8)
    shared = tonight[tonight["week_start"] >= dt.date(2026, 7, 13)].reset_index(drop=True)
    overlap = next_week[next_week["week_start"] <= dt.date(2026, 8, 24)].reset_index(drop=True)
    pd.testing.assert_frame_equal(shared, overlap)
    assert len(shared) == 7 * 2 * 2


def test_a_one_rep_team_takes_inbound_leads_and_has_no_absence_cover():
    reps = pd.DataFrame({"rep_id": ["solo", "a", "b"], "team": ["one", "two", "two"]})
    roster = rotation_schedule(reps, dt.date(2026, 7, 6), 3)
    alone = roster[roster["team"] == "one"]
    assert alone["duty"].tolist() == ["inbound_leads"] * 3 and alone["rep_id"].tolist() == ["solo"] * 3
    assert (roster[roster["team"] == "two"].groupby("week_start").size() == 2).all()


def test_the_roster_refuses_a_start_that_is_not_a_monday():
    with pytest.raises(ValueError, match="start must be a Monday"):
        rotation_schedule(pd.DataFrame({"rep_id": ["a"], "team": ["t"]}), dt.date(2026, 7, 7), 4)
