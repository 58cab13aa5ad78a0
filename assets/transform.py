"""Transform: the dbt project (staging -> intermediate -> marts) as Dagster assets."""


import datetime as dt
import fcntl
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from assets.owners import ANALYTICS_ENGINEERING
from assets.partitions import one_date_per_run, snapshot_date, snapshot_partitions
from assets.resources import RunSettings, Warehouse

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# The dbt installed beside this Python, so that an un-activated virtual environment works too.
DBT_EXECUTABLE = shutil.which("dbt") or str(Path(sys.executable).with_name("dbt"))


def _manifest_is_stale(project: DbtProject) -> bool:
    """True when manifest.json is missing or older than any file of the dbt project."""
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    folders = ("models", "macros", "seeds", "tests")
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", *(p for f in folders for p in (DBT_PROJECT_DIR / f).rglob("*"))]
    return any(path.stat().st_mtime > built for path in sources if path.is_file())


def _parse_if_stale(project: DbtProject) -> None:
    """Parse the project once after a checkout or an edit, not on every load.

    Processes that load the definitions at once (pytest's workers, the UI beside a command) take
    turns on a lock, and each parse writes a folder of its own whose manifest then replaces the old
    one in a single rename: two parses writing target/manifest.json together leave it corrupt.
    """
    if not _manifest_is_stale(project):
        return
    target = project.manifest_path.parent  # project.target_path is relative to the project
    target.mkdir(parents=True, exist_ok=True)
    with open(target / "parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _manifest_is_stale(project):  # parsed by another process while this one waited
            return
        # The models read the plan's sections as vars even to parse; any valid plan and date give the same graph.
        parse_vars = RunSettings(plan_path=os.environ.get("TERRITORY_PLAN", "")).dbt_vars(dt.date.today())
        with tempfile.TemporaryDirectory(prefix="parse-", dir=target) as scratch:
            DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE).cli(
                ["parse", "--quiet", "--vars", json.dumps(parse_vars)], target_path=Path(scratch)
            ).wait()
            os.replace(Path(scratch) / "manifest.json", project.manifest_path)


_parse_if_stale(dbt_project)


class TerritoryDbtTranslator(DagsterDbtTranslator):
    """Every dbt model and test belongs to the `transform` group, owned by analytics engineering."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return "transform"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        return ANALYTICS_ENGINEERING


# What the nightly build leaves out: dbt's unit tests (they test the SQL, not the data, and run in CI:
# tests/integration/test_dbt_engines.py) and the data tests tagged guaranteed_by_quarantine (unique ids of
# the staged CRM tables, which the quarantine split of validate already guarantees). `territory dbt build`
# runs everything.
NIGHTLY_EXCLUDE = "resource_type:unit_test tag:guaranteed_by_quarantine"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=NIGHTLY_EXCLUDE,
    dagster_dbt_translator=TerritoryDbtTranslator(),
    partitions_def=snapshot_partitions,
    backfill_policy=one_date_per_run,
)
def territory_dbt_models(
    context: AssetExecutionContext, dbt: DbtCliResource, run_settings: RunSettings, warehouse: Warehouse
) -> Iterator:
    """Account segments, quality, markets, workload, rep capability, needs and conflicts, built and tested by dbt."""
    # Each run's artifacts go under TERRITORY_HOME with the other generated files, not into the repository.
    artifacts = warehouse.paths.dbt_runs / context.run.run_id
    dbt_vars = run_settings.dbt_vars(snapshot_date(context))
    yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context, target_path=artifacts).stream()
