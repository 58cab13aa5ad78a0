"""The Dagster definitions load, and the graph is wired the way DESIGN.md lays it out."""

import pytest
from dagster import AssetKey

from assets.resources import DemoCrmSource, FileCrmSource
from pipelines.definitions import defs, source_from_env

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
    with pytest.raises(ValueError, match="needs TERRITORY_SOURCE_PATH"):
        source_from_env({"TERRITORY_SOURCE": "files"})
    with pytest.raises(ValueError, match="must be 'demo' or 'files'"):
        source_from_env({"TERRITORY_SOURCE": "salesforce"})
    with pytest.raises(ValueError, match="TERRITORY_DEMO_SEED must be a whole number"):
        source_from_env({"TERRITORY_DEMO_SEED": "x"})
