"""Pools, fair shares and the band each rep's total must stay in.

A pool is a connected component of the eligibility graph (units and reps, joined when the rep
may own the unit): with segment and region rules, one pool per segment and region. Balance is
asked within a pool, since no rep can take work from a pool they cannot serve:

    fair[j, m]  = pool total of measure m x basis[j, m] / pool total of basis[:, m]
    lower[j, m] = fair[j, m] x (1 - tolerance_m)
    upper[j, m] = fair[j, m] x (1 + tolerance_m), and at most capacity_j for a capacity measure
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from territory.engine.costs import CostModel
from territory.engine.instance import Instance


@dataclass(frozen=True)
class Bands:
    """Each unit's and rep's pool, and per rep and measure the fair share and the band around it."""

    unit_pool: np.ndarray  # (n,) int
    rep_pool: np.ndarray  # (m,) int
    pool_names: tuple[str, ...]
    fair: np.ndarray  # (m, M)
    lower: np.ndarray  # (m, M)
    upper: np.ndarray  # (m, M)


def share_basis(instance: Instance) -> np.ndarray:
    """(m, M) what each rep's fair share of each measure is proportional to."""
    reps = instance.reps
    by_name = {
        "capacity": reps.capacity.astype(float),
        "capacity_x_level": reps.capacity * reps.level,
        "equal": np.ones(reps.count),
    }
    return np.column_stack([by_name[measure.share_basis] for measure in instance.measures])


def _signature_eligibility(instance: Instance, costs: CostModel) -> tuple[np.ndarray, np.ndarray]:
    """Unit to signature index, and each signature's eligible reps: eligibility depends only on the signature."""
    units = instance.units
    columns = [np.unique(units.attributes[key].astype(str), return_inverse=True)[1] for key in instance.eligibility]
    columns.append(units.top_tier.astype(np.int64))
    columns.append(np.where(units.locked, units.current_rep, -1))
    _, first, signature = np.unique(np.column_stack(columns), axis=0, return_index=True, return_inverse=True)
    return signature.ravel(), costs.eligible(first)


def pool_names(instance: Instance, rep_pool: np.ndarray, pools: int) -> tuple[str, ...]:
    """Name each pool by the eligibility values all its reps share, e.g. "segment=enterprise, region=us_east"."""
    names = []
    for pool in range(pools):
        members = np.flatnonzero(rep_pool == pool)
        parts = []
        for key in instance.eligibility:
            served = instance.reps.attributes.get(key)
            if served is None or not len(members):
                continue
            common = frozenset.intersection(*(served[j] for j in members))
            if len(common) == 1:
                parts.append(f"{key}={next(iter(common))}")
        names.append(", ".join(parts) if parts else f"pool {pool + 1} ({len(members)} reps)")
    return tuple(names)


def bands(instance: Instance, costs: CostModel) -> Bands:
    """The pools of the eligibility graph and every rep's band (see the module docstring)."""
    m = instance.reps.count
    signature, eligible = _signature_eligibility(instance, costs)
    sig_index, rep_index = np.nonzero(eligible)
    s = eligible.shape[0]
    graph = coo_matrix((np.ones(len(sig_index)), (sig_index, s + rep_index)), shape=(s + m, s + m))
    _, component = connected_components(graph, directed=False)
    _, component = np.unique(component, return_inverse=True)  # number pools in order of first appearance
    unit_pool = component[:s][signature]
    rep_pool = component[s:]
    pools = int(component.max()) + 1

    totals = np.zeros((pools, len(instance.measures)))
    np.add.at(totals, unit_pool, instance.units.measures)
    basis = share_basis(instance)
    pool_basis = np.zeros_like(totals)
    np.add.at(pool_basis, rep_pool, basis)
    with np.errstate(divide="ignore", invalid="ignore"):
        fair = np.where(pool_basis[rep_pool] > 0, totals[rep_pool] * basis / pool_basis[rep_pool], 0.0)
    tolerance = np.array([measure.tolerance for measure in instance.measures])
    lower, upper = fair * (1 - tolerance), fair * (1 + tolerance)
    for column, measure in enumerate(instance.measures):
        if measure.is_capacity:
            upper[:, column] = np.minimum(upper[:, column], instance.reps.capacity)
    return Bands(unit_pool, rep_pool, pool_names(instance, rep_pool, pools), fair, lower, upper)
