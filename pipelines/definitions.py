"""The one Definitions entry point: assets, jobs, schedules and the resources each environment gets.

Environment (see docs/configuration.md):
  TERRITORY_HOME          where data lives (default ./data)
  TERRITORY_SOURCE        demo (default) or files
  TERRITORY_SOURCE_PATH   the folder of canonical files, for TERRITORY_SOURCE=files
  TERRITORY_DEMO_ACCOUNTS, TERRITORY_DEMO_REPS, TERRITORY_DEMO_SEED   demo size and seed
  TERRITORY_SNAPSHOT_DATE the plan's date, YYYY-MM-DD (default today, UTC)
  TERRITORY_PLAN          the plan configuration file (default: the repository's plan.yml)
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dagster import AssetSelection, Definitions, ScheduleDefinition, define_asset_job
from dagster_dbt import DbtCliResource

from assets.ingest import raw_crm_tables
from assets.publish import territory_publication
from assets.resources import CrmSource, DemoCrmSource, FileCrmSource, RunSettings, Warehouse
from assets.solve import territory_plan
from assets.transform import DBT_EXECUTABLE, dbt_project, territory_dbt_models
from assets.validate import output_checks, raw_tables_satisfy_their_suites, validated_crm_tables
from pipelines.progress import progress_logger
from territory.paths import TerritoryHome

# dbt's profile reads TERRITORY_HOME too: make it absolute once so dbt and Python agree on the files.
os.environ["TERRITORY_HOME"] = str(TerritoryHome.from_env().root)

build_territories_job = define_asset_job(
    "build_territories_job",
    selection=AssetSelection.all(),
    description="Ingest the CRM, validate, transform, solve and publish the territory plan.",
)

nightly_territories_schedule = ScheduleDefinition(
    name="nightly_territories_schedule",
    job=build_territories_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
)


def _whole_number(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got '{value}'") from None


def source_from_env(environ: Mapping[str, str] = os.environ) -> CrmSource:
    """The CRM source TERRITORY_SOURCE names, configured from the environment."""
    kind = environ.get("TERRITORY_SOURCE", "demo")
    if kind == "demo":
        return DemoCrmSource(
            accounts=_whole_number(environ, "TERRITORY_DEMO_ACCOUNTS", 20_000),
            reps=_whole_number(environ, "TERRITORY_DEMO_REPS", 80),
            seed=_whole_number(environ, "TERRITORY_DEMO_SEED", 7),
            as_of=environ.get("TERRITORY_SNAPSHOT_DATE", ""),
        )
    if kind == "files":
        path = environ.get("TERRITORY_SOURCE_PATH")
        if not path:
            raise ValueError("TERRITORY_SOURCE=files needs TERRITORY_SOURCE_PATH, the folder of canonical files")
        return FileCrmSource(path=path)
    raise ValueError(f"TERRITORY_SOURCE must be 'demo' or 'files', got '{kind}'")


def build_definitions(crm_source: CrmSource | None = None, snapshot_date: str | None = None) -> Definitions:
    """The project's Definitions; the CLI passes its own source and date, deployments use the environment."""
    return Definitions(
        assets=[raw_crm_tables, validated_crm_tables, territory_dbt_models, territory_plan, territory_publication],
        asset_checks=[raw_tables_satisfy_their_suites, *output_checks],
        jobs=[build_territories_job],
        schedules=[nightly_territories_schedule],
        resources={
            "crm_source": crm_source or source_from_env(),
            "warehouse": Warehouse(home=os.environ["TERRITORY_HOME"]),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
            "run_settings": RunSettings(
                snapshot_date=snapshot_date if snapshot_date is not None else os.environ.get("TERRITORY_SNAPSHOT_DATE", ""),
                plan_path=os.environ.get("TERRITORY_PLAN", ""),
            ),
        },
        loggers={"progress": progress_logger},
    )


defs = build_definitions()
