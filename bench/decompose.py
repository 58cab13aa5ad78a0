"""Decomposition benchmark: the single solve against its independent parts solved in sequence and on worker processes.

For each size, one instance with independent segments (territory.engine.synthetic, eligibility by
segment, no disruption budget) is generated from the seed, and each method runs on it in a fresh
spawned process, so that its wall time and peak resident memory are its own:

* single:     `solve(instance)`, the engine's entry point (it finds the parts and solves them in turn);
* parts x1:   `independent_parts`, `solve_parts(workers=1)` and `merge`, as the solve asset's steps
              run in process;
* parts xW:   the same with `solve_parts(workers=W)`: each part on a spawned worker process, the
              largest first, as the asset's steps run under Dagster's multiprocess executor.

The plans of single, parts x1 and parts xW must be the same, assignment for assignment; the
benchmark says so or fails. Every solve gets the safety time limit --time-limit (default an hour,
which no size here reaches), so that work budgets alone decide the plans: with the engine's
default limit (30 s plus 1 ms per unit and 0.5 s per rep), a machine loaded by other work can
stop a part on time, and its plan then depends on the load (the table says when a limit stopped
a solve).

Peak memory is the largest resident set of one process (the workers' own peaks, from their
solutions, shown beside); at most W workers run at once, so the machine holds at most the parent
and the W largest of them. CPU seconds count the workers too, and the load average says how busy
the machine was: on a shared machine the wall times grow with the load, the CPU seconds much less.

    .venv/bin/python bench/decompose.py [--sizes 20000x60,100000x200,300000x600,1000000x2000]
        [--seed 1] [--segments 3] [--workers 2] [--time-limit 3600]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from baselines import InstanceSpec  # bench/ is the script's directory
from tabulate import tabulate

from territory.engine.decompose import independent_parts, merge, solve_parts
from territory.engine.solution import Solution
from territory.engine.solve import solve


@dataclass(frozen=True)
class Outcome:
    """One method's run: time of the solve alone, memory, the plan's certificate and a digest of its assignments."""

    method: str
    seconds: float
    cpu_seconds: float  # of this process and the workers it waited for
    load: float  # the machine's load average over the last minute, when the solve ended: other work slows it
    peak_mb: float  # this process's peak, generating the instance included
    instance_mb: float  # the peak after generating the instance, before solving
    worker_peaks_mb: tuple[float, ...]  # each part's process, when the parts ran on workers
    parts: int
    status: str
    objective: float
    lower_bound: float
    gap: float
    plan_digest: str  # sha256 of the rep index of every unit
    stopped_on_time: bool  # a safety time limit ended a search (the log says so)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_seconds() -> float:
    """CPU time of this process and of the children it has waited for (the workers, once their pool is shut)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(spec: InstanceSpec, method: str, workers: int, time_limit: float) -> Outcome:
    """Run `method` (single or parts) on the instance of `spec` in this process (meant to be a fresh one);
    parts are solved on `workers` processes, in this one when 1; every solve within `time_limit` seconds."""
    instance = spec.build()
    instance_mb = _peak_mb()
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    worker_peaks: tuple[float, ...] = ()
    if method == "single":
        solution, parts = solve(instance, time_limit), len(independent_parts(instance))
    else:
        found = independent_parts(instance)
        solutions = solve_parts(found, time_limit, workers=workers)
        solution, parts = merge(instance, found, solutions, started), len(found)
        if workers > 1:
            worker_peaks = tuple(part.peak_memory_mb for part in solutions)
    seconds, cpu_seconds = time.perf_counter() - started, _cpu_seconds() - cpu_started
    label = f"parts x{workers}" if method == "parts" else method
    return Outcome(
        label, seconds, cpu_seconds, os.getloadavg()[0], _peak_mb(), instance_mb, worker_peaks, parts, solution.status,
        solution.objective, solution.lower_bound, solution.gap, _digest(solution),
        any("stopped by the time limit" in line for line in solution.log),
    )


def _digest(solution: Solution) -> str:
    return hashlib.sha256(solution.rep.astype("int64").tobytes()).hexdigest()


def run_isolated(spec: InstanceSpec, method: str, workers: int, time_limit: float) -> Outcome:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure, spec, method, workers, time_limit).result()


def bench_size(spec: InstanceSpec, workers: int, time_limit: float) -> None:
    methods = [("single", 1), ("parts", 1), ("parts", workers)]
    print(f"\n=== {spec.label}: {spec.units:,} units, {spec.reps:,} reps, {spec.segments} segments, seed {spec.seed}",
          flush=True)
    outcomes = []
    for method, method_workers in methods:
        outcome = run_isolated(spec, method, method_workers, time_limit)
        outcomes.append(outcome)
        print(f"  {outcome.method}: {outcome.seconds:,.1f} s (load {outcome.load:.1f})", flush=True)
    rows = [[
        o.method, o.parts, f"{o.seconds:,.1f}", f"{o.cpu_seconds:,.1f}", f"{o.load:.1f}", f"{o.peak_mb:,.0f}",
        f"{o.instance_mb:,.0f}", ", ".join(f"{peak:,.0f}" for peak in o.worker_peaks_mb) or "-", o.status,
        f"{o.objective:,.0f}", f"{o.lower_bound:,.0f}", "-" if math.isnan(o.gap) else f"{o.gap:.3%}",
        "yes" if o.stopped_on_time else "no", o.plan_digest[:12],
    ] for o in outcomes]
    headers = ["method", "parts", "seconds", "CPU s", "load", "peak MB", "instance MB", "worker peaks MB", "status",
               "objective", "lower bound", "gap", "stopped on time", "plan sha256"]
    print(tabulate(rows, headers=headers, disable_numparse=True))
    single, *decomposed = outcomes
    for outcome in decomposed:
        print(f"{outcome.method} / single: time x{outcome.seconds / single.seconds:.2f}, "
              f"CPU x{outcome.cpu_seconds / single.cpu_seconds:.2f}, "
              f"peak memory x{outcome.peak_mb / single.peak_mb:.2f}")
    print(f"parts x{workers} / parts x1: time x{decomposed[1].seconds / decomposed[0].seconds:.2f}")
    same = all((outcome.status, outcome.plan_digest) == (single.status, single.plan_digest) for outcome in decomposed)
    print(f"assignments of single, parts x1 and parts x{workers}: {'the same' if same else 'DIFFERENT'}")
    if not same:
        raise SystemExit(f"{spec.label}: the decomposed solve's plan differs from the single solve's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000x60,100000x200,300000x600,1000000x2000",
                        help="comma-separated UNITSxREPS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--segments", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=3600.0, help="safety time limit of every solve, seconds")
    args = parser.parse_args()
    if args.segments < 2 or args.workers < 2:
        parser.error("the benchmark needs at least two segments (parts) and two workers")
    for size in args.sizes.split(","):
        units, reps = (int(value) for value in size.lower().split("x"))
        bench_size(InstanceSpec(units, reps, args.seed, args.segments), args.workers, args.time_limit)


if __name__ == "__main__":
    main()
