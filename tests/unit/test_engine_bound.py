"""The Lagrangian bound: never above the optimum found by brute force, and exact when no band binds."""

import itertools

import numpy as np
import pytest

from territory.engine.lagrangian import Multipliers, lagrangian_bound, relaxed_choice
from territory.engine.problem import AssignmentProblem


def _problem(rng, units=6, reps=3, measures=2, slack=0.25, eligible_share=0.8, budget=np.inf) -> AssignmentProblem:
    load = rng.uniform(1, 10, (units, measures))
    fair = load.sum(axis=0) / reps
    pairs = [(i, j) for i in range(units) for j in range(reps) if rng.random() < eligible_share or j == i % reps]
    unit, rep = (np.array(column) for column in zip(*pairs))
    return AssignmentProblem(
        unit=unit,
        rep=rep,
        cost=rng.uniform(0, 100, len(pairs)),
        load=load,
        lower=np.tile(fair * (1 - slack), (reps, 1)),
        upper=np.tile(fair * (1 + slack), (reps, 1)),
        budget_weight=(rep != unit % reps).astype(float) if np.isfinite(budget) else None,
        budget=budget,
    )


def _brute_force(problem: AssignmentProblem) -> float | None:
    """The optimum over every assignment of candidate pairs (None when no assignment fits the bands and budget)."""
    options = [np.flatnonzero(problem.unit == i) for i in range(problem.units)]
    best = None
    for chosen in itertools.product(*options):
        chosen = np.array(chosen)
        loads = problem.rep_loads(chosen)
        if np.all(loads >= problem.lower - 1e-9) and np.all(loads <= problem.upper + 1e-9) and problem.spent(chosen) <= problem.budget:
            cost = problem.cost[chosen].sum()
            best = cost if best is None else min(best, cost)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_the_bound_never_exceeds_the_brute_force_optimum(seed):
    problem = _problem(np.random.default_rng(seed), budget=2.0 if seed % 3 == 0 else np.inf)
    optimum = _brute_force(problem)
    bound = lagrangian_bound(problem)
    unconstrained = sum(problem.cost[problem.unit == i].min() for i in range(problem.units))
    assert bound.value >= unconstrained - 1e-9  # it starts from the plain per-unit minimum
    if optimum is not None:
        assert bound.value <= optimum + 1e-6


def test_the_bound_is_the_optimum_when_no_band_binds():
    problem = _problem(np.random.default_rng(3), slack=10.0)  # bands too wide to matter
    bound = lagrangian_bound(problem)
    assert bound.value == pytest.approx(_brute_force(problem))
    assert not bound.multipliers.upper.any() and not bound.multipliers.lower.any()


def test_binding_bands_raise_the_bound_to_the_optimum():
    # two units that both prefer rep 0, which can take only one of them
    problem = AssignmentProblem(
        unit=np.array([0, 0, 1, 1]),
        rep=np.array([0, 1, 0, 1]),
        cost=np.array([0.0, 10.0, 0.0, 4.0]),
        load=np.array([[1.0], [1.0]]),
        lower=np.array([[1.0], [1.0]]),
        upper=np.array([[1.0], [1.0]]),
    )
    # optimum: unit 0 -> rep 0, unit 1 -> rep 1, cost 4; the plain minimum is 0
    assert _brute_force(problem) == 4.0
    assert lagrangian_bound(problem).value == pytest.approx(4.0, abs=0.05)


def test_relaxed_choice_takes_the_cheapest_pair_at_zero_prices():
    problem = _problem(np.random.default_rng(5))
    value, choice = relaxed_choice(problem, Multipliers.zero(problem))
    for i in range(problem.units):
        pairs = np.flatnonzero(problem.unit == i)
        assert choice[i] == pairs[np.argmin(problem.cost[pairs])]
    assert value == pytest.approx(problem.cost[choice].sum())


def test_a_unit_without_an_eligible_rep_is_named():
    with pytest.raises(ValueError, match="1 unit\\(s\\) have no eligible rep, e.g. unit 1"):
        AssignmentProblem(
            unit=np.array([0, 2]), rep=np.array([0, 0]), cost=np.zeros(2),
            load=np.ones((3, 1)), lower=np.zeros((1, 1)), upper=np.ones((1, 1)) * 3,
        )


def test_a_box_keeps_every_multiplier_near_its_start():
    problem = _problem(np.random.default_rng(7), units=8, reps=3, slack=0.05)
    start = Multipliers(np.full(problem.lower.shape, 2.0), np.full(problem.lower.shape, 1.0))

    boxed = lagrangian_bound(problem, start=start, box=np.array([0.5, 0.25]))

    assert np.all(np.abs(boxed.multipliers.upper - start.upper) <= np.array([0.5, 0.25]) + 1e-12)
    assert np.all(np.abs(boxed.multipliers.lower - start.lower) <= np.array([0.5, 0.25]) + 1e-12)
    assert boxed.value >= relaxed_choice(problem, start)[0]  # the best point, the start included


def test_a_box_of_width_zero_leaves_the_start():
    problem = _problem(np.random.default_rng(8), units=8, reps=3, slack=0.05)
    start = Multipliers(np.full(problem.lower.shape, 2.0), np.zeros(problem.lower.shape))

    boxed = lagrangian_bound(problem, start=start, box=np.zeros(2))

    assert boxed.value == pytest.approx(relaxed_choice(problem, start)[0])
    np.testing.assert_array_equal(boxed.multipliers.price, start.price)
