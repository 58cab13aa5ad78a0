"""A lower bound on the assignment problem's optimum by Lagrangian relaxation.

Relaxing every rep's band with multipliers lam[j, m] >= 0 (upper side) and mu[j, m] >= 0
(lower side), and the disruption budget with nu >= 0, leaves one independent choice per unit:

    L(lam, mu, nu) = sum_i min_{k of unit i} r_k - sum lam * upper + sum mu * lower - nu * budget
    r_k            = c_k + sum_m (lam - mu)[rep(k), m] * a[unit(k), m] + nu * g_k   (reduced cost)

By weak duality L is at most the optimum for any multipliers. L is concave but not smooth, so
we maximise its entropy smoothing instead, replacing each unit's min by the soft minimum

    softmin_tau(r) = -tau * log sum_k exp(-r_k / tau)   (<= min_k r_k, within tau * log(#pairs))

whose gradient is each band's violation by the soft (fractional) assignment, with L-BFGS-B over
the non-negative multipliers, for a falling sequence of temperatures tau, each stage starting
where the last ended. The exact L is evaluated at every stage's multipliers and the best kept:
it is the bound, and those multipliers price the bands for the primal heuristics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from territory.engine.problem import AssignmentProblem


@dataclass(frozen=True)
class Multipliers:
    """Prices of the relaxed constraints: upper and lower band sides (m, M) and the budget."""

    upper: np.ndarray
    lower: np.ndarray
    budget: float = 0.0

    @classmethod
    def zero(cls, problem: AssignmentProblem) -> Multipliers:
        return cls(np.zeros(problem.lower.shape), np.zeros(problem.lower.shape))

    @property
    def price(self) -> np.ndarray:
        """(m, M) what one more unit of each measure costs at each rep."""
        return self.upper - self.lower


@dataclass(frozen=True)
class LagrangianBound:
    """The best bound found, its multipliers, and the relaxed choice (candidate pair per unit) there."""

    value: float
    multipliers: Multipliers
    choice: np.ndarray  # (n,) candidate pair index per unit
    evaluations: int  # smoothed-dual evaluations spent
    temperature: float  # the last smoothing temperature

    def soft_assignment(self, problem: AssignmentProblem) -> np.ndarray:
        """(K,) each unit's distribution over its pairs at the multipliers and last temperature: nearly an LP optimum."""
        return soft_assignment(problem, self.multipliers, self.temperature)


def reduced_costs(problem: AssignmentProblem, multipliers: Multipliers) -> np.ndarray:
    """r_k of every candidate pair (see the module docstring)."""
    reduced = problem.cost.copy()
    for price, load in zip(multipliers.price.T, problem.pair_load_by_measure):
        reduced += price[problem.rep] * load
    if problem.has_budget and multipliers.budget:
        reduced += multipliers.budget * problem.budget_weight
    return reduced


def dual_constant(problem: AssignmentProblem, multipliers: Multipliers) -> float:
    """The part of L that does not depend on the choice: -lam * upper + mu * lower - nu * budget."""
    value = -float((multipliers.upper * problem.upper).sum()) + float((multipliers.lower * problem.lower).sum())
    if problem.has_budget:
        value -= multipliers.budget * problem.budget
    return value


def relaxed_choice(problem: AssignmentProblem, multipliers: Multipliers) -> tuple[float, np.ndarray]:
    """L at the multipliers and, per unit, the candidate pair that attains its minimum (lowest index on ties)."""
    reduced = reduced_costs(problem, multipliers)
    best = np.minimum.reduceat(reduced, problem.unit_starts)
    is_best = reduced <= best[problem.unit]
    first = np.flatnonzero(is_best)
    choice = first[np.searchsorted(problem.unit[first], np.arange(problem.units))]
    return float(best.sum()) + dual_constant(problem, multipliers), choice


def _soft_minimum(problem: AssignmentProblem, reduced: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Per unit the soft minimum of its reduced costs, and per pair its weight in the soft assignment."""
    starts = problem.unit_starts
    best = np.minimum.reduceat(reduced, starts)
    weight = np.exp(-(reduced - best[problem.unit]) / tau)
    total = np.add.reduceat(weight, starts)
    weight /= total[problem.unit]
    return best - tau * np.log(total), weight


def soft_assignment(problem: AssignmentProblem, multipliers: Multipliers, tau: float) -> np.ndarray:
    """(K,) the smoothed dual's fractional assignment at the multipliers (each unit's weights sum to 1)."""
    return _soft_minimum(problem, reduced_costs(problem, multipliers), tau)[1]


class _SmoothedDual:
    """-L_tau and its gradient over the flat vector [lam, mu, (nu)], for scipy's minimiser."""

    def __init__(self, problem: AssignmentProblem, tau: float) -> None:
        self.problem, self.tau, self.evaluations = problem, tau, 0
        self.shape = problem.lower.shape

    def unpack(self, x: np.ndarray) -> Multipliers:
        size = self.shape[0] * self.shape[1]
        budget = float(x[2 * size]) if self.problem.has_budget else 0.0
        return Multipliers(x[:size].reshape(self.shape), x[size : 2 * size].reshape(self.shape), budget)

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.evaluations += 1
        p, multipliers = self.problem, self.unpack(x)
        softmin, weight = _soft_minimum(p, reduced_costs(p, multipliers), self.tau)
        value = float(softmin.sum()) + dual_constant(p, multipliers)
        loads = np.column_stack([np.bincount(p.rep, weights=weight * load, minlength=self.shape[0]) for load in p.pair_load_by_measure])
        gradient = [(loads - p.upper).ravel(), (p.lower - loads).ravel()]
        if p.has_budget:
            gradient.append(np.array([float(weight @ p.budget_weight) - p.budget]))
        return -value, -np.concatenate(gradient)


def lagrangian_bound(
    problem: AssignmentProblem,
    start: Multipliers | None = None,
    temperatures: tuple[float, ...] | None = None,
    iterations_per_stage: int = 30,
    box: np.ndarray | None = None,
) -> LagrangianBound:
    """Maximise the smoothed dual from `start` (zero by default) through `temperatures`.

    Without temperatures the first is a tenth of the median spread between each unit's two
    cheapest pairs, and each next one a fifth of the last, four in all. With `box` (M,), each
    band multiplier stays within box[m] of its value at `start` (a box step: over candidates
    chosen at `start`, the dual cannot then run to prices at which pairs it lacks are cheaper).
    """
    temperatures = temperatures or default_temperatures(problem)
    multipliers = start or Multipliers.zero(problem)
    best_value, best_choice = relaxed_choice(problem, multipliers)
    best = multipliers
    evaluations = 0
    low = np.zeros(2 * multipliers.upper.size + problem.has_budget)
    high = np.full(len(low), np.inf)
    if box is not None:
        side = np.broadcast_to(box, multipliers.upper.shape).ravel()
        centre = np.concatenate([multipliers.upper.ravel(), multipliers.lower.ravel()])
        low[: len(centre)] = np.maximum(0.0, centre - np.tile(side, 2))
        high[: len(centre)] = centre + np.tile(side, 2)
    bounds = list(zip(low, np.where(np.isfinite(high), high, None)))
    for tau in temperatures:
        dual = _SmoothedDual(problem, tau)
        x0 = np.concatenate([multipliers.upper.ravel(), multipliers.lower.ravel()] + ([[multipliers.budget]] if problem.has_budget else []))
        result = minimize(dual, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                          options={"maxiter": iterations_per_stage, "maxcor": 20, "ftol": 1e-12, "gtol": 1e-9})
        evaluations += dual.evaluations
        multipliers = dual.unpack(result.x)
        value, choice = relaxed_choice(problem, multipliers)
        if value > best_value:
            best_value, best_choice, best = value, choice, multipliers
    return LagrangianBound(best_value, best, best_choice, evaluations, temperatures[-1])


def default_temperatures(problem: AssignmentProblem, stages: int = 4) -> tuple[float, ...]:
    """A falling sequence of smoothing temperatures scaled to the problem's cost differences."""
    starts = problem.unit_starts
    best = np.minimum.reduceat(problem.cost, starts)
    second = np.minimum.reduceat(np.where(problem.cost > best[problem.unit], problem.cost, np.inf), starts)
    spread = (second - best)[np.isfinite(second)]
    scale = float(np.median(spread)) if len(spread) else 1.0
    scale = scale if scale > 0 else max(1.0, float(np.abs(problem.cost).mean()))
    return tuple(0.1 * scale / 5**stage for stage in range(stages))
