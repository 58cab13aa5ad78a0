"""Transform benchmark: the dbt stage (staging -> intermediate -> marts, with every test) at scale.

Generates a demo CRM (default 1,000,000 accounts x 1,000 reps) as Parquet files, then runs the
ingest and transform asset groups of the real Definitions in process against a fresh
TERRITORY_HOME, and reports each stage's wall time and peak memory (the transform's is dbt's
process), the slowest dbt nodes, and the ratio to the target (below 1 meets it). The ingest
stage, a plain typed load of the same data, is the in-run reference: the transform's cost is
also shown as a multiple of it.

    .venv/bin/python bench/transform.py [--accounts 1000000] [--reps 1000] [--keep DIR]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")

TERRITORY = str(Path(sys.executable).with_name("territory"))
TRANSFORM_TARGET_SECONDS = 300.0
SNAPSHOT = "2026-06-30"


def _peak_gib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024**2


def _generate(out: Path, accounts: int, reps: int) -> None:
    if (out / "activities.parquet").exists():
        return
    command = [TERRITORY, "demo-data", "--accounts", str(accounts), "--reps", str(reps), "--as-of", SNAPSHOT, "--out", str(out)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=1_000)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated files here instead of a temporary folder")
    options = parser.parse_args()

    work = options.keep or Path(tempfile.mkdtemp(prefix="territory-bench-transform-"))
    home = work / f"home-{int(time.time())}"
    try:
        source = work / f"crm-{options.accounts}x{options.reps}"
        _generate(source, options.accounts, options.reps)
        os.environ["TERRITORY_HOME"] = str(home)

        from dagster import AssetSelection, DagsterInstance

        from assets.resources import FileCrmSource
        from pipelines.definitions import build_definitions

        definitions = build_definitions(crm_source=FileCrmSource(path=str(source)), snapshot_date=SNAPSHOT)
        stages = sorted(AssetSelection.groups("ingest", "transform").resolve(definitions.resolve_asset_graph()))
        job = definitions.resolve_job_def("build_territories_job")
        with DagsterInstance.ephemeral() as instance:
            started = time.perf_counter()
            result = job.execute_in_process(
                run_config={"loggers": {"progress": {}}}, instance=instance, asset_selection=stages, raise_on_error=False
            )
            total = time.perf_counter() - started
        if not result.success:
            sys.exit("the transform failed; rerun with --keep DIR and read DIR/home-*/dbt/runs/*/dbt.log")
        seconds = {
            event.step_key: event.event_specific_data.duration_ms / 1000
            for event in result.all_events
            if event.event_type_value == "STEP_SUCCESS"
        }
        run_results = next((home / "dbt" / "runs").glob("*/run_results.json"))
        nodes = json.loads(run_results.read_text())["results"]
    finally:
        if options.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    ingest = seconds["raw_crm_tables"]
    transform = seconds["territory_dbt_models"]
    rows = [
        (f"ingest, {options.accounts:,} accounts x {options.reps:,} reps", f"{ingest:.1f} s", "-", None),
        ("  peak memory (this process)", f"{_peak_gib(resource.RUSAGE_SELF):.2f} GiB", "-", None),
        ("transform: dbt build (models and tests)", f"{transform:.1f} s", f"{TRANSFORM_TARGET_SECONDS:.0f} s",
         transform / TRANSFORM_TARGET_SECONDS),
        ("  peak memory (dbt process)", f"{_peak_gib(resource.RUSAGE_CHILDREN):.2f} GiB", "-", None),
        ("  as a multiple of the ingest", f"{transform / ingest:.1f} x", "-", None),
        ("both stages, wall clock", f"{total:.1f} s", "-", None),
    ]
    print(f"{'measure':<52} {'value':>10} {'target':>7} {'ratio':>6}")
    for name, value, target, ratio in rows:
        print(f"{name:<52} {value:>10} {target:>7} {'' if ratio is None else f'{ratio:.2f}':>6}")
    print("\nslowest dbt nodes:")
    for node in sorted(nodes, key=lambda n: -n["execution_time"])[:8]:
        print(f"  {node['execution_time']:7.1f} s  {node['unique_id']}")


if __name__ == "__main__":
    main()
