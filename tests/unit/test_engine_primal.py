"""The plan side of the engine: repair into the bands, and the improving moves."""

import time

import numpy as np
import pytest

from territory.engine import solve as solve_module
from territory.engine.primal import _running, balance, balance_in_turn, improve, pair_repair
from territory.engine.problem import AssignmentProblem
from territory.engine.synthetic import synthetic_instance


def _far_outside() -> tuple[AssignmentProblem, np.ndarray]:
    """Rep 0 holds 28 units of load 1 in a band of [19, 21]; six partners hold 15 each in [14, 17.5].

    Rep 0 must shed 7 units, but any three partners have room for 6 only: no re-split with
    one, two or three partners brings it inside at once.
    """
    reps, units = 7, 28 + 6 * 15
    current = np.concatenate([np.zeros(28, dtype=int), np.repeat(np.arange(1, reps), 15)])
    unit, rep = np.repeat(np.arange(units), reps), np.tile(np.arange(reps), units)
    cost = np.where(rep == current[unit], 0.0, 1.0 + 0.01 * rep)  # moving costs a little more to higher reps
    problem = AssignmentProblem(
        unit=unit, rep=rep, cost=cost, load=np.ones((units, 1)),
        lower=np.array([[19.0]] + [[14.0]] * 6), upper=np.array([[21.0]] + [[17.5]] * 6),
    )
    return problem, np.flatnonzero(rep == current[unit])


def test_a_rep_too_far_out_for_three_partners_is_repaired_step_by_step():
    problem, start = _far_outside()

    plan, feasible = pair_repair(problem, start, time.perf_counter() + 60)

    totals = problem.rep_loads(plan)[:, 0]
    assert feasible
    assert np.all((totals >= problem.lower[:, 0] - 1e-9) & (totals <= problem.upper[:, 0] + 1e-9))
    assert totals[0] == 21  # it sheds no more than it must
    # the cheapest 7 moves: two each to reps 1, 2 and 3, one to rep 4
    assert problem.cost[plan].sum() == pytest.approx(2 * 1.01 + 2 * 1.02 + 2 * 1.03 + 1.04)


def test_improving_moves_keep_every_band_and_never_raise_the_cost():
    problem, start = _far_outside()
    repaired, _ = pair_repair(problem, start, time.perf_counter() + 60)

    improved = improve(problem, repaired, time.perf_counter() + 60)

    totals = problem.rep_loads(improved)[:, 0]
    assert np.all((totals >= problem.lower[:, 0] - 1e-9) & (totals <= problem.upper[:, 0] + 1e-9))
    assert problem.cost[improved].sum() <= problem.cost[repaired].sum()


def test_a_large_pool_starts_from_the_prices_of_a_sample(monkeypatch):
    monkeypatch.setattr(solve_module, "SAMPLE_GROUPS", 300)
    instance = synthetic_instance(1_500, 12, seed=3)

    solution = solve_module.solve(instance, candidates_per_unit=4)

    assert any(line.startswith("sample of 300 groups priced the bands (") for line in solution.log)  # and was used
    assert solution.feasible and solution.lower_bound <= solution.objective
    assert all(deviation <= 0.05 + 1e-6 for deviation in solution.max_deviation.values())


def _two_reps_off_balance() -> tuple[AssignmentProblem, np.ndarray]:
    """Rep 0 holds units 0-2 (load 1 each), rep 1 unit 3; both bands are [1.5, 2.5].

    Moving unit 0, 1 or 2 to rep 1 costs 5, 1 or 3 and brings both reps inside (removes 0.5 + 0.5).
    """
    problem = AssignmentProblem(
        unit=np.repeat(np.arange(4), 2), rep=np.tile([0, 1], 4), cost=np.array([0.0, 5.0, 0.0, 1.0, 0.0, 3.0, 0.0, 0.0]),
        load=np.ones((4, 1)), lower=np.full((2, 1), 1.5), upper=np.full((2, 1), 2.5),
    )
    return problem, np.array([0, 2, 4, 7])


def test_balancing_makes_the_move_of_least_cost_per_violation_removed():
    problem, start = _two_reps_off_balance()

    balanced = balance(problem, start)

    np.testing.assert_array_equal(balanced, [0, 3, 4, 7])  # unit 1 moves, at a cost of 1
    np.testing.assert_array_equal(problem.rep_loads(balanced)[:, 0], [2.0, 2.0])


def test_balancing_stops_when_no_move_removes_violation():
    # rep 0 holds 8 units of load 1 in [1.5, 2.5] and rep 1 none in [0, 0]: no move helps rep 0 without
    # hurting rep 1 as much, so nothing moves
    problem = AssignmentProblem(
        unit=np.repeat(np.arange(8), 2), rep=np.tile([0, 1], 8), cost=np.zeros(16),
        load=np.ones((8, 1)), lower=np.array([[1.5], [0.0]]), upper=np.array([[2.5], [0.0]]),
    )
    start = np.arange(0, 16, 2)

    np.testing.assert_array_equal(balance(problem, start), start)


def test_a_rep_sheds_in_one_batch_what_it_must_by_its_cheapest_moves_as_far_as_the_takers_have_room():
    # rep 0 holds units 0-4 (load 1 each) in [0, 2]; reps 1 and 2 hold none, in [0, 2] and [0, 1]. Moving unit i
    # to rep 1 costs 1 + i / 10; to rep 2, 0.5 for unit 4 and 2 for the others. Each move removes 1 of rep 0's
    # excess of 3, so the three cheapest units' best moves go: 4 -> 2 (0.5), 0 -> 1 (1.0), 1 -> 1 (1.1)
    units = 5
    unit, rep = np.repeat(np.arange(units), 3), np.tile(np.arange(3), units)
    cost = np.where(rep == 0, 0.0, np.where(rep == 1, 1.0 + unit / 10, np.where(unit == 4, 0.5, 2.0)))
    problem = AssignmentProblem(
        unit=unit, rep=rep, cost=cost, load=np.ones((units, 1)),
        lower=np.zeros((3, 1)), upper=np.array([[2.0], [2.0], [1.0]]),
    )
    start = np.flatnonzero(rep == 0)

    balanced = balance(problem, start, rounds=1)

    np.testing.assert_array_equal(problem.rep[balanced], [1, 1, 0, 0, 2])
    np.testing.assert_array_equal(problem.rep_loads(balanced)[:, 0], [2.0, 2.0, 1.0])
    assert problem.cost[balanced].sum() == pytest.approx(2.6)


def test_running_sums_restart_at_each_rep():
    rep = np.array([2, 0, 2, 0, 1])
    load = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])

    np.testing.assert_array_equal(_running(rep, load)[:, 0], [1.0, 2.0, 4.0, 6.0, 5.0])


def test_moves_in_turn_mend_reps_out_above_on_one_measure_and_below_on_another():
    # units 0-3 bring (1, 0), units 4-7 (0, 1); rep 0 holds 0, 1, 2 and 4: (3, 1); rep 1 holds 3, 5, 6, 7: (1, 3);
    # both bands [1.5, 2.5] on both measures. Each rep is above on one measure and below on the other, so `balance`
    # moves nothing; in turn, unit 0 (the cheapest of its kind: moving unit i costs 1 + i / 10) goes to rep 1 and
    # unit 5 to rep 0, after which a third move would push a rep out again
    load = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 4)
    current = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    unit, rep = np.repeat(np.arange(8), 2), np.tile([0, 1], 8)
    problem = AssignmentProblem(unit=unit, rep=rep, cost=np.where(rep == current[unit], 0.0, 1.0 + unit / 10),
                                load=load, lower=np.full((2, 2), 1.5), upper=np.full((2, 2), 2.5))
    start = np.flatnonzero(rep == current[unit])

    np.testing.assert_array_equal(balance(problem, start), start)
    mended = balance_in_turn(problem, start)
    np.testing.assert_array_equal(problem.rep[mended], [1, 0, 0, 1, 0, 0, 1, 1])
    np.testing.assert_array_equal(problem.rep_loads(mended), [[2.0, 2.0], [2.0, 2.0]])
