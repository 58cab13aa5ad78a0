"""The cost of giving unit i to rep j, and who may own whom.

    cost(i, j) = travel + fit + disruption
    travel     = w_travel x visits_i x 2 x distance_km(unit i, base of rep j)
    fit        = w_fit x value_i x (mismatch_ij + (1 - skill_j)) / 2
    disruption = w_disruption x value_i x [unit i has a current rep and j is another rep]

mismatch_ij is the share of fit attributes whose unit value is not among the rep's values (0
when there are none); a unit without coordinates costs no travel. Rep j is eligible for unit i
when, for every eligibility key, the unit's value is among the rep's values (a rep without
the key serves every value), and, for a top-tier unit, the rep has the minimum experience.
A locked unit is eligible only for its current rep.

Costs are computed for blocks of units against every rep, so that the full problem can be
priced without ever holding the dense n x m matrix; `dense_cost` computes such a block as
matrix products (the distance from the chord between points on the unit sphere), several
times faster than the pair-by-pair `terms` and equal to it within a millimetre of travel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from territory.engine.instance import Instance
from territory.geo import EARTH_RADIUS_KM, haversine_km, unit_vectors

BLOCK_PAIRS = 1_000_000  # pairs per block: a dense block's arrays (~8 MB each) stay near the cache


@dataclass(frozen=True)
class AttributeCodes:
    """One attribute as codes: a code per unit, and per rep a boolean row over codes (does the rep serve it)."""

    unit_code: np.ndarray  # (n,) int
    served: np.ndarray  # (m, codes) bool


def _codes(instance: Instance, key: str) -> AttributeCodes:
    values, unit_code = np.unique(instance.units.attributes[key].astype(str), return_inverse=True)
    reps = instance.reps
    served = np.ones((reps.count, len(values)), dtype=bool)
    rep_values = reps.attributes.get(key)
    if rep_values is not None:
        served = np.array([[value in rep_values[j] for value in values] for j in range(reps.count)], dtype=bool)
        served = served.reshape(reps.count, len(values))
    return AttributeCodes(unit_code, served)


class CostModel:
    """Cost terms and eligibility of (unit, rep) pairs for one instance."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self._eligibility = [_codes(instance, key) for key in instance.eligibility]
        self._fit = [_codes(instance, key) for key in instance.fit_attributes]
        units, reps = instance.units, instance.reps
        self._experienced = reps.experience_years >= instance.top_tier_min_experience
        located = np.isfinite(units.latitude) & np.isfinite(units.longitude)
        self._unit_points = unit_vectors(np.where(located, units.latitude, 0.0), np.where(located, units.longitude, 0.0))
        self._rep_points = unit_vectors(reps.latitude, reps.longitude)
        # travel = w x visits x 2 x 2R arcsin(chord / 2); a unit without coordinates travels nowhere
        self._travel_scale = np.where(located, 4.0 * EARTH_RADIUS_KM * instance.weights.travel * units.visits, 0.0)
        # fit / (w x value / 2) per code of the first fit attribute (the others add their mismatch)
        unskilled = 1.0 - reps.skill
        self._fit_rows = [(~codes.served.T).astype(float) / len(self._fit) for codes in self._fit] or [np.zeros((1, reps.count))]
        self._fit_rows[0] = self._fit_rows[0] + unskilled[None, :]

    def block_size(self) -> int:
        return max(1, BLOCK_PAIRS // self.instance.reps.count)

    def blocks(self) -> Iterator[np.ndarray]:
        """Unit index blocks that together cover every unit once, in order."""
        n, size = self.instance.units.count, self.block_size()
        for start in range(0, n, size):
            yield np.arange(start, min(n, start + size))

    def eligible(self, units: np.ndarray) -> np.ndarray:
        """(len(units), m) bool: may rep j own unit i."""
        inst = self.instance
        ok = np.ones((len(units), inst.reps.count), dtype=bool)
        for codes in self._eligibility:
            ok &= codes.served[:, codes.unit_code[units]].T
        ok &= ~inst.units.top_tier[units, None] | self._experienced[None, :]
        locked = inst.units.locked[units]
        if locked.any():
            rows = np.flatnonzero(locked)
            ok[rows] = False
            ok[rows, inst.units.current_rep[units[rows]]] = True
        return ok

    def terms(self, units: np.ndarray, reps: np.ndarray | None = None) -> np.ndarray:
        """(3, len(units), len(reps)) travel, fit and disruption costs; `reps=None` means every rep.

        With `reps` of the same length as `units`, pass it 2-D as reps[:, None] for one pair per unit.
        """
        inst, w = self.instance, self.instance.weights
        u, r = inst.units, inst.reps
        rep_index = np.arange(r.count)[None, :] if reps is None else np.atleast_2d(reps)
        if rep_index.shape[0] == 1 and len(units) != 1:
            rep_index = np.broadcast_to(rep_index, (len(units), rep_index.shape[1]))
        distance = haversine_km(
            u.latitude[units, None], u.longitude[units, None], r.latitude[rep_index], r.longitude[rep_index]
        )
        travel = w.travel * u.visits[units, None] * 2.0 * np.nan_to_num(distance, nan=0.0)
        mismatch = np.zeros(rep_index.shape)
        for codes in self._fit:
            mismatch += ~codes.served[rep_index, codes.unit_code[units, None]]
        if self._fit:
            mismatch /= len(self._fit)
        value = u.value[units, None]
        fit = w.fit * value * (mismatch + (1.0 - r.skill[rep_index])) / 2.0
        current = u.current_rep[units, None]
        disruption = w.disruption * value * ((current >= 0) & (rep_index != current))
        return np.stack([travel, fit, disruption])

    def dense_cost(self, units: np.ndarray) -> np.ndarray:
        """(len(units), m) total cost of the units against every rep: `cost(units)`, as matrix products."""
        inst, w = self.instance, self.instance.weights
        u = inst.units
        chord = self._unit_points[units] @ self._rep_points.T  # cos of the angle, then |u - r|^2 = 2 - 2 cos
        chord *= -2.0
        chord += 2.0
        np.maximum(chord, 0.0, out=chord)
        np.sqrt(chord, out=chord)
        chord *= 0.5
        np.minimum(chord, 1.0, out=chord)
        cost = np.arcsin(chord, out=chord)
        cost *= self._travel_scale[units, None]
        value = u.value[units]
        codes = [attribute.unit_code[units] for attribute in self._fit] or [np.zeros(len(units), dtype=np.int64)]
        fit = self._fit_rows[0][codes[0]]
        for rows, code in zip(self._fit_rows[1:], codes[1:]):
            fit += rows[code]
        fit *= (w.fit * value / 2.0)[:, None]
        cost += fit
        current = u.current_rep[units]
        owned = np.flatnonzero(current >= 0)
        disruption = w.disruption * value[owned]
        cost[owned] += disruption[:, None]
        cost[owned, current[owned]] -= disruption
        return cost

    def cost(self, units: np.ndarray, reps: np.ndarray | None = None) -> np.ndarray:
        """Total cost of each pair (see `terms`); every rep's, as `dense_cost`, when `reps` is None."""
        if reps is None:
            return self.dense_cost(units)
        return self.terms(units, reps).sum(axis=0)
