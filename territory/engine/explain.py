"""Why a unit has its rep, and why a rep carries what they carry.

A unit's rep is explained by its cost terms against the best alternatives. Each alternative's
reduced cost adds the band prices of the plan (the dual multipliers: what one more unit of a
measure costs at that rep, positive where the rep's upper band binds, negative where its lower
band does). An alternative that is cheaper in plain cost but dearer once priced lost to a band:
the explanation names the band and its price. A rep's load is explained measure by measure:
the total, the fair share and band, whether the band binds, and its price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from territory.engine.bands import Bands
from territory.engine.costs import CostModel
from territory.engine.instance import Instance
from territory.engine.solution import COST_TERMS

BINDING = 1e-6  # relative distance to a band edge that counts as at the edge


@dataclass(frozen=True)
class Option:
    """One rep for one unit: the cost terms, the band price, and what decided against it."""

    rep_id: str
    terms: dict[str, float]  # travel, fit, disruption
    cost: float
    band_price: float  # sum over measures of the rep's price x what the unit brings
    reason: str


@dataclass(frozen=True)
class UnitExplanation:
    unit_id: str
    chosen: Option
    alternatives: tuple[Option, ...]
    ineligible: int  # reps that may not own the unit at all


@dataclass(frozen=True)
class MeasureLoad:
    measure: str
    total: float
    fair_share: float
    lower: float
    upper: float
    price: float
    state: str  # "at upper band", "at lower band" or "inside band"


@dataclass(frozen=True)
class RepExplanation:
    rep_id: str
    units: int
    loads: tuple[MeasureLoad, ...]
    largest_units: tuple[tuple[str, float], ...]  # (unit id, amount of the first measure), largest first


def _biggest_price(instance: Instance, prices: np.ndarray, rep: int, load: np.ndarray) -> str:
    contribution = prices[rep] * load
    k = int(np.argmax(np.abs(contribution)))
    side = "full" if prices[rep, k] > 0 else "short"
    return f"{instance.measures[k].name} band {side} (priced {prices[rep, k]:+,.4g} per unit, {contribution[k]:+,.0f} here)"


def explain_unit(instance: Instance, plan: np.ndarray, prices: np.ndarray, unit: int, alternatives: int = 3) -> UnitExplanation:
    """The unit's rep against its `alternatives` best other eligible reps (by priced cost)."""
    costs = CostModel(instance)
    index = np.array([unit])
    terms = costs.terms(index)[:, 0, :]  # (3, m)
    eligible = costs.eligible(index)[0]
    load = instance.units.measures[unit]
    band_price = prices @ load
    cost = terms.sum(axis=0)
    chosen = int(plan[unit])
    reps = instance.reps.rep_id

    def option(rep: int, reason: str) -> Option:
        return Option(str(reps[rep]), {name: float(terms[k, rep]) for k, name in enumerate(COST_TERMS)},
                      float(cost[rep]), float(band_price[rep]), reason)

    others = np.flatnonzero(eligible & (np.arange(len(cost)) != chosen))
    ranked = others[np.argsort(cost[others] + band_price[others], kind="stable")][:alternatives]
    found = []
    for rep in ranked:
        extra = cost[rep] - cost[chosen]
        if extra < 0:
            reason = f"cheaper by {-extra:,.0f}, but {_biggest_price(instance, prices, rep, load)}"
        else:
            worse = max(COST_TERMS, key=lambda name: terms[COST_TERMS.index(name), rep] - terms[COST_TERMS.index(name), chosen])
            reason = f"costs {extra:,.0f} more, mostly {worse}"
        found.append(option(rep, reason))
    return UnitExplanation(
        unit_id=str(instance.units.unit_id[unit]),
        chosen=option(chosen, "assigned: least cost once the bands are priced"),
        alternatives=tuple(found),
        ineligible=int((~eligible).sum()),
    )


def explain_rep(instance: Instance, bands: Bands, plan: np.ndarray, prices: np.ndarray, rep: int, largest: int = 5) -> RepExplanation:
    """The rep's totals against fair share and band, measure by measure, and their largest units."""
    mine = np.flatnonzero(plan == rep)
    totals = instance.units.measures[mine].sum(axis=0)
    loads = []
    for k, measure in enumerate(instance.measures):
        lower, upper = bands.lower[rep, k], bands.upper[rep, k]
        edge = BINDING * max(1.0, abs(upper))
        state = "at upper band" if totals[k] >= upper - edge else "at lower band" if totals[k] <= lower + edge else "inside band"
        loads.append(MeasureLoad(measure.name, float(totals[k]), float(bands.fair[rep, k]), float(lower), float(upper),
                                 float(prices[rep, k]), state))
    order = mine[np.argsort(-instance.units.measures[mine, 0], kind="stable")][:largest]
    return RepExplanation(
        rep_id=str(instance.reps.rep_id[rep]),
        units=len(mine),
        loads=tuple(loads),
        largest_units=tuple((str(instance.units.unit_id[i]), float(instance.units.measures[i, 0])) for i in order),
    )
