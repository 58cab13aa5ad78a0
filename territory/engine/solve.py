"""Solve an instance: a plan that keeps every band, its cost, and a proven lower bound.

Independent parts of an instance (its pools, without a disruption budget) are solved apart
(decompose.py), and a pool too large to solve whole district by district (districts.py);
each part, district or small pool goes through these steps:

1. Bands: pools of the eligibility graph and each rep's band per measure (bands.py).
2. Diagnosis: necessary conditions (capacity per pool, units too large for every band,
   locked units overfilling a rep, units nobody may own); if one fails, no plan is made and
   the binding constraints are returned instead (diagnosis.py).
3. Candidates: a unit (or a whole account family, which moves as one) keeps its cheapest
   eligible reps and its current rep as candidate pairs. In a large pool, "cheapest" is by
   reduced cost at the band prices of the dual over every eligible pair of a sample of the
   units (a warm start).
4. Bound: the Lagrangian dual over the candidates (lagrangian.py), from a warm start within a
   box around it; then every eligible pair, candidate or not, is priced at the dual's
   multipliers: pairs cheaper than a unit's best candidate join the candidates and the dual
   resumes (column generation), and the bound is L evaluated over every eligible pair (at the
   end, or at the warm start if higher), so it holds for the full problem. A bound above the
   cost of the dearest assignment proves that no plan exists; the multipliers that grew name
   the conflicting constraints.
5. Plan: the dual's fractional assignment, aimed inside narrowed bands, rounded, balanced and
   repaired into the bands, and improved (primal.py); an instance of at most EXACT_PAIRS pairs
   is first solved outright by HiGHS.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from territory.engine.bands import Bands, bands
from territory.engine.costs import CostModel
from territory.engine.diagnosis import conflicting_constraints, diagnose, unrepaired
from territory.engine.evaluate import Evaluation, evaluate
from territory.engine.instance import Instance
from territory.engine.lagrangian import (
    LagrangianBound,
    Multipliers,
    dual_constant,
    lagrangian_bound,
    reduced_costs,
)
from territory.engine.primal import (
    INSIDE,
    balance,
    exact_split,
    improve,
    pair_repair,
    rep_pair_search,
    restore_budget,
    sampled_choice,
    violation,
)
from territory.engine.problem import AssignmentProblem
from territory.engine.solution import Binding, Solution

CANDIDATES_PER_UNIT = 20  # when every pair would be too many
ALL_PAIRS = 4_000_000  # up to this many (unit, rep) pairs, every eligible pair is a candidate
PRICED_PAIRS = 3  # pairs a unit gains per pricing round, least reduced cost first
START_BAND_SHARES = (0.8, 0.5)  # of each band's width, for the fractional plans that are rounded first
START_DRAWS = 8  # roundings of each, the best kept
EXACT_PAIRS = 2_000  # at most this many pairs: solve the whole MILP with HiGHS
PRICING_ROUNDS = 5
WARM_PRICING_ROUNDS = 1  # from a sample's prices, candidates are nearly right: later rounds gain a tenth as much
PRICING_ENOUGH = 0.01  # share of units still gaining pairs at which column generation stops
PRICING_GAP = 1e-3  # or the share of the bound that the pairs they would gain are worth
RESUMED_ITERATIONS = 25  # dual iterations when resuming from earlier multipliers
SEARCH_SOLVES = 500  # at most this many re-splits in the rep-pair search: beyond, each saves little
SAMPLE_GROUPS = 100_000  # a pool of more groups first prices its bands on a sample of at most this many groups
SAMPLE_PAIRS = 6_500_000  # and of at most this many eligible pairs, every one of them in the sample's dual
PARALLEL_UNITS = 200_000  # an instance of more units solves its independent parts side by side
PART_WORKERS = 2  # on this many processes (spawning one costs about a second: worth it only for large parts)
BOX = 0.25  # with a warm start, the dual moves each band price by at most this share of its measure's mean price

LOGGER = logging.getLogger(__name__)


@contextmanager
def progress_to(report: Callable[[str], None]) -> Iterator[None]:
    """While the block runs, send each line of the engine's log to `report` as it happens."""

    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            report(record.getMessage())

    engine = logging.getLogger("territory.engine")
    handler, level = Forward(), engine.level
    engine.addHandler(handler)
    engine.setLevel(logging.INFO)
    try:
        yield
    finally:
        engine.removeHandler(handler)
        engine.setLevel(level)


class SolveLog(list):
    """The solve's log: kept for the Solution, and each line sent to the module's logger as it happens (progress)."""

    def append(self, line: str) -> None:
        super().append(line)
        LOGGER.info(line)


@dataclass(frozen=True)
class Groups:
    """Units that move together: each family is one group, every other unit a group of its own."""

    of_unit: np.ndarray  # (n,) group index
    members: np.ndarray  # (n,) unit indices ordered by group
    starts: np.ndarray  # (G,) where each group's members begin in `members`
    load: np.ndarray  # (G, M) scaled measures
    budget_weight: np.ndarray  # (G,) what moving every member away from its current rep spends
    unit_budget_weight: np.ndarray  # (n,) what moving each unit spends (0 without a current rep)

    @property
    def count(self) -> int:
        return len(self.starts)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(np.append(self.starts, len(self.members)))


def _groups(instance: Instance, scale: np.ndarray) -> Groups:
    units = instance.units
    n = units.count
    key = np.where(units.family >= 0, units.family, units.family.max(initial=-1) + 1 + np.arange(n))
    _, of_unit = np.unique(key, return_inverse=True)
    members = np.argsort(of_unit, kind="stable")
    starts = np.searchsorted(of_unit[members], np.arange(of_unit.max(initial=-1) + 1))
    load = np.zeros((len(starts), len(instance.measures)))
    np.add.at(load, of_unit, units.measures * scale)
    weight = _budget_weight(instance)
    owned = np.where(units.current_rep >= 0, weight, 0.0)
    return Groups(of_unit, members, starts, load, np.bincount(of_unit, weights=owned, minlength=len(starts)), owned)


def _budget_weight(instance: Instance) -> np.ndarray:
    """What moving each unit spends: 1 for an account budget, its value for a value budget."""
    if instance.max_moved_value_share is not None:
        return instance.units.value.astype(float)
    return np.ones(instance.units.count)


def _budget(instance: Instance) -> float:
    owned = instance.units.current_rep >= 0
    weight = _budget_weight(instance)[owned].sum()
    if instance.max_moved_value_share is not None:
        return float(instance.max_moved_value_share * weight)
    if instance.max_moved_share is not None:
        return float(instance.max_moved_share * weight)
    return np.inf


def _group_blocks(costs: CostModel, groups: Groups):
    """Blocks of whole groups: (group indices, their members, each group's start within the members)."""
    size = costs.block_size()
    g = 0
    while g < groups.count:
        end = min(groups.count, g + size)
        first = groups.starts[g]
        last = groups.starts[end] if end < groups.count else len(groups.members)
        yield np.arange(g, end), groups.members[first:last], groups.starts[g:end] - first
        g = end


def _by_group(rows: np.ndarray, local: np.ndarray, sizes: np.ndarray, combine) -> np.ndarray:
    """Rows of members combined per group with `combine` (np.add, np.logical_and), groups of one taken as they are."""
    combined = rows[local]
    for offset in range(1, int(sizes.max(initial=1))):
        larger = np.flatnonzero(sizes > offset)
        combined[larger] = combine(combined[larger], rows[local[larger] + offset])
    return combined


def _dense_block(costs: CostModel, groups: Groups, block: np.ndarray, members: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Cost (inf where ineligible) of every (group, rep) pair of a block."""
    sizes = groups.sizes[block]
    cost = _by_group(costs.dense_cost(members), local, sizes, np.add)
    cost[~_by_group(costs.eligible(members), local, sizes, np.logical_and)] = np.inf
    return cost


def _dense_spend(costs: CostModel, groups: Groups, block: np.ndarray, members: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Budget spend of every (group, rep) pair of a block: every owned member's weight, but at its current rep."""
    spend = np.repeat(groups.budget_weight[block, None], costs.instance.reps.count, axis=1)
    current = costs.instance.units.current_rep[members]
    owned = current >= 0
    np.subtract.at(spend, (np.searchsorted(local, np.arange(len(members)), side="right")[owned] - 1, current[owned]),
                   groups.unit_budget_weight[members][owned])
    return spend


def _candidates(
    costs: CostModel, groups: Groups, per_unit: int, multipliers: Multipliers | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each group's cheapest eligible reps (by reduced cost at `multipliers`, if given) and its current rep:
    (group, rep, cost, spend) sorted by group then rep, and each group's least reduced cost over every eligible
    rep (its term of L at the multipliers: the candidates' pass prices every pair anyway)."""
    m = costs.instance.reps.count
    keep = min(per_unit, m)
    budgeted = np.isfinite(_budget(costs.instance))
    parts, least = [], np.empty(groups.count)
    for block, members, local in _group_blocks(costs, groups):
        cost = _dense_block(costs, groups, block, members, local)
        spend = _dense_spend(costs, groups, block, members, local) if budgeted else None
        ranked = cost
        if multipliers is not None:
            ranked = groups.load[block] @ multipliers.price.T
            ranked += cost
            if budgeted:
                ranked += multipliers.budget * spend
        least[block] = ranked.min(axis=1)
        chosen = np.zeros(cost.shape, dtype=bool)
        cheapest = np.argpartition(ranked, keep - 1, axis=1)[:, :keep] if keep < m else np.arange(m)[None, :]
        np.put_along_axis(chosen, np.broadcast_to(cheapest, (len(block), cheapest.shape[1])), True, axis=1)
        current = costs.instance.units.current_rep[members[local]]
        has_current = current >= 0
        chosen[np.flatnonzero(has_current), current[has_current]] = True
        chosen &= np.isfinite(cost)
        rows, reps = np.nonzero(chosen)
        parts.append((block[rows], reps, cost[rows, reps], spend[rows, reps] if budgeted else np.zeros(len(rows))))
    return (*(np.concatenate(column) for column in zip(*parts)), least)


@dataclass(frozen=True)
class Pricing:
    """Every eligible pair priced at the dual's multipliers."""

    bound: float  # L over every eligible pair: a lower bound on the full problem's optimum
    missing: np.ndarray  # groups with a pair cheaper than their cheapest candidate at the multipliers
    best_reps: np.ndarray  # (len(missing), PRICED_PAIRS) those groups' reps of least reduced cost
    dearest: float  # the cost of the dearest assignment: every group at its most expensive eligible rep, bands ignored


def _price_all_pairs(costs: CostModel, groups: Groups, problem: AssignmentProblem, multipliers: Multipliers) -> Pricing:
    """Price every eligible pair at the multipliers (see `Pricing`)."""
    price = multipliers.price
    candidate_best = np.minimum.reduceat(reduced_costs(problem, multipliers), problem.unit_starts)
    keep = min(PRICED_PAIRS, costs.instance.reps.count)
    best_reduced, missing, best_reps = np.empty(groups.count), [], []
    dearest = 0.0
    for block, members, local in _group_blocks(costs, groups):
        cost = _dense_block(costs, groups, block, members, local)
        dearest += float(np.max(cost, axis=1, where=np.isfinite(cost), initial=-np.inf).sum())
        reduced = groups.load[block] @ price.T
        reduced += cost
        if problem.has_budget:
            reduced += multipliers.budget * _dense_spend(costs, groups, block, members, local)
        best = reduced.min(axis=1)
        best_reduced[block] = best
        cheaper = np.flatnonzero(best < candidate_best[block] - 1e-9 * np.maximum(1.0, np.abs(candidate_best[block])))
        if len(cheaper):
            rows = reduced[cheaper]
            reps = np.argpartition(rows, keep - 1, axis=1)[:, :keep] if keep < rows.shape[1] else np.argsort(rows, axis=1)
            missing.append(block[cheaper])
            best_reps.append(reps)
    bound = float(best_reduced.sum()) + dual_constant(problem, multipliers)
    if not missing:
        return Pricing(bound, np.empty(0, dtype=np.int64), np.empty((0, keep), dtype=np.int64), dearest)
    return Pricing(bound, np.concatenate(missing), np.concatenate(best_reps), dearest)


def _measure_scale(found: Bands) -> np.ndarray:
    """Per measure, one over the average positive fair share: bands become comparable across measures."""
    fair = np.where(found.fair > 0, found.fair, np.nan)
    mean = np.nanmean(fair, axis=0) if np.isfinite(fair).any() else np.ones(fair.shape[1])
    return np.where(np.isfinite(mean) & (mean > 0), 1.0 / mean, 1.0)


def _new_pairs(problem: AssignmentProblem, groups: np.ndarray, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (group, rep) pairs of `groups` x their `reps` (one row per group) not yet candidates.

    The candidates are sorted by group, then rep, so each pair is looked up by bisection in their keys.
    """
    group = np.repeat(groups, reps.shape[1])
    rep = reps.ravel()
    keys = problem.unit.astype(np.int64) * problem.reps + problem.rep
    wanted = group.astype(np.int64) * problem.reps + rep
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    known = keys[at] == wanted
    return group[~known], rep[~known]


def _with_pairs(problem: AssignmentProblem, group, rep, cost, spend) -> AssignmentProblem:
    """The problem with more candidate pairs, kept sorted by unit, then rep."""
    unit, reps = np.concatenate([problem.unit, group]), np.concatenate([problem.rep, rep])
    order = np.lexsort((reps, unit))
    weight = None if problem.budget_weight is None else np.concatenate([problem.budget_weight, spend])[order]
    return AssignmentProblem(
        unit=unit[order], rep=reps[order], cost=np.concatenate([problem.cost, cost])[order],
        load=problem.load, lower=problem.lower, upper=problem.upper, budget_weight=weight, budget=problem.budget,
    )


def _start(problem: AssignmentProblem, dual) -> np.ndarray:
    """The first plan: the dual's fractional assignment re-aimed inside narrowed bands, rounded.

    Rounding moves each rep's totals a little off the fractional ones, so the fractional plan
    aims inside the bands (each narrowed to START_BAND_SHARES of its width, in turn), and of
    START_DRAWS draws for each the one furthest inside the bands is kept: the fewer reps
    outside, the less repair.
    """
    middle, half = (problem.lower + problem.upper) / 2, (problem.upper - problem.lower) / 2
    best, best_violation = None, np.inf
    for share in START_BAND_SHARES:
        narrow = AssignmentProblem(
            unit=problem.unit, rep=problem.rep, cost=problem.cost, load=problem.load,
            lower=middle - half * share, upper=middle + half * share,
            budget_weight=problem.budget_weight, budget=problem.budget,
        )
        weights = lagrangian_bound(narrow, start=dual.multipliers, temperatures=(dual.temperature,)).soft_assignment(narrow)
        for seed in range(START_DRAWS):
            choice = restore_budget(problem, sampled_choice(problem, weights, seed))
            totals = problem.rep_loads(choice)
            outside = float(violation(totals, problem.lower, problem.upper).sum())
            if outside < best_violation:
                best, best_violation = choice, outside
    return best


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def default_time_limit(instance: Instance) -> float:
    """A safety stop, in seconds: 30 s plus 1 ms per unit and 0.5 s per rep (the repair re-splits each rep
    that rounding leaves outside a band: hundreds in a pool of a thousand reps). Searches end by their work
    budget well before it."""
    return 30.0 + 1e-3 * instance.units.count + 0.5 * instance.reps.count


def search_solves(instance: Instance) -> int:
    """The work budget of the rep-pair search: re-splits allowed, two per rep plus fifty, at most SEARCH_SOLVES."""
    return min(SEARCH_SOLVES, 2 * instance.reps.count + 50)


def solve(
    instance: Instance, time_limit: float | None = None, effort: int | None = None,
    candidates_per_unit: int | None = None,
) -> Solution:
    """The plan of least cost that keeps every rule, with its lower bound; or the diagnosis of why none exists.

    An instance whose independent parts share no unit, rep or constraint (its pools, when there
    is no disruption budget) is solved part by part, each on its own scale of costs and
    measures, and the plans merged (`territory.engine.decompose`); with more than
    PARALLEL_UNITS units, on PART_WORKERS processes side by side. The plan is the same either
    way: each part's solve depends only on its own instance (fixed seeds, work budgets), not on
    the process it runs in, unless its safety time limit binds. A pool too large to solve whole
    is solved district by district (`territory.engine.districts`).

    Deterministic: the search is bounded by work (`effort` re-splits, `search_solves` by
    default), not time; `time_limit` (default `default_time_limit`) is a safety stop, and the
    log says when it decided the answer.
    """
    from territory.engine.decompose import independent_parts, merge, solve_parts  # both import this module
    from territory.engine.districts import solve_by_districts, worth_districting

    started = time.perf_counter()
    costs = CostModel(instance)
    found = bands(instance, costs)
    parts = independent_parts(instance, found)
    if len(parts) > 1:
        workers = PART_WORKERS if instance.units.count > PARALLEL_UNITS else 1
        return merge(instance, parts, solve_parts(parts, time_limit, effort, candidates_per_unit, workers), started)
    if worth_districting(instance, found):
        solution = solve_by_districts(instance, costs, found, time_limit, effort, candidates_per_unit, started)
        if solution is not None:
            return solution
    return _solve_pools_together(instance, costs, found, time_limit, effort, candidates_per_unit, started)


def _column_generation(
    costs: CostModel, groups: Groups, problem: AssignmentProblem, dual: LagrangianBound, log: list[str], started: float,
    box: np.ndarray | None = None, rounds: int = PRICING_ROUNDS,
) -> tuple[AssignmentProblem, LagrangianBound, Pricing]:
    """Add the pairs that price below each group's candidates and resume the dual (each move of the multipliers
    within `box`, if given), until few groups gain any, at most `rounds` times; then price every pair once more."""
    for _ in range(rounds):
        pricing = _price_all_pairs(costs, groups, problem, dual.multipliers)
        # the bound prices the rest anyway: stop when few units gain pairs, or when those they gain barely move it
        if (len(pricing.missing) <= PRICING_ENOUGH * groups.count
                or dual.value - pricing.bound <= PRICING_GAP * max(1.0, abs(dual.value))):
            return problem, dual, pricing
        log.append(f"pricing: {len(pricing.missing):,} units have a cheaper pair outside their candidates, worth "
                   f"{(dual.value - pricing.bound) / max(1.0, abs(dual.value)):.3%} of the bound; adding them "
                   f"({time.perf_counter() - started:.2f} s)")
        new_group, new_rep = _new_pairs(problem, pricing.missing, pricing.best_reps)
        new_cost, new_spend = _pair_costs(costs, groups, new_group, new_rep)
        problem = _with_pairs(problem, new_group, new_rep, new_cost, new_spend)
        dual = lagrangian_bound(problem, start=dual.multipliers, temperatures=(dual.temperature,),
                                iterations_per_stage=RESUMED_ITERATIONS, box=box)
    return problem, dual, _price_all_pairs(costs, groups, problem, dual.multipliers)


def _subset(groups: Groups, chosen: np.ndarray) -> Groups:
    """The groups `chosen` (sorted indices) alone; `of_unit` is -1 for the units of the others."""
    sizes = groups.sizes[chosen]
    offset = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    members = groups.members[np.repeat(groups.starts[chosen], sizes) + offset]
    of_unit = np.full(len(groups.of_unit), -1)
    of_unit[members] = np.repeat(np.arange(len(chosen)), sizes)
    return Groups(of_unit, members, np.cumsum(sizes) - sizes, groups.load[chosen], groups.budget_weight[chosen],
                  groups.unit_budget_weight)


def _sample_multipliers(
    costs: CostModel, groups: Groups, lower: np.ndarray, upper: np.ndarray, log: list[str], started: float,
) -> Multipliers | None:
    """Band prices from the dual over every eligible pair of a sample of groups (SAMPLE_GROUPS, fewer when that
    would exceed SAMPLE_PAIRS pairs), the bands (and budget) shrunk to the sample's share.
    A price is per unit of measure, so it carries over to the whole pool as a warm start and ranks its
    candidates; the sample holds every pair, so its prices are not distorted by missing ones (a dual over
    a few candidates per unit runs to prices at which the pairs it lacks are far cheaper). None when the
    sample's bands are out of reach (sampling can make them so)."""
    size = min(SAMPLE_GROUPS, max(1, SAMPLE_PAIRS // costs.instance.reps.count))
    chosen = np.sort(np.random.default_rng(0).choice(groups.count, size, replace=False))
    sample = _subset(groups, chosen)
    total = groups.load.sum(axis=0)
    share = np.divide(sample.load.sum(axis=0), total, out=np.ones_like(total), where=total > 0)
    group, rep, cost, spend, _ = _candidates(costs, sample, costs.instance.reps.count)
    budget = _budget(costs.instance)
    owned = groups.budget_weight.sum()
    problem = AssignmentProblem(
        unit=group, rep=rep, cost=cost, load=sample.load, lower=lower * share, upper=upper * share,
        budget_weight=spend if np.isfinite(budget) else None,
        budget=budget * sample.budget_weight.sum() / owned if owned > 0 else budget,
    )
    dual = lagrangian_bound(problem)
    dearest = float(np.maximum.reduceat(cost, problem.unit_starts).sum())
    usable = dual.value <= dearest * (1 + 1e-9) + 1e-9
    log.append(f"sample of {size:,} groups priced the bands{'' if usable else ' out of reach: no warm start'} "
               f"({len(group):,} pairs, every eligible one; {time.perf_counter() - started:.2f} s)")
    return dual.multipliers if usable else None


def _solve_pools_together(
    instance: Instance, costs: CostModel, found: Bands, time_limit: float | None, effort: int | None,
    candidates_per_unit: int | None, started: float,
) -> Solution:
    """Solve the instance as one problem (see the module docstring)."""
    log = SolveLog()
    scale = _measure_scale(found)
    groups = _groups(instance, scale)
    if candidates_per_unit is None:
        every = instance.units.count * instance.reps.count <= ALL_PAIRS
        candidates_per_unit = instance.reps.count if every else CANDIDATES_PER_UNIT
    warm = None
    if groups.count > SAMPLE_GROUPS and candidates_per_unit < instance.reps.count:
        warm = _sample_multipliers(costs, groups, found.lower * scale, found.upper * scale, log, started)
    group, rep, cost, spend, least = _candidates(costs, groups, candidates_per_unit, warm)
    log.append(f"{instance.units.count:,} units in {groups.count:,} groups, {instance.reps.count:,} reps, "
               f"{len(found.pool_names)} pool(s), {len(group):,} candidate pairs ({time.perf_counter() - started:.2f} s)")
    binding = diagnose(instance, found, groups.of_unit, groups.load / scale, group, rep)
    if binding:
        return infeasible_solution(instance, found, binding, started, log)

    budget = _budget(instance)
    problem = AssignmentProblem(
        unit=group, rep=rep, cost=cost, load=groups.load, lower=found.lower * scale, upper=found.upper * scale,
        budget_weight=spend if np.isfinite(budget) else None, budget=budget,
    )
    # L at the warm start over every eligible pair, from the pass that chose the candidates: a bound already
    warm_bound = float(least.sum()) + dual_constant(problem, warm) if warm is not None else -np.inf
    box = None if warm is None else BOX * np.abs(warm.price).mean(axis=0)
    dual = lagrangian_bound(problem, start=warm, box=box)
    log.append(f"dual: bound {dual.value:,.2f} over candidates after {dual.evaluations} evaluations "
               f"(at the warm start, {warm_bound:,.2f} over every pair), {time.perf_counter() - started:.2f} s")
    rounds = PRICING_ROUNDS if warm is None else WARM_PRICING_ROUNDS
    problem, dual, pricing = _column_generation(costs, groups, problem, dual, log, started, box, rounds)
    bound, dearest = max(pricing.bound, warm_bound), pricing.dearest
    log.append(f"bound over every eligible pair: {bound:,.2f} after {time.perf_counter() - started:.2f} s")
    if not bound <= dearest * (1 + 1e-9) + 1e-9:
        # no assignment costs more than `dearest`, so a bound above it proves that none keeps every band
        binding = conflicting_constraints(instance, found, problem, dual.multipliers)
        return infeasible_solution(instance, found, binding, started, log)

    limit = default_time_limit(instance) if time_limit is None else time_limit
    deadline = started + limit
    choice = _start(problem, dual)
    outside = int((violation(problem.rep_loads(choice), problem.lower, problem.upper) > INSIDE).sum())
    log.append(f"rounded: cost {problem.cost[choice].sum():,.2f}, {outside:,} rep(s) outside a band, "
               f"{time.perf_counter() - started:.2f} s")
    if len(problem.unit) <= EXACT_PAIRS and candidates_per_unit >= instance.reps.count:
        # small enough to solve outright; every eligible pair is a candidate, so HiGHS's bound holds
        plan, proven = exact_split(problem, choice, np.arange(len(problem.unit)), max(1.0, limit))
        bound = max(bound, proven)
        log.append(f"exact MILP over all {len(problem.unit):,} pairs: {'no plan' if plan is None else 'plan found'}")
        if plan is not None:
            choice = plan
    choice = balance(problem, choice)
    outside = int((violation(problem.rep_loads(choice), problem.lower, problem.upper) > INSIDE).sum())
    log.append(f"balanced: cost {problem.cost[choice].sum():,.2f}, {outside:,} rep(s) outside a band, "
               f"{time.perf_counter() - started:.2f} s")
    choice, feasible = pair_repair(problem, choice, deadline)
    log.append(f"repair: {'every band holds' if feasible else 'some bands still violated'}, cost "
               f"{problem.cost[choice].sum():,.2f}, after {time.perf_counter() - started:.2f} s")
    if not feasible:
        totals = problem.rep_loads(choice) / scale
        over = max(0.0, problem.spent(choice) - problem.budget) if problem.has_budget else 0.0
        return infeasible_solution(instance, found, unrepaired(instance, found, totals, over), started, log)
    choice = improve(problem, choice, deadline)
    log.append(f"local search: cost {problem.cost[choice].sum():,.2f} after {time.perf_counter() - started:.2f} s")
    choice, solves = rep_pair_search(problem, choice, search_solves(instance) if effort is None else effort, deadline)
    log.append(f"rep-pair search: cost {problem.cost[choice].sum():,.2f} after {solves} re-splits, "
               f"{time.perf_counter() - started:.2f} s")
    if time.perf_counter() >= deadline:
        log.append(f"stopped by the time limit of {limit:,.0f} s: the answer may depend on the machine's speed")
    plan = problem.rep[choice][groups.of_unit]
    measured = evaluate(instance, found, plan, costs)
    return feasible_solution(instance, found, plan, measured, bound, dual.multipliers.price * scale,
                             None, started, log)


def feasible_solution(
    instance: Instance, found: Bands, plan: np.ndarray, measured: Evaluation, bound: float, prices: np.ndarray,
    status: str | None, started: float, log: list[str],
) -> Solution:
    """The Solution of a plan that keeps every rule, with its bound; status None: decided by the gap."""
    if 0 < bound - measured.objective <= 1e-7 * max(1.0, abs(measured.objective)):
        bound = measured.objective  # HiGHS proves optimality to its own tolerance
    gap = (measured.objective - bound) / abs(measured.objective) if measured.objective else 0.0
    log.append(f"plan: cost {measured.objective:,.2f}, gap {gap:.3%}")
    return Solution(
        status=status or ("optimal" if gap <= 1e-6 else "feasible"),
        rep=plan,
        cost_terms=measured.cost_terms,
        objective=measured.objective,
        lower_bound=bound,
        gap=gap,
        totals=measured.totals,
        fair_share=found.fair,
        lower=found.lower,
        upper=found.upper,
        prices=prices,
        max_deviation=measured.max_deviation,
        moved_share=measured.moved_share,
        moved_value_share=measured.moved_value_share,
        seconds=time.perf_counter() - started,
        peak_memory_mb=_peak_memory_mb(),
        log=tuple(log),
    )


def _pair_costs(costs: CostModel, groups: Groups, group: np.ndarray, rep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cost and budget spend of one (group, rep) pair per entry."""
    sizes = groups.sizes[group]
    entry = np.repeat(np.arange(len(group)), sizes)  # the entry each member belongs to
    offset = np.arange(len(entry)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    members = groups.members[np.repeat(groups.starts[group], sizes) + offset]
    pair_rep = rep[entry]
    cost = np.bincount(entry, weights=costs.cost(members, pair_rep[:, None])[:, 0], minlength=len(group))
    stays = costs.instance.units.current_rep[members] == pair_rep
    saved = np.bincount(entry, weights=np.where(stays, groups.unit_budget_weight[members], 0.0), minlength=len(group))
    return cost, groups.budget_weight[group] - saved


def infeasible_solution(
    instance: Instance, found: Bands, binding: tuple[Binding, ...], started: float, log: list[str],
) -> Solution:
    """The Solution of an instance that no plan fits: what binds, and no plan."""
    n, m, measures = instance.units.count, instance.reps.count, len(instance.measures)
    log.append("no plan: " + "; ".join(b.message for b in binding))
    return Solution(
        status="infeasible", rep=np.full(n, -1), cost_terms=np.full((n, 3), np.nan), objective=np.nan,
        lower_bound=np.nan, gap=np.nan, totals=np.full((m, measures), np.nan), fair_share=found.fair,
        lower=found.lower, upper=found.upper, prices=np.zeros((m, measures)),
        max_deviation={measure.name: np.nan for measure in instance.measures}, moved_share=np.nan,
        moved_value_share=np.nan, seconds=time.perf_counter() - started, peak_memory_mb=_peak_memory_mb(),
        diagnosis=tuple(binding), log=tuple(log),
    )
