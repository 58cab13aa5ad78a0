"""How good a plan is, measured the same way for the engine and for every baseline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from territory.engine.bands import Bands
from territory.engine.costs import CostModel
from territory.engine.instance import Instance

BAND_SLACK = 1e-6  # relative: totals this close to a band edge count as inside


@dataclass(frozen=True)
class Evaluation:
    """A plan's cost, balance and disruption. Deviation = total / fair share - 1, per rep and measure."""

    objective: float
    cost_terms: np.ndarray  # (n, 3)
    totals: np.ndarray  # (m, M)
    max_deviation: dict[str, float]  # measure -> max |deviation| over reps with a fair share
    violation: np.ndarray  # (m, M) how far each total lies outside its band (0 inside)
    ineligible: int  # units given a rep that may not own them
    families_split: int  # families whose members have more than one rep
    moved_share: float
    moved_value_share: float
    over_budget: bool  # more moved than the disruption budget allows

    @property
    def feasible(self) -> bool:
        return self.ineligible == 0 and self.families_split == 0 and not self.over_budget and not np.any(self.violation > 0)


def evaluate(instance: Instance, bands: Bands, rep: np.ndarray, costs: CostModel | None = None) -> Evaluation:
    """Measure plan `rep` (a rep index per unit) against the instance and its bands."""
    costs = costs or CostModel(instance)
    units = instance.units
    n, m = units.count, instance.reps.count
    terms = np.zeros((n, 3))
    ineligible = 0
    for block in costs.blocks():
        terms[block] = costs.terms(block, rep[block, None])[:, :, 0].T
        ineligible += int((~costs.eligible(block)[np.arange(len(block)), rep[block]]).sum())
    totals = np.zeros((m, len(instance.measures)))
    np.add.at(totals, rep, units.measures)
    scale = np.maximum(np.abs(bands.fair), 1.0) * BAND_SLACK
    violation = np.maximum(0.0, totals - bands.upper - scale) + np.maximum(0.0, bands.lower - totals - scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = np.where(bands.fair > 0, totals / bands.fair - 1.0, 0.0)
    in_family = units.family >= 0
    families_split = 0
    if in_family.any():
        family_reps = np.unique(np.column_stack([units.family[in_family], rep[in_family]]), axis=0)
        families_split = len(family_reps) - len(np.unique(family_reps[:, 0]))
    owned = units.current_rep >= 0
    moved = owned & (rep != units.current_rep)
    owned_value = float(units.value[owned].sum())
    moved_share = float(moved.sum() / owned.sum()) if owned.any() else 0.0
    moved_value_share = float(units.value[moved].sum() / owned_value) if owned_value > 0 else 0.0
    return Evaluation(
        objective=float(terms.sum()),
        cost_terms=terms,
        totals=totals,
        max_deviation={
            measure.name: float(np.abs(deviation[:, k]).max()) if m else 0.0 for k, measure in enumerate(instance.measures)
        },
        violation=violation,
        ineligible=ineligible,
        families_split=families_split,
        moved_share=moved_share,
        moved_value_share=moved_value_share,
        over_budget=(instance.max_moved_share is not None and moved_share > instance.max_moved_share + BAND_SLACK)
        or (instance.max_moved_value_share is not None and moved_value_share > instance.max_moved_value_share + BAND_SLACK),
    )
