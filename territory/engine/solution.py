"""What the engine answers: the plan, how good it provably is, and what binds when nothing fits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Status = Literal["optimal", "feasible", "infeasible"]
COST_TERMS = ("travel", "fit", "disruption")


@dataclass(frozen=True)
class Binding:
    """A constraint that no plan can satisfy, and by how much it is short.

    kind: capacity (hours missing in a pool), balance_low / balance_high (a pool cannot give
    every rep a total inside the band), unit_too_large (one unit exceeds every eligible rep's
    band), locked_over (locked units alone overfill a rep), no_eligible_rep, disruption_budget.
    """

    kind: str
    pool: str  # which reps and units it concerns, e.g. "segment=enterprise, region=us_east"
    measure: str
    shortfall: float  # in the measure's unit: how much is missing or too much
    message: str
    reps_to_hire: float = 0.0  # for capacity: the shortfall in average-rep capacities


@dataclass(frozen=True)
class Solution:
    """A plan with its certificate. Arrays are per unit (n) or per rep and measure (m, M)."""

    status: Status
    rep: np.ndarray  # (n,) rep index per unit; -1 everywhere when infeasible
    cost_terms: np.ndarray  # (n, 3) travel, fit, disruption of each unit with its rep
    objective: float  # total cost of the plan (NaN when infeasible)
    lower_bound: float  # no plan costs less (over every eligible pair, not just candidates)
    gap: float  # (objective - lower_bound) / |objective|
    totals: np.ndarray  # (m, M) each rep's total per measure
    fair_share: np.ndarray  # (m, M)
    lower: np.ndarray  # (m, M) the band each total had to stay in
    upper: np.ndarray  # (m, M)
    prices: np.ndarray  # (m, M) the balance multipliers (upper minus lower) at the bound: the price of each band
    max_deviation: dict[str, float]  # measure -> max |total / fair share - 1| over reps
    moved_share: float  # of units with a current owner, the share that changes owner
    moved_value_share: float
    seconds: float
    peak_memory_mb: float  # the process's peak resident memory
    diagnosis: tuple[Binding, ...] = ()
    log: tuple[str, ...] = ()  # what each phase did, for the run log

    @property
    def feasible(self) -> bool:
        return self.status != "infeasible"
