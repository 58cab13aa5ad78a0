"""Foundation benchmark: the default demo end to end, and the generator at a million accounts.

Each measurement runs the installed `territory` command in its own process, as a user would,
and reads that process's wall time and peak resident memory (os.wait4). Targets come from the
foundation issue; the last column is the measured value divided by its target (below 1 meets it).

    .venv/bin/python bench/foundation.py [--accounts 1000000] [--reps 1000] [--keep DIR]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TERRITORY = str(Path(sys.executable).with_name("territory"))


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_gib: float


def measure(args: list[str], home: Path) -> Measurement:
    """Run `territory ARGS` with TERRITORY_HOME=home; its wall time and peak RSS."""
    env = {**os.environ, "TERRITORY_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    env.pop("DAGSTER_HOME", None)
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a full pipe would stall the command
        started = time.perf_counter()
        process = subprocess.Popen([TERRITORY, *args], env=env, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            sys.exit(f"territory {' '.join(args)} failed:\n{errors.read().decode()[-3000:]}")
    return Measurement(seconds, usage.ru_maxrss / 1024**2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000, help="generator size to measure")
    parser.add_argument("--reps", type=int, default=1_000)
    parser.add_argument("--keep", type=Path, help="keep the generated files here instead of a temporary folder")
    options = parser.parse_args()

    work = options.keep or Path(tempfile.mkdtemp(prefix="territory-bench-"))
    try:
        demo = measure(["demo", "--accounts", "20000", "--reps", "80"], work / "demo-home")
        generator = measure(
            ["demo-data", "--accounts", str(options.accounts), "--reps", str(options.reps), "--out", str(work / "big")],
            work / "gen-home",
        )
        sizes = {p.name: p.stat().st_size for p in (work / "big").iterdir()}
    finally:
        if options.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    rows = [
        ("default demo end to end (20,000 x 80)", f"{demo.seconds:.1f} s", "90 s", demo.seconds / 90),
        ("  its peak memory", f"{demo.peak_gib:.2f} GiB", "-", None),
        (f"generator, {options.accounts:,} accounts x {options.reps:,} reps", f"{generator.seconds:.1f} s", "120 s",
         generator.seconds / 120),
        ("  its peak memory", f"{generator.peak_gib:.2f} GiB", "-", None),
        ("  its Parquet output", f"{sum(sizes.values()) / 1024**2:,.0f} MiB", "-", None),
    ]
    print(f"{'measure':<46} {'value':>12} {'target':>8} {'ratio':>7}")
    for name, value, target, ratio in rows:
        print(f"{name:<46} {value:>12} {target:>8} {'' if ratio is None else f'{ratio:.2f}':>7}")


if __name__ == "__main__":
    main()
