"""From a fractional assignment to a plan that keeps every band, then cheaper while it keeps them.

1. Round: each unit draws one of its pairs with its fractional weight (`sampled_choice`), and
   units go back to their current reps while the draw overspends the disruption budget.
2. Balance (`balance`): single moves toward the bands, least cost per violation removed first,
   in vectorised batches in which each rep only gives or only takes; they bring many reps in
   cheaply when rounding leaves many a little out.
   Repair (`pair_repair`): each rep still outside a band re-splits units with one or two
   partner reps, exactly, as a small MILP (HiGHS) in which every rep it touches must end inside
   its bands; so the reps outside only ever get fewer.
3. Improve: shift moves (one unit to another of its reps) that lower the cost and keep both
   reps inside their bands, many per round (every move scored in one vectorised pass, then
   applied largest saving first, each checked against the totals the moves before it left); swaps of
   two units where a band blocks a single move; then exact re-splits of rep pairs, those whose
   shifts would save most first (`rep_pair_search`), within a budget of re-splits.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from territory.engine.problem import AssignmentProblem

EPSILON = 1e-9
INSIDE = 1e-7  # a total this close outside its band (scaled) counts as inside
HIGHS_MIP_TOLERANCE = 1e-6  # how far outside a row HiGHS's MILP solutions may be: re-splits aim this far inside
SOLVE_SECONDS = 10.0  # HiGHS limit per re-split: far above what one takes, so that it never decides the answer
EXACT_GAP = 1e-5  # relative gap at which HiGHS stops a re-split that lowers the cost
REPAIR_GAP = 1e-2  # and one that repairs: any plan inside the bands will do, the searches then lower its cost
NODE_LIMIT = 200  # branch-and-bound nodes per re-split (deterministic, unlike time): a re-split with no plan by then fails
NEIGHBOURHOOD_UNITS = 150  # units per exact re-split of two reps: small MILPs solve in milliseconds
IMPROVE_WORK = 2_000_000_000  # pair scorings the shift and swap rounds may spend in all
SHIFTS_PER_ROUND = 50_000  # improving shifts a round considers, the largest savings first (and `balance_in_turn` moves)
SETTLE_ROUNDS = 50  # rounds of `balance_in_turn`
PARTIAL_PARTNERS = 32  # partners a rep far outside its band re-splits with, one by one, to get closer
BALANCE_ROUNDS = 10  # rounds of single moves toward the bands before the exact repair
BALANCE_CHUNK = 2_000_000  # pairs scored at once by a balancing round (bounds its memory)
PARTIAL_SHARES = (0.5, 0.2)  # of its distance to its band such a re-split must close: half, else a fifth


def violation(totals: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Distance outside the band, summed over the last axis (measures)."""
    return (np.maximum(0.0, totals - upper) + np.maximum(0.0, lower - totals)).sum(axis=-1)


def sampled_choice(problem: AssignmentProblem, weights: np.ndarray, seed: int = 0) -> np.ndarray:
    """Round a fractional assignment: each unit draws one of its pairs with its weight (a fixed seed: deterministic).

    Totals then deviate from the fractional totals by a sum of independent draws, far less than
    taking every unit's heaviest pair, which sends all near-tied units the same way.
    """
    starts = problem.unit_starts
    cumulative = np.cumsum(weights)
    before = np.concatenate([[0.0], cumulative])[starts]
    draw = before + np.random.default_rng(seed).random(problem.units) * np.add.reduceat(weights, starts)
    ends = np.append(starts[1:], len(weights))
    return np.clip(np.searchsorted(cumulative, draw, side="right"), starts, ends - 1)


def restore_budget(problem: AssignmentProblem, choice: np.ndarray, target_share: float = 0.98) -> np.ndarray:
    """Give units back to their current reps, cheapest first, until the plan spends at most `target_share` of the budget.

    Rounding can overspend the disruption budget; the exact re-splits then need some room in it.
    """
    spent = problem.spent(choice)
    if not problem.has_budget or spent <= problem.budget * target_share:
        return choice
    # each unit's pair that spends least (its current rep's), if it is not the one chosen
    back = np.flatnonzero(problem.budget_weight == np.minimum.reduceat(problem.budget_weight, problem.unit_starts)[problem.unit])
    back = back[np.unique(problem.unit[back], return_index=True)[1]]
    back = back[back != choice[problem.unit[back]]]
    saved = problem.budget_weight[choice[problem.unit[back]]] - problem.budget_weight[back]
    extra = problem.cost[back] - problem.cost[choice[problem.unit[back]]]
    order = np.lexsort((back, extra / np.maximum(saved, EPSILON)))
    enough = np.searchsorted(np.cumsum(saved[order]), spent - problem.budget * target_share) + 1
    plan = choice.copy()
    plan[problem.unit[back[order[:enough]]]] = back[order[:enough]]
    return plan


def _apply(problem: AssignmentProblem, choice: np.ndarray, totals: np.ndarray, pairs: np.ndarray) -> None:
    units = problem.unit[pairs]
    old = choice[units]
    np.add.at(totals, problem.rep[old], -problem.load[units])
    np.add.at(totals, problem.rep[pairs], problem.load[units])
    choice[units] = pairs


def balance(problem: AssignmentProblem, choice: np.ndarray, rounds: int = BALANCE_ROUNDS) -> np.ndarray:
    """Bring reps toward their bands by single moves, cheapest per unit of violation removed first.

    Moves come in batches of two kinds: out of reps above a band into reps above none, and into
    reps below a band out of reps below none. Within a batch each rep only gives or only takes,
    so its totals change by the sum of its moves, and a batch is checked exactly in one
    vectorised pass (`_balancing_batch`): no rep's violation grows, and each rep outside sheds
    as much of its violation as its cheapest moves allow in one batch. Rounds of both batches
    repeat while moves are made, at most `rounds` (a budget of work). Far cheaper than exact
    re-splits when rounding leaves most reps a little out; the re-splits then bring in the few it
    cannot (above a band on one measure and below on another, or boxed in by full neighbours).
    """
    choice = choice.copy()
    totals = problem.rep_loads(choice)
    tolerance = EPSILON * np.maximum(1.0, np.abs(problem.upper))
    for _ in range(rounds):
        taken = 0
        for out_of_above in (True, False):
            moves = _balancing_batch(problem, choice, totals, tolerance, out_of_above)
            _apply(problem, choice, totals, moves)
            taken += len(moves)
        if not taken:
            break
        totals = problem.rep_loads(choice)  # free of the drift of incremental updates
    return choice


def _running(rep: np.ndarray, load: np.ndarray) -> np.ndarray:
    """(len(rep), M) per entry, the sum of `load` over it and the earlier entries of the same rep."""
    order = np.argsort(rep, kind="stable")
    summed = np.cumsum(load[order], axis=0)
    first = np.searchsorted(rep[order], rep[order])  # where each entry's rep begins in `order`
    running = np.empty_like(summed)
    running[order] = summed - np.where(first[:, None] > 0, summed[np.maximum(first - 1, 0)], 0.0)
    return running


def _balancing_batch(
    problem: AssignmentProblem, choice: np.ndarray, totals: np.ndarray, tolerance: np.ndarray, out_of_above: bool,
) -> np.ndarray:
    """The moves of one `balance` batch: out of reps above a band (`out_of_above`), else into reps below one.

    The reps mended are outside on that side only; they give (take) to (from) reps not outside on the
    same side. Every move that removes violation, its giver kept at or above its lower bounds and its
    taker at or below its upper ones, is ranked by cost added per violation removed, each unit's best
    move kept; in rank order, a move is kept while its mended rep is still outside before it, while
    no giver drops below its lower bounds and no taker exceeds its upper ones by the moves before it
    (running sums over the moves still kept: dropping moves only shrinks them), and while the budget
    lasts.
    """
    lower, upper = problem.lower, problem.upper
    above = (totals > upper + tolerance).any(axis=1)
    below = (totals < lower - tolerance).any(axis=1)
    mended = above & ~below if out_of_above else below & ~above
    givers, takers = (mended, ~above) if out_of_above else (~below, mended)
    if not mended.any():
        return np.empty(0, dtype=np.int64)
    now = violation(totals, lower, upper)
    moves, scores = [], []
    for start in range(0, len(problem.unit), BALANCE_CHUNK):
        pairs = np.arange(start, min(len(problem.unit), start + BALANCE_CHUNK))
        a, b = problem.rep[choice[problem.unit[pairs]]], problem.rep[pairs]
        pairs = pairs[(a != b) & givers[a] & takers[b]]
        current = choice[problem.unit[pairs]]
        a, b, load = problem.rep[current], problem.rep[pairs], problem.pair_load[pairs]
        fits = np.all(totals[a] - load >= lower[a] - tolerance[a], axis=1)
        fits &= np.all(totals[b] + load <= upper[b] + tolerance[b], axis=1)
        pairs, current, a, b, load = pairs[fits], current[fits], a[fits], b[fits], load[fits]
        removed = now[a] + now[b]
        removed -= violation(totals[a] - load, lower[a], upper[a])
        removed -= violation(totals[b] + load, lower[b], upper[b])
        helps = removed > INSIDE
        moves.append(pairs[helps])
        scores.append((problem.cost[pairs[helps]] - problem.cost[current[helps]]) / removed[helps])
    moves, scores = np.concatenate(moves), np.concatenate(scores)
    ranked = moves[np.lexsort((moves, scores))]
    ranked = ranked[np.sort(np.unique(problem.unit[ranked], return_index=True)[1])]  # each unit's best, in rank order
    source, target, load = problem.rep[choice[problem.unit[ranked]]], problem.rep[ranked], problem.pair_load[ranked]
    side, sign = (source, -1.0) if out_of_above else (target, 1.0)
    before = totals[side] + sign * (_running(side, load) - load)
    keep = violation(before, lower[side], upper[side]) > INSIDE
    ranked, source, target, load = ranked[keep], source[keep], target[keep], load[keep]
    keep = np.all(totals[source] - _running(source, load) >= lower[source] - tolerance[source], axis=1)
    ranked, source, target, load = ranked[keep], source[keep], target[keep], load[keep]
    keep = np.all(totals[target] + _running(target, load) <= upper[target] + tolerance[target], axis=1)
    ranked = ranked[keep]
    if problem.has_budget:
        spend = problem.budget_weight[ranked] - problem.budget_weight[choice[problem.unit[ranked]]]
        ranked = ranked[np.cumsum(np.maximum(spend, 0.0)) <= _room(problem, choice) + EPSILON]
    return ranked


def balance_in_turn(problem: AssignmentProblem, choice: np.ndarray, rounds: int = SETTLE_ROUNDS) -> np.ndarray:
    """Bring reps inside their bands by single moves, each checked against the totals the moves before it left.

    A round scores every move of a unit at or into a rep outside a band by the violation it
    removes from its two reps (at the round's totals), ranks them by cost added per violation
    removed, and applies them in turn while each still removes violation at the running totals:
    the total violation falls with every move, whichever measures and sides the reps are out on
    (`balance` leaves a rep above a band on one measure and below on another). Meant for few reps
    with many small units each, as in the allocation of units to districts; at most
    SHIFTS_PER_ROUND moves are tried a round, and `rounds` rounds (a budget of work).
    """
    choice = choice.copy()
    totals = problem.rep_loads(choice)
    lower, upper = problem.lower, problem.upper
    for _ in range(rounds):
        now = violation(totals, lower, upper)
        if now.max(initial=0.0) <= INSIDE:
            break
        current = choice[problem.unit]
        a, b = problem.rep[current], problem.rep
        moves = np.flatnonzero((a != b) & ((now > INSIDE)[a] | (now > INSIDE)[b]))
        a, b, load = a[moves], b[moves], problem.pair_load[moves]
        removed = now[a] + now[b] - violation(totals[a] - load, lower[a], upper[a])
        removed -= violation(totals[b] + load, lower[b], upper[b])
        helps = removed > INSIDE
        moves, removed = moves[helps], removed[helps]
        per_violation = (problem.cost[moves] - problem.cost[current[moves]]) / removed
        ranked = moves[np.lexsort((moves, per_violation))][:SHIFTS_PER_ROUND]
        ranked = ranked[np.sort(np.unique(problem.unit[ranked], return_index=True)[1])]  # each unit's best, in order
        running, low, high = totals.tolist(), lower.tolist(), upper.tolist()

        def outside(rep: int, amounts: list[float]) -> float:
            return sum(max(0.0, x - h) + max(0.0, lo - x) for x, lo, h in zip(amounts, low[rep], high[rep]))

        taken = []
        for pair, source, target, amounts in zip(ranked.tolist(), problem.rep[current[ranked]].tolist(),
                                                 problem.rep[ranked].tolist(), problem.pair_load[ranked].tolist()):
            given = [x - amount for x, amount in zip(running[source], amounts)]
            received = [x + amount for x, amount in zip(running[target], amounts)]
            before = outside(source, running[source]) + outside(target, running[target])
            if before - outside(source, given) - outside(target, received) > INSIDE:
                running[source], running[target] = given, received
                taken.append(pair)
        if not taken:
            break
        _apply(problem, choice, totals, np.array(taken, dtype=np.int64))
        totals = problem.rep_loads(choice)  # free of the drift of incremental updates
    return choice


def improve(problem: AssignmentProblem, choice: np.ndarray, deadline: float, rounds: int | None = None) -> np.ndarray:
    """Cheaper plans by feasible shifts, then swaps, until neither helps (the plan must be feasible).

    Each round scores every candidate pair, so the rounds are bounded by IMPROVE_WORK pair
    scorings in all, or by `rounds` if given (a budget of work: deterministic), and by the
    deadline (a safety stop).
    """
    choice = choice.copy()
    totals = problem.rep_loads(choice)
    tolerance = EPSILON * np.maximum(1.0, np.abs(problem.upper))
    for _ in range(max(1, IMPROVE_WORK // max(1, len(problem.unit))) if rounds is None else rounds):
        if time.perf_counter() >= deadline:
            break
        moved = _shift_round(problem, choice, totals, tolerance)
        if not moved and not _swap_round(problem, choice, totals, tolerance):
            break
    return choice


def _room(problem: AssignmentProblem, choice: np.ndarray) -> float:
    return problem.budget - problem.spent(choice) if problem.has_budget else np.inf


def _shift_round(problem: AssignmentProblem, choice: np.ndarray, totals: np.ndarray, tolerance: np.ndarray) -> bool:
    """Apply improving shifts, the largest saving first, each checked against the totals the shifts before it left.

    A shift's saving depends only on its unit, so it is exact whatever else moves; checked in
    turn against running totals, a rep can give or take many units in one round (a pool of a
    few reps and many units would otherwise need thousands of rounds). At most SHIFTS_PER_ROUND
    are considered, so that a round's loop stays short beside its vectorised scoring.
    """
    current = choice[problem.unit]
    saving = problem.cost[current] - problem.cost
    moves = np.flatnonzero(saving > EPSILON * np.maximum(1.0, np.abs(problem.cost)))
    if not len(moves):
        return False
    a, b, load = problem.rep[current[moves]], problem.rep[moves], problem.pair_load[moves]
    fits = np.all(totals[a] - load >= problem.lower[a] - tolerance[a], axis=1)
    fits &= np.all(totals[b] + load <= problem.upper[b] + tolerance[b], axis=1)
    moves = moves[fits]
    moves = moves[np.lexsort((moves, -saving[moves]))][:SHIFTS_PER_ROUND]
    moves = moves[np.sort(np.unique(problem.unit[moves], return_index=True)[1])]  # each unit's best shift, in order
    spend = problem.budget_weight[moves] - problem.budget_weight[current[moves]] if problem.has_budget else None
    room = _room(problem, choice)
    lowest, highest = (problem.lower - tolerance).tolist(), (problem.upper + tolerance).tolist()
    running = totals.tolist()
    taken = []
    sources, targets = problem.rep[current[moves]].tolist(), problem.rep[moves].tolist()
    for index, (source, target, amounts) in enumerate(zip(sources, targets, problem.pair_load[moves].tolist())):
        if spend is not None and spend[index] > room + EPSILON:
            continue
        given = [total - amount for total, amount in zip(running[source], amounts)]
        taken_in = [total + amount for total, amount in zip(running[target], amounts)]
        if (any(x < low for x, low in zip(given, lowest[source]))
                or any(x > high for x, high in zip(taken_in, highest[target]))):
            continue
        running[source], running[target] = given, taken_in
        taken.append(moves[index])
        if spend is not None:
            room -= max(0.0, float(spend[index]))
    _apply(problem, choice, totals, np.array(taken, dtype=np.int64))
    return len(taken) > 0


def _swap_round(problem: AssignmentProblem, choice: np.ndarray, totals: np.ndarray, tolerance: np.ndarray) -> bool:
    """Exchange two units between two reps where each would rather have the other's rep.

    For every improving shift i: a -> b that a band blocks, look for a unit i' at b with a
    candidate pair at a such that the exchange keeps both bands and saves in total.
    """
    current = choice[problem.unit]
    saving = problem.cost[current] - problem.cost
    wanted = np.flatnonzero(saving > EPSILON * np.maximum(1.0, np.abs(problem.cost)))
    if not len(wanted):
        return False
    # index the wanted moves by (source rep, target rep): a swap pairs a -> b with b -> a
    a, b = problem.rep[current[wanted]], problem.rep[wanted]
    key = a * problem.reps + b
    order = np.lexsort((wanted, -saving[wanted], key))
    wanted, key, a, b = wanted[order], key[order], a[order], b[order]
    reverse = b * problem.reps + a
    starts = np.searchsorted(key, reverse, side="left")
    ends = np.searchsorted(key, reverse, side="right")
    used = np.zeros(problem.reps, dtype=bool)
    swapped = False
    room = _room(problem, choice)
    for i in np.flatnonzero(ends > starts):
        if used[a[i]] or used[b[i]]:
            continue
        first = wanted[i]
        partners = wanted[starts[i] : ends[i]][:64]  # the partners that save most are first
        change = problem.pair_load[first] - problem.pair_load[partners]  # what a gives to b, net
        fits = np.all(totals[a[i]] - change >= problem.lower[a[i]] - tolerance[a[i]], axis=1)
        fits &= np.all(totals[a[i]] - change <= problem.upper[a[i]] + tolerance[a[i]], axis=1)
        fits &= np.all(totals[b[i]] + change <= problem.upper[b[i]] + tolerance[b[i]], axis=1)
        fits &= np.all(totals[b[i]] + change >= problem.lower[b[i]] - tolerance[b[i]], axis=1)
        if problem.has_budget:
            spend = (problem.budget_weight[first] - problem.budget_weight[current[first]]
                     + problem.budget_weight[partners] - problem.budget_weight[current[partners]])
            fits &= spend <= room + EPSILON
        if not fits.any():
            continue
        second = partners[np.argmax(fits)]
        pair = np.array([first, second])
        if problem.has_budget:
            room -= float((problem.budget_weight[pair] - problem.budget_weight[current[pair]]).sum())
        _apply(problem, choice, totals, pair)
        used[a[i]] = used[b[i]] = True
        swapped = True
    return swapped


def reoptimise(
    problem: AssignmentProblem, choice: np.ndarray, pairs: np.ndarray, time_limit: float, totals: np.ndarray | None = None,
    bands: tuple[np.ndarray, np.ndarray] | None = None, gap: float = EXACT_GAP,
) -> np.ndarray | None:
    """The plan of `exact_split` when HiGHS finds one within NODE_LIMIT nodes, else None; `totals`, the plan's rep
    totals if known, saves a pass; `bands` (lower, upper) replace the problem's; HiGHS stops within `gap` of
    its optimum.

    The bands are narrowed by HiGHS's tolerance, so that the plan is inside them by ours.
    """
    return _split(problem, choice, pairs, time_limit, totals, HIGHS_MIP_TOLERANCE, bands, NODE_LIMIT, gap)[0]


def exact_split(
    problem: AssignmentProblem, choice: np.ndarray, pairs: np.ndarray, time_limit: float
) -> tuple[np.ndarray | None, float]:
    """Choose anew, exactly (HiGHS MILP), among `pairs` for the units they name; every other unit keeps its pair.

    `pairs` must hold each named unit's current pair. The bands of the reps the pairs touch are
    what the fixed units leave them; so is the budget. Returns the new plan (None when HiGHS
    finds none within the time limit) and HiGHS's proven lower bound on the neighbourhood's cost
    plus the fixed units' cost (-inf when it proved none).
    """
    plan, proven, free = _split(problem, choice, pairs, time_limit, None, 0.0, None, None, EXACT_GAP)
    fixed_cost = float(problem.cost[choice].sum() - problem.cost[choice[free]].sum())
    return plan, fixed_cost + proven


def _split(
    problem: AssignmentProblem, choice: np.ndarray, pairs: np.ndarray, time_limit: float, totals: np.ndarray | None,
    margin: float, bands: tuple[np.ndarray, np.ndarray] | None, node_limit: int | None, gap: float,
) -> tuple[np.ndarray | None, float, np.ndarray]:
    """`exact_split`'s plan within `bands` (the problem's by default) narrowed by `margin` (at most a quarter of
    their width), HiGHS's bound on the neighbourhood's cost alone, and the units set free; HiGHS stops after
    `node_limit` branch-and-bound nodes (None: no limit) or within the relative `gap` of its bound."""
    lower, upper = bands or (problem.lower, problem.upper)
    pairs = np.sort(pairs)
    free = np.unique(problem.unit[pairs])
    fixed_totals = problem.rep_loads(choice) if totals is None else totals.copy()
    np.subtract.at(fixed_totals, problem.rep[choice[free]], problem.load[free])
    reps, rep_row = np.unique(problem.rep[pairs], return_inverse=True)
    measures = problem.lower.shape[1]
    band_row = rep_row[:, None] * measures + np.arange(measures)[None, :]
    columns = np.arange(len(pairs))
    rows = [
        sparse.csr_array((np.ones(len(pairs)), (np.searchsorted(free, problem.unit[pairs]), columns)), shape=(len(free), len(pairs))),
        sparse.csr_array((problem.pair_load[pairs].ravel(), (band_row.ravel(), np.repeat(columns, measures))),
                         shape=(len(reps) * measures, len(pairs))),
    ]
    margin = np.minimum(margin, (upper[reps] - lower[reps]) / 4)
    low = [np.ones(len(free)), (lower[reps] + margin - fixed_totals[reps]).ravel()]
    high = [np.ones(len(free)), (upper[reps] - margin - fixed_totals[reps]).ravel()]
    if problem.has_budget:
        rows.append(sparse.csr_array(problem.budget_weight[pairs][None, :]))
        low.append(np.array([-np.inf]))
        high.append(np.array([problem.budget - problem.spent(choice) + float(problem.budget_weight[choice[free]].sum())]))
    result = milp(
        problem.cost[pairs],
        constraints=LinearConstraint(sparse.vstack(rows).tocsr(), np.concatenate(low), np.concatenate(high)),
        integrality=np.ones(len(pairs)),
        bounds=Bounds(0, 1),
        options={"time_limit": max(time_limit, 0.01), "mip_rel_gap": gap, "node_limit": node_limit},
    )
    proven = getattr(result, "mip_dual_bound", None)
    proven = proven if proven is not None and np.isfinite(proven) else -np.inf
    if result.x is None:
        return None, proven, free
    taken = pairs[result.x > 0.5]
    plan = choice.copy()
    plan[problem.unit[taken]] = taken
    return plan, proven, free


def _moved_totals(problem: AssignmentProblem, totals: np.ndarray, choice: np.ndarray, plan: np.ndarray,
                  pairs: np.ndarray) -> np.ndarray:
    """The rep totals of `plan`, which differs from `choice` (with `totals`) only in the units of `pairs`."""
    units = np.unique(problem.unit[pairs])
    moved = totals.copy()
    np.add.at(moved, problem.rep[choice[units]], -problem.load[units])
    np.add.at(moved, problem.rep[plan[units]], problem.load[units])
    return moved


class PairIndex:
    """The candidate pairs grouped by rep and by unit, so that a two-rep neighbourhood never scans every pair."""

    def __init__(self, problem: AssignmentProblem) -> None:
        self.problem = problem
        self.by_rep = np.argsort(problem.rep, kind="stable")
        self.rep_starts = np.searchsorted(problem.rep[self.by_rep], np.arange(problem.reps + 1))
        self.unit_ends = np.append(problem.unit_starts[1:], len(problem.unit))

    def into(self, rep: int) -> np.ndarray:
        """The pairs that give a unit to `rep`."""
        return self.by_rep[self.rep_starts[rep] : self.rep_starts[rep + 1]]

    def of_units(self, units: np.ndarray) -> np.ndarray:
        """Every pair of `units`."""
        starts, ends = self.problem.unit_starts[units], self.unit_ends[units]
        sizes = ends - starts
        return np.repeat(starts, sizes) + np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)


def _partners(problem: AssignmentProblem, index: PairIndex, choice: np.ndarray, rep: int, totals: np.ndarray) -> np.ndarray:
    """Other reps to re-split `rep`'s units with, best first: those with room where `rep` is out of its band.

    A partner's score is the number of units the two could exchange, times the share of
    `rep`'s violation the partner has room to absorb (on the worst measure).
    """
    current_rep = problem.rep[choice]
    incoming = index.into(rep)
    outgoing = index.of_units(np.flatnonzero(current_rep == rep))
    shared = (np.bincount(current_rep[problem.unit[incoming]], minlength=problem.reps)
              + np.bincount(problem.rep[outgoing], minlength=problem.reps))
    shared[rep] = 0
    over = np.maximum(0.0, totals[rep] - problem.upper[rep])
    under = np.maximum(0.0, problem.lower[rep] - totals[rep])
    room = np.maximum(0.0, problem.upper - totals)  # what each rep could take
    spare = np.maximum(0.0, totals - problem.lower)  # what each rep could give
    with np.errstate(divide="ignore", invalid="ignore"):
        absorbed = np.where(over > 0, np.minimum(1.0, room / over), 1.0) * np.where(under > 0, np.minimum(1.0, spare / under), 1.0)
    score = shared * absorbed.min(axis=1)
    order = np.lexsort((np.arange(problem.reps), -shared, -score))
    return order[shared[order] > 0]


def _between(problem: AssignmentProblem, index: PairIndex, choice: np.ndarray, reps: np.ndarray,
             units: int = NEIGHBOURHOOD_UNITS) -> np.ndarray:
    """Pairs that move units between `reps`: of the units now at one of them, the `units` that lose least by moving.

    Each kept unit brings its current pair and its pairs to the other reps of the set.
    """
    moves = np.concatenate([index.into(rep) for rep in reps])
    current = choice[problem.unit[moves]]
    moves = moves[np.isin(problem.rep[current], reps) & (moves != current)]
    if not len(moves):
        return moves
    unit = problem.unit[moves]
    extra = problem.cost[moves] - problem.cost[choice[unit]]
    order = np.lexsort((extra, unit))  # each unit's cheapest move within the set ranks it
    first = np.unique(unit[order], return_index=True)[1]
    kept = unit[order][first][np.argsort(extra[order][first], kind="stable")][:units]
    return np.concatenate([moves[np.isin(unit, kept)], choice[kept]])


def _closer(problem: AssignmentProblem, totals: np.ndarray, rep: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """The bands, but `rep`'s moved from its own to `share` of the way from its totals to it, where it is outside."""
    lower, upper = problem.lower.copy(), problem.upper.copy()
    total = totals[rep]
    lower[rep] = np.where(total < lower[rep], total + share * (lower[rep] - total), lower[rep])
    upper[rep] = np.where(total > upper[rep], total - share * (total - upper[rep]), upper[rep])
    return lower, upper


def _close_in(
    problem: AssignmentProblem, index: PairIndex, choice: np.ndarray, totals: np.ndarray, rep: int, partners: np.ndarray,
    units: int, deadline: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Bring `rep`, too far out for a few partners' room, closer step by step: with each partner in turn, a
    re-split that closes half (else a fifth) of its distance to its bands, the partner kept inside."""
    for partner, share in itertools.product(partners, PARTIAL_SHARES):
        inside = violation(totals[rep], problem.lower[rep], problem.upper[rep]) <= INSIDE
        if inside or time.perf_counter() >= deadline:
            break
        pairs = _between(problem, index, choice, np.array([rep, partner]), units)
        if not len(pairs):  # the two share no unit that could move
            continue
        plan = reoptimise(problem, choice, pairs, SOLVE_SECONDS, totals, _closer(problem, totals, rep, share), REPAIR_GAP)
        if plan is not None:
            choice, totals = plan, _moved_totals(problem, totals, choice, plan, pairs)
    return choice, totals


def pair_repair(problem: AssignmentProblem, choice: np.ndarray, deadline: float, partners: int = 8) -> tuple[np.ndarray, bool]:
    """Bring each rep still outside a band inside it by re-splitting units with partner reps exactly.

    Each such rep tries its best partners one at a time, then two and three at once; a success keeps every
    rep it touches inside its bands, so the reps outside only ever get fewer. Later passes
    offer more units to each re-split. In the last, a rep still too far out closes part of its
    distance with each partner in turn (the partners kept inside; half its distance, else a
    fifth), so it gets steadily closer.
    """
    choice = choice.copy()
    index = PairIndex(problem)
    totals = problem.rep_loads(choice)
    if violation(totals, problem.lower, problem.upper).max() <= INSIDE:
        return choice, True
    passes = (NEIGHBOURHOOD_UNITS, 4 * NEIGHBOURHOOD_UNITS, 16 * NEIGHBOURHOOD_UNITS)
    for units in passes:
        for rep in np.flatnonzero(violation(totals, problem.lower, problem.upper) > INSIDE):
            if violation(totals[rep], problem.lower[rep], problem.upper[rep]) <= INSIDE:
                continue
            ranked = _partners(problem, index, choice, rep, totals)
            groups = [ranked[i : i + 1] for i in range(min(len(ranked), partners))]
            groups += [ranked[i : i + 2] for i in range(0, min(len(ranked) - 1, partners), 2)]
            groups += [ranked[i : i + 3] for i in range(0, min(len(ranked) - 2, partners), 3)]
            for group in groups:
                if time.perf_counter() >= deadline:
                    break
                pairs = _between(problem, index, choice, np.array([rep, *group]), units)
                if not len(pairs):  # they share no unit that could move
                    continue
                plan = reoptimise(problem, choice, pairs, SOLVE_SECONDS, totals, gap=REPAIR_GAP)
                if plan is not None:
                    choice, totals = plan, _moved_totals(problem, totals, choice, plan, pairs)
                    break
            else:
                if units == passes[-1]:  # earlier, partial steps would use up room that others' re-splits need
                    choice, totals = _close_in(problem, index, choice, totals, rep, ranked[:PARTIAL_PARTNERS], units, deadline)
        totals = problem.rep_loads(choice)  # free of the drift of incremental updates
        if violation(totals, problem.lower, problem.upper).max() <= INSIDE:
            return choice, True
    return choice, False


def rep_pair_search(problem: AssignmentProblem, choice: np.ndarray, max_solves: int, deadline: float) -> tuple[np.ndarray, int]:
    """Large-neighbourhood search: re-optimise exactly the split of units between two reps at a time.

    Each pass visits the rep pairs by how much the shifts between them would save if no band
    stood in the way, most first; passes repeat while one improves the plan, up to `max_solves`
    re-splits in all (a budget of work, not time, so that the answer does not depend on the
    machine). Returns the plan and the re-splits made.
    """
    choice = choice.copy()
    index = PairIndex(problem)
    cost = float(problem.cost[choice].sum())
    totals = problem.rep_loads(choice)
    solves, improved = 0, True
    while improved and solves < max_solves and time.perf_counter() < deadline:
        improved = False
        current = choice[problem.unit]
        saving = problem.cost[current] - problem.cost
        wanted = np.flatnonzero(saving > EPSILON * np.maximum(1.0, np.abs(problem.cost)))
        a, b = problem.rep[current[wanted]], problem.rep[wanted]
        link = np.bincount(np.minimum(a, b) * problem.reps + np.maximum(a, b), weights=saving[wanted],
                           minlength=problem.reps**2)
        for key in np.argsort(-link, kind="stable")[: 4 * problem.reps]:
            if link[key] <= 0 or solves >= max_solves or time.perf_counter() >= deadline:
                break
            pairs = _between(problem, index, choice, np.array([key // problem.reps, key % problem.reps]))
            if not len(pairs):
                continue
            solves += 1
            plan = reoptimise(problem, choice, pairs, SOLVE_SECONDS, totals)
            if plan is None:
                continue
            free = np.unique(problem.unit[pairs])
            saved = float(problem.cost[choice[free]].sum() - problem.cost[plan[free]].sum())
            if saved > EPSILON * max(1.0, abs(cost)):
                choice, totals, cost, improved = plan, _moved_totals(problem, totals, choice, plan, pairs), cost - saved, True
    return choice, solves

