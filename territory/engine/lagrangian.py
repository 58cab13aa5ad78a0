"""A lower bound on the assignment problem's optimum by Lagrangian relaxation.

Relaxing every rep's band with multipliers lam[j, m] >= 0 (upper side) and mu[j, m] >= 0
(lower side) leaves one independent choice per unit:

    L(lam, mu) = sum_i min_{k of unit i} (c_k + sum_m (lam - mu)[rep(k), m] * a[i, m])
                 - sum_{j,m} lam[j, m] * upper[j, m] + sum_{j,m} mu[j, m] * lower[j, m]

By weak duality L(lam, mu) is at most the optimum for any multipliers; subgradient ascent
(the subgradient is each band's violation by the relaxed choice) raises it. The best value
seen is returned with the multipliers that gave it, which also steer the primal heuristics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from territory.engine.problem import AssignmentProblem


@dataclass(frozen=True)
class LagrangianBound:
    """The best bound found, its multipliers, and the relaxed choice (candidate pair per unit) there."""

    value: float
    upper_multipliers: np.ndarray  # (m, M)
    lower_multipliers: np.ndarray  # (m, M)
    choice: np.ndarray  # (n,) candidate pair index per unit
    best_iteration: int  # the subgradient iteration that found it


def relaxed_choice(problem: AssignmentProblem, lam: np.ndarray, mu: np.ndarray) -> tuple[float, np.ndarray]:
    """L(lam, mu) and, per unit, the candidate pair that attains its minimum (lowest index on ties)."""
    price = lam - mu  # (m, M)
    reduced = problem.cost + np.einsum("km,km->k", price[problem.rep], problem.load[problem.unit])
    starts = problem.unit_starts
    best = np.minimum.reduceat(reduced, starts)
    # the first pair of each unit that reaches the unit's minimum
    is_best = reduced <= best[problem.unit]
    first = np.flatnonzero(is_best)
    choice = first[np.searchsorted(problem.unit[first], np.arange(problem.units))]
    value = best.sum() - float((lam * problem.upper).sum()) + float((mu * problem.lower).sum())
    return value, choice


def lagrangian_bound(
    problem: AssignmentProblem, iterations: int = 200, upper_estimate: float | None = None, step_scale: float = 2.0
) -> LagrangianBound:
    """Subgradient ascent on L from zero multipliers, with Polyak steps towards `upper_estimate`.

    Without an estimate (the cost of a known plan), steps aim 5% above the best bound so far.
    The step scale halves after 20 iterations without improvement.
    """
    shape = problem.lower.shape
    lam, mu = np.zeros(shape), np.zeros(shape)
    best_value, best = -np.inf, None
    stalled, scale = 0, step_scale
    for iteration in range(1, iterations + 1):
        value, choice = relaxed_choice(problem, lam, mu)
        if best is None or value > best_value + 1e-9 * max(1.0, abs(best_value)):
            best_value, best, stalled = value, (lam.copy(), mu.copy(), choice, iteration), 0
        else:
            stalled += 1
            if stalled >= 20:
                scale, stalled = scale / 2, 0
        loads = problem.rep_loads(choice)
        over, under = loads - problem.upper, problem.lower - loads
        # the subgradient of each multiplier, projected so that multipliers stay >= 0
        g_lam = np.where((lam > 0) | (over > 0), over, 0.0)
        g_mu = np.where((mu > 0) | (under > 0), under, 0.0)
        norm = float((g_lam**2).sum() + (g_mu**2).sum())
        if norm == 0.0:  # the relaxed choice is feasible and complementary: the bound is the optimum
            break
        target = upper_estimate if upper_estimate is not None else best_value + 0.05 * max(1.0, abs(best_value))
        step = scale * max(target - value, 1e-9 * max(1.0, abs(value))) / norm
        lam = np.maximum(0.0, lam + step * g_lam)
        mu = np.maximum(0.0, mu + step * g_mu)
    lam_best, mu_best, choice_best, at = best
    return LagrangianBound(best_value, lam_best, mu_best, choice_best, at)
