"""The engine's plans: optimal on tiny instances, every rule kept on random ones, diagnoses when none fits."""

import dataclasses
import itertools

import numpy as np
import pytest

from territory.engine.bands import bands
from territory.engine.costs import CostModel
from territory.engine.evaluate import evaluate
from territory.engine.instance import Instance, Measure, Reps, Units
from territory.engine.solve import progress_to, solve
from territory.engine.synthetic import synthetic_instance


def _tiny(seed: int, units: int = 7, reps: int = 3, tolerance: float = 0.35, locked: int = 0, family: bool = False,
          budget: float | None = None) -> Instance:
    rng = np.random.default_rng(seed)
    workload = rng.uniform(5, 15, units)
    current = rng.integers(0, reps, units)
    family_of = np.full(units, -1)
    if family:
        family_of[:2] = 0  # units 0 and 1 move together
    lock = np.zeros(units, dtype=bool)
    lock[units - locked :] = True
    return Instance(
        units=Units(
            unit_id=np.array([f"U{i}" for i in range(units)]),
            latitude=40 + rng.uniform(-1, 1, units),
            longitude=-75 + rng.uniform(-1, 1, units),
            measures=np.column_stack([workload, np.ones(units)]),
            visits=rng.integers(0, 4, units).astype(float),
            value=rng.uniform(1_000, 20_000, units),
            current_rep=current,
            locked=lock,
            family=family_of,
            top_tier=np.zeros(units, dtype=bool),
            attributes={"industry": rng.choice(["retail", "banking"], units)},
        ),
        reps=Reps(
            rep_id=np.array([f"R{j}" for j in range(reps)]),
            latitude=40 + rng.uniform(-1, 1, reps),
            longitude=-75 + rng.uniform(-1, 1, reps),
            capacity=np.full(reps, workload.sum() * 1.5 / reps),
            level=np.ones(reps),
            experience_years=np.full(reps, 5.0),
            skill=rng.uniform(0.4, 0.9, reps),
            attributes={"industry": tuple(frozenset(rng.choice(["retail", "banking"], 1)) for _ in range(reps))},
        ),
        measures=(Measure("workload_hours", tolerance, "capacity", is_capacity=True), Measure("accounts", tolerance, "equal")),
        fit_attributes=("industry",),
        max_moved_share=budget,
    )


def _brute_force(instance: Instance) -> float | None:
    """The least cost of any plan that keeps every rule (None when none does)."""
    costs = CostModel(instance)
    found = bands(instance, costs)
    best = None
    for plan in itertools.product(range(instance.reps.count), repeat=instance.units.count):
        measured = evaluate(instance, found, np.array(plan), costs)
        if measured.feasible and (best is None or measured.objective < best):
            best = measured.objective
    return best


@pytest.mark.parametrize("seed", range(8))
def test_tiny_instances_are_solved_to_the_brute_force_optimum(seed):
    instance = _tiny(seed, locked=seed % 2, family=seed % 3 == 0, budget=0.6 if seed % 4 == 0 else None)
    optimum = _brute_force(instance)
    solution = solve(instance)
    if optimum is None:
        assert solution.status == "infeasible" and solution.diagnosis
        return
    assert solution.objective == pytest.approx(optimum, rel=1e-9)
    assert solution.lower_bound <= optimum * (1 + 1e-7)
    assert solution.status == "optimal"


@pytest.mark.parametrize("seed", range(3))
def test_every_rule_holds_on_random_instances(seed):
    instance = synthetic_instance(600, 8, seed=seed, segments=2, families_share=0.1, locked_share=0.05,
                                  top_tier_share=0.1, max_moved_share=0.5, tolerance=0.08)
    solution = solve(instance)
    assert solution.feasible, solution.log
    costs = CostModel(instance)
    measured = evaluate(instance, bands(instance, costs), solution.rep, costs)
    assert measured.feasible  # bands, eligibility, families together, disruption budget
    units = instance.units
    assert np.all(solution.rep[units.locked] == units.current_rep[units.locked])
    assert np.all(costs.eligible(np.arange(units.count))[np.arange(units.count), solution.rep])
    assert solution.lower_bound <= solution.objective and 0 <= solution.gap < 0.05
    assert max(solution.max_deviation.values()) <= 0.08 + 1e-6
    assert solution.moved_share <= 0.5 + 1e-9


def test_the_same_instance_gives_the_same_plan():
    instance = synthetic_instance(1_500, 12, seed=4)
    first, second = solve(instance), solve(instance)
    assert np.array_equal(first.rep, second.rep)
    assert first.objective == second.objective and first.lower_bound == second.lower_bound


def test_the_log_is_reported_line_by_line_as_the_solve_goes():
    lines = []
    with progress_to(lines.append):
        solution = solve(synthetic_instance(300, 6, seed=4))
    solve(synthetic_instance(50, 3, seed=4))  # after the block, nothing more is reported

    assert lines == list(solution.log) and lines[-1].startswith("plan: cost")


def test_missing_capacity_is_diagnosed_with_the_hours_and_reps_to_hire():
    instance = _tiny(1)
    short = dataclasses.replace(instance.reps, capacity=np.array([20.0, 20.0, 20.0]))
    solution = solve(dataclasses.replace(instance, reps=short))
    total = instance.units.measures[:, 0].sum()
    assert solution.status == "infeasible" and np.all(solution.rep == -1)
    (capacity,) = [b for b in solution.diagnosis if b.kind == "capacity"]
    assert capacity.measure == "workload_hours"
    assert capacity.shortfall == pytest.approx(total - 60.0)
    assert capacity.reps_to_hire == pytest.approx((total - 60.0) / 20.0)
    assert f"{total - 60:,.0f} workload_hours of capacity missing" in capacity.message


def test_a_unit_nobody_may_own_is_named():
    instance = _tiny(2)
    units = dataclasses.replace(instance.units, attributes={"segment": np.array(["smb"] * 6 + ["enterprise"])})
    reps = dataclasses.replace(instance.reps, attributes={"segment": (frozenset({"smb"}),) * 3})
    solution = solve(dataclasses.replace(instance, units=units, reps=reps, eligibility=("segment",), fit_attributes=()))
    assert solution.status == "infeasible"
    assert [b.kind for b in solution.diagnosis] == ["no_eligible_rep"]
    assert "U6" in solution.diagnosis[0].message


def test_locked_units_that_overfill_their_rep_are_diagnosed():
    instance = _tiny(3, tolerance=0.05)
    units = dataclasses.replace(instance.units, locked=np.ones(7, dtype=bool), current_rep=np.zeros(7, dtype=np.int64))
    solution = solve(dataclasses.replace(instance, units=units))
    assert solution.status == "infeasible"
    assert {"locked_over"} <= {b.kind for b in solution.diagnosis}


def test_bands_that_no_fractional_plan_keeps_are_proven_infeasible_and_named():
    # rep R0 may own only U0 and U1, which hold 2 of the 22 hours it needs to reach its band
    instance = _tiny(4, units=4, reps=2, tolerance=0.05)
    units = dataclasses.replace(
        instance.units, measures=np.array([[1.0, 1.0], [1.0, 1.0], [10.0, 1.0], [10.0, 1.0]]),
        attributes={"segment": np.array(["a", "a", "b", "b"])}, current_rep=np.array([0, 0, 1, 1]),
    )
    reps = dataclasses.replace(instance.reps, capacity=np.array([100.0, 100.0]),
                               attributes={"segment": (frozenset({"a"}), frozenset({"a", "b"}))})
    solution = solve(dataclasses.replace(instance, units=units, reps=reps, eligibility=("segment",), fit_attributes=()))
    assert solution.status == "infeasible"
    low = [b for b in solution.diagnosis if b.kind == "balance_low" and b.measure == "workload_hours"]
    assert low and "R0" in low[0].message and "proven" in low[0].message
