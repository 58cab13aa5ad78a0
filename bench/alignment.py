"""Alignment benchmark: 500 geographic units into 10 territories on 3 measures at 5%, by seed.

The target: every territory within 5% of its fair share on every measure, contiguous over the
Delaunay adjacency, in under 10 s. The baseline is k-means-constrained (KMeansConstrained,
min-cost-flow k-means with equal cluster sizes: it balances the unit count only) on the same
units, projected to km. Both plans are measured by `assess` (dispersion about each territory's
weighted medoid, deviation from fair share, contiguity); ratios are engine / baseline (below 1
means the engine is faster or more compact).

    .venv/bin/python bench/alignment.py [--seeds 1 2 3] [--units 500] [--territories 10] [--tolerance 0.05]
"""

import argparse
import time

import numpy as np

from territory.engine.alignment import AlignmentInstance, PlanQuality, align, assess, synthetic_alignment

TARGET_SECONDS = 10.0


def kmeans_constrained(problem: AlignmentInstance, seed: int) -> tuple[np.ndarray, float]:
    """The baseline's plan (equal unit counts per territory) and its seconds."""
    from k_means_constrained import KMeansConstrained

    n, p = problem.count, problem.territories
    lat0 = np.radians(problem.latitude.mean())
    km = np.column_stack([problem.latitude * 111.2, problem.longitude * 111.2 * np.cos(lat0)])
    started = time.perf_counter()
    model = KMeansConstrained(n_clusters=p, size_min=n // p, size_max=-(-n // p), random_state=seed)
    labels = model.fit_predict(km)
    return labels, time.perf_counter() - started


def _deviations(quality: PlanQuality) -> str:
    return " ".join(f"{name[:8]:>8} {value:6.2%}" for name, value in quality.max_deviation.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--territories", type=int, default=10)
    parser.add_argument("--tolerance", type=float, default=0.05)
    options = parser.parse_args()

    print(f"{options.units} units into {options.territories} territories, 3 measures within "
          f"{options.tolerance:.0%}; target: within tolerance, contiguous, under {TARGET_SECONDS:.0f} s\n")
    header = (f"{'seed':>4} {'plan':<18} {'seconds':>8}  {'max deviation per measure':<50} {'pieces':>6} "
              f"{'contig.':>7} {'dispersion':>11}")
    print(header + "  result")
    print("-" * (len(header) + 8))
    passed = 0
    ratios = []
    for seed in options.seeds:
        problem = synthetic_alignment(options.units, options.territories, seed, options.tolerance)
        result = align(problem)
        engine = assess(problem, result.territory)
        ok = result.seconds < TARGET_SECONDS and engine.within_tolerance and bool(engine.contiguous)
        passed += ok
        print(f"{seed:>4} {'engine':<18} {result.seconds:8.2f}  {_deviations(engine):<50} {engine.pieces:>6} "
              f"{'yes' if engine.contiguous else 'no':>7} {engine.dispersion:11,.0f}  {'PASS' if ok else 'FAIL'}"
              f"  ({result.rounds} rounds, allocation gap {result.gap:.2%})")
        labels, seconds = kmeans_constrained(problem, seed)
        baseline = assess(problem, labels)
        print(f"{'':>4} {'k-means-constrained':<18} {seconds:8.2f}  {_deviations(baseline):<50} {baseline.pieces:>6} "
              f"{'yes' if baseline.contiguous else 'no':>7} {baseline.dispersion:11,.0f}  "
              f"{'within' if baseline.within_tolerance else 'outside'} tolerance")
        ratios.append((result.seconds / seconds, engine.dispersion / baseline.dispersion))
        print(f"{'':>4} {'ratio engine/kmc':<18} {ratios[-1][0]:8.2f}  {'':<50} {'':>6} {'':>7} {ratios[-1][1]:11.3f}")
    time_ratio, dispersion_ratio = np.exp(np.log(np.array(ratios)).mean(axis=0))
    print(f"\n{passed}/{len(options.seeds)} seeds meet the target; geometric mean ratios engine/k-means-constrained: "
          f"time {time_ratio:.2f}, dispersion {dispersion_ratio:.3f}")


if __name__ == "__main__":
    main()
