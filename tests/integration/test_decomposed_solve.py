"""The solve's parts as steps of their own: on Dagster's multiprocess executor they give the plan the in-process run
published."""

from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, JobDefinition, build_reconstructable_job, execute_job

from assets.resources import DemoCrmSource
from pipelines.definitions import build_definitions

SNAPSHOT = "2026-06-30"
SOLVE = AssetKey(["solve", "territory_plan"])
ASSIGNMENT_COLUMNS = "account_id, rep_id, previous_rep_id, changed, locked, reason"


def build_territories_job() -> JobDefinition:
    """The demo's build job; the multiprocess executor's processes rebuild it by importing this module.

    One part per segment: the two larger are solved by searches bounded by work, the smallest (about a
    hundred pairs) outright by HiGHS in a fraction of a second. A part of close to 2,000 pairs would be
    solved outright too, but HiGHS may then stop at the time limit on a loaded machine, and the plan
    depend on the machine's speed: the one exception to the engine's determinism (docs/engine.md).
    """
    source = DemoCrmSource(accounts=2_000, reps=15, seed=4, as_of=SNAPSHOT)
    return build_definitions(crm_source=source).resolve_job_def("build_territories_job")


@pytest.fixture(scope="module")
def solved_both_ways(tmp_path_factory):
    """TERRITORY_HOME after an in-process build, then the multiprocess run of the solve and its check over its marts."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TERRITORY_HOME", str(home))  # the executor's processes inherit it
        in_process = build_territories_job().execute_in_process(
            instance=DagsterInstance.ephemeral(), partition_key=SNAPSHOT)
        assert in_process.success
        (home / "dagster").mkdir()
        with DagsterInstance.local_temp(str(home / "dagster")) as instance:
            solve_alone = build_reconstructable_job(
                __name__, build_territories_job.__name__, reconstructor_working_directory=str(Path(__file__).parent),
            ).get_subset(asset_selection={SOLVE})
            in_parallel = execute_job(
                solve_alone, instance=instance, tags={"dagster/partition": SNAPSHOT},
                run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 2}}}},
            )
            assert in_parallel.success
            yield home, in_parallel


def test_each_part_was_a_step_of_its_own_in_its_own_process(solved_both_ways):
    _, run = solved_both_ways
    started = [event for event in run.all_events if event.event_type_value == "STEP_START"]
    parts = [event for event in started if event.step_key.startswith("solve__territory_plan.solve_territory_part[")]
    assert len(parts) == 3  # the demo's plan: eligibility by segment, three segments, no disruption budget
    assert len({event.pid for event in parts}) == 3


def test_the_parallel_solve_writes_the_assignments_the_in_process_run_published(solved_both_ways):
    home, _ = solved_both_ways
    query = f"select {ASSIGNMENT_COLUMNS} from {{}} order by account_id"
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        published = conn.execute(query.format("territory_assignments")).fetchall()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        solved = conn.execute(query.format("solve.territory_assignments")).fetchall()
        status = conn.execute("select status from solve.solver_runs").fetchall()
    assert len(published) == 2_000 and solved == published
    assert status in ([("feasible",)], [("optimal",)])


def test_the_plan_passed_its_check_in_a_process_of_its_own(solved_both_ways):
    _, run = solved_both_ways
    evaluations = run.get_asset_check_evaluations()
    assert [evaluation.asset_key for evaluation in evaluations] == [SOLVE]
    assert all(evaluation.passed for evaluation in evaluations)


def test_the_merge_leaves_no_stored_parts_behind(solved_both_ways):
    home, run = solved_both_ways
    stored = home / "dagster" / "storage" / run.run_id
    assert stored.is_dir()  # the run's compute logs are there
    assert not list(stored.glob("solve__territory_plan.s*")), "the parts and their plans should be deleted once merged"


def test_where_steps_run_in_turn_one_step_solves_every_part_to_the_same_plan(solved_both_ways):
    """The territory command's runs (steps one after another in one process) leave the parts to the engine."""
    home, _ = solved_both_ways
    source = DemoCrmSource(accounts=2_000, reps=15, seed=4, as_of=SNAPSHOT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TERRITORY_HOME", str(home))
        job = build_definitions(crm_source=source, in_process=True).resolve_job_def("build_territories_job")
        run = job.get_subset(asset_selection={SOLVE}, asset_check_selection=set()).execute_in_process(
            instance=DagsterInstance.ephemeral(), partition_key=SNAPSHOT)
    assert run.success
    parts = [event for event in run.all_events if event.event_type_value == "STEP_START"
             and event.step_key.startswith("solve__territory_plan.solve_territory_part[")]
    assert len(parts) == 1
    query = f"select {ASSIGNMENT_COLUMNS} from {{}} order by account_id"
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        published = conn.execute(query.format("territory_assignments")).fetchall()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        solved = conn.execute(query.format("solve.territory_assignments")).fetchall()
    assert solved == published
