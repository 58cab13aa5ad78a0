"""Independent parts of an assignment instance, solved apart (in one process or several) and merged.

Two units or reps are *coupled* when a constraint or a cost term involves both:

- eligibility joins a unit and every rep that may own it (a lock leaves only the current rep,
  the top tier only the experienced reps);
- a balance band shares its pool's total among the pool's reps, and a pool is a connected
  component of the eligibility graph (bands.py): bands couple nothing that eligibility does not;
- a family takes one rep eligible for every member, so it can only be owned inside one pool;
  members in two pools have no such rep at all, and the instance no plan;
- the disruption budget is one constraint over every owned unit.

The connected components of this coupling graph are the *parts*. Without a budget they are the
pools that hold units (a pool of reps alone has nothing to plan). A budget couples every unit:
splitting it among the parts in proportion would restrict each part to its share, and the
single solve may spend it unevenly (moves are cheap in one part, dear in another), so the
instance stays one part. So does an instance in which a unit or a family has no eligible rep:
it has no plan, and its diagnosis is made over the whole.

Parts share no unit, rep or constraint, and the cost is a sum over units, so a plan keeps every
rule exactly when each part's plan does, and the least cost is the sum of the parts' least
costs: the sum of the parts' lower bounds is a lower bound of the whole. Each part is solved as
an instance of its own in which a unit owned by a rep of another part has no current rep; that
owner may not keep it, so the unit pays its disruption whoever owns it, a constant the merge
adds back to the bound (and `evaluate` to the cost).

`territory.engine.solve.solve` solves an instance of several parts with `solve_parts` and
`merge`, so solving the parts elsewhere (`solve_parts(..., workers=2)`, or one Dagster step per
part) gives the same plan: each part's solve depends only on its own instance (fixed seeds,
work budgets sized from the part, its safety time limit counted from its own start), not on the
process it runs in nor on the other parts. Only the part's safety time limit, when it binds,
makes its plan depend on the machine's speed and load (the log says so); it also bounds HiGHS
when a part of at most 2,000 pairs is solved outright, which a loaded machine can make it reach.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from logging.handlers import QueueHandler, QueueListener

import numpy as np

from territory.engine.bands import Bands, bands
from territory.engine.costs import CostModel
from territory.engine.evaluate import evaluate
from territory.engine.instance import Instance, Reps, Units
from territory.engine.solution import Solution
from territory.engine.solve import SolveLog, feasible_solution, infeasible_solution, solve

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Part:
    """Units and reps coupled to nothing outside them, and the instance they make on their own.

    `units` and `reps` index the whole instance; position i of the part's instance is unit
    units[i] (rep reps[i]) of the whole.
    """

    name: str  # the pools it holds, e.g. "segment=enterprise"
    units: np.ndarray  # (n_part,) int, increasing
    reps: np.ndarray  # (m_part,) int, increasing
    instance: Instance


def independent_parts(instance: Instance, found: Bands | None = None) -> list[Part]:
    """The connected components of the coupling graph (module docstring) that hold units, in pool order.

    `found` is the instance's bands when already computed. A single part is the instance itself.
    """
    found = bands(instance, CostModel(instance)) if found is None else found
    units = instance.units
    pools = np.unique(found.unit_pool)
    has_budget = instance.max_moved_share is not None or instance.max_moved_value_share is not None
    ownable = np.isin(found.unit_pool, found.rep_pool)  # a unit in a pool without reps has no eligible rep
    in_family = units.family >= 0
    family_pools = np.unique(np.column_stack([units.family[in_family], found.unit_pool[in_family]]), axis=0)
    family_across_pools = len(family_pools) > len(np.unique(family_pools[:, 0]))
    if len(pools) == 1 or has_budget or not ownable.all() or family_across_pools:
        name = "; ".join(found.pool_names[pool] for pool in pools)
        return [Part(name, np.arange(units.count), np.arange(instance.reps.count), instance)]
    parts = []
    for pool in pools:
        unit_index, rep_index = np.flatnonzero(found.unit_pool == pool), np.flatnonzero(found.rep_pool == pool)
        part_instance = sub_instance(instance, unit_index, rep_index)
        parts.append(Part(found.pool_names[pool], unit_index, rep_index, part_instance))
    return parts


def sub_instance(instance: Instance, unit_index: np.ndarray, rep_index: np.ndarray) -> Instance:
    """The instance restricted to some units and reps; a current rep outside them counts as none."""
    units, reps = instance.units, instance.reps
    position = np.full(reps.count, -1)
    position[rep_index] = np.arange(len(rep_index))
    current = units.current_rep[unit_index]
    return dataclasses.replace(
        instance,
        units=Units(
            **{field.name: getattr(units, field.name)[unit_index] for field in dataclasses.fields(units)
               if field.name not in ("current_rep", "attributes")},
            current_rep=np.where(current >= 0, position[np.maximum(current, 0)], -1),
            attributes={key: value[unit_index] for key, value in units.attributes.items()},
        ),
        reps=Reps(
            **{field.name: getattr(reps, field.name)[rep_index] for field in dataclasses.fields(reps)
               if field.name != "attributes"},
            attributes={key: tuple(value[j] for j in rep_index) for key, value in reps.attributes.items()},
        ),
        adjacency=None,
    )


def solve_parts(
    parts: Sequence[Part], time_limit: float | None = None, effort: int | None = None,
    candidates_per_unit: int | None = None, workers: int = 1,
) -> list[Solution]:
    """Each part's instance solved by `solve` (same arguments), in the order of `parts`.

    With `workers` > 1 the parts are solved side by side on that many fresh (spawned) processes,
    the largest first so that the workers finish close together; the solutions are the same.
    Each line a worker's solve logs comes back as it happens, prefixed with its part's name, to
    the `territory.engine` logger of this process (the progress of a solve of many minutes).
    """
    if workers <= 1 or len(parts) <= 1:
        solutions = []
        for part in parts:
            LOGGER.info(f"{part.name}: solving its {len(part.units):,} units and {len(part.reps):,} reps")
            solutions.append(solve(part.instance, time_limit, effort, candidates_per_unit))
        return solutions
    LOGGER.info(f"solving {len(parts)} parts on {min(workers, len(parts))} processes")
    largest_first = sorted(range(len(parts)), key=lambda k: len(parts[k].units), reverse=True)
    context = multiprocessing.get_context("spawn")
    lines = context.Queue()
    listener = QueueListener(lines, _Relay())
    listener.start()
    try:
        with ProcessPoolExecutor(min(workers, len(parts)), mp_context=context, initializer=_report_to,
                                 initargs=(lines,)) as pool:
            pending = {k: pool.submit(_solve_named, parts[k].name, parts[k].instance, time_limit, effort,
                                      candidates_per_unit) for k in largest_first}
            return [pending[k].result() for k in range(len(parts))]
    finally:
        listener.stop()


class _Relay(logging.Handler):
    """Hands a record from a worker to the logger of the same name here, if that logger takes its level."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


_REPORTING: list[QueueHandler] = []  # in a worker process: the handler that puts its engine's log lines on the queue


def _report_to(lines) -> None:
    """Worker start-up: every line of the engine's log goes on `lines`."""
    handler = QueueHandler(lines)
    engine = logging.getLogger("territory.engine")
    engine.addHandler(handler)
    engine.setLevel(logging.INFO)
    _REPORTING.append(handler)


def _solve_named(name: str, instance: Instance, *arguments) -> Solution:
    """`solve` in a worker, each line it logs prefixed with the part's name."""
    handler = _REPORTING[-1]
    handler.setFormatter(logging.Formatter(f"{name.replace('%', '%%')}: %(message)s"))
    return solve(instance, *arguments)


def merge(
    instance: Instance, parts: Sequence[Part], solutions: Sequence[Solution], started: float | None = None,
) -> Solution:
    """The whole instance's Solution from its parts' (`independent_parts`, in the same order).

    The plan is the parts' plans side by side; the bound the sum of theirs plus the disruption of
    units owned in another part (module docstring); optimal when every part is. When a part has
    no plan, neither has the whole: the diagnosis is every part's, each naming its pool, and each
    line of the log names its part. A single part is the instance itself: its solution is the
    answer. `started` is when the solve began (`time.perf_counter()`), if the parts ran in this
    process; without it, the seconds are the parts' added up plus the merge's. The peak memory is
    the largest of this process's and the parts'.
    """
    if len(parts) != len(solutions):
        raise ValueError(f"{len(parts)} parts but {len(solutions)} solutions")
    if len(parts) == 1:
        return solutions[0]  # the part is the instance itself
    if started is None:
        started = time.perf_counter() - sum(solution.seconds for solution in solutions)
    costs = CostModel(instance)
    found = bands(instance, costs)
    log = SolveLog()
    for part, solution in zip(parts, solutions):
        log.extend(f"{part.name}: {line}" for line in solution.log)
    diagnosis = tuple(binding for solution in solutions for binding in solution.diagnosis)
    if diagnosis:
        merged = infeasible_solution(instance, found, diagnosis, started, log)
    else:
        plan = np.full(instance.units.count, -1)
        prices = np.zeros(found.fair.shape)
        unit_part = np.full(instance.units.count, -1)
        rep_part = np.full(instance.reps.count, -1)
        for k, (part, solution) in enumerate(zip(parts, solutions)):
            plan[part.units] = part.reps[solution.rep]
            prices[part.reps] = solution.prices
            unit_part[part.units], rep_part[part.reps] = k, k
        measured = evaluate(instance, found, plan, costs)
        current = instance.units.current_rep
        owned_elsewhere = (current >= 0) & (rep_part[np.maximum(current, 0)] != unit_part)
        unavoidable = float(measured.cost_terms[owned_elsewhere, 2].sum())
        bound = sum(solution.lower_bound for solution in solutions) + unavoidable
        status = "optimal" if all(solution.status == "optimal" for solution in solutions) else "feasible"
        merged = feasible_solution(instance, found, plan, measured, bound, prices, status, started, log)
    peak = max(merged.peak_memory_mb, *(solution.peak_memory_mb for solution in solutions))
    return dataclasses.replace(merged, peak_memory_mb=peak)
