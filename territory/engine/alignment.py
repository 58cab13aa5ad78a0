"""Geographic alignment: p balanced, compact, optionally contiguous territories, by the assignment engine.

Model. Partition n geographic units (postal codes, bricks) into p territories; territory t has
a centre c_t, one of its own units:

    minimise    sum_i w_i d(i, c_t(i))  +  disruption x sum_i value_i [unit i leaves its current territory]
    subject to  (1 - tol_m) T_m / p  <=  sum_{i in t} a_im  <=  (1 + tol_m) T_m / p     every t, measure m
                every territory connected over the adjacency graph (when an adjacency is given)

d is the great-circle distance in km, a_im the unit's amount of measure m, T_m its total, and
w_i = mean over measures of a_im / (T_m / n): the dispersion weights a unit by its size, a unit of
average size weighing 1, so that compactness is about where the work is, not where the points are.
The first sum is the dispersion, the second the disruption (0 without a current alignment).

Algorithm: location-allocation (Hess et al. 1965; Kalcsics, Nickel, Schroeder 2005).

1. Seed: with a current alignment, each current territory's weighted medoid (and weighted
   k-means++ for territories that have no units yet). Without one, STARTS weighted k-means++
   starts (fixed seed), each refined by cheap location-allocation rounds whose allocation is a
   nearest-centre choice with a price per territory that balances the weight w (Lagrangian
   prices by subgradient steps): the best start's centres.
2. Allocate: `solve()` an `Instance` whose reps are the territories based at their centre units
   (equal fair shares, travel cost w_i d(i, c_t), no fit, the disruption weight, no eligibility).
   Its balance bands are the constraints above; its answer is proven within `gap` of the best
   allocation to those centres.
3. Relocate: each centre moves to its territory's weighted medoid. Steps 2-3 repeat until the
   centres stay put, the cost stops falling, or MAX_ROUNDS; the cheapest plan is kept.
4. Contiguity (with an adjacency): the centres stay fixed; a territory's pieces not connected to
   its centre are moved whole to an adjacent territory, preferring one whose bands still hold,
   then the one whose dispersion grows least. Balance broken on the way is restored by moving
   single boundary units, then by swapping two units across a boundary, only when both
   territories stay connected, each move the one that reduces the distance outside the bands most.

The allocation is optimal to within its reported gap; the location step and the contiguity
repair are heuristics, so the plan as a whole carries no optimality proof.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from territory.engine.evaluate import BAND_SLACK
from territory.engine.instance import Instance, Measure, Reps, Units, Weights
from territory.engine.solution import Binding, Solution
from territory.geo import haversine_km, unit_vectors

MAX_ROUNDS = 10
SEED = 20_250_101  # k-means++ seeding: fixed, so that the same input gives the same plan
STARTS = 8  # k-means++ starts of the cheap rounds
PRE_ROUNDS = 15  # cheap balanced location rounds before the engine's
PRICE_STEPS = 200  # subgradient steps of each cheap allocation
MEASURE_NAMES = ("accounts", "workload_hours", "potential")

AlignmentStatus = Literal["feasible", "infeasible"]


@dataclass(frozen=True)
class AlignmentInstance:
    """One alignment question: units with coordinates and measures, how many territories, which rules."""

    unit_id: np.ndarray  # (n,) str
    latitude: np.ndarray  # (n,) degrees
    longitude: np.ndarray
    amounts: np.ndarray  # (n, M) >= 0: each unit's amount of each measure
    measures: tuple[Measure, ...]  # names and tolerances; fair shares are equal
    territories: int  # p
    territory_ids: tuple[str, ...] = ()  # p names (default T1..Tp); current_territory indexes them
    adjacency: np.ndarray | None = None  # (E, 2) unit index pairs; given, territories must be connected
    current_territory: np.ndarray | None = None  # (n,) int, -1 for none: the existing alignment
    value: np.ndarray | None = None  # (n,) what moving a unit off its current territory is worth (default 1)
    disruption: float = 0.0  # cost per unit of value moved, in the dispersion's unit (weighted km)

    def __post_init__(self) -> None:
        n, p = len(self.unit_id), self.territories
        if self.amounts.shape != (n, len(self.measures)):
            raise ValueError(f"amounts must be (units, measures) = ({n}, {len(self.measures)})")
        if not 1 <= p <= n:
            raise ValueError(f"territories must be between 1 and the number of units ({n}), got {p}")
        if len(self.latitude) != n or len(self.longitude) != n:
            raise ValueError(f"latitude and longitude must have one entry per unit ({n})")
        if not (np.all(np.isfinite(self.latitude)) and np.all(np.isfinite(self.longitude))):
            raise ValueError("every unit needs coordinates in alignment mode")
        if np.any(self.amounts < 0) or not np.all(np.isfinite(self.amounts)):
            raise ValueError("amounts must be finite and non-negative")
        if self.territory_ids and len(self.territory_ids) != p:
            raise ValueError(f"territory_ids must name every territory ({p})")
        if self.adjacency is not None and len(self.adjacency):
            if self.adjacency.ndim != 2 or self.adjacency.shape[1] != 2:
                raise ValueError("adjacency must be (edges, 2) unit index pairs")
            if self.adjacency.min() < 0 or self.adjacency.max() >= n:
                raise ValueError("adjacency must index units")
        if self.current_territory is not None:
            if len(self.current_territory) != n:
                raise ValueError(f"current_territory must have one entry per unit ({n})")
            if n and (self.current_territory.min() < -1 or self.current_territory.max() >= p):
                raise ValueError("current_territory must index a territory or be -1")
        if self.value is not None and len(self.value) != n:
            raise ValueError(f"value must have one entry per unit ({n})")
        if self.disruption < 0:
            raise ValueError("disruption must be non-negative")

    @property
    def count(self) -> int:
        return len(self.unit_id)

    @property
    def names(self) -> tuple[str, ...]:
        """The territory ids, T1..Tp when none are given."""
        return self.territory_ids or tuple(f"T{t + 1}" for t in range(self.territories))

    @property
    def current(self) -> np.ndarray:
        return self.current_territory if self.current_territory is not None else np.full(self.count, -1)

    @property
    def unit_value(self) -> np.ndarray:
        return self.value if self.value is not None else np.ones(self.count)


@dataclass(frozen=True)
class AlignmentResult:
    """The territories found, how balanced and compact they are, and what binds when a rule is broken.

    When the allocation itself has no plan (a unit too large for every band, say), territory and
    centres are -1 and the diagnosis is the engine's. When the contiguity repair cannot keep
    every band, the plan is returned as found, status is infeasible and the diagnosis names the
    broken band or the split territory.
    """

    status: AlignmentStatus
    territory: np.ndarray  # (n,) territory index per unit
    centres: np.ndarray  # (p,) unit index of each territory's centre
    totals: np.ndarray  # (p, M)
    fair_share: np.ndarray  # (M,) total / p
    lower: np.ndarray  # (p, M) the bands
    upper: np.ndarray  # (p, M)
    max_deviation: dict[str, float]  # measure -> max |total / fair share - 1| over territories
    dispersion: float  # sum_i w_i d(i, centre of its territory), weighted km
    disruption_cost: float
    moved_share: float  # of units with a current territory, the share that changes territory
    contiguous: bool | None  # None when no adjacency was given
    lower_bound: float  # the final allocation's bound: no allocation to these centres costs less
    gap: float  # the final allocation's gap to that bound
    rounds: int  # allocation rounds run
    seconds: float
    peak_memory_mb: float
    diagnosis: tuple[Binding, ...] = ()
    log: tuple[str, ...] = ()  # what each round and the repair did

    @property
    def objective(self) -> float:
        return self.dispersion + self.disruption_cost

    @property
    def feasible(self) -> bool:
        return self.status == "feasible"


def bands(problem: AlignmentInstance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fair share (M,) of every territory, and the (p, M) band each total must stay in."""
    fair = problem.amounts.sum(axis=0) / problem.territories
    tolerance = np.array([m.tolerance for m in problem.measures])
    shape = (problem.territories, len(fair))
    lower, upper = (np.broadcast_to(fair * factor, shape).copy() for factor in (1 - tolerance, 1 + tolerance))
    return fair, lower, upper


def dispersion_weights(amounts: np.ndarray) -> np.ndarray:
    """w_i = mean over measures of a_im / (T_m / n); measures with a zero total are left out."""
    n = len(amounts)
    mean = amounts.mean(axis=0)
    used = mean > 0
    if not used.any():
        return np.ones(n)
    return (amounts[:, used] / mean[used]).mean(axis=1)


def _seed_centres(problem: AlignmentInstance, weight: np.ndarray) -> np.ndarray:
    """p distinct centre units: the current territories' medoids, the rest by k-means++; refined by cheap
    balanced location rounds when there is no current alignment to stay close to."""
    p = problem.territories
    current = problem.current
    rng = np.random.default_rng(SEED)
    fixed = [t for t in range(p) if np.any(current == t)]
    if fixed:
        centres = np.full(p, -1)
        centres[fixed] = _medoids(problem, weight, current, fixed)
        free = [t for t in range(p) if t not in fixed]
        centres[free] = _kmeans_plus_plus(problem, weight, centres[fixed], len(free), rng)
        return centres
    # location-allocation has many local optima: keep the best of a few cheap starts
    none = np.empty(0, dtype=np.int64)
    starts = [_balanced_location(problem, weight, _kmeans_plus_plus(problem, weight, none, p, rng))
              for _ in range(STARTS)]
    return min(starts, key=lambda start: start[0])[1]


def _kmeans_plus_plus(
    problem: AlignmentInstance, weight: np.ndarray, taken: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """`count` more distinct centre units by weighted k-means++ with greedy trials."""
    n = problem.count
    points = unit_vectors(problem.latitude, problem.longitude)
    chosen = list(taken)
    nearest = ((points[:, None, :] - points[taken][None]) ** 2).sum(-1).min(1) if len(taken) else np.ones(n)
    trials = 2 + int(np.log(count + len(taken)))
    for _ in range(count):
        # D^2 sampling weighted by size; of a few draws keep the one that lowers the weighted spread most
        mass = weight * nearest
        mass[chosen] = 0.0
        if mass.sum() > 0:
            candidates = rng.choice(n, size=trials, p=mass / mass.sum())
        else:  # every unit sits on a centre already: take the first free ones
            candidates = np.setdiff1d(np.arange(n), chosen)[:1]
        spread = np.minimum(nearest[None, :], ((points[None, :, :] - points[candidates, None, :]) ** 2).sum(-1))
        best = int(np.argmin((spread * weight).sum(axis=1)))
        chosen.append(int(candidates[best]))
        nearest = spread[best]
    return np.array(chosen[len(taken):], dtype=np.int64)


def _balanced_location(problem: AlignmentInstance, weight: np.ndarray, centres: np.ndarray) -> tuple[float, np.ndarray]:
    """Location-allocation with a cheap allocation: each unit to its nearest centre plus a price per
    territory, the prices moved by subgradient steps until the dispersion weight is about balanced.

    Balancing only the weight (not every measure) and rounding nothing makes this a rough version
    of the engine's allocation at a fraction of its cost; its centres start the engine's rounds close
    to where they end. Returns the cost of the best rough plan and its centres.
    """
    p = problem.territories
    target = weight.sum() / p
    best_cost, best_centres = np.inf, centres
    for _ in range(PRE_ROUNDS):
        distance = haversine_km(problem.latitude[:, None], problem.longitude[:, None],
                                problem.latitude[None, centres], problem.longitude[None, centres])
        price, scale = np.zeros(p), float(np.median(distance))
        best_imbalance, territory = np.inf, None
        for step in range(PRICE_STEPS):
            choice = np.argmin(distance + price[None, :], axis=1)
            load = np.bincount(choice, weights=weight, minlength=p) / target - 1.0
            if np.abs(load).max() < best_imbalance:
                best_imbalance, territory = np.abs(load).max(), choice
            price += scale * 0.5 / np.sqrt(step + 1) * load
        if np.bincount(territory, minlength=p).min() == 0:  # a centre nobody chose: keep the last good centres
            break
        medoids = _medoids(problem, weight, territory, range(p))
        cost = _plan_cost(problem, weight, territory, medoids)
        if cost >= best_cost:
            break
        best_cost, best_centres = cost, medoids
        if np.array_equal(medoids, centres):
            break
        centres = medoids
    return best_cost, best_centres


def _medoids(problem: AlignmentInstance, weight: np.ndarray, territory: np.ndarray, which) -> np.ndarray:
    """For each territory in `which`, the member that minimises the weighted distance of the members to it."""
    centres = []
    for t in which:
        members = np.flatnonzero(territory == t)
        distance = haversine_km(
            problem.latitude[members, None], problem.longitude[members, None],
            problem.latitude[None, members], problem.longitude[None, members],
        )
        centres.append(members[int(np.argmin(weight[members] @ distance))])
    return np.array(centres, dtype=np.int64)


def allocation_instance(problem: AlignmentInstance, weight: np.ndarray, centres: np.ndarray) -> Instance:
    """The allocation step as an engine instance: territories are reps based at their centre units."""
    n, p = problem.count, problem.territories
    units = Units(
        unit_id=problem.unit_id,
        latitude=problem.latitude,
        longitude=problem.longitude,
        measures=problem.amounts,
        visits=weight,
        value=problem.unit_value,
        current_rep=problem.current,
        locked=np.zeros(n, dtype=bool),
        family=np.full(n, -1),
        top_tier=np.zeros(n, dtype=bool),
    )
    reps = Reps(
        rep_id=np.array(problem.names),
        latitude=problem.latitude[centres],
        longitude=problem.longitude[centres],
        capacity=np.full(p, float(problem.amounts.sum()) + 1.0),  # more than everything: never binds
        level=np.ones(p),
        experience_years=np.zeros(p),
        skill=np.ones(p),
    )
    measures = tuple(Measure(m.name, m.tolerance, "equal", False) for m in problem.measures)
    # travel = 0.5 x visits x 2 x distance (a round trip), so the cost of a pair is w_i d(i, c_t)
    weights = Weights(travel=0.5, fit=0.0, disruption=problem.disruption)
    return Instance(units, reps, measures, weights, adjacency=problem.adjacency)


@dataclass
class _Plan:
    """A plan under repair: territory per unit with its totals, against fixed centres and bands."""

    territory: np.ndarray
    amounts: np.ndarray  # (n, M)
    totals: np.ndarray  # (p, M)
    cost: np.ndarray  # (n, p) dispersion plus disruption of every unit in every territory
    centres: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    scale: np.ndarray  # (M,) fair share: distances outside a band are measured in fair shares

    def excess(self, totals: np.ndarray, rows) -> np.ndarray:
        """Distance outside the band of `totals` (rows of the band given by `rows`), summed over measures."""
        over = np.maximum(0.0, totals - self.upper[rows]) + np.maximum(0.0, self.lower[rows] - totals)
        return (np.maximum(0.0, over / self.scale - BAND_SLACK)).sum(axis=-1)

    @classmethod
    def of(cls, problem: AlignmentInstance, territory: np.ndarray, centres: np.ndarray) -> _Plan:
        p = problem.territories
        weight = dispersion_weights(problem.amounts)
        distance = haversine_km(problem.latitude[:, None], problem.longitude[:, None],
                                problem.latitude[None, centres], problem.longitude[None, centres])
        current = problem.current
        leaves = (current[:, None] >= 0) & (current[:, None] != np.arange(p)[None, :])
        cost = weight[:, None] * distance + problem.disruption * problem.unit_value[:, None] * leaves
        totals = np.zeros((p, len(problem.measures)))
        np.add.at(totals, territory, problem.amounts)
        fair, lower, upper = bands(problem)
        scale = np.where(fair > 0, fair, 1.0)
        return cls(territory.copy(), problem.amounts, totals, cost, centres, lower, upper, scale)

    def move(self, units: np.ndarray, target: int) -> None:
        np.subtract.at(self.totals, self.territory[units], self.amounts[units])
        self.totals[target] += self.amounts[units].sum(axis=0)
        self.territory[units] = target


class _Graph:
    """The adjacency as a symmetric sparse matrix, with connectivity questions about territories."""

    def __init__(self, adjacency: np.ndarray, n: int) -> None:
        edges = np.asarray(adjacency, dtype=np.int64).reshape(-1, 2)
        edges = edges[edges[:, 0] != edges[:, 1]]  # a unit next to itself says nothing
        rows = np.concatenate([edges[:, 0], edges[:, 1]])
        cols = np.concatenate([edges[:, 1], edges[:, 0]])
        self.matrix = csr_matrix(coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)))
        self.matrix.data[:] = 1.0
        self.edges = np.unique(np.sort(edges, axis=1), axis=0)

    def pieces(self, territory: np.ndarray) -> np.ndarray:
        """(n,) a label per unit: units share a label when a path inside their territory joins them."""
        a, b = self.edges[:, 0], self.edges[:, 1]
        inside = territory[a] == territory[b]
        n = len(territory)
        graph = coo_matrix((np.ones(int(inside.sum())), (a[inside], b[inside])), shape=(n, n))
        return connected_components(graph, directed=False)[1]

    def connected(self, members: np.ndarray) -> bool:
        if len(members) <= 1:
            return True
        return connected_components(self.matrix[members][:, members], directed=False)[0] == 1


def _fragments(graph: _Graph, plan: _Plan) -> list[np.ndarray]:
    """Every piece of a territory that no path inside the territory joins to its centre, smallest first."""
    label = graph.pieces(plan.territory)
    main = label[plan.centres][plan.territory]  # the label of each unit's territory's centre piece
    detached = np.flatnonzero(label != main)
    if not len(detached):
        return []
    pieces = [detached[label[detached] == piece] for piece in np.unique(label[detached])]
    return sorted(pieces, key=lambda units: (len(units), int(units[0])))


def _reattach(graph: _Graph, plan: _Plan, piece: np.ndarray) -> bool:
    """Move a detached piece to an adjacent territory; False when it touches none (an island)."""
    source = int(plan.territory[piece[0]])
    neighbours = graph.matrix[piece].indices
    targets = np.unique(plan.territory[neighbours])
    targets = targets[targets != source]
    if not len(targets):
        return False
    # prefer a territory whose centre piece the fragment touches: the move then leaves one piece fewer
    label = graph.pieces(plan.territory)
    touches_main = np.array([np.any(label[neighbours] == label[plan.centres[t]]) for t in targets])
    if touches_main.any():
        targets = targets[touches_main]
    load = plan.amounts[piece].sum(axis=0)
    after = plan.excess(plan.totals[targets] + load, targets) + plan.excess(plan.totals[source] - load, source)
    added = plan.cost[piece][:, targets].sum(axis=0) - plan.cost[piece, source].sum()
    best = np.lexsort((added, after))[0]  # least violation first, then the cheapest
    plan.move(piece, int(targets[best]))
    return True


def _boundary_moves(graph: _Graph, plan: _Plan) -> tuple[np.ndarray, np.ndarray]:
    """Every (unit, neighbouring territory) pair across a boundary, centres excluded."""
    a, b = graph.edges[:, 0], graph.edges[:, 1]
    across = plan.territory[a] != plan.territory[b]
    unit = np.concatenate([a[across], b[across]])
    target = np.concatenate([plan.territory[b[across]], plan.territory[a[across]]])
    pairs = np.unique(np.column_stack([unit, target]), axis=0)
    is_centre = np.isin(pairs[:, 0], plan.centres)
    return pairs[~is_centre, 0], pairs[~is_centre, 1]


def _best_single_move(graph: _Graph, plan: _Plan) -> bool:
    """Apply the boundary move that reduces the distance outside the bands most and keeps its source connected."""
    unit, target = _boundary_moves(graph, plan)
    if not len(unit):
        return False
    source = plan.territory[unit]
    load = plan.amounts[unit]
    before = plan.excess(plan.totals[source], source) + plan.excess(plan.totals[target], target)
    after = plan.excess(plan.totals[source] - load, source) + plan.excess(plan.totals[target] + load, target)
    gain = before - after
    added = plan.cost[unit, target] - plan.cost[unit, source]
    for k in np.lexsort((added, -gain)):
        if gain[k] <= BAND_SLACK:
            return False
        if graph.connected(np.flatnonzero((plan.territory == source[k]) & (np.arange(len(plan.territory)) != unit[k]))):
            plan.move(unit[[k]], int(target[k]))
            return True
    return False


def _best_swap(graph: _Graph, plan: _Plan) -> bool:
    """Apply the swap of two units across one boundary that reduces the distance outside the bands most."""
    unit, target = _boundary_moves(graph, plan)
    source = plan.territory[unit]
    # pair every move t -> s with every move s -> t: group the moves by (source, target)
    p = len(plan.totals)
    key = source * p + target
    order = np.argsort(key, kind="stable")
    start = np.searchsorted(key[order], target * p + source, side="left")
    count = np.searchsorted(key[order], target * p + source, side="right") - start
    first = np.repeat(np.arange(len(unit)), count)
    second = order[np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + np.repeat(start, count)]
    keep = first < second  # each swap is found from both of its moves
    first, second = first[keep], second[keep]
    if not len(first):
        return False
    t, s = source[first], target[first]
    net = plan.amounts[unit[first]] - plan.amounts[unit[second]]  # what t loses and s gains
    before = plan.excess(plan.totals[t], t) + plan.excess(plan.totals[s], s)
    after = plan.excess(plan.totals[t] - net, t) + plan.excess(plan.totals[s] + net, s)
    gain = before - after
    added = (
        plan.cost[unit[first], s] - plan.cost[unit[first], t] + plan.cost[unit[second], t] - plan.cost[unit[second], s]
    )
    everyone = np.arange(len(plan.territory))
    for k in np.lexsort((added, -gain)):
        if gain[k] <= BAND_SLACK:
            return False
        i, j = unit[first[k]], unit[second[k]]
        swapped = plan.territory.copy()
        swapped[i], swapped[j] = s[k], t[k]
        if graph.connected(everyone[swapped == t[k]]) and graph.connected(everyone[swapped == s[k]]):
            plan.move(np.array([i]), int(s[k]))
            plan.move(np.array([j]), int(t[k]))
            return True
    return False


def make_contiguous(
    problem: AlignmentInstance, territory: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Reattach the pieces of each territory not connected to its centre over the adjacency, then restore
    the bands with boundary moves and swaps that keep territories connected (see the module docstring).

    Centres never move. Returns the repaired plan and what was done.
    """
    graph = _Graph(problem.adjacency, problem.count)
    plan = _Plan.of(problem, territory, centres)
    moved, stuck = 0, set()
    for _ in range(problem.count):  # every reattachment to a centre piece leaves one piece fewer
        pieces = [piece for piece in _fragments(graph, plan) if int(piece[0]) not in stuck]
        if not pieces:
            break
        if _reattach(graph, plan, pieces[0]):
            moved += len(pieces[0])
        else:  # an island of the adjacency: no territory borders it
            stuck.add(int(pieces[0][0]))
    singles = swaps = 0
    while True:
        if _best_single_move(graph, plan):
            singles += 1
        elif _best_swap(graph, plan):
            swaps += 1
        else:
            break
    log = (f"contiguity: {moved} detached units reattached", f"balance: {singles} boundary moves, {swaps} swaps")
    return plan.territory, log


def _diagnosis(problem: AlignmentInstance, territory: np.ndarray, centres: np.ndarray) -> tuple[Binding, ...]:
    """The bands the plan breaks and the territories it leaves in pieces."""
    plan = _Plan.of(problem, territory, centres)
    names = problem.names
    found = []
    for t, m in zip(*np.nonzero(plan.totals > plan.upper * (1 + BAND_SLACK))):
        measure = problem.measures[m].name
        excess = float(plan.totals[t, m] - plan.upper[t, m])
        found.append(Binding("balance_high", names[t], measure, excess,
                             f"territory {names[t]}: {measure} is {excess:.4g} above its band"))
    for t, m in zip(*np.nonzero(plan.totals < plan.lower * (1 - BAND_SLACK))):
        measure = problem.measures[m].name
        short = float(plan.lower[t, m] - plan.totals[t, m])
        found.append(Binding("balance_low", names[t], measure, short,
                             f"territory {names[t]}: {measure} is {short:.4g} below its band"))
    if problem.adjacency is not None:
        graph = _Graph(problem.adjacency, problem.count)
        for piece in _fragments(graph, plan):
            t = int(plan.territory[piece[0]])
            message = (f"territory {names[t]}: {len(piece)} unit(s) (e.g. {problem.unit_id[piece[0]]}) have no path "
                       f"inside the territory to its centre {problem.unit_id[centres[t]]}")
            if not np.isin(graph.matrix[piece].indices, piece, invert=True).any():
                message += "; no edge of the adjacency joins them to any other unit: add the edges that do"
            found.append(Binding("contiguity", names[t], "", float(len(piece)), message))
    return tuple(found)


def _infeasible(problem: AlignmentInstance, solution: Solution, rounds: int, started: float) -> AlignmentResult:
    n, p, k = problem.count, problem.territories, len(problem.measures)
    fair, lower, upper = bands(problem)
    return AlignmentResult(
        status="infeasible", territory=np.full(n, -1), centres=np.full(p, -1), totals=np.zeros((p, k)),
        fair_share=fair, lower=lower, upper=upper, max_deviation={}, dispersion=float("nan"),
        disruption_cost=float("nan"), moved_share=0.0, contiguous=None, lower_bound=solution.lower_bound,
        gap=float("nan"), rounds=rounds, seconds=time.perf_counter() - started, peak_memory_mb=_peak_memory_mb(),
        diagnosis=solution.diagnosis, log=solution.log,
    )


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def align(problem: AlignmentInstance, time_limit: float | None = None) -> AlignmentResult:
    """Partition the units into balanced, compact (and, with an adjacency, contiguous) territories.

    `time_limit` bounds the allocation rounds: each gets what is left of it (at most the engine's
    default for one solve), and no new round starts once it is spent. Without it, each round gets
    the engine's default.
    """
    from territory.engine.solve import default_time_limit, solve

    started = time.perf_counter()
    p = problem.territories
    weight = dispersion_weights(problem.amounts)
    centres = _seed_centres(problem, weight)
    best: tuple[float, np.ndarray, np.ndarray, Solution] | None = None
    log, rounds = [], 0
    while rounds < MAX_ROUNDS:
        remaining = None if time_limit is None else time_limit - (time.perf_counter() - started)
        if remaining is not None and remaining <= 0 and best is not None:
            break
        rounds += 1
        allocation = allocation_instance(problem, weight, centres)
        if remaining is not None:
            # no round takes more than the engine's own default, so that one round cannot spend the whole budget;
            # the first runs even when seeding used the budget up
            remaining = min(max(remaining, 0.1 * time_limit), default_time_limit(allocation))
        solution = solve(allocation, time_limit=remaining)
        if not solution.feasible:
            return _infeasible(problem, solution, rounds, started)
        medoids = _medoids(problem, weight, solution.rep, range(p))
        cost = _plan_cost(problem, weight, solution.rep, medoids)
        log.append(f"round {rounds}: allocation {solution.status}, cost {solution.objective:.6g} at its centres, "
                   f"{cost:.6g} at the new medoids, gap {solution.gap:.2%}")
        improved = best is None or cost < best[0] * (1 - 1e-9)
        if improved:
            best = (cost, solution.rep.copy(), medoids, solution)
        if not improved or np.array_equal(medoids, centres):
            break
        centres = medoids
    _, territory, centres, solution = best
    if problem.adjacency is not None:
        territory, repair_log = make_contiguous(problem, territory, centres)
        log.extend(repair_log)
    diagnosis = _diagnosis(problem, territory, centres)

    plan = _Plan.of(problem, territory, centres)
    fair = bands(problem)[0]
    current = problem.current
    owned = current >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.where(fair > 0, plan.totals / fair - 1.0, 0.0)
    return AlignmentResult(
        status="infeasible" if diagnosis else "feasible",
        territory=territory,
        centres=centres,
        totals=plan.totals,
        fair_share=fair,
        lower=plan.lower,
        upper=plan.upper,
        max_deviation={m.name: float(np.abs(deviation[:, k]).max()) for k, m in enumerate(problem.measures)},
        dispersion=_dispersion(problem, weight, territory, centres),
        disruption_cost=float(problem.disruption * problem.unit_value[owned & (territory != current)].sum()),
        moved_share=float((territory[owned] != current[owned]).mean()) if owned.any() else 0.0,
        contiguous=None if problem.adjacency is None else not any(b.kind == "contiguity" for b in diagnosis),
        lower_bound=solution.lower_bound,
        gap=solution.gap,
        rounds=rounds,
        seconds=time.perf_counter() - started,
        peak_memory_mb=_peak_memory_mb(),
        diagnosis=diagnosis,
        log=tuple(log),
    )


def _dispersion(problem: AlignmentInstance, weight: np.ndarray, territory: np.ndarray, centres: np.ndarray) -> float:
    """sum_i w_i d(i, centre of its territory)."""
    centre = centres[territory]
    distance = haversine_km(problem.latitude, problem.longitude, problem.latitude[centre], problem.longitude[centre])
    return float((weight * distance).sum())


def _plan_cost(problem: AlignmentInstance, weight: np.ndarray, territory: np.ndarray, centres: np.ndarray) -> float:
    """Dispersion about `centres` plus disruption of a plan."""
    current = problem.current
    moved = (current >= 0) & (territory != current)
    disruption = problem.disruption * float(problem.unit_value[moved].sum())
    return _dispersion(problem, weight, territory, centres) + disruption


def synthetic_alignment(units: int, territories: int, seed: int, tolerance: float = 0.05) -> AlignmentInstance:
    """A deterministic alignment instance: postal areas over a 400 x 300 km region, denser around towns.

    Half the units are spread uniformly, half around eight towns; each unit has a number of
    accounts (1 + Poisson, more in towns), workload hours (about 12 per account, varying) and
    potential (log-normal per account). Neighbours are the Delaunay triangulation's edges.
    """
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    lat0, lon0 = 50.0, 8.0
    km_lat, km_lon = 1 / 111.2, 1 / (111.2 * np.cos(np.radians(lat0)))
    towns = rng.uniform([-150, -200], [150, 200], size=(8, 2))  # (north km, east km)
    in_town = rng.random(units) < 0.5
    spread = rng.uniform([-150, -200], [150, 200], size=(units, 2))
    around = towns[rng.integers(0, len(towns), units)] + rng.normal(0, 25, size=(units, 2))
    inside = np.all((around >= [-150, -200]) & (around <= [150, 200]), axis=1)
    # a town point that falls outside the region is drawn uniformly instead: clipping it to the border would
    # stack points on one spot, which the triangulation leaves without neighbours
    km = np.where((in_town & inside)[:, None], around, spread)
    accounts = 1.0 + rng.poisson(np.where(in_town, 6.0, 3.0))
    workload = accounts * rng.uniform(8.0, 16.0, units)
    potential = accounts * rng.lognormal(np.log(50_000), 0.4, units)
    triangles = Delaunay(km).simplices
    edges = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [0, 2]]]), axis=1)
    return AlignmentInstance(
        unit_id=np.array([f"P{k:05d}" for k in range(units)]),
        latitude=lat0 + km[:, 0] * km_lat,
        longitude=lon0 + km[:, 1] * km_lon,
        amounts=np.column_stack([accounts, workload, potential]),
        measures=tuple(Measure(name, tolerance, "equal") for name in MEASURE_NAMES),
        territories=territories,
        territory_ids=tuple(f"T{t + 1:02d}" for t in range(territories)),
        adjacency=np.unique(edges, axis=0).astype(np.int64),
    )


@dataclass(frozen=True)
class PlanQuality:
    """A partition measured the same way for the engine and for any baseline."""

    dispersion: float  # sum_i w_i d(i, weighted medoid of its territory)
    max_deviation: dict[str, float]  # measure -> max |total / fair share - 1|
    within_tolerance: bool
    pieces: int  # connected pieces over the adjacency, summed over territories (p when contiguous)
    contiguous: bool | None  # None without an adjacency


def assess(problem: AlignmentInstance, territory: np.ndarray) -> PlanQuality:
    """Balance, compactness and contiguity of `territory` (a territory index per unit, every territory used)."""
    p = problem.territories
    weight = dispersion_weights(problem.amounts)
    centres = _medoids(problem, weight, territory, range(p))
    totals = np.zeros((p, len(problem.measures)))
    np.add.at(totals, territory, problem.amounts)
    fair = bands(problem)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.abs(np.where(fair > 0, totals / fair - 1.0, 0.0)).max(axis=0)
    tolerance = np.array([m.tolerance for m in problem.measures])
    pieces, contiguous = p, None
    if problem.adjacency is not None:
        label = _Graph(problem.adjacency, problem.count).pieces(territory)
        pieces = len(np.unique(label))
        contiguous = pieces == p
    return PlanQuality(
        dispersion=_dispersion(problem, weight, territory, centres),
        max_deviation={m.name: float(d) for m, d in zip(problem.measures, deviation)},
        within_tolerance=bool(np.all(deviation <= tolerance + BAND_SLACK)),
        pieces=pieces,
        contiguous=contiguous,
    )
