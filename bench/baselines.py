"""The methods the solver benchmark compares, and how one is measured in a process of its own.

Every method maps an `Instance` to a plan (a rep index per unit), or to no plan with a reason:

* engine: `territory.engine.solve.solve`, which also certifies a lower bound for the full problem;
* highs / cbc: the exact MILP over every eligible (unit, rep) pair, families merged into one
  variable per (family, rep), solved by HiGHS (scipy.optimize.milp) or CBC (PuLP) within a time
  limit; their incumbent is the plan:

      minimise    sum_{g,j} cost[g, j] x[g, j]            g: a family, or a unit outside families
      subject to  sum_j x[g, j] = 1                        every group gets one rep
                  lower[j, k] <= sum_g load[g, k] x[g, j] <= upper[j, k]     every rep j, measure k
                  sum_{g,j} moved[g, j] x[g, j] <= budget x owned units       when a budget is set
                  x[g, j] in {0, 1}, only for pairs where j may own every member of g

* kmeans: size-constrained k-means on the units' coordinates (one cluster per rep, cluster sizes
  within the tolerance of n/m), clusters matched to reps by the least total cost (Hungarian);
  it knows nothing of eligibility, families or the other measures;
* greedy: `territory.baseline.greedy_nearest_baseline`, what an analyst does by hand.

`measure` regenerates the instance from its spec (generation is deterministic, so every method
sees the same instance), times the method, reads the process's peak resident memory before
scoring the plan with `evaluate` - the same yardstick for every method. Run it in a fresh
process per method so that peaks do not carry over.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp

from territory.baseline import Accounts, Reps, greedy_nearest_baseline
from territory.engine.bands import Bands, bands
from territory.engine.costs import CostModel
from territory.engine.evaluate import Evaluation, evaluate
from territory.engine.instance import Instance
from territory.engine.synthetic import synthetic_instance
from territory.geo import EARTH_RADIUS_KM

HIGHS_MAX_PAIRS = 2_500_000
CBC_MAX_PAIRS = 200_000
KMEANS_MAX_UNITS = 100_000  # its min-cost-flow step grows with units x clusters
INELIGIBLE_COST = 1e9  # per unit: k-means clusters are matched to reps that may own their units first


@dataclass(frozen=True)
class InstanceSpec:
    """The arguments of `synthetic_instance`: enough to rebuild the same instance in any process."""

    units: int
    reps: int
    seed: int
    segments: int = 1

    @property
    def label(self) -> str:
        return f"{self.units}x{self.reps}"

    def build(self) -> Instance:
        return synthetic_instance(self.units, self.reps, self.seed, segments=self.segments)


@dataclass(frozen=True)
class Plan:
    """What a method answers: a rep per unit, or None with the reason in `note`."""

    rep: np.ndarray | None
    note: str = ""
    lower_bound: float | None = None  # a proven lower bound on the optimum, when the method gives one
    log: tuple[str, ...] = ()  # what the method did, phase by phase, when it says


@dataclass(frozen=True)
class Outcome:
    """One method on one instance, measured (objective etc. are None when there is no plan)."""

    method: str
    seconds: float | None
    peak_mb: float  # the process's peak resident memory, instance included
    instance_mb: float  # the peak before the method ran: generating the instance
    note: str = ""
    objective: float | None = None
    lower_bound: float | None = None
    max_deviation: dict[str, float] = field(default_factory=dict)
    feasible: bool | None = None
    problems: str = ""  # why the plan is infeasible
    moved_share: float | None = None
    log: tuple[str, ...] = ()


def eligible_pairs(costs: CostModel) -> int:
    return sum(int(costs.eligible(block).sum()) for block in costs.blocks())


# --- the exact model, shared by HiGHS and CBC ---------------------------------------------------


@dataclass(frozen=True)
class GroupedModel:
    """The MILP of the module docstring in matrix form: rows_lower <= matrix @ x <= rows_upper, x binary."""

    group_of_unit: np.ndarray  # (n,) the group (family or single unit) of each unit
    pair_group: np.ndarray  # (K,) sorted
    pair_rep: np.ndarray  # (K,)
    cost: np.ndarray  # (K,)
    matrix: sparse.csr_matrix  # (rows, K)
    rows_lower: np.ndarray
    rows_upper: np.ndarray

    def plan(self, x: np.ndarray) -> np.ndarray:
        """Rep per unit from a (near-)binary solution: each group takes its pair with the largest x."""
        order = np.lexsort((-x, self.pair_group))
        _, first = np.unique(self.pair_group[order], return_index=True)
        return self.pair_rep[order[first]][self.group_of_unit]


def grouped_model(instance: Instance, band: Bands, costs: CostModel) -> GroupedModel:
    """Merge families, drop pairs some member may not join, and write every constraint as a sparse row."""
    units, m = instance.units, instance.reps.count
    group_key = np.where(units.family >= 0, units.family, units.family.max(initial=-1) + 1 + np.arange(units.count))
    _, group_of_unit = np.unique(group_key, return_inverse=True)
    groups = int(group_of_unit.max()) + 1
    cost = np.zeros((groups, m))
    blocked = np.zeros((groups, m), dtype=bool)
    for block in costs.blocks():
        np.add.at(cost, group_of_unit[block], costs.cost(block))
        np.logical_or.at(blocked, group_of_unit[block], ~costs.eligible(block))
    pair_group, pair_rep = np.nonzero(~blocked)
    pairs = len(pair_group)
    load = np.zeros((groups, len(instance.measures)))
    np.add.at(load, group_of_unit, units.measures)

    measures = len(instance.measures)
    assignment = sparse.csr_matrix((np.ones(pairs), (pair_group, np.arange(pairs))), shape=(groups, pairs))
    band_rows = (pair_rep[:, None] * measures + np.arange(measures)[None, :]).ravel()
    band_matrix = sparse.csr_matrix(
        (load[pair_group].ravel(), (band_rows, np.repeat(np.arange(pairs), measures))), shape=(m * measures, pairs)
    )
    blocks = [assignment, band_matrix]
    lower = [np.ones(groups), band.lower.ravel()]
    upper = [np.ones(groups), band.upper.ravel()]
    owned = units.current_rep >= 0

    def moved_away(weight: np.ndarray) -> np.ndarray:
        """(K,) the weight of a pair's group members that leave their current rep when the group goes to the pair's rep."""
        total = np.bincount(group_of_unit[owned], weights=weight[owned], minlength=groups)
        stays = np.zeros((groups, m))
        np.add.at(stays, (group_of_unit[owned], units.current_rep[owned]), weight[owned])
        return total[pair_group] - stays[pair_group, pair_rep]

    for share, weight in ((instance.max_moved_share, np.ones(units.count)), (instance.max_moved_value_share, units.value)):
        if share is not None:
            blocks.append(sparse.csr_matrix(moved_away(weight)[None, :]))
            lower.append([-np.inf])
            upper.append([share * weight[owned].sum()])
    return GroupedModel(
        group_of_unit=group_of_unit,
        pair_group=pair_group,
        pair_rep=pair_rep,
        cost=cost[pair_group, pair_rep],
        matrix=sparse.vstack(blocks, format="csr"),
        rows_lower=np.concatenate(lower),
        rows_upper=np.concatenate(upper),
    )


def _model(instance: Instance) -> GroupedModel:
    costs = CostModel(instance)
    return grouped_model(instance, bands(instance, costs), costs)


def highs_plan(instance: Instance, seed: int, time_limit: float) -> Plan:
    model = _model(instance)
    result = milp(
        model.cost,
        integrality=np.ones(len(model.cost)),
        bounds=Bounds(0, 1),
        constraints=LinearConstraint(model.matrix, model.rows_lower, model.rows_upper),
        options={"time_limit": time_limit, "disp": False},
    )
    if result.x is None:
        return Plan(None, f"no plan ({result.message})", result.mip_dual_bound)
    note = "optimal" if result.status == 0 else f"incumbent at {time_limit:g} s, HiGHS bound {result.mip_dual_bound:,.0f}"
    return Plan(model.plan(result.x), note, result.mip_dual_bound)


def cbc_plan(instance: Instance, seed: int, time_limit: float) -> Plan:
    import pulp  # only this baseline needs it

    model = _model(instance)
    problem = pulp.LpProblem("assignment", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{k}", cat=pulp.LpBinary) for k in range(len(model.cost))]
    problem += pulp.LpAffineExpression(zip(x, model.cost.tolist()))
    matrix = model.matrix
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        expression = pulp.LpAffineExpression(zip((x[k] for k in matrix.indices[start:end]), matrix.data[start:end].tolist()))
        low, high = model.rows_lower[row], model.rows_upper[row]
        if low == high:
            problem += expression == low
        else:
            if np.isfinite(low):
                problem += expression >= low
            if np.isfinite(high):
                problem += expression <= high
    problem.solve(pulp.PULP_CBC_CMD(timeLimit=time_limit, msg=False))
    values = np.array([variable.varValue if variable.varValue is not None else np.nan for variable in x])
    if problem.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible) or np.isnan(values).any():
        return Plan(None, f"no plan ({pulp.LpStatus[problem.status]})")
    return Plan(model.plan(values), "optimal" if problem.sol_status == pulp.LpSolutionOptimal else f"incumbent at {time_limit:g} s")


# --- heuristics ------------------------------------------------------------------------------


def projected_km(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """(n, 2) equirectangular km around the mean latitude: k-means needs Euclidean coordinates."""
    latitude = np.nan_to_num(latitude, nan=float(np.nanmean(latitude)))
    longitude = np.nan_to_num(longitude, nan=float(np.nanmean(longitude)))
    scale = EARTH_RADIUS_KM * np.pi / 180.0
    return np.column_stack([longitude * scale * np.cos(np.radians(latitude.mean())), latitude * scale])


def kmeans_plan(instance: Instance, seed: int, time_limit: float) -> Plan:
    from k_means_constrained import KMeansConstrained  # only this baseline needs it

    n, m = instance.units.count, instance.reps.count
    tolerance = min(measure.tolerance for measure in instance.measures)
    clustering = KMeansConstrained(
        n_clusters=m,
        size_min=int(np.floor(n / m * (1 - tolerance))),
        size_max=int(np.ceil(n / m * (1 + tolerance))),
        n_init=1,  # one k-means run: ten (the library's default) would only multiply the time
        random_state=seed,
    )
    cluster = clustering.fit_predict(projected_km(instance.units.latitude, instance.units.longitude))
    costs = CostModel(instance)
    cluster_cost = np.zeros((m, m))
    for block in costs.blocks():
        unit_cost = np.where(costs.eligible(block), costs.cost(block), INELIGIBLE_COST)
        membership = sparse.csr_matrix((np.ones(len(block)), (cluster[block], np.arange(len(block)))), shape=(m, len(block)))
        cluster_cost += membership @ unit_cost
    clusters, reps = linear_sum_assignment(cluster_cost)
    rep_of_cluster = np.empty(m, dtype=np.int64)
    rep_of_cluster[clusters] = reps
    return Plan(rep_of_cluster[cluster])


def greedy_plan(instance: Instance, seed: int, time_limit: float) -> Plan:
    """The analyst's greedy on the instance: segment from the attributes (one per rep), workload = measure 0."""
    units, reps = instance.units, instance.reps
    unit_segment = units.attributes.get("segment", np.full(units.count, ""))
    served = reps.attributes.get("segment")
    rep_segment = np.array([min(values) for values in served]) if served is not None else np.full(reps.count, "")
    accounts = Accounts(
        account_id=units.unit_id,
        latitude=units.latitude,
        longitude=units.longitude,
        segment=unit_segment,
        workload_hours=units.measures[:, 0],
        potential=units.measures[:, 1],
        current_rep=units.current_rep,
    )
    greedy_reps = Reps(reps.rep_id, reps.latitude, reps.longitude, rep_segment, reps.capacity)
    return Plan(greedy_nearest_baseline(accounts, greedy_reps).rep)


def engine_plan(instance: Instance, seed: int, time_limit: float | None) -> Plan:
    from territory.engine.solve import solve  # written alongside this benchmark

    solution = solve(instance) if time_limit is None else solve(instance, time_limit=time_limit)
    if solution.status == "infeasible":
        reasons = "; ".join(binding.message for binding in solution.diagnosis) or "no diagnosis"
        return Plan(None, f"infeasible: {reasons}", log=solution.log)
    return Plan(solution.rep, f"{solution.status}, own gap {solution.gap:.3%}", solution.lower_bound, solution.log)


MethodFunction = Callable[[Instance, int, float | None], Plan]
METHODS: dict[str, MethodFunction] = {
    "engine": engine_plan,
    "highs": highs_plan,
    "cbc": cbc_plan,
    "kmeans": kmeans_plan,
    "greedy": greedy_plan,
}


def skip_reason(method: str, instance: Instance, pairs: int) -> str | None:
    """Why a baseline is not run on this instance (too large for it to answer in reasonable time)."""
    if method == "highs" and pairs > HIGHS_MAX_PAIRS:
        return f"skipped: {pairs:,} pairs > {HIGHS_MAX_PAIRS:,}"
    if method == "cbc" and pairs > CBC_MAX_PAIRS:
        return f"skipped: {pairs:,} pairs > {CBC_MAX_PAIRS:,}"
    if method == "kmeans" and instance.units.count > KMEANS_MAX_UNITS:
        return f"skipped: {instance.units.count:,} units > {KMEANS_MAX_UNITS:,}"
    return None


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _problems(evaluation: Evaluation) -> str:
    parts = [
        f"{int((evaluation.violation > 0).sum())} bands" if np.any(evaluation.violation > 0) else "",
        f"{evaluation.ineligible} ineligible" if evaluation.ineligible else "",
        f"{evaluation.families_split} families split" if evaluation.families_split else "",
        "over budget" if evaluation.over_budget else "",
    ]
    return ", ".join(part for part in parts if part)


def measure(spec: InstanceSpec, method: str, time_limit: float | None, pairs: int) -> Outcome:
    """Build the instance, run `method` on it and score its plan (meant for a fresh process).

    `pairs` is the instance's eligible pair count (`eligible_pairs`), which decides the skips.
    """
    instance = spec.build()
    instance_mb = _peak_mb()
    reason = skip_reason(method, instance, pairs)
    if reason:
        return Outcome(method, None, instance_mb, instance_mb, note=reason)
    started = time.perf_counter()
    try:
        plan = METHODS[method](instance, spec.seed, time_limit)
    except ImportError as error:
        return Outcome(method, None, _peak_mb(), instance_mb, note=f"unavailable: {error}")
    seconds = time.perf_counter() - started
    peak_mb = _peak_mb()
    if plan.rep is None:
        return Outcome(method, seconds, peak_mb, instance_mb, note=plan.note, lower_bound=plan.lower_bound, log=plan.log)
    unowned = int(((plan.rep < 0) | (plan.rep >= instance.reps.count)).sum())
    if len(plan.rep) != instance.units.count or unowned:
        note = f"invalid plan: {len(plan.rep)} entries for {instance.units.count} units, {unowned} without a rep"
        return Outcome(method, seconds, peak_mb, instance_mb, note=note, lower_bound=plan.lower_bound, log=plan.log)
    costs = CostModel(instance)
    evaluation = evaluate(instance, bands(instance, costs), plan.rep, costs)
    return Outcome(
        method,
        seconds,
        peak_mb,
        instance_mb,
        note=plan.note,
        objective=evaluation.objective,
        lower_bound=plan.lower_bound,
        max_deviation=evaluation.max_deviation,
        feasible=evaluation.feasible,
        problems=_problems(evaluation),
        moved_share=evaluation.moved_share,
        log=plan.log,
    )
