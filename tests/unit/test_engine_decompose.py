"""Independent parts: found where the data allows them, solved apart to the single solve's plan, bounds added up."""

import dataclasses
import functools
import logging
from dataclasses import dataclass

import numpy as np
import pytest

from territory.engine.decompose import Part, independent_parts, merge, solve_parts
from territory.engine.instance import Instance, Measure, Reps, Units
from territory.engine.solution import Solution
from territory.engine.solve import solve
from territory.engine.synthetic import synthetic_instance


def _hand_made(unit_segments: str, rep_segments: list[str], **units) -> Instance:
    """One unit per letter of `unit_segments` (its segment) and one rep per entry of `rep_segments` (the segments
    it serves), all in one town; `units` overrides unit fields (current_rep, locked, family)."""
    n, m = len(unit_segments), len(rep_segments)
    fields = {"current_rep": np.full(n, -1), "locked": np.zeros(n, dtype=bool), "family": np.full(n, -1)} | units
    return Instance(
        units=Units(
            unit_id=np.array([f"U{i}" for i in range(n)]), latitude=np.full(n, 40.7), longitude=np.full(n, -74.0),
            measures=np.ones((n, 1)), visits=np.ones(n), value=np.full(n, 1_000.0), top_tier=np.zeros(n, dtype=bool),
            attributes={"segment": np.array(list(unit_segments))}, **fields,
        ),
        reps=Reps(
            rep_id=np.array([f"R{j}" for j in range(m)]), latitude=np.full(m, 40.7), longitude=np.full(m, -74.0),
            capacity=np.full(m, 10.0), level=np.ones(m), experience_years=np.ones(m), skill=np.ones(m),
            attributes={"segment": tuple(frozenset(served) for served in rep_segments)},
        ),
        measures=(Measure("accounts", 0.5, "equal"),),
        eligibility=("segment",),
    )


def _layout(instance: Instance) -> list[tuple[list[str], list[str]]]:
    """Each part's unit and rep ids."""
    return [(instance.units.unit_id[part.units].tolist(), instance.reps.rep_id[part.reps].tolist())
            for part in independent_parts(instance)]


def test_segments_that_share_no_rep_are_parts_named_by_their_segment():
    instance = _hand_made("aabbc", ["a", "b", "b", "c"])
    parts = independent_parts(instance)
    assert _layout(instance) == [(["U0", "U1"], ["R0"]), (["U2", "U3"], ["R1", "R2"]), (["U4"], ["R3"])]
    assert [part.name for part in parts] == ["segment=a", "segment=b", "segment=c"]
    assert parts[1].instance.units.unit_id.tolist() == ["U2", "U3"]


def test_a_rep_eligible_in_two_segments_joins_them():
    instance = _hand_made("aabbc", ["a", "ab", "c"])
    assert _layout(instance) == [(["U0", "U1", "U2", "U3"], ["R0", "R1"]), (["U4"], ["R2"])]


def test_a_band_couples_units_and_reps_that_share_no_eligibility():
    # U2 (segment b) may go only to R1, never to R0; but R0's fair share is a share of a pool total that U2 is in
    instance = _hand_made("aab", ["a", "ab"])
    assert _layout(instance) == [(["U0", "U1", "U2"], ["R0", "R1"])]


def test_a_locked_unit_goes_with_its_rep_whatever_its_segment():
    instance = _hand_made("aabb", ["a", "b"], current_rep=np.array([-1, -1, 0, -1]), locked=np.arange(4) == 2)
    assert _layout(instance) == [(["U0", "U1", "U2"], ["R0"]), (["U3"], ["R1"])]


def test_a_family_stays_within_its_part_and_a_family_across_parts_makes_one():
    within = _hand_made("aabb", ["a", "b"], family=np.array([0, 0, -1, -1]))
    assert len(independent_parts(within)) == 2
    across = _hand_made("aabb", ["a", "b"], family=np.array([0, -1, 0, -1]))  # no rep may own U0 and U2 together
    assert _layout(across) == [(["U0", "U1", "U2", "U3"], ["R0", "R1"])]
    assert solve(across).diagnosis[0].kind == "no_eligible_rep"


def test_a_disruption_budget_couples_every_part():
    owned = _hand_made("aabb", ["a", "b"], current_rep=np.array([0, 0, 1, 1]))
    instance = dataclasses.replace(owned, max_moved_share=0.5)
    assert len(independent_parts(instance)) == 1


def test_a_rep_with_nothing_to_own_is_in_no_part_and_gets_nothing():
    instance = _hand_made("aabb", ["a", "b", "z"])
    assert _layout(instance) == [(["U0", "U1"], ["R0"]), (["U2", "U3"], ["R1"])]
    solution = solve(instance)
    assert solution.feasible and 2 not in solution.rep


def _with_regions(instance: Instance) -> Instance:
    """The instance with eligibility by segment and region (east or west of 95°W): a family in its first member's
    region, a unit locked only to a rep of its region, each team's capacity 1.15 times its workload again."""
    units, reps = instance.units, instance.reps
    region = np.where(units.longitude < -95, "west", "east")
    in_family = units.family >= 0
    first_member = {family: np.flatnonzero(units.family == family)[0] for family in np.unique(units.family[in_family])}
    region[in_family] = region[[first_member[family] for family in units.family[in_family]]]
    rep_region = np.where(reps.longitude < -95, "west", "east")
    locked = units.locked & (rep_region[np.maximum(units.current_rep, 0)] == region)
    team = np.char.add(units.attributes["segment"], region)
    rep_team = np.char.add(np.array([next(iter(served)) for served in reps.attributes["segment"]]), rep_region)
    capacity = reps.capacity.copy()
    for name in np.unique(rep_team):
        members = rep_team == name
        capacity[members] *= 1.15 * units.measures[team == name, 0].sum() / capacity[members].sum()
    return dataclasses.replace(
        instance,
        units=dataclasses.replace(units, locked=locked, attributes={**units.attributes, "region": region}),
        reps=dataclasses.replace(reps, capacity=capacity,
                                 attributes={**reps.attributes, "region": tuple(frozenset({r}) for r in rep_region)}),
        eligibility=("segment", "region"),
    )


INDEPENDENT = {
    "2 segments": lambda: synthetic_instance(400, 8, seed=11, segments=2, tolerance=0.1),
    "3 segments": lambda: synthetic_instance(1_500, 15, seed=12, segments=3, families_share=0.1, locked_share=0.05),
    "3 segments x 2 regions": lambda: _with_regions(
        synthetic_instance(1_200, 24, seed=13, segments=3, tolerance=0.1, top_tier_share=0.0)),
}


@dataclass(frozen=True)
class Solved:
    """An instance of INDEPENDENT solved whole and part by part."""

    instance: Instance
    parts: list[Part]
    single: Solution  # solve(instance)
    alone: list[Solution]  # each part's instance solved on its own


@functools.cache
def _solved(name: str) -> Solved:
    instance = INDEPENDENT[name]()
    parts = independent_parts(instance)
    return Solved(instance, parts, solve(instance), [solve(part.instance) for part in parts])


@pytest.mark.parametrize("name", INDEPENDENT)
def test_each_part_solved_alone_gets_the_single_solves_plan(name):
    solved = _solved(name)
    assert len(solved.parts) >= 2 and solved.single.feasible, solved.single.log
    for part, solution in zip(solved.parts, solved.alone):  # as a worker process or a Dagster step solves it
        assert np.array_equal(part.reps[solution.rep], solved.single.rep[part.units]), part.name
    merged = merge(solved.instance, solved.parts, solved.alone)
    assert np.array_equal(merged.rep, solved.single.rep)
    assert (merged.objective, merged.lower_bound, merged.status) == (
        solved.single.objective, solved.single.lower_bound, solved.single.status)


def test_the_parts_solved_on_two_processes_give_the_single_solves_plan_and_report_as_they_go(caplog):
    solved = _solved("3 segments")
    with caplog.at_level(logging.INFO, logger="territory.engine"):
        merged = merge(solved.instance, solved.parts, solve_parts(solved.parts, workers=2))
    assert np.array_equal(merged.rep, solved.single.rep) and merged.lower_bound == solved.single.lower_bound
    # each worker's log lines came back as they were logged, named by their part
    reported = [record.getMessage() for record in caplog.records]
    for part, solution in zip(solved.parts, solved.alone):
        assert f"{part.name}: {solution.log[-1]}" in reported


def test_the_bound_is_the_parts_bounds_added_up_with_the_disruption_no_part_can_avoid():
    solved = _solved("3 segments")
    merged = merge(solved.instance, solved.parts, solved.alone)
    # a unit owned by a rep of another segment pays its disruption whoever owns it; its part counted it as unowned
    owned = solved.instance.units.current_rep >= 0
    unavoidable = sum(
        merged.cost_terms[part.units, 2][(part.instance.units.current_rep < 0) & owned[part.units]].sum()
        for part in solved.parts
    )
    assert unavoidable > 0
    parts_bound = sum(solution.lower_bound for solution in solved.alone)
    assert merged.lower_bound == pytest.approx(parts_bound + unavoidable, rel=1e-12)
    assert merged.lower_bound <= merged.objective
    assert merged.gap == pytest.approx((merged.objective - merged.lower_bound) / merged.objective)


def test_a_part_without_a_plan_is_named_and_the_others_do_not_hide_it():
    instance = INDEPENDENT["3 segments"]()
    short = next(part for part in independent_parts(instance) if part.name == "segment=enterprise")
    capacity = instance.reps.capacity.copy()
    capacity[short.reps] *= 0.5
    instance = dataclasses.replace(instance, reps=dataclasses.replace(instance.reps, capacity=capacity))
    parts = independent_parts(instance)
    merged = merge(instance, parts, solve_parts(parts))
    assert merged.status == "infeasible" and np.all(merged.rep == -1)
    assert [(binding.kind, binding.pool) for binding in merged.diagnosis] == [("capacity", "segment=enterprise")]
    assert "segment=enterprise" in merged.diagnosis[0].message
    assert any(line.startswith("segment=enterprise: no plan: ") for line in merged.log)
    assert any(line.startswith("segment=smb: plan: cost") for line in merged.log)  # solved, but no plan of the whole
