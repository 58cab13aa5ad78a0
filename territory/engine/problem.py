"""The assignment problem in the form the engine's algorithms work on.

    minimise    sum_k c_k x_k
    subject to  sum_{k: unit(k) = i} x_k = 1                        every unit gets one rep
                lower[j, m] <= sum_{k: rep(k) = j} a[unit(k), m] x_k <= upper[j, m]
                                                                     every rep j, measure m
                sum_k g_k x_k <= budget                              the disruption budget
                x_k in {0, 1}

over the candidate pairs k = (unit, rep) that are eligible at all; a unit is an account or an
account family (which then moves as one), and a locked unit has its current owner as its only
candidate. Pairs are stored sorted by unit, so that per-unit reductions are contiguous slices.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class AssignmentProblem:
    """Candidate pairs with their costs, the measures each unit brings, and each rep's bands."""

    unit: np.ndarray  # (K,) int: the unit of each candidate pair, non-decreasing
    rep: np.ndarray  # (K,) int: the rep of each candidate pair
    cost: np.ndarray  # (K,) float
    load: np.ndarray  # (n, M) float: what each unit adds to each balance measure
    lower: np.ndarray  # (m, M) float: each rep's lowest allowed total per measure
    upper: np.ndarray  # (m, M) float: each rep's highest allowed total per measure
    budget_weight: np.ndarray | None = None  # (K,) g_k: what choosing the pair spends of the budget
    budget: float = np.inf

    def __post_init__(self) -> None:
        n, m = self.load.shape[0], self.lower.shape[0]
        if not (len(self.unit) == len(self.rep) == len(self.cost)):
            raise ValueError("unit, rep and cost must have one entry per candidate pair")
        if len(self.unit) and np.any(np.diff(self.unit) < 0):
            raise ValueError("candidate pairs must be sorted by unit")
        if self.lower.shape != self.upper.shape or self.upper.shape[1] != self.load.shape[1]:
            raise ValueError("lower and upper need one row per rep and one column per measure of load")
        missing = np.setdiff1d(np.arange(n), self.unit)
        if len(missing):
            raise ValueError(f"{len(missing)} unit(s) have no eligible rep, e.g. unit {missing[0]}")
        if len(self.rep) and (self.rep.min() < 0 or self.rep.max() >= m):
            raise ValueError("a candidate pair names a rep that does not exist")
        if self.budget_weight is not None and len(self.budget_weight) != len(self.unit):
            raise ValueError("budget_weight must have one entry per candidate pair")

    @property
    def units(self) -> int:
        return self.load.shape[0]

    @property
    def reps(self) -> int:
        return self.lower.shape[0]

    @cached_property
    def unit_starts(self) -> np.ndarray:
        """Index of each unit's first candidate pair (for np.minimum.reduceat)."""
        return np.searchsorted(self.unit, np.arange(self.units))

    @cached_property
    def pair_load(self) -> np.ndarray:
        """(K, M) what each candidate pair adds to its rep's totals."""
        return self.load[self.unit]

    @cached_property
    def pair_load_by_measure(self) -> np.ndarray:
        """(M, K) `pair_load` measure by measure, each row contiguous (the dual's passes over every pair)."""
        return np.ascontiguousarray(self.pair_load.T)

    @property
    def has_budget(self) -> bool:
        return self.budget_weight is not None and np.isfinite(self.budget)

    def spent(self, chosen: np.ndarray) -> float:
        """How much of the budget plan `chosen` (a candidate pair per unit) spends."""
        return float(self.budget_weight[chosen].sum()) if self.budget_weight is not None else 0.0

    def rep_loads(self, chosen: np.ndarray) -> np.ndarray:
        """(m, M) totals per rep and measure when unit i takes candidate pair chosen[i]."""
        owner = self.rep[chosen]
        return np.column_stack([np.bincount(owner, weights=self.load[:, m], minlength=self.reps) for m in range(self.load.shape[1])])
