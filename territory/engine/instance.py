"""What the engine is asked: units to assign, reps who can own them, balance measures, weights.

A unit is an account, or a geographic unit in alignment mode. Each unit brings an amount of
every balance measure (workload hours, potential, 1 for the account count, ...); each rep gets
a fair share of each measure's total within their pool (the reps and units that eligibility
connects), and their total must stay within `tolerance` of it. Attributes drive eligibility
(a unit's value must be among the rep's values for every key in `eligibility`) and fit (a
mismatch on a key in `fit_attributes` costs part of the unit's value).

Everything is numpy arrays indexed by position; ids are only carried for the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

ShareBasis = Literal["capacity", "capacity_x_level", "equal"]


@dataclass(frozen=True)
class Measure:
    """A balance measure: each rep's total within `tolerance` of their fair share.

    Fair share = pool total x basis_j / pool basis, where the basis is the rep's capacity
    (`capacity`), capacity times level (`capacity_x_level`: senior reps carry more potential)
    or one (`equal`). A capacity measure may also never exceed the rep's capacity.
    """

    name: str
    tolerance: float = 0.05
    share_basis: ShareBasis = "capacity"
    is_capacity: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.tolerance < 1:
            raise ValueError(f"measure {self.name!r}: tolerance must be in [0, 1), got {self.tolerance}")


@dataclass(frozen=True)
class Weights:
    """What one unit of each cost term is worth, in the currency of `Units.value`.

    travel: cost per km of a round trip from the rep's base, per planned in-person visit;
    fit: the share of a unit's value lost to a full misfit (every fit attribute wrong, skill 0);
    disruption: the share of a unit's value put at risk when its owner changes.
    """

    travel: float = 0.5
    fit: float = 0.05
    disruption: float = 0.10


@dataclass(frozen=True)
class Units:
    """The units to assign; every array has one entry per unit."""

    unit_id: np.ndarray  # str
    latitude: np.ndarray  # float, NaN when unknown (then equally far from every rep)
    longitude: np.ndarray
    measures: np.ndarray  # (n, M) float, >= 0
    visits: np.ndarray  # in-person visits per year: the travel weight
    value: np.ndarray  # what the unit is worth: the fit and disruption weight
    current_rep: np.ndarray  # int index into Reps, -1 for none
    locked: np.ndarray  # bool: keeps its current rep
    family: np.ndarray  # int family index, -1 for none: a family moves as one
    top_tier: np.ndarray  # bool: only for reps with enough experience
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  # key -> (n,) str

    @property
    def count(self) -> int:
        return len(self.unit_id)


@dataclass(frozen=True)
class Reps:
    """The reps (or territories) that can own units; every array has one entry per rep."""

    rep_id: np.ndarray  # str
    latitude: np.ndarray  # the rep's base
    longitude: np.ndarray
    capacity: np.ndarray  # hours per year (any unit, as long as the capacity measure uses it)
    level: np.ndarray  # seniority multiplier of the potential share (1 = standard)
    experience_years: np.ndarray
    skill: np.ndarray  # 0..1: measured performance and PACE profile, 1 is the best
    attributes: dict[str, tuple[frozenset[str], ...]] = field(default_factory=dict)  # key -> values served per rep

    @property
    def count(self) -> int:
        return len(self.rep_id)


@dataclass(frozen=True)
class Instance:
    """One assignment question, complete."""

    units: Units
    reps: Reps
    measures: tuple[Measure, ...]
    weights: Weights = Weights()
    eligibility: tuple[str, ...] = ()  # attribute keys that must match
    fit_attributes: tuple[str, ...] = ()  # attribute keys whose mismatch costs fit
    top_tier_min_experience: float = 0.0
    max_moved_share: float | None = None  # of units with a current owner
    max_moved_value_share: float | None = None  # of the value of units with a current owner
    adjacency: np.ndarray | None = None  # (E, 2) unit index pairs, for alignment contiguity

    def __post_init__(self) -> None:
        n, m = self.units.count, self.reps.count
        if self.units.measures.shape != (n, len(self.measures)):
            raise ValueError(f"units.measures must be (units, measures) = ({n}, {len(self.measures)})")
        if m == 0:
            raise ValueError("no rep can own units: the instance needs at least one rep")
        for name in ("latitude", "longitude", "visits", "value", "current_rep", "locked", "family", "top_tier"):
            if len(getattr(self.units, name)) != n:
                raise ValueError(f"units.{name} must have one entry per unit ({n})")
        for name in ("latitude", "longitude", "capacity", "level", "experience_years", "skill"):
            if len(getattr(self.reps, name)) != m:
                raise ValueError(f"reps.{name} must have one entry per rep ({m})")
        if n and (self.units.current_rep.min() < -1 or self.units.current_rep.max() >= m):
            raise ValueError("units.current_rep must index a rep or be -1")
        if np.any(self.units.measures < 0) or not np.all(np.isfinite(self.units.measures)):
            raise ValueError("units.measures must be finite and non-negative")
        if np.any(self.units.locked & (self.units.current_rep < 0)):
            raise ValueError(f"unit {self.units.unit_id[np.argmax(self.units.locked & (self.units.current_rep < 0))]} is locked but has no current rep")
        for key in (*self.eligibility, *self.fit_attributes):
            if key not in self.units.attributes:
                raise ValueError(f"attribute {key!r} is used for eligibility or fit but units do not carry it")
        if len(set(self.units.unit_id.tolist())) != n:
            raise ValueError("unit ids must be unique")
        if len(set(self.reps.rep_id.tolist())) != m:
            raise ValueError("rep ids must be unique")
        for share in (self.max_moved_share, self.max_moved_value_share):
            if share is not None and not 0 <= share <= 1:
                raise ValueError("a disruption budget is a share in [0, 1]")
