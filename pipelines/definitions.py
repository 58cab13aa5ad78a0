"""The one Definitions entry point: assets, jobs, schedules and the resources each environment gets.

Environment (see docs/configuration.md):
  TERRITORY_HOME          where data lives (default ./data)
  TERRITORY_SOURCE        demo (default), files, salesforce, hubspot or postgres
  TERRITORY_SOURCE_PATH   the folder of canonical files (files) or of a CRM's export (salesforce, hubspot);
                          without it, salesforce and hubspot read their API (docs/sources/ for their variables)
  TERRITORY_DEMO_ACCOUNTS, TERRITORY_DEMO_REPS, TERRITORY_DEMO_SEED   demo size and seed
  TERRITORY_SNAPSHOT_DATE the demo extract's date, YYYY-MM-DD (default today, UTC)
  TERRITORY_PLAN          the plan configuration file (default: the repository's plan.yml)
  TERRITORY_NIGHTLY_AT    when the nightly schedule fires, HH:MM (default 02:00) ...
  TERRITORY_TIMEZONE      ... in this IANA time zone (default UTC)
  TERRITORY_FIRST_SNAPSHOT_DATE  the first snapshot date a plan can be built for (default 2020-01-01)
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster import (
    AssetSelection,
    Definitions,
    EnvVar,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)
from dagster_dbt import DbtCliResource

from assets.coverage import coverage_plan
from assets.crm_sources import (
    HubSpotApiSource,
    HubSpotExportSource,
    PostgresReplicaSource,
    SalesforceApiSource,
    SalesforceExportSource,
)
from assets.goals import territory_quotas
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

EXTRACT = AssetSelection.groups("ingest", "validate")

build_territories_job = define_asset_job(
    "build_territories_job",
    selection=AssetSelection.all(),
    description="Ingest the CRM, validate, transform, solve and publish the territory plan of one snapshot date.",
)
ingest_crm_job = define_asset_job(
    "ingest_crm_job",
    selection=EXTRACT,
    description="Land the latest CRM extract and validate it (the first step of a backfill).",
)
rebuild_snapshot_job = define_asset_job(
    "rebuild_snapshot_job",
    selection=AssetSelection.all() - EXTRACT,
    description="Transform, solve and publish one snapshot date from the extract already landed (a backfill's step).",
)


def nightly_schedule(environ: Mapping[str, str] = os.environ) -> ScheduleDefinition:
    """Every night at TERRITORY_NIGHTLY_AT in TERRITORY_TIMEZONE: rebuild the last complete day (UTC)."""
    at = environ.get("TERRITORY_NIGHTLY_AT") or "02:00"
    timezone = environ.get("TERRITORY_TIMEZONE") or "UTC"
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", at)
    if not match:
        raise ValueError(f"TERRITORY_NIGHTLY_AT must be a time of day HH:MM, got '{at}'")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"TERRITORY_TIMEZONE must be an IANA time zone such as Europe/Berlin, got '{timezone}'") from None

    @schedule(
        name="nightly_territories_schedule",
        job=build_territories_job,
        cron_schedule=f"{int(match[2])} {int(match[1])} * * *",
        execution_timezone=timezone,
        description=f"Rebuild the last complete day (UTC) every night at {at} {timezone}.",
    )
    def nightly_territories_schedule(context: ScheduleEvaluationContext) -> RunRequest:
        fired = context.scheduled_execution_time.astimezone(dt.UTC)
        day = (fired - dt.timedelta(days=1)).date().isoformat()
        return RunRequest(run_key=day, partition_key=day)

    return nightly_territories_schedule


def _whole_number(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got '{value}'") from None


SOURCES = ("demo", "files", "salesforce", "hubspot", "postgres")
HUBSPOT_API_HOST = "https://api.hubapi.com"


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
    if kind not in SOURCES:
        raise ValueError(f"TERRITORY_SOURCE must be one of {', '.join(SOURCES)}, got '{kind}'")
    return crm_source(kind, environ.get("TERRITORY_SOURCE_PATH"), environ)


def crm_source(kind: str, path: str | None, environ: Mapping[str, str] = os.environ) -> CrmSource:
    """The CRM source `kind` other than the demo: reading the folder `path`, or a CRM's API or replica.

    `files` reads canonical files at `path`; `salesforce` and `hubspot` read their CRM's export
    at `path` or, without one, its API; `postgres` reads the replica. Connections come from
    `environ`, and each secret from its environment variable when a run starts (Dagster `EnvVar`):
    a missing one is named now, before any run.
    """
    if kind == "files":
        if not path:
            raise ValueError("the files source needs a folder holding <table>.parquet or <table>.csv files "
                             "(--path, or TERRITORY_SOURCE_PATH)")
        return FileCrmSource(path=path)
    if kind == "salesforce" and path:
        return SalesforceExportSource(path=path)
    if kind == "hubspot" and path:
        return HubSpotExportSource(path=path)
    if kind == "salesforce":
        password_flow = "SALESFORCE_USERNAME" in environ
        _require(environ, "Salesforce's API", "SALESFORCE_LOGIN_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET",
                 *(("SALESFORCE_PASSWORD",) if password_flow else ()))
        return SalesforceApiSource(
            login_url=environ["SALESFORCE_LOGIN_URL"],
            client_id=EnvVar("SALESFORCE_CLIENT_ID"),
            client_secret=EnvVar("SALESFORCE_CLIENT_SECRET"),
            username=environ.get("SALESFORCE_USERNAME", ""),
            password=EnvVar("SALESFORCE_PASSWORD") if password_flow else "",
            api_version=environ.get("SALESFORCE_API_VERSION") or "62.0",
        )
    if kind == "hubspot":
        _require(environ, "HubSpot's API", "HUBSPOT_ACCESS_TOKEN", "HUBSPOT_REP_PROFILES")
        return HubSpotApiSource(access_token=EnvVar("HUBSPOT_ACCESS_TOKEN"), rep_profiles=environ["HUBSPOT_REP_PROFILES"],
                                host=environ.get("HUBSPOT_API_HOST") or HUBSPOT_API_HOST)
    if kind == "postgres":
        _require(environ, "the PostgreSQL replica", "TERRITORY_POSTGRES_DATABASE", "TERRITORY_POSTGRES_USER",
                 "TERRITORY_POSTGRES_PASSWORD")
        return PostgresReplicaSource(
            host=environ.get("TERRITORY_POSTGRES_HOST") or "localhost",
            port=_whole_number(environ, "TERRITORY_POSTGRES_PORT", 5432),
            database=environ["TERRITORY_POSTGRES_DATABASE"],
            user=environ["TERRITORY_POSTGRES_USER"],
            password=EnvVar("TERRITORY_POSTGRES_PASSWORD"),
            db_schema=environ.get("TERRITORY_POSTGRES_SCHEMA") or "salesforce",
            sslmode=environ.get("TERRITORY_POSTGRES_SSLMODE") or "prefer",
        )
    raise ValueError(f"the source must be one of {', '.join(SOURCES)}, got '{kind}'")


def _require(environ: Mapping[str, str], what: str, *names: str) -> None:
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise ValueError(f"{what} needs the environment variable(s) {', '.join(missing)} (see docs/sources/)")


def build_definitions(crm_source: CrmSource | None = None, in_process: bool = False) -> Definitions:
    """The project's Definitions; the CLI passes its own source, deployments use the environment.

    `in_process`: the runs execute their steps one after another in this process (the CLI), so the
    solve leaves the plan's independent parts to the engine, which solves them side by side.
    """
    return Definitions(
        assets=[
            raw_crm_tables, validated_crm_tables, territory_dbt_models, territory_plan, coverage_plan, territory_quotas,
            territory_publication,
        ],
        asset_checks=[raw_tables_satisfy_their_suites, *output_checks],
        jobs=[build_territories_job, ingest_crm_job, rebuild_snapshot_job],
        schedules=[nightly_schedule()],
        resources={
            "crm_source": crm_source or source_from_env(),
            "warehouse": Warehouse(home=os.environ["TERRITORY_HOME"]),
            "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
            "run_settings": RunSettings(plan_path=os.environ.get("TERRITORY_PLAN", ""), parts_as_steps=not in_process),
        },
        loggers={"progress": progress_logger},
    )


defs = build_definitions()
