"""Solver benchmark: the assignment engine against exact MILPs and heuristics on synthetic instances.

For each size, one instance is generated from the seed (territory.engine.synthetic) and every
method runs on it in a fresh spawned process, so that each one's wall time and peak resident
memory are its own (the peak includes generating the instance, shown as "instance MB"). Every
plan is scored by territory.engine.evaluate; the gap of every method is measured against the
engine's lower bound, which holds for the full problem. Then the engine's time and objective
relative to each baseline, and pass/fail against the targets.

    .venv/bin/python bench/solver.py [--sizes 2000x20,100000x200] [--seed 1] [--segments 1]
        [--time-limit 120] [--engine-time-limit S] [--baselines highs,cbc,kmeans,greedy]

--time-limit bounds the MILP baselines (HiGHS, CBC); the engine runs with its own default
unless --engine-time-limit is given. Baselines skip instances too large for them (noted).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from tabulate import tabulate

from baselines import InstanceSpec, Outcome, eligible_pairs, measure  # bench/ is the script's directory
from territory.engine.bands import bands
from territory.engine.costs import CostModel

BASELINES = ("highs", "cbc", "kmeans", "greedy")
BOUND_SLACK = 1e-6  # relative: a plan this far below the bound is rounding, not a broken bound
NOTE_WIDTH = 100  # the table shows this much of a note; the engine's full diagnosis is in its log below


@dataclass(frozen=True)
class Target:
    """What the engine must reach on one size: a feasible plan within the gap, time and memory."""

    gap: float
    seconds: float
    memory_gib: float | None


TARGETS = {
    (2_000, 20): Target(gap=0.005, seconds=2.0, memory_gib=None),
    (100_000, 200): Target(gap=0.01, seconds=60.0, memory_gib=4.0),
    (1_000_000, 1_000): Target(gap=0.02, seconds=600.0, memory_gib=16.0),
}


def run_isolated(spec: InstanceSpec, method: str, time_limit: float | None, pairs: int) -> Outcome:
    """`measure` in a fresh spawned process; a crash (say, out of memory) becomes a note."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        try:
            return pool.submit(measure, spec, method, time_limit, pairs).result()
        except Exception as error:  # the method raised, or its process died
            return Outcome(method, None, math.nan, math.nan, note=f"failed: {type(error).__name__}: {error}")


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return (objective - bound) / abs(objective) if objective else 0.0


def print_table(outcomes: list[Outcome], measures: list[str], bound: float | None) -> None:
    rows = []
    for outcome in outcomes:
        feasible = "-" if outcome.feasible is None else "yes" if outcome.feasible else f"no: {outcome.problems}"
        rows.append(
            [
                outcome.method,
                _number(outcome.seconds, ".2f"),
                _number(outcome.objective, ",.0f"),
                _number(gap(outcome.objective, bound), ".3%"),
                *(_number(outcome.max_deviation.get(name), ".2%") for name in measures),
                feasible,
                _number(outcome.moved_share, ".1%"),
                _number(outcome.peak_mb, ",.0f"),
                outcome.note if len(outcome.note) <= NOTE_WIDTH else outcome.note[: NOTE_WIDTH - 3] + "...",
            ]
        )
    headers = ["method", "seconds", "objective", "gap", *(f"max dev {name}" for name in measures), "feasible", "moved", "peak MB", "note"]
    print(tabulate(rows, headers=headers, disable_numparse=True))


def print_ratios(engine: Outcome, baselines: list[Outcome]) -> None:
    for baseline in baselines:
        if engine.seconds is None or baseline.seconds is None or engine.objective is None or baseline.objective is None:
            continue
        print(
            f"engine / {baseline.method}: time x{engine.seconds / baseline.seconds:.3f}, "
            f"objective x{engine.objective / baseline.objective:.4f}"
            + ("" if baseline.feasible else f" ({baseline.method}'s plan is infeasible)")
        )


def check_bound(outcomes: list[Outcome], bound: float | None, bound_name: str) -> None:
    """A feasible plan below a lower bound means the bound is wrong: say so loudly."""
    for outcome in outcomes:
        if bound is not None and outcome.feasible and outcome.objective < bound - BOUND_SLACK * abs(bound):
            print(f"WARNING: {outcome.method}'s feasible plan costs {outcome.objective:,.2f} < {bound_name} {bound:,.2f}")


def print_targets(spec: InstanceSpec, engine: Outcome, bound: float | None) -> None:
    target = TARGETS.get((spec.units, spec.reps))
    if target is None:
        print(f"targets: none for {spec.label}")
        return
    engine_gap = gap(engine.objective, bound)
    checks = [
        ("feasible plan", engine.feasible is True, "yes" if engine.feasible else "no"),
        (f"gap <= {target.gap:.1%}", engine_gap is not None and engine_gap <= target.gap, _number(engine_gap, ".3%")),
        (f"time < {target.seconds:g} s", engine.seconds is not None and engine.seconds < target.seconds, _number(engine.seconds, ".2f")),
    ]
    if target.memory_gib is not None:
        gib = engine.peak_mb / 1024
        checks.append((f"memory < {target.memory_gib:g} GiB", gib < target.memory_gib, _number(gib, ".2f")))
    verdicts = [f"{name}: {measured} {'PASS' if passed else 'FAIL'}" for name, passed, measured in checks]
    overall = "PASS" if all(passed for _, passed, _ in checks) else "FAIL"
    print(f"targets {spec.label}: {overall} ({'; '.join(verdicts)})")


def bench_size(spec: InstanceSpec, baselines: list[str], time_limit: float, engine_time_limit: float | None) -> None:
    instance = spec.build()
    costs = CostModel(instance)
    pairs = eligible_pairs(costs)
    units = instance.units
    pools = len(bands(instance, costs).pool_names)
    measures = [measure.name for measure in instance.measures]
    print(
        f"\n=== {spec.label}: {units.count:,} units, {instance.reps.count:,} reps, {spec.segments} segment(s), seed {spec.seed}; "
        f"{pairs:,} eligible pairs, {pools} pool(s), {int((units.family >= 0).sum()):,} units in "
        f"{len(set(units.family[units.family >= 0].tolist())):,} families, {int(units.locked.sum()):,} locked, "
        f"{int(units.top_tier.sum()):,} top tier; tolerance {instance.measures[0].tolerance:.0%}"
    )
    del instance, costs, units

    engine = run_isolated(spec, "engine", engine_time_limit, pairs)
    others = [run_isolated(spec, method, time_limit, pairs) for method in baselines]
    bound, bound_name = engine.lower_bound, "the engine's lower bound"
    if bound is None:  # no engine: the best proven bound a baseline offers, if any
        proven = [outcome for outcome in others if outcome.lower_bound is not None]
        if proven:
            bound, bound_name = proven[0].lower_bound, f"{proven[0].method}'s dual bound"
    instance_mb = next((outcome.instance_mb for outcome in [engine, *others] if not math.isnan(outcome.instance_mb)), math.nan)
    print(f"instance MB (generation alone): {_number(instance_mb, ',.0f')}; gaps against {bound_name}: {_number(bound, ',.2f')}")
    print_table([engine, *others], measures, bound)
    if engine.log:
        print("engine log:\n  " + "\n  ".join(engine.log))
    print_ratios(engine, others)
    check_bound([engine, *others], bound, bound_name)
    print_targets(spec, engine, bound)


def parse_size(text: str) -> tuple[int, int]:
    units, reps = text.lower().split("x")
    return int(units), int(reps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000x20,100000x200", help="comma-separated UNITSxREPS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--segments", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds for each MILP baseline")
    parser.add_argument("--engine-time-limit", type=float, default=None)
    parser.add_argument("--baselines", default=",".join(BASELINES))
    args = parser.parse_args()
    baselines = [name for name in args.baselines.split(",") if name]
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        parser.error(f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(BASELINES)}")
    for size in args.sizes.split(","):
        units, reps = parse_size(size)
        bench_size(InstanceSpec(units, reps, args.seed, args.segments), baselines, args.time_limit, args.engine_time_limit)


if __name__ == "__main__":
    main()
