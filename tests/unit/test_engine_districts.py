"""A pool too large to solve whole: districts of reps, units allocated to them, each solved, the pool's bands kept."""

import dataclasses

import numpy as np
import pytest

from territory.engine import districts
from territory.engine.bands import bands
from territory.engine.costs import CostModel
from territory.engine.evaluate import evaluate
from territory.engine.instance import Instance, Reps
from territory.engine.solve import solve
from territory.engine.synthetic import synthetic_instance


def _reps_on_the_equator(longitudes: list[float], instance: Instance) -> Instance:
    m = len(longitudes)
    reps = Reps(rep_id=np.array([f"R{j}" for j in range(m)]), latitude=np.zeros(m), longitude=np.array(longitudes),
                capacity=np.ones(m), level=np.ones(m), experience_years=np.ones(m), skill=np.ones(m))
    return dataclasses.replace(instance, reps=reps, units=dataclasses.replace(instance.units, current_rep=np.full(
        instance.units.count, -1)))


def test_districts_are_compact_and_of_equal_size():
    base = synthetic_instance(10, 3, seed=1)
    shuffled = [7.0, 2.0, 9.0, 0.0, 5.0, 1.0, 8.0, 3.0, 6.0, 4.0]
    district = districts.rep_districts(_reps_on_the_equator(shuffled, base), size=5)
    west = district[shuffled.index(0.0)]
    assert [district[shuffled.index(lon)] == west for lon in range(10)] == [True] * 5 + [False] * 5
    # 7 reps in districts of at most 3: ceil(7 / 3) = 3 districts, of 2, 2 and 3 reps, each a run of neighbours
    seven = districts.rep_districts(_reps_on_the_equator([float(lon) for lon in range(7)], base), size=3)
    assert seven.tolist() == [0, 0, 1, 1, 2, 2, 2]


@pytest.fixture
def small_districts(monkeypatch):
    """Districts of 6 reps for pools of any size: the path large pools take, on an instance that solves in seconds."""
    monkeypatch.setattr(districts, "DISTRICT_REPS", 6)
    monkeypatch.setattr(districts, "DISTRICT_PAIRS", 0)


def test_a_large_pool_is_solved_by_district_inside_the_pool_bands(small_districts, monkeypatch):
    monkeypatch.setattr(districts, "DISTRICT_REPS", 8)
    instance = synthetic_instance(3_000, 24, seed=3)
    by_district = solve(instance)
    assert any("3 districts of about 8 reps" in line for line in by_district.log)
    found = bands(instance, CostModel(instance))
    measured = evaluate(instance, found, by_district.rep)
    assert measured.feasible  # the pool's bands, families, locks and top tier, not the districts' own
    assert measured.objective == pytest.approx(by_district.objective)

    monkeypatch.setattr(districts, "DISTRICT_PAIRS", 10**12)
    whole = solve(instance)
    assert not any("districts" in line for line in whole.log)
    # the bound is over every eligible pair of the pool: below the whole solve's plan too
    assert by_district.lower_bound <= whole.objective * (1 + 1e-9)
    assert by_district.lower_bound <= by_district.objective
    assert by_district.objective <= whole.objective * 1.03  # keeping units to districts costs little


def test_a_district_without_a_plan_is_solved_again_with_the_nearest(small_districts, monkeypatch):
    instance = synthetic_instance(3_000, 24, seed=3)
    solved = []
    solve_district = districts._solve_pools_together

    def first_fails(part: Instance, *args):
        solution = solve_district(part, *args)
        solved.append(part.reps.count)
        return dataclasses.replace(solution, status="infeasible") if len(solved) == 1 else solution

    monkeypatch.setattr(districts, "_solve_pools_together", first_fails)
    solution = solve(instance)
    assert solved == [6, 12, 6, 6]  # the first district failed, then solved with its neighbour; two more
    assert any("district 1: no plan; solved again with district" in line for line in solution.log)
    assert evaluate(instance, bands(instance, CostModel(instance)), solution.rep).feasible


def test_a_unit_no_district_can_take_is_diagnosed_by_the_whole_pool(small_districts):
    instance = synthetic_instance(3_000, 24, seed=3)
    measures = instance.units.measures.copy()
    measures[0] = measures.sum(axis=0) / 2  # half of every measure: above every rep's band
    solution = solve(dataclasses.replace(instance, units=dataclasses.replace(instance.units, measures=measures)))
    assert solution.status == "infeasible"
    assert {binding.kind for binding in solution.diagnosis} >= {"unit_too_large"}


def test_only_a_large_single_pool_without_budget_or_contiguity_is_districted(small_districts):
    instance = synthetic_instance(3_000, 24, seed=3)
    found = bands(instance, CostModel(instance))
    assert districts.worth_districting(instance, found)
    assert not districts.worth_districting(dataclasses.replace(instance, max_moved_share=0.2), found)
    loose = tuple(dataclasses.replace(measure, tolerance=0.0) for measure in instance.measures)
    assert not districts.worth_districting(dataclasses.replace(instance, measures=loose), found)
    two_segments = synthetic_instance(3_000, 24, seed=3, segments=2)
    assert not districts.worth_districting(two_segments, bands(two_segments, CostModel(two_segments)))


def test_an_outsized_unit_or_family_is_placed_first_where_it_leaves_most_room():
    instance = synthetic_instance(3_000, 24, seed=3)
    costs = CostModel(instance)
    found = bands(instance, costs)
    typical = np.median(found.fair, axis=0)
    free = np.flatnonzero(~instance.units.locked & (instance.units.family < 0) & ~instance.units.top_tier)
    family = np.flatnonzero(instance.units.family == instance.units.family[instance.units.family >= 0][0])
    assert not instance.units.locked[family].any()
    measures = instance.units.measures.copy()
    measures[free[0]] = 0.9 * typical  # outsized on every measure
    measures[family] = 0.3 * typical / len(family)  # 0.3 of the median fair share together: outsized as one
    instance = dataclasses.replace(instance, units=dataclasses.replace(instance.units, measures=measures))
    found = bands(instance, CostModel(instance))
    units, reps = np.arange(instance.units.count), np.arange(12)

    placed, owner = districts._place_outsized(instance, CostModel(instance), found, units, reps)

    room = ((found.upper[reps] - measures[free[0]]) / found.fair[reps]).min(axis=1)  # the largest goes first
    assert placed[0] == free[0] and owner[0] == np.argmax(room)
    assert sorted(placed[1:].tolist()) == sorted(family.tolist()) and len(set(owner[1:].tolist())) == 1
    assert owner[1] != owner[0]  # one outsized unit per rep
