"""The greedy baseline: what a sales-ops analyst does by hand, and what the optimizer must beat.

Model. Accounts are taken in order of decreasing workload (ties by id). Each goes to

1. its current owner, if that rep is eligible and still has capacity for it (`kept_current_owner`);
2. otherwise the nearest eligible rep (great-circle distance from the rep's home base) with
   capacity left (`nearest_with_capacity`);
3. otherwise, when no eligible rep has room, the nearest eligible rep regardless of capacity
   (`nearest_over_capacity`): the baseline never leaves an account unowned.

A rep is eligible for an account when their segments match; if no rep serves the account's
segment at all, every rep is eligible (`no_rep_in_segment` is then appended to the reason).
An account without coordinates counts as equally far from every rep (its distance is reported
as NaN). No balancing, no lower bound: that is the assignment engine's job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from territory.geo import haversine_km

KEPT_CURRENT_OWNER = "kept_current_owner"
NEAREST_WITH_CAPACITY = "nearest_with_capacity"
NEAREST_OVER_CAPACITY = "nearest_over_capacity"
_CHUNK = 4096
_UNKNOWN_DISTANCE_KM = 1e9


@dataclass(frozen=True)
class Accounts:
    """Accounts to assign. `current_rep` is an index into Reps, -1 where the owner is unknown or inactive."""

    account_id: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    segment: np.ndarray
    workload_hours: np.ndarray
    potential: np.ndarray
    current_rep: np.ndarray


@dataclass(frozen=True)
class Reps:
    """Reps who can own accounts."""

    rep_id: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    segment: np.ndarray
    capacity_hours: np.ndarray


@dataclass(frozen=True)
class Assignment:
    """One owner per account (`rep` indexes Reps) and why it was chosen."""

    rep: np.ndarray
    reason: np.ndarray
    distance_km: np.ndarray


@dataclass(frozen=True)
class RepSummary:
    """Per rep: what the assignment gives them, against their fair share within their segment.

    Fair share of a measure for rep r = segment total x capacity_r / segment capacity;
    deviation = actual / fair share - 1 (0 is perfectly fair, +0.2 is 20% over).
    """

    accounts: np.ndarray
    potential: np.ndarray
    workload_hours: np.ndarray
    capacity_hours: np.ndarray
    utilization: np.ndarray
    accounts_deviation: np.ndarray
    potential_deviation: np.ndarray
    workload_deviation: np.ndarray


def greedy_nearest_baseline(accounts: Accounts, reps: Reps) -> Assignment:
    """Assign every account by the greedy rule of the module docstring."""
    n, m = len(accounts.account_id), len(reps.rep_id)
    if m == 0:
        raise ValueError("no rep can own accounts: the baseline needs at least one active rep")
    order = np.lexsort((accounts.account_id, -accounts.workload_hours))
    segment_has_rep = np.isin(accounts.segment, reps.segment)
    remaining = reps.capacity_hours.astype(float).copy()
    chosen = np.empty(n, dtype=np.int64)
    reason = np.empty(n, dtype=object)
    distance = np.empty(n)
    for start in range(0, n, _CHUNK):
        block = order[start : start + _CHUNK]
        block_distance = haversine_km(
            accounts.latitude[block, None], accounts.longitude[block, None], reps.latitude[None, :], reps.longitude[None, :]
        )
        comparable = np.nan_to_num(block_distance, nan=_UNKNOWN_DISTANCE_KM)
        eligible = (accounts.segment[block, None] == reps.segment[None, :]) | ~segment_has_rep[block, None]
        for row, account in enumerate(block):
            work = accounts.workload_hours[account]
            current = accounts.current_rep[account]
            if current >= 0 and eligible[row, current] and remaining[current] >= work:
                rep, why = current, KEPT_CURRENT_OWNER
            else:
                candidates = np.where(eligible[row] & (remaining >= work), comparable[row], np.inf)
                rep = int(np.argmin(candidates))
                why = NEAREST_WITH_CAPACITY
                if not np.isfinite(candidates[rep]):
                    rep = int(np.argmin(np.where(eligible[row], comparable[row], np.inf)))
                    why = NEAREST_OVER_CAPACITY
            if not segment_has_rep[account]:
                why += "; no_rep_in_segment"
            remaining[rep] -= work
            chosen[account] = rep
            reason[account] = why
            distance[account] = block_distance[row, rep]
    return Assignment(rep=chosen, reason=reason, distance_km=distance)


def summarize(accounts: Accounts, reps: Reps, assignment: Assignment) -> RepSummary:
    """Per-rep totals and deviations from fair share (see RepSummary)."""
    m = len(reps.rep_id)
    counts = np.bincount(assignment.rep, minlength=m).astype(float)
    potential = np.bincount(assignment.rep, weights=accounts.potential, minlength=m)
    workload = np.bincount(assignment.rep, weights=accounts.workload_hours, minlength=m)
    capacity = reps.capacity_hours.astype(float)
    _, segment_index = np.unique(reps.segment, return_inverse=True)
    capacity_share = capacity / np.bincount(segment_index, weights=capacity)[segment_index]

    def deviation(measure: np.ndarray) -> np.ndarray:
        fair = np.bincount(segment_index, weights=measure)[segment_index] * capacity_share
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(fair > 0, measure / fair - 1.0, np.nan)

    with np.errstate(divide="ignore", invalid="ignore"):
        utilization = np.where(capacity > 0, workload / capacity, np.nan)
    return RepSummary(
        accounts=counts.astype(np.int64),
        potential=potential,
        workload_hours=workload,
        capacity_hours=capacity,
        utilization=utilization,
        accounts_deviation=deviation(counts),
        potential_deviation=deviation(potential),
        workload_deviation=deviation(workload),
    )
