"""The Dagster definitions load, and the graph is wired the way DESIGN.md lays it out."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dagster import AssetKey, EnvVar, build_schedule_context

from assets.crm_sources import HubSpotExportSource, PostgresReplicaSource, SalesforceApiSource, SalesforceExportSource
from assets.resources import DemoCrmSource, FileCrmSource
from pipelines.definitions import defs, nightly_schedule, source_from_env

GROUPS = {"ingest", "validate", "transform", "solve", "publish"}


def test_definitions_load_with_the_job_and_schedule():
    job = defs.resolve_job_def("build_territories_job")
    assert job.name == "build_territories_job"
    assert defs.resolve_schedule_def("nightly_territories_schedule").job_name == "build_territories_job"


def test_every_asset_sits_in_a_named_stage_with_a_description():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name in GROUPS, key
        assert node.description, key
        assert node.owners, key


def test_everything_from_transform_on_is_partitioned_by_snapshot_date_and_ingest_is_not():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert (node.partitions_def is not None) == (node.group_name not in {"ingest", "validate"}), key


@pytest.mark.parametrize(
    ("at", "zone", "fires", "builds"),
    [
        ("02:00", "UTC", dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC), "2026-11-27"),
        # 03:30 in Berlin is 02:30 UTC: the last complete UTC day is still the 27th
        ("03:30", "Europe/Berlin", dt.datetime(2026, 11, 28, 3, 30, tzinfo=ZoneInfo("Europe/Berlin")), "2026-11-27"),
        # 02:00 in Tokyo on the 28th is 17:00 UTC on the 27th: the last complete UTC day is the 26th
        ("02:00", "Asia/Tokyo", dt.datetime(2026, 11, 28, 2, 0, tzinfo=ZoneInfo("Asia/Tokyo")), "2026-11-26"),
    ],
)
def test_the_nightly_schedule_fires_when_configured_and_builds_the_last_complete_utc_day(at, zone, fires, builds):
    schedule = nightly_schedule({"TERRITORY_NIGHTLY_AT": at, "TERRITORY_TIMEZONE": zone})
    hour, minute = at.split(":")
    assert schedule.cron_schedule == f"{int(minute)} {int(hour)} * * *" and schedule.execution_timezone == zone
    request = schedule(build_schedule_context(scheduled_execution_time=fires))
    assert request.partition_key == builds and request.run_key == builds


def test_bad_schedule_settings_say_what_is_wrong():
    with pytest.raises(ValueError, match="TERRITORY_NIGHTLY_AT must be a time of day HH:MM, got '25:00'"):
        nightly_schedule({"TERRITORY_NIGHTLY_AT": "25:00"})
    with pytest.raises(ValueError, match="TERRITORY_TIMEZONE must be an IANA time zone"):
        nightly_schedule({"TERRITORY_TIMEZONE": "Mars/Base"})


def test_dbt_sources_are_the_ingested_raw_tables_and_the_plan_reads_the_marts():
    graph = defs.resolve_asset_graph()
    assert AssetKey(["validated", "accounts"]) in graph.get(AssetKey("stg_crm__accounts")).parent_keys
    assert AssetKey(["raw", "accounts"]) in graph.get(AssetKey(["validated", "accounts"])).parent_keys
    assert {AssetKey("dim_accounts"), AssetKey("dim_reps")} <= graph.get(AssetKey(["solve", "territory_plan"])).parent_keys
    assert AssetKey(["solve", "territory_plan"]) in graph.get(AssetKey(["publish", "territory_publication"])).parent_keys


def test_dbt_tests_become_asset_checks():
    checks = {check.name for check in defs.resolve_asset_graph().asset_check_keys}
    assert "unique_dim_accounts_account_id" in checks


def test_the_environment_chooses_the_source_and_bad_settings_say_what_is_wrong():
    assert source_from_env({}) == DemoCrmSource()
    assert source_from_env({"TERRITORY_SOURCE": "files", "TERRITORY_SOURCE_PATH": "/x"}) == FileCrmSource(path="/x")
    with pytest.raises(ValueError, match="needs a folder .*TERRITORY_SOURCE_PATH"):
        source_from_env({"TERRITORY_SOURCE": "files"})
    with pytest.raises(ValueError, match="must be one of demo, files, salesforce, hubspot, postgres, got 'sap'"):
        source_from_env({"TERRITORY_SOURCE": "sap"})


def test_a_crm_source_reads_its_export_folder_or_its_api_with_secrets_left_to_the_run():
    export = source_from_env({"TERRITORY_SOURCE": "salesforce", "TERRITORY_SOURCE_PATH": "/exports/sf"})
    assert export == SalesforceExportSource(path="/exports/sf")
    assert source_from_env({"TERRITORY_SOURCE": "hubspot", "TERRITORY_SOURCE_PATH": "/x"}) == HubSpotExportSource(path="/x")
    secret = "s3cr3t-value"
    api = source_from_env({"TERRITORY_SOURCE": "salesforce", "SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com",
                           "SALESFORCE_CLIENT_ID": "app", "SALESFORCE_CLIENT_SECRET": secret})
    assert isinstance(api, SalesforceApiSource) and api.login_url == "https://acme.my.salesforce.com"
    assert api.client_secret == EnvVar("SALESFORCE_CLIENT_SECRET")  # resolved when a run starts, never stored
    assert secret not in repr(api) and secret not in api.describe()
    replica = source_from_env({"TERRITORY_SOURCE": "postgres", "TERRITORY_POSTGRES_DATABASE": "crm",
                               "TERRITORY_POSTGRES_USER": "reader", "TERRITORY_POSTGRES_PASSWORD": secret})
    assert isinstance(replica, PostgresReplicaSource) and replica.password == EnvVar("TERRITORY_POSTGRES_PASSWORD")
    with pytest.raises(ValueError, match="needs the environment variable.*SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_SECRET"):
        source_from_env({"TERRITORY_SOURCE": "salesforce", "SALESFORCE_CLIENT_ID": "app"})
    with pytest.raises(ValueError, match="HUBSPOT_ACCESS_TOKEN, HUBSPOT_REP_PROFILES"):
        source_from_env({"TERRITORY_SOURCE": "hubspot"})
    with pytest.raises(ValueError, match="TERRITORY_DEMO_SEED must be a whole number"):
        source_from_env({"TERRITORY_DEMO_SEED": "x"})
