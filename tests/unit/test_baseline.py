"""The greedy baseline on instances small enough to work out by hand."""

import numpy as np
import pytest

from territory.baseline import (
    KEPT_CURRENT_OWNER,
    NEAREST_OVER_CAPACITY,
    NEAREST_WITH_CAPACITY,
    Accounts,
    Reps,
    greedy_nearest_baseline,
    summarize,
)


def make_reps() -> Reps:
    # R0 and R1 serve smb near (0, 0); R2 serves enterprise far away.
    return Reps(
        rep_id=np.array(["R0", "R1", "R2"], dtype=object),
        latitude=np.array([0.0, 0.0, 10.0]),
        longitude=np.array([0.0, 1.0, 10.0]),
        segment=np.array(["smb", "smb", "enterprise"], dtype=object),
        capacity_hours=np.array([10.0, 10.0, 100.0]),
    )


def make_accounts() -> Accounts:
    return Accounts(
        account_id=np.array(["a", "b", "c", "d", "e"], dtype=object),
        latitude=np.array([0.0, 0.0, 0.0, 10.0, 0.0]),
        longitude=np.array([0.1, 0.2, 0.05, 10.5, 0.9]),
        segment=np.array(["smb", "smb", "smb", "enterprise", "mid_market"], dtype=object),
        workload_hours=np.array([6.0, 5.0, 6.0, 20.0, 1.0]),
        potential=np.array([100.0, 50.0, 60.0, 1000.0, 10.0]),
        # a is R1's; d belongs to R0, who does not serve enterprise; the rest are unowned.
        current_rep=np.array([1, -1, -1, 0, -1]),
    )


def test_each_account_follows_the_greedy_rule():
    # Order by workload, ties by id: d(20), a(6), c(6), b(5), e(1).
    # d: R0 is not eligible, so the nearest enterprise rep R2.   a: kept by R1 (4 h left).
    # c: nearest with room is R0 (6 h used, 4 left).            b: 5 h fits nowhere -> nearest, R0.
    # e: mid_market has no rep, so any rep: R1 is 0.1 degrees away and has 4 h left.
    plan = greedy_nearest_baseline(make_accounts(), make_reps())
    assert plan.rep.tolist() == [1, 0, 0, 2, 1]
    assert plan.reason.tolist() == [
        KEPT_CURRENT_OWNER,
        NEAREST_OVER_CAPACITY,
        NEAREST_WITH_CAPACITY,
        NEAREST_WITH_CAPACITY,
        NEAREST_WITH_CAPACITY + "; no_rep_in_segment",
    ]
    # b sits 0.2 degrees of longitude from R0 on the equator: 0.2 * 111.195 km.
    assert plan.distance_km[1] == pytest.approx(0.2 * 111.195, rel=1e-3)


def test_summary_measures_load_against_fair_share_within_the_segment():
    accounts, reps = make_accounts(), make_reps()
    summary = summarize(accounts, reps, greedy_nearest_baseline(accounts, reps))
    assert summary.accounts.tolist() == [2, 2, 1]
    assert summary.workload_hours.tolist() == [11.0, 7.0, 20.0]
    assert summary.utilization.tolist() == pytest.approx([1.1, 0.7, 0.2])
    # smb reps have equal capacity, so each fair share is half of 18 h = 9 h.
    assert summary.workload_deviation.tolist() == pytest.approx([11 / 9 - 1, 7 / 9 - 1, 0.0])
    assert summary.potential.tolist() == [110.0, 110.0, 1000.0]
    assert summary.potential_deviation.tolist() == pytest.approx([0.0, 0.0, 0.0])


def test_accounts_without_coordinates_still_get_an_eligible_owner():
    accounts = make_accounts()
    unknown = Accounts(**{**accounts.__dict__, "latitude": np.full(5, np.nan), "longitude": np.full(5, np.nan)})
    plan = greedy_nearest_baseline(unknown, make_reps())
    assert plan.rep[3] == 2  # the only enterprise rep
    assert np.isnan(plan.distance_km).all()


def test_no_rep_is_a_clear_error():
    reps = make_reps()
    empty = Reps(*(getattr(reps, f)[:0] for f in ("rep_id", "latitude", "longitude", "segment", "capacity_hours")))
    with pytest.raises(ValueError, match="at least one active rep"):
        greedy_nearest_baseline(make_accounts(), empty)
