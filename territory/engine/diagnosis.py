"""When no plan can keep every rule: which constraint binds, where, and by how much.

Necessary conditions, checked before solving (any failure proves that no plan exists):

- no_eligible_rep: a unit (or family) that no rep may own;
- capacity: a pool's total of a capacity measure exceeds its reps' capacity (the shortfall,
  in hours, divided by the pool's average capacity is the number of reps to hire or outsource);
- balance_high: a pool's total exceeds the sum of its reps' upper bands (upper bands clipped
  by capacity below the fair share);
- unit_too_large: one unit's amount exceeds the upper band of every rep that may own it;
- locked_over: locked units alone exceed their rep's upper band;
- top_tier_over: a pool's top-tier units bring more than its experienced reps' upper bands hold.

When these hold but the linear relaxation has no solution either, the dual bound grows past
the cost of any assignment, which proves that no plan exists; the constraints whose
multipliers grew are the ones in conflict (`conflicting_constraints`).

When the conditions hold but the repair heuristic still leaves reps outside their bands, the
remaining violations are reported per pool and measure (`unrepaired`): the plan is withheld,
and the message says it was not proven impossible.
"""

from __future__ import annotations

import numpy as np

from territory.engine.bands import Bands
from territory.engine.instance import Instance
from territory.engine.lagrangian import Multipliers
from territory.engine.problem import AssignmentProblem
from territory.engine.solution import Binding

_EXAMPLES = 3
RELATIVE_SLACK = 1e-9


def _examples(ids: np.ndarray) -> str:
    shown = ", ".join(str(value) for value in ids[:_EXAMPLES])
    return shown + (f" and {len(ids) - _EXAMPLES:,} more" if len(ids) > _EXAMPLES else "")


def diagnose(
    instance: Instance, bands: Bands, group_of_unit: np.ndarray, group_load: np.ndarray, candidate_group: np.ndarray,
    candidate_rep: np.ndarray,
) -> tuple[Binding, ...]:
    """The necessary conditions of the module docstring that fail, each as a Binding.

    group_load is each group's unscaled total per measure; candidate_group/candidate_rep list
    the eligible (group, rep) pairs kept as candidates (every group with an eligible rep has one).
    """
    units, reps = instance.units, instance.reps
    found: list[Binding] = []
    orphan_groups = np.setdiff1d(np.arange(group_load.shape[0]), candidate_group)
    if len(orphan_groups):
        orphans = units.unit_id[np.isin(group_of_unit, orphan_groups)]
        found.append(Binding(
            "no_eligible_rep", "", "", float(len(orphans)),
            f"{len(orphans):,} unit(s) have no eligible rep (check segment, region, language, experience and locks): "
            f"{_examples(orphans)}",
        ))
    pools = len(bands.pool_names)
    for column, measure in enumerate(instance.measures):
        total = np.bincount(bands.unit_pool, weights=units.measures[:, column], minlength=pools)
        room = np.bincount(bands.rep_pool, weights=bands.upper[:, column], minlength=pools)
        capacity = np.bincount(bands.rep_pool, weights=reps.capacity.astype(float), minlength=pools)
        members = np.bincount(bands.rep_pool, minlength=pools)
        # a pool without reps holds only units nobody may own, named above
        for pool in np.flatnonzero((total > room * (1 + RELATIVE_SLACK) + RELATIVE_SLACK) & (members > 0)):
            name = bands.pool_names[pool]
            if measure.is_capacity and total[pool] > capacity[pool]:
                missing = total[pool] - capacity[pool]
                hires = missing / (capacity[pool] / members[pool]) if members[pool] and capacity[pool] > 0 else 0.0
                found.append(Binding(
                    "capacity", name, measure.name, float(missing),
                    f"{missing:,.0f} {measure.name} of capacity missing in {name}: its {members[pool]} rep(s) have "
                    f"{capacity[pool]:,.0f}, its units need {total[pool]:,.0f} (about {hires:.1f} more reps)",
                    reps_to_hire=float(hires),
                ))
            else:
                found.append(Binding(
                    "balance_high", name, measure.name, float(total[pool] - room[pool]),
                    f"{name}: {total[pool]:,.0f} {measure.name} to share, but the reps' upper bands add up to "
                    f"{room[pool]:,.0f}",
                ))
    pool_upper = np.zeros((pools, len(instance.measures)))
    np.maximum.at(pool_upper, bands.rep_pool, bands.upper)
    group_pool = np.zeros(group_load.shape[0], dtype=np.int64)
    group_pool[group_of_unit] = bands.unit_pool
    best_upper = np.zeros_like(group_load)
    np.maximum.at(best_upper, candidate_group, bands.upper[candidate_rep])
    too_large = group_load > best_upper * (1 + RELATIVE_SLACK) + RELATIVE_SLACK
    too_large[orphan_groups] = False
    for column, measure in enumerate(instance.measures):
        groups = np.flatnonzero(too_large[:, column])
        if len(groups):
            worst = groups[np.argmax(group_load[groups, column] - best_upper[groups, column])]
            found.append(Binding(
                "unit_too_large", bands.pool_names[group_pool[worst]], measure.name,
                float(group_load[worst, column] - best_upper[worst, column]),
                f"{len(groups):,} unit(s) or families bring more {measure.name} than any eligible rep's band allows, "
                f"e.g. {_examples(units.unit_id[np.isin(group_of_unit, groups)])}",
            ))
    experienced = reps.experience_years >= instance.top_tier_min_experience
    if units.top_tier.any() and not experienced.all():
        for column, measure in enumerate(instance.measures):
            need = np.bincount(bands.unit_pool[units.top_tier], weights=units.measures[units.top_tier, column], minlength=pools)
            room = np.bincount(bands.rep_pool[experienced], weights=bands.upper[experienced, column], minlength=pools)
            for pool in np.flatnonzero(need > room * (1 + RELATIVE_SLACK) + RELATIVE_SLACK):
                found.append(Binding(
                    "top_tier_over", bands.pool_names[pool], measure.name, float(need[pool] - room[pool]),
                    f"{bands.pool_names[pool]}: top-tier accounts bring {need[pool]:,.0f} {measure.name}, but the reps "
                    f"experienced enough for them ({instance.top_tier_min_experience:g}+ years) can hold {room[pool]:,.0f} "
                    "within their bands",
                ))
    locked_load = np.zeros_like(bands.upper)
    locked = units.locked
    np.add.at(locked_load, units.current_rep[locked], units.measures[locked])
    over = locked_load > bands.upper * (1 + RELATIVE_SLACK) + RELATIVE_SLACK
    for rep, column in zip(*np.nonzero(over)):
        found.append(Binding(
            "locked_over", bands.pool_names[bands.rep_pool[rep]], instance.measures[column].name,
            float(locked_load[rep, column] - bands.upper[rep, column]),
            f"locked accounts alone give rep {reps.rep_id[rep]} {locked_load[rep, column]:,.0f} "
            f"{instance.measures[column].name}, above their band's {bands.upper[rep, column]:,.0f}",
        ))
    return tuple(found)


def unrepaired(instance: Instance, bands: Bands, totals: np.ndarray, over_budget: float) -> tuple[Binding, ...]:
    """What the best plan found still violates, per pool and measure (totals are unscaled)."""
    found = []
    for column, measure in enumerate(instance.measures):
        for side, excess in (("high", totals[:, column] - bands.upper[:, column]),
                             ("low", bands.lower[:, column] - totals[:, column])):
            bad = excess > RELATIVE_SLACK * np.maximum(1.0, np.abs(bands.fair[:, column]))
            for pool in np.unique(bands.rep_pool[bad]):
                in_pool = bad & (bands.rep_pool == pool)
                found.append(Binding(
                    f"balance_{side}", bands.pool_names[pool], measure.name, float(excess[in_pool].sum()),
                    f"no plan found that keeps {measure.name} within its band in {bands.pool_names[pool]}: "
                    f"{int(in_pool.sum())} rep(s) still {'above' if side == 'high' else 'below'} it by "
                    f"{excess[in_pool].sum():,.1f} in all, e.g. {_examples(instance.reps.rep_id[in_pool])} "
                    "(not proven impossible: widen the tolerance or relax eligibility)",
                ))
    if over_budget > 0:
        found.append(Binding(
            "disruption_budget", "", "moved", float(over_budget),
            f"no plan found within the disruption budget: {over_budget:,.1f} over it",
        ))
    return tuple(found)


def conflicting_constraints(
    instance: Instance, bands: Bands, problem: AssignmentProblem, multipliers: Multipliers, share: float = 0.1
) -> tuple[Binding, ...]:
    """The constraints of a proven-infeasible instance: those whose dual terms hold `share` of the largest.

    Each band's term is its multiplier times its bound (the budget's likewise), in cost units;
    they are grouped per pool, measure and side.
    """
    upper_term = multipliers.upper * np.abs(problem.upper)
    lower_term = multipliers.lower * np.abs(problem.lower)
    budget_term = multipliers.budget * problem.budget if problem.has_budget else 0.0
    largest = max(float(upper_term.max(initial=0)), float(lower_term.max(initial=0)), budget_term)
    proof = "proven: not even a fractional plan keeps them all"
    found = []
    for side, term in (("high", upper_term), ("low", lower_term)):
        for column, measure in enumerate(instance.measures):
            strong = term[:, column] >= share * largest
            for pool in np.unique(bands.rep_pool[strong]):
                in_pool = strong & (bands.rep_pool == pool)
                edge = "upper" if side == "high" else "lower"
                found.append(Binding(
                    f"balance_{side}", bands.pool_names[pool], measure.name, float("nan"),
                    f"{bands.pool_names[pool]}: the {edge} band of {measure.name} of {int(in_pool.sum())} rep(s) "
                    f"({_examples(instance.reps.rep_id[in_pool])}) conflicts with the other rules ({proof})",
                ))
    if budget_term >= share * largest and budget_term > 0:
        found.append(Binding("disruption_budget", "", "moved", float("nan"),
                             f"the disruption budget conflicts with the bands ({proof}): allow more accounts to move"))
    return tuple(found)
