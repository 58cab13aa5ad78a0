"""A pool too large to solve whole, solved district by district.

With hundreds of reps and hundreds of thousands of units, a pool has too many band prices for
the dual to settle in a night's time: its fractional plan stays far outside the bands, the
candidate pairs chosen at its prices then cannot keep every band together, and no repair can
succeed. Such a pool is split instead:

1. Districts: the reps are cut into districts of at most DISTRICT_REPS (fewer where units are
   many per rep: about DISTRICT_SIZE pairs per district) by recursive bisection of their bases
   (each cut along the axis of widest spread, at the share of reps that halves the count of
   districts): districts of equal size, each a compact area.
2. Allocation: each unit (a family as one) goes to one district, an assignment problem of its
   own: a unit's cost in a district is its least cost at a rep there that may own it and that
   it fits (on every measure, within the rep's upper band); a unit may go to its
   ALLOCATION_CHOICES cheapest districts, and a district may take the units it is cheapest for,
   DISTRICT_SHARE_CHOICES times its share of them (of each block of units priced together).
   Each district's total of each measure is aimed within a share s (ALLOCATION_TOLERANCE_SHARE)
   of the measure's tolerance t of its reps' fair shares added up: the engine's dual, a draw of
   its fractional plan, then single moves checked in turn (`balance_in_turn`). The target need
   not be met exactly: a district a little outside it only has less room inside its reps' bands.
3. The districts solved: each is an instance of its own, solved as one pool, its reps keeping
   their bands in the whole pool (not shares of the district's totals). Units (a family as
   one) that bring more than OUTSIZED of the median fair share of a measure are placed first
   (`_place_outsized`). A district that finds no plan is solved again together with the
   district nearest it, and then the next, up to MERGED_DISTRICTS together.
4. Across the districts: the local search (ACROSS_ROUNDS rounds) and the rep-pair search
   (ACROSS_SOLVES re-splits) of primal.py, over each unit's ACROSS_CANDIDATES cheapest reps in
   the pool and its rep in the plan, move units across district borders where that is cheaper
   and keeps every band.
5. Bound: L (lagrangian.py) over every eligible pair of the pool at the districts' band
   prices, and at those prices raised by the allocation's price of their district, the better
   of the two: a lower bound on the pool's optimum whatever the prices.

The plan keeps every band of the pool. It is not the pool's optimum (a unit crosses a district
border only by the searches of step 4), and the bound is weaker than the whole pool's dual
would give: the gap is wider than a whole solve's, and says at most how far from the optimum
the plan is. When a unit fits no district, or merged districts find no plan, the pool is
solved whole, which also says why none exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from territory.engine.bands import Bands
from territory.engine.costs import CostModel
from territory.engine.evaluate import evaluate
from territory.engine.instance import Instance
from territory.engine.lagrangian import lagrangian_bound
from territory.engine.primal import balance_in_turn, improve, rep_pair_search, sampled_choice
from territory.engine.problem import AssignmentProblem
from territory.engine.solution import Solution
from territory.engine.solve import (
    SolveLog,
    _candidates,
    _dense_block,
    _group_blocks,
    _groups,
    _measure_scale,
    _new_pairs,
    _pair_costs,
    _solve_pools_together,
    _with_pairs,
    default_time_limit,
    feasible_solution,
)
from territory.geo import unit_vectors

DISTRICT_REPS = 60  # reps per district at most: the engine solves pools of this size in seconds
DISTRICT_SIZE = 500_000  # and (unit, rep) pairs per district about at most: a district's solve grows with them
DISTRICT_PAIRS = 50_000_000  # a pool of more (unit, rep) pairs than this, and over two districts of reps, is districted
ALLOCATION_TOLERANCE_SHARE = 0.25  # s: how far a district's totals may stray from its fair share, as a share of t
ALLOCATION_CHOICES = 6  # districts a unit may go to, its cheapest
DISTRICT_SHARE_CHOICES = 2  # and units a district may take, its cheapest, as a multiple of its share of them
OUTSIZED = 0.25  # a unit bringing more than this share of the median fair share of a measure is placed first
ACROSS_CANDIDATES = 5  # reps per unit, its cheapest in the pool, for the search across districts
ACROSS_ROUNDS = 20  # its rounds of shifts and swaps: over every unit of the pool, each costs about a second
ACROSS_SOLVES = 100  # and its re-splits of rep pairs (the districts have searched within themselves)
MERGED_DISTRICTS = 3  # a district without a plan is solved again with its nearest, then the next, up to this many


def worth_districting(instance: Instance, found: Bands) -> bool:
    """Whether `solve_by_districts` applies: one pool, large (DISTRICT_PAIRS), no disruption budget (it couples every
    unit), no contiguity rule, and every tolerance above zero (the allocation aims within a share of it)."""
    return (len(found.pool_names) == 1
            and instance.reps.count > 2 * district_reps(instance)
            and instance.units.count * instance.reps.count > DISTRICT_PAIRS
            and instance.max_moved_share is None and instance.max_moved_value_share is None
            and instance.adjacency is None
            and all(measure.tolerance > 0 for measure in instance.measures))


def district_reps(instance: Instance) -> int:
    """Reps per district: DISTRICT_REPS, fewer when its units would make more than DISTRICT_SIZE pairs.

    A district of r reps holds about r n / m units, so r (r n / m) pairs: r = sqrt(DISTRICT_SIZE m / n).
    """
    n, m = instance.units.count, instance.reps.count
    return max(1, min(DISTRICT_REPS, int(np.sqrt(DISTRICT_SIZE * m / max(n, 1)))))


def rep_districts(instance: Instance, size: int | None = None) -> np.ndarray:
    """(m,) district index per rep: recursive bisection of the bases into ceil(m / size) districts of equal size
    (`size` `district_reps` by default)."""
    size = size or district_reps(instance)
    points = unit_vectors(instance.reps.latitude, instance.reps.longitude)
    district = np.zeros(instance.reps.count, dtype=np.int64)
    pending = [(np.arange(instance.reps.count), -(-instance.reps.count // size))]
    leaves = []
    while pending:
        reps, count = pending.pop()
        if count <= 1:
            leaves.append(reps)
            continue
        axis = int(np.argmax(np.ptp(points[reps], axis=0)))
        ordered = reps[np.argsort(points[reps, axis], kind="stable")]
        cut = round(len(ordered) * (count // 2) / count)
        pending += [(ordered[cut:], count - count // 2), (ordered[:cut], count // 2)]
    for index, reps in enumerate(leaves):
        district[reps] = index
    return district


def solve_by_districts(
    instance: Instance, costs: CostModel, found: Bands, time_limit: float | None, effort: int | None,
    candidates_per_unit: int | None, started: float,
) -> Solution | None:
    """The pool's plan, district by district (module docstring); None when a unit fits no district or merged
    districts find no plan (the caller then solves the pool whole). `time_limit` bounds each district's solve
    and, counted from `started`, the search across districts (`default_time_limit` of the pool by default)."""
    log = SolveLog()
    district = rep_districts(instance)
    count = int(district.max()) + 1
    scale = _measure_scale(found)
    groups = _groups(instance, scale)
    log.append(f"{instance.units.count:,} units and {instance.reps.count:,} reps: too many to solve whole; "
               f"{count} districts of about {instance.reps.count // count} reps")
    allocated, district_prices = _allocate(costs, found, scale, groups, district)
    if allocated is None:
        log.append("districts: a unit fits no rep of any district; solving whole")
        return None
    unit_district = allocated[groups.of_unit]
    log.append(f"units allocated to the districts, {time.perf_counter() - started:.2f} s")
    members = {k: np.array([k]) for k in range(count)}  # districts solved as one, by the first's index
    solutions: dict[int, DistrictPlan] = {}
    k = 0
    while k < count:
        if k not in members:
            k += 1
            continue
        solution = _solve_district(instance, costs, found, district, unit_district, members[k], time_limit, effort,
                                   candidates_per_unit)
        while solution.plan is None:
            partner = _nearest(instance, district, members, k)
            if partner is None or len(members[k]) + len(members[partner]) > MERGED_DISTRICTS:
                log.append(f"districts {', '.join(str(d + 1) for d in members[k])}: no plan; solving whole")
                return None
            log.append(f"district {k + 1}: no plan; solved again with district {partner + 1}")
            members[k] = np.concatenate([members[k], members.pop(partner)])
            solutions.pop(partner, None)
            solution = _solve_district(instance, costs, found, district, unit_district, members[k], time_limit,
                                       effort, candidates_per_unit)
        solutions[k] = solution
        log.append(f"district {k + 1} of {count}: {solution.solution.status}, gap {solution.solution.gap:.3%}"
                   f"{f', {solution.placed} outsized unit(s) placed first' if solution.placed else ''}, "
                   f"{time.perf_counter() - started:.2f} s")
        k += 1
    plan = np.full(instance.units.count, -1)
    prices = np.zeros(found.fair.shape)
    for k, solution in solutions.items():
        plan[_district_units(unit_district, members[k])] = solution.plan
        prices[np.isin(district, members[k])] = solution.solution.prices
    deadline = started + (default_time_limit(instance) if time_limit is None else time_limit)
    plan = _improve_across(instance, costs, found, scale, groups, plan, effort, deadline)
    log.append(f"across districts: shifts, swaps and re-splits of rep pairs, {time.perf_counter() - started:.2f} s")
    measured = evaluate(instance, found, plan, costs)
    if not measured.feasible:  # by construction it is: each district keeps its reps' bands in the pool
        log.append("districts: the districts' plans together break a band of the pool; solving whole")
        return None
    # the districts' prices, and the same raised by the allocation's price of their district: the better bound
    bound = max(_bound_at(costs, found, scale, groups, prices),
                _bound_at(costs, found, scale, groups, prices + district_prices[district] * scale))
    log.append(f"bound over every eligible pair at the districts' prices: {bound:,.2f}, "
               f"{time.perf_counter() - started:.2f} s")
    return feasible_solution(instance, found, plan, measured, bound, prices, None, started, log)


def _district_units(unit_district: np.ndarray, districts: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.isin(unit_district, districts))


@dataclass(frozen=True)
class DistrictPlan:
    """A district's solve and its plan: a rep (of the whole instance) per unit of the district, None without one."""

    solution: Solution
    plan: np.ndarray | None
    placed: int  # outsized units placed before the solve


def _solve_district(
    instance: Instance, costs: CostModel, found: Bands, district: np.ndarray, unit_district: np.ndarray,
    districts: np.ndarray, time_limit: float | None, effort: int | None, candidates_per_unit: int | None,
) -> DistrictPlan:
    """The instance made of `districts`' reps and the units allocated to them, solved as one pool with the reps'
    bands in the whole pool (`found`), less what the outsized units placed first (`_place_outsized`) bring."""
    from territory.engine.decompose import sub_instance  # decompose imports solve, which imports this module lazily

    units, reps = _district_units(unit_district, districts), np.flatnonzero(np.isin(district, districts))
    placed, owner = _place_outsized(instance, costs, found, units, reps)
    rest = units[~np.isin(units, placed)]
    brought = np.zeros((instance.reps.count, found.fair.shape[1]))
    np.add.at(brought, owner, instance.units.measures[placed])
    part = sub_instance(instance, rest, reps)
    part_bands = Bands(unit_pool=np.zeros(len(rest), dtype=np.int64), rep_pool=np.zeros(len(reps), dtype=np.int64),
                       pool_names=found.pool_names, fair=found.fair[reps],
                       lower=np.maximum(found.lower[reps] - brought[reps], 0.0),
                       upper=found.upper[reps] - brought[reps])
    solution = _solve_pools_together(part, CostModel(part), part_bands, time_limit, effort, candidates_per_unit,
                                     time.perf_counter())
    if solution.status == "infeasible":
        return DistrictPlan(solution, None, len(placed))
    plan = np.empty(instance.units.count, dtype=np.int64)
    plan[rest], plan[placed] = reps[solution.rep], owner
    return DistrictPlan(solution, plan[units], len(placed))


def _place_outsized(
    instance: Instance, costs: CostModel, found: Bands, units: np.ndarray, reps: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Units (a family as one) that bring more than OUTSIZED of the median rep's fair share of a measure, each given
    to the rep of `reps` eligible for all its members at which it leaves most room (its least share of fair share
    left below the upper band), one per rep, the largest first; those with a locked member are left to the solve.
    Returns the units placed and their reps.

    Rounding and repair move units one at a time; a unit that fills most of a rep's band needs a rep that
    takes little else of that measure, which a district seldom offers by chance.
    """
    members = instance.units
    key = np.where(members.family[units] >= 0, members.family[units], -1 - units)
    _, group = np.unique(key, return_inverse=True)
    load = np.zeros((group.max() + 1, found.fair.shape[1]))
    np.add.at(load, group, members.measures[units])
    locked = np.bincount(group, weights=members.locked[units]) > 0
    typical = np.median(found.fair, axis=0)
    share = (load / np.where(typical > 0, typical, np.inf)).max(axis=1)
    outsized = np.flatnonzero(~locked & (share > OUTSIZED))
    fair = np.where(found.fair[reps] > 0, found.fair[reps], np.inf)
    taken = np.zeros(len(reps), dtype=bool)
    placed, owner = [], []
    for g in outsized[np.argsort(-share[outsized], kind="stable")]:
        inside = units[group == g]
        room = ((found.upper[reps] - load[g]) / fair).min(axis=1)
        room[taken | ~costs.eligible(inside)[:, reps].all(axis=0)] = -np.inf
        best = int(np.argmax(room))
        if room[best] >= 0:
            taken[best] = True
            placed.extend(inside.tolist())
            owner.extend([reps[best]] * len(inside))
    return np.array(placed, dtype=np.int64), np.array(owner, dtype=np.int64)


def _nearest(instance: Instance, district: np.ndarray, members: dict[int, np.ndarray], k: int) -> int | None:
    """The district (by its first index) whose reps' centre lies nearest to district k's, or None if k is the last."""
    points = unit_vectors(instance.reps.latitude, instance.reps.longitude)
    centre = {d: points[np.isin(district, group)].mean(axis=0) for d, group in members.items()}
    others = [d for d in members if d != k]
    if not others:
        return None
    return min(others, key=lambda d: (float(np.sum((centre[d] - centre[k]) ** 2)), d))


def _allocate(
    costs: CostModel, found: Bands, scale: np.ndarray, groups, district: np.ndarray,
) -> tuple[np.ndarray | None, np.ndarray]:
    """(G,) a district per group (module docstring, step 2), None when a unit fits no district; and the allocation's
    band prices (districts, M), per scaled unit of measure."""
    count = int(district.max()) + 1
    order = np.argsort(district, kind="stable")
    starts = np.searchsorted(district[order], np.arange(count))
    upper = found.upper * scale
    smallest = upper.min(axis=0)
    keep = min(ALLOCATION_CHOICES, count)
    rows, columns, values = [], [], []
    for block, members, local in _group_blocks(costs, groups):
        cost = _dense_block(costs, groups, block, members, local)
        load = groups.load[block]
        large = np.flatnonzero(np.any(load > smallest, axis=1))  # the others fit every rep
        if len(large):
            fits = np.all(load[large, None, :] <= upper[None, :, :], axis=2)
            cost[large] = np.where(fits, cost[large], np.inf)
        cost = np.minimum.reduceat(cost[:, order], starts, axis=1)
        chosen = np.zeros(cost.shape, dtype=bool)
        if keep < count:
            np.put_along_axis(chosen, np.argpartition(cost, keep - 1, axis=1)[:, :keep], True, axis=1)
            # and each district the block's units it is cheapest for, twice its share of them: where costs hardly
            # differ between districts (no travel), every unit's cheapest districts may be the same few
            most = min(len(block), -(-DISTRICT_SHARE_CHOICES * len(block) // count))
            np.put_along_axis(chosen, np.argpartition(cost, most - 1, axis=0)[:most], True, axis=0)
        else:
            chosen[:] = True
        chosen &= np.isfinite(cost)
        row, column = np.nonzero(chosen)
        rows.append(block[row])
        columns.append(column)
        values.append(cost[row, column])
    group, pair_district = np.concatenate(rows), np.concatenate(columns)
    if len(np.unique(group)) < groups.count:
        # a unit fits no district's reps: the whole pool's diagnosis names it
        return None, np.zeros((count, found.fair.shape[1]))
    fair = np.zeros((count, found.fair.shape[1]))
    np.add.at(fair, district, found.fair * scale)
    tolerance = ALLOCATION_TOLERANCE_SHARE * np.array([measure.tolerance for measure in costs.instance.measures])
    problem = AssignmentProblem(unit=group, rep=pair_district, cost=np.concatenate(values), load=groups.load,
                                lower=fair * (1 - tolerance), upper=fair * (1 + tolerance))
    dual = lagrangian_bound(problem)
    # the districts keep the pool's bands, not these: a district a little outside them only has less room
    rounded = sampled_choice(problem, dual.soft_assignment(problem))
    return problem.rep[balance_in_turn(problem, rounded)], dual.multipliers.price


def _improve_across(
    instance: Instance, costs: CostModel, found: Bands, scale: np.ndarray, groups, plan: np.ndarray,
    effort: int | None, deadline: float,
) -> np.ndarray:
    """The districts' plan made cheaper across their borders: the local search (ACROSS_ROUNDS rounds) and the
    rep-pair search (ACROSS_SOLVES re-splits, or `effort`) of primal.py over each unit's ACROSS_CANDIDATES
    cheapest reps in the pool and its rep in the plan, keeping every band."""
    group, rep, cost, _, _ = _candidates(costs, groups, ACROSS_CANDIDATES)
    problem = AssignmentProblem(unit=group, rep=rep, cost=cost, load=groups.load, lower=found.lower * scale,
                                upper=found.upper * scale)
    owner = plan[groups.members[groups.starts]]  # a group's members share their rep
    missing_group, missing_rep = _new_pairs(problem, np.arange(groups.count), owner[:, None])
    missing_cost, _ = _pair_costs(costs, groups, missing_group, missing_rep)
    problem = _with_pairs(problem, missing_group, missing_rep, missing_cost, np.zeros(len(missing_group)))
    keys = problem.unit.astype(np.int64) * problem.reps + problem.rep
    choice = np.searchsorted(keys, np.arange(groups.count, dtype=np.int64) * problem.reps + owner)
    choice = improve(problem, choice, deadline, ACROSS_ROUNDS)
    choice, _ = rep_pair_search(problem, choice, ACROSS_SOLVES if effort is None else effort, deadline)
    return problem.rep[choice][groups.of_unit]


def _bound_at(costs: CostModel, found: Bands, scale: np.ndarray, groups, prices: np.ndarray) -> float:
    """L over every eligible pair at band prices `prices` (m, M), per unscaled unit of measure: upper-side
    multipliers where a price is positive, lower-side where it is negative (the larger L for the same prices)."""
    least = np.empty(groups.count)
    for block, members, local in _group_blocks(costs, groups):
        reduced = (groups.load[block] / scale) @ prices.T
        reduced += _dense_block(costs, groups, block, members, local)
        least[block] = reduced.min(axis=1)
    upper_side, lower_side = np.maximum(prices, 0), np.maximum(-prices, 0)
    return float(least.sum() - (upper_side * found.upper).sum() + (lower_side * found.lower).sum())
