"""The `territory` command: runs the same Dagster definitions as `dagster dev` and the schedule, in process."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path

import click

from territory.paths import TerritoryHome
from territory.publication import PUBLISHED_TABLES

SOURCES = ("demo", "files", "salesforce", "hubspot", "postgres")  # pipelines.definitions.SOURCES, without loading Dagster
EXAMPLE_QUERY = (
    "select rep_id, segment, accounts, round(workload_hours) as workload_hours, "
    "round(utilization, 2) as utilization from territory_summary order by utilization desc limit 5"
)


class _Failure(click.ClickException):
    """A failure explained in plain words; the exit code is 1 and no traceback is shown."""

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _snapshot_option(function):
    return click.option(
        "--snapshot-date",
        default="",
        metavar="YYYY-MM-DD",
        help="The date the plan describes (default: today, UTC).",
    )(function)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TERRITORY_HOME",
    default="data",
    show_default=True,
    help="Folder for the warehouse, the published tables and the reports (env: TERRITORY_HOME).",
)
@click.option(
    "--plan",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="TERRITORY_PLAN",
    help="The plan configuration file (default: plan.yml of the repository; env: TERRITORY_PLAN).",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks of failures.")
@click.pass_context
def main(context: click.Context, home: Path, plan: Path | None, debug: bool) -> None:
    """Territory Planner: CRM data in, balanced sales territories out, as a tested data pipeline."""
    os.environ["TERRITORY_HOME"] = str(home.expanduser().resolve())
    if plan is not None:
        os.environ["TERRITORY_PLAN"] = str(plan.expanduser().resolve())
    context.obj = {"debug": debug}


@main.command("demo-data")
@click.option("--accounts", default=20_000, show_default=True, help="Number of accounts.")
@click.option("--reps", default=80, show_default=True, help="Number of reps.")
@click.option("--seed", default=7, show_default=True, help="Random seed; the same seed gives the same data.")
@click.option("--as-of", default="", metavar="YYYY-MM-DD", help="The date the extract describes (default: today, UTC).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder to write into.")
@click.option("--format", "file_format", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--contacts-scale", default=1.0, show_default=True,
              help="Multiply the contacts drawn per account (about 4.64 at 1.0; 1.083 gives 5.02 at a million accounts).")
@click.option("--activities-scale", default=1.0, show_default=True,
              help="Multiply the activities drawn per account (about 18.3 at 1.0; 1.1002 gives 20.1 at a million accounts).")
def demo_data(accounts: int, reps: int, seed: int, as_of: str, out: Path, file_format: str,
              contacts_scale: float, activities_scale: float) -> None:
    """Generate a demo CRM (accounts, contacts, opportunities, activities, reps, quotas, assessments)."""
    from territory.demo_data import DemoSpec, generate_demo_crm, write_tables

    try:
        dated = {"as_of": _parse_date(as_of)} if as_of else {}
        spec = DemoSpec(accounts, reps, seed, contacts_scale=contacts_scale, activities_scale=activities_scale, **dated)
    except ValueError as error:
        raise _Failure(str(error)) from error
    started = time.perf_counter()
    tables = generate_demo_crm(spec)
    paths = write_tables(tables, out, file_format)
    for path, (name, table) in zip(paths, tables.items()):
        click.echo(f"{name:<14} {table.num_rows:>12,} rows  {path}")
    click.echo(f"generated in {time.perf_counter() - started:.1f} s (seed {spec.seed}, as of {spec.as_of})")


@main.command()
@click.option("--accounts", default=20_000, show_default=True, help="Number of demo accounts.")
@click.option("--reps", default=80, show_default=True, help="Number of demo reps.")
@click.option("--seed", default=7, show_default=True, help="Random seed of the demo data.")
@_snapshot_option
@click.pass_context
def demo(context: click.Context, accounts: int, reps: int, seed: int, snapshot_date: str) -> None:
    """Run the whole pipeline on generated demo data and publish the territory plan."""
    from assets.resources import DemoCrmSource

    source = DemoCrmSource(accounts=accounts, reps=reps, seed=seed, as_of=snapshot_date)
    _run_pipeline(source, snapshot_date, context.obj["debug"])


def _source_options(function):
    function = click.option(
        "--path", type=click.Path(path_type=Path),
        help="Folder of canonical files (files) or of a CRM's export (salesforce, hubspot); without it, "
             "salesforce and hubspot read their API.")(function)
    return click.option(
        "--source", type=click.Choice(SOURCES), default="demo", show_default=True,
        help="Where the CRM data comes from; connections and credentials come from the environment (docs/sources/).",
    )(function)


def _crm_source(source: str, path: Path | None, as_of: str, **demo):
    """The CRM source the options name; `demo` holds the demo's size and seed when given."""
    from assets.resources import DemoCrmSource
    from pipelines.definitions import crm_source

    if source == "demo":
        return DemoCrmSource(as_of=as_of, **demo)
    try:
        return crm_source(source, str(path.expanduser().resolve()) if path else None)
    except ValueError as error:
        raise click.UsageError(str(error)) from None


@main.command()
@_source_options
@_snapshot_option
@click.pass_context
def run(context: click.Context, source: str, path: Path | None, snapshot_date: str) -> None:
    """Run the whole pipeline (ingest, transform, solve, publish) on a CRM source."""
    _run_pipeline(_crm_source(source, path, snapshot_date), snapshot_date, context.obj["debug"])


@main.command()
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="The first snapshot date to build.")
@click.option("--end", required=True, metavar="YYYY-MM-DD", help="The last snapshot date to build (included).")
@_source_options
@click.option("--accounts", default=20_000, show_default=True, help="Number of demo accounts, for --source demo.")
@click.option("--reps", default=80, show_default=True, help="Number of demo reps, for --source demo.")
@click.option("--seed", default=7, show_default=True, help="Random seed of the demo data, for --source demo.")
@click.option("--as-of", default="", metavar="YYYY-MM-DD",
              help="The date the demo extract describes, for --source demo (default: today, UTC; not before --end).")
@click.option("--restart", is_flag=True, help="Rebuild every date, also those this backfill already finished.")
@click.pass_context
def backfill(
    context: click.Context, start: str, end: str, source: str, path: Path | None, accounts: int, reps: int, seed: int,
    as_of: str, restart: bool,
) -> None:
    """Build and publish every snapshot date from --start to --end, in order, without a Dagster daemon.

    The extract is landed and validated once; each date is then transformed, solved and
    published as of that day, replacing exactly that date. Run the same command again after an
    interruption: finished dates are skipped.
    """
    from pipelines.backfill import BackfillFailed, dates_between, ledger_for, run_backfill

    first, last = _parse_date(start), _parse_date(end)
    try:
        dates = dates_between(first, last)
    except ValueError as error:
        raise _Failure(str(error)) from error
    _check_snapshot_dates(first, last)
    extract_date = _parse_date(as_of) if as_of else dt.datetime.now(dt.UTC).date()
    if extract_date < last:
        raise _Failure(f"the demo extract (--as-of {extract_date}) cannot describe dates after it, such as --end {last}")
    crm_source = _crm_source(source, path, extract_date.isoformat(), accounts=accounts, reps=reps, seed=seed)
    _load_plan(os.environ.get("TERRITORY_PLAN"))
    home = TerritoryHome.from_env()
    _prepare_dagster_home(home)
    ledger = ledger_for(home, first, last, {"kind": type(crm_source).__name__, **crm_source.model_dump()},
                        os.environ.get("TERRITORY_PLAN"))
    click.echo(f"Backfilling {len(dates)} snapshot date(s), {first} to {last}, from {crm_source.describe()} into {home.root}",
               err=True)

    from dagster import DagsterInstance

    from pipelines.progress import progress_bars

    started = time.perf_counter()
    definitions = _definitions(crm_source)
    with DagsterInstance.get() as instance, progress_bars() as bars:
        try:
            built = run_backfill(definitions, instance, home, dates, ledger, restart, bars)
        except BackfillFailed as failure:
            raise _Failure(f"{failure}. Run the same command again to resume from there.\n"
                           + _failure_message(failure.result, context.obj["debug"])) from None
    click.echo(
        f"\nBackfilled {len(built)} date(s) in {time.perf_counter() - started:.0f} s "
        f"({len(dates) - len(built)} already built).\n"
        f"  Parquet history     {home.published}/<table>/snapshot_date=YYYY-MM-DD/\n"
        f"  latest publication  {home.analytics} (territory_history: who owned what, when)\n"
        f"  ledger              {ledger.path}"
    )


@main.command()
@click.argument("sql")
@click.option("--csv", "output", flag_value="csv", help="Print CSV (RFC 4180) with a header row, for scripts.")
@click.option("--json", "output", flag_value="json", help="Print a JSON array with an object per row, for scripts.")
def query(sql: str, output: str | None) -> None:
    """Run SQL against the published tables (analytics.duckdb, read-only) and print the result."""
    import duckdb

    analytics = TerritoryHome.from_env().analytics
    if not analytics.exists():
        raise _Failure(f"nothing is published yet at {analytics}; run `territory demo` or `territory run` first")
    conn = duckdb.connect(str(analytics), read_only=True)
    try:
        result = conn.sql(sql)
        if output is None:
            click.echo(result)
        else:
            _print_rows(result.columns, result.fetchall(), output)
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except duckdb.Error as error:
        message = str(error).split("\n\n")[0].replace("\n", " ")  # DuckDB's message without the quoted SQL
        if "read-only mode" in message:
            raise _Failure(f"analytics.duckdb is read-only: territory query cannot change it ({message})") from error
        raise _Failure(f"the query failed: {message}") from error
    finally:
        conn.close()


def _print_rows(columns: list[str], rows: list[tuple], output: str) -> None:
    """Print rows as CSV with a header row or as a JSON array of objects: dates ISO, NULL, NaN and infinities null."""
    import csv
    import decimal
    import json
    import math

    def plain(value):
        if isinstance(value, float | decimal.Decimal):
            return float(value) if math.isfinite(value) else None
        if isinstance(value, dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {str(key): plain(item) for key, item in value.items()}
        return value if value is None or isinstance(value, str | int) else str(value)  # UUIDs, intervals, blobs

    if output == "json":
        sys.stdout.write("[")
        for number, row in enumerate(rows):
            line = json.dumps(dict(zip(columns, map(plain, row), strict=True)), ensure_ascii=False)
            sys.stdout.write(("," if number else "") + "\n" + line)
        sys.stdout.write("\n]\n")
        return

    def cell(value) -> str:  # text as it is, NULL as an empty field, other values as in JSON
        value = plain(value)
        return "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    writer = csv.writer(sys.stdout)
    writer.writerow(columns)
    writer.writerows(map(cell, row) for row in rows)


@main.command()
@click.option("--runs", "run_count", default=5, show_default=True, type=click.IntRange(min=1),
              help="How many of the last runs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object, for scripts.")
def status(run_count: int, as_json: bool) -> None:
    """What is published, the last runs with their checks, the CRM sources, write-backs and backfills; needs no daemon."""
    import json

    import duckdb

    from pipelines.status import (
        backfill_status,
        print_status,
        publication_status,
        run_status,
        source_status,
        writeback_status,
    )

    home = TerritoryHome.from_env()
    try:
        published = publication_status(home)
    except duckdb.Error as error:
        raise _Failure(f"cannot read {home.analytics}: {error}") from error
    state = {
        "home": str(home.root),
        "published": published,
        "dagster_home": str(_dagster_home(home)),
        "runs": run_status(_dagster_home(home), run_count),
        "backfills": backfill_status(home),
        "sources": source_status(home),
        "writebacks": writeback_status(home),
    }
    if not (state["published"]["analytics"] or state["published"]["dates"] or state["runs"] or state["backfills"]
            or state["sources"]):
        raise _Failure(f"nothing has run in {home.root} yet; run `territory demo` or `territory run` first")
    if as_json:
        click.echo(json.dumps(state, indent=1))
    else:
        print_status(state, click.echo)


@main.command()
@click.option("--port", default=3000, show_default=True, help="The port the UI listens on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address the UI listens on.")
def ui(port: int, host: str) -> None:
    """Open the Dagster UI on the project (dagster dev), sharing run history with this command's runs.

    The UI loads the same definitions as `territory run` and the nightly schedule; its daemon runs
    the schedule while the UI is up. The source comes from TERRITORY_SOURCE (docs/configuration.md).
    """
    home = TerritoryHome.from_env()
    _prepare_dagster_home(home)
    repository = Path(__file__).resolve().parent.parent
    environment = {
        **os.environ,
        "DAGSTER_DISABLE_TELEMETRY": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "GX_ANALYTICS_ENABLED": "false",
        # Dagster's notice that `dagster dev` has a successor in its `dg` tool, which this project does not use
        "PYTHONWARNINGS": "ignore:Function `dev_command` is superseded",
    }
    click.echo(f"Dagster UI at http://{host}:{port} for {home.root} (runs in {environment['DAGSTER_HOME']}); "
               "Ctrl-C stops it.", err=True)
    command = [sys.executable, "-m", "dagster", "dev", "--workspace", str(repository / "workspace.yaml"),
               "--host", host, "--port", str(port)]
    os.chdir(repository)
    os.execve(sys.executable, command, environment)


@main.group("plan")
def plan_group() -> None:
    """Work with the plan configuration file (tiers, cadences, ICP, cut-offs)."""


@plan_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def plan_check(file: Path | None) -> None:
    """Validate a plan file (default: --plan, TERRITORY_PLAN or the repository's plan.yml)."""
    from territory.plan import DEFAULT_PLAN_PATH

    path = file or Path(os.environ.get("TERRITORY_PLAN") or DEFAULT_PLAN_PATH)
    plan = _load_plan(path)
    click.echo(f"{path}: valid; tiers {', '.join(plan.tiers)}; {len(plan.regions)} regions; {len(plan.icp.personas)} personas")


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@_snapshot_option
@click.argument("dbt_args", nargs=-1, required=True, type=click.UNPROCESSED)
def dbt(snapshot_date: str, dbt_args: tuple[str, ...]) -> None:
    """Run a dbt command on the project with the plan's vars, e.g. `territory dbt docs generate`.

    The models read the warehouse under --home; options after the dbt command go to dbt.
    """
    import json
    import subprocess

    from assets.resources import RunSettings
    from assets.transform import DBT_EXECUTABLE, DBT_PROJECT_DIR

    settings = RunSettings(plan_path=os.environ.get("TERRITORY_PLAN", ""))
    _load_plan(settings.plan_path or None)
    snapshot = _parse_date(snapshot_date) if snapshot_date else dt.datetime.now(dt.UTC).date()
    command = [DBT_EXECUTABLE, *dbt_args, "--vars", json.dumps(settings.dbt_vars(snapshot))]
    sys.exit(subprocess.run(command, cwd=DBT_PROJECT_DIR, env={**os.environ, "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR)}).returncode)


@main.command("solve")
@click.argument("instance_file", metavar="INSTANCE.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write the result (JSON)."
)
@click.option(
    "--time-limit", type=click.FloatRange(min=0, min_open=True), metavar="S", help="Safety stop in seconds, from the start (default: 30 s plus 1 ms per unit and 0.5 s per rep)."
)
def solve_command(instance_file: Path, out: Path, time_limit: float | None) -> None:
    """Solve an instance file (assignment or alignment mode, see docs/engine.md) and write the plan.

    Exits 1 when no plan keeps every rule, after printing what binds.
    """
    import json

    from territory.engine.alignment import AlignmentInstance, align
    from territory.engine.json_format import InstanceError, read_instance, solution_to_json
    from territory.engine.solve import progress_to, solve

    try:
        instance = read_instance(instance_file)
    except InstanceError as error:
        raise _Failure(str(error)) from error
    with progress_to(lambda line: click.echo(f"  {line}", err=True)):
        if isinstance(instance, AlignmentInstance):
            result = align(instance, time_limit=time_limit)
        else:
            result = solve(instance, time_limit=time_limit)
    answer = solution_to_json(instance, result)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(answer, indent=1) + "\n")
    except OSError as error:
        raise _Failure(f"cannot write {out}: {error.strerror or error}") from error
    summary = answer["summary"]

    def number(value, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    click.echo(f"{answer['mode']}: {summary['status']}  ({len(answer['units'])} units, {summary['seconds']:.2f} s)")
    if summary["objective"] is not None:  # a plan exists (an infeasible alignment keeps the plan it found)
        click.echo(f"  objective    {number(summary['objective'], ',.2f')}")
        click.echo(f"  lower bound  {number(summary['lower_bound'], ',.2f')}  (gap {number(summary['gap'], '.2%')})")
        deviations = ", ".join(f"{name} {number(value, '.2%')}" for name, value in summary["max_deviation"].items())
        click.echo(f"  max deviation from fair share: {deviations}")
        click.echo(f"  moved share  {number(summary['moved_share'], '.1%')}")
        if answer["mode"] == "alignment":
            contiguous = {True: "yes", False: "no", None: "not asked (no adjacency)"}[summary["contiguous"]]
            click.echo(f"  dispersion   {number(summary['dispersion'], ',.1f')}  contiguous: {contiguous}")
    click.echo(f"result written to {out}")
    if not result.feasible:
        for binding in answer["diagnosis"]:
            click.echo(f"  - {binding['message']}", err=True)
        raise _Failure("no plan keeps every rule; the diagnosis above says what binds")


@main.command()
@click.argument("target", metavar="ACCOUNT_ID")
@click.option("--rep", "is_rep", is_flag=True, help="TARGET is a rep id: explain the rep's load instead.")
@click.option("--alternatives", default=3, show_default=True, help="Other reps to compare an account's rep with.")
def explain(target: str, is_rep: bool, alternatives: int) -> None:
    """Why the last plan gave an account its rep (or, with --rep, why a rep carries their load)."""
    import duckdb
    import numpy as np

    from assets.solve import ACCOUNTS_QUERY, REPS_QUERY
    from territory.engine.bands import bands
    from territory.engine.costs import CostModel
    from territory.engine.explain import explain_rep, explain_unit
    from territory.planning import instance_from_marts

    warehouse = TerritoryHome.from_env().warehouse
    if not warehouse.exists():
        raise _Failure(f"no plan yet at {warehouse}; run `territory demo` or `territory run` first")
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        accounts, reps = conn.sql(ACCOUNTS_QUERY).df(), conn.sql(REPS_QUERY).df()
        assigned = conn.sql("select account_id, rep_id from solve.territory_assignments").df()
        summary = conn.sql("select * from solve.territory_summary").df()
    except duckdb.Error as error:
        raise _Failure(f"the last run left no plan to explain ({error})") from error
    finally:
        conn.close()
    instance = instance_from_marts(accounts, reps, _load_plan(os.environ.get("TERRITORY_PLAN")))
    rep_index = {rep_id: j for j, rep_id in enumerate(instance.reps.rep_id)}
    plan = assigned.set_index("account_id")["rep_id"].reindex(instance.units.unit_id).map(rep_index).to_numpy()
    prices = summary.set_index("rep_id").reindex(instance.reps.rep_id)[
        [f"price_{measure.name}" for measure in instance.measures]].to_numpy(dtype=float)
    if np.isnan(plan.astype(float)).any():
        raise _Failure("the published plan does not match the warehouse's accounts; run the pipeline again")
    plan = plan.astype(np.int64)
    if is_rep:
        if target not in rep_index:
            raise _Failure(f"no active rep {target!r} in the last plan")
        found = explain_rep(instance, bands(instance, CostModel(instance)), plan, prices, rep_index[target])
        click.echo(f"{found.rep_id}: {found.units:,} accounts")
        for load in found.loads:
            click.echo(f"  {load.measure:<15} {load.total:>14,.1f}  fair share {load.fair_share:,.1f}, band "
                       f"{load.lower:,.1f}-{load.upper:,.1f}: {load.state} (price {load.price:+,.4g})")
        click.echo("  largest accounts: " + ", ".join(f"{unit} ({amount:,.1f})" for unit, amount in found.largest_units))
        return
    position = np.flatnonzero(instance.units.unit_id == target)
    if not len(position):
        raise _Failure(f"no account {target!r} in the last plan")
    found = explain_unit(instance, plan, prices, int(position[0]), alternatives)

    def line(option) -> str:
        terms = ", ".join(f"{name} {value:,.0f}" for name, value in option.terms.items())
        return f"{option.rep_id:<10} cost {option.cost:>12,.0f} ({terms}); band price {option.band_price:+,.0f}"

    click.echo(f"{found.unit_id} -> {line(found.chosen)}")
    for option in found.alternatives:
        click.echo(f"  not {line(option)}\n      {option.reason}")
    if found.ineligible:
        click.echo(f"  {found.ineligible} rep(s) may not own it (segment, region or experience)")


@main.command("report")
@click.option("--snapshot-date", default="", metavar="YYYY-MM-DD",
              help="The published date to report on (default: the latest).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the page (default: TERRITORY_HOME/reports/<date>/index.html).")
def report_command(snapshot_date: str, out: Path | None) -> None:
    """Render the plan report of a published date again, from its Parquet history, and print where it is."""
    import pyarrow.parquet as pq

    from territory.report import REPORT_TABLES, ReportTables, render_plan_report

    home = TerritoryHome.from_env()
    day = _published_date(home, snapshot_date)
    files = {name: home.published_partition(name, day) / "part-0.parquet" for name in REPORT_TABLES}
    missing = sorted(name for name, file in files.items() if not file.exists())
    if missing:  # a date published by an earlier version, before these tables were
        click.echo(f"note: {day} was published without {', '.join(missing)}; the report goes without them", err=True)
    tables = ReportTables.from_arrow({name: pq.read_table(file) for name, file in files.items() if file.exists()})
    out = out or home.report_dir(day) / "index.html"
    docs = home.quality / "index.html"
    page = render_plan_report(day, tables, data_docs=os.path.relpath(docs, out.parent.resolve()) if docs.exists() else None)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as error:
        raise _Failure(f"cannot write {out}: {error.strerror or error}") from error
    click.echo(out)


def _published_date(home: TerritoryHome, snapshot_date: str) -> dt.date:
    """The published date `snapshot_date` names (YYYY-MM-DD), or the latest one when it is empty."""
    from territory.publication import published_dates

    dates = published_dates(home)
    if not dates:
        raise _Failure(f"nothing is published yet under {home.published}; run `territory demo` or `territory run` first")
    day = _parse_date(snapshot_date) if snapshot_date else dates[-1]
    if day not in dates:
        raise _Failure(f"no plan is published for {day}; the latest published date is {dates[-1]}")
    return day


@main.command()
@click.option("--to", "crm", type=click.Choice(["salesforce", "hubspot"]), required=True,
              help="The CRM the plan's data came from.")
@click.option("--snapshot-date", default="", metavar="YYYY-MM-DD", help="The published plan to write back (default: the latest).")
@click.option("--api", is_flag=True, help="Update the owners through the CRM's API; a dry run unless --approve.")
@click.option("--approve", is_flag=True, help="With --api: write the changes. Without it, only show what would change.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the import files (default: TERRITORY_HOME/writeback/<crm>/<date>/).")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(min=1),
              help="Changes recorded in the ledger at a time; requests are split at the CRM's own limit.")
def writeback(crm: str, snapshot_date: str, api: bool, approve: bool, out: Path | None, batch_size: int) -> None:
    """Send the plan's ownership changes back to the CRM: its import files, or its API behind --approve.

    The changes are the accounts whose owner in the last extract is not their planned rep, with
    the contacts and open opportunities that follow them (plan file: sources.writeback). Import
    files are Salesforce Data Loader updates (Id,OwnerId) or HubSpot owner imports. Through the
    API each change is recorded in a ledger; running again skips what was written.
    """
    import uuid

    from pipelines import writeback as plan_writeback

    if approve and not api:
        raise click.UsageError("--approve writes through the API: give --api too (import files need no approval)")
    home = TerritoryHome.from_env()
    day = _published_date(home, snapshot_date)
    if not home.warehouse.exists():
        raise _Failure(f"no extract is loaded in {home.warehouse}; run `territory run --source {crm}` first")
    changes = plan_writeback.planned_changes(home, day, crm, _load_plan(os.environ.get("TERRITORY_PLAN")).sources.writeback)
    if not api:
        folder = out or home.writeback / crm / day.isoformat()
        from territory.raw_loader import SourceError

        try:
            files = plan_writeback.import_files(home, crm, changes, folder)
        except SourceError as error:
            raise _Failure(str(error)) from error
        click.echo(f"{len(changes):,} owner change(s) of the plan for {day}, as {crm} import files:")
        for file in files:
            click.echo(f"  {file}")
        return

    from territory.sources.writeback import write_back

    ledger = plan_writeback.ledger(home, crm, day)
    run = uuid.uuid4().hex[:12]
    with _explained_source_errors():
        # A dry run needs no credentials: it reads the ledger and calls nothing.
        source = _api_source(crm) if approve else None
        report = write_back(changes, source.push() if source else None, ledger, batch_size=batch_size, approve=approve,
                            run=run, on_batch=lambda done, total: click.echo(f"  {done:,} of {total:,} written", err=True))
    verb = "written" if approve else "to write"
    click.echo(f"{'Write-back' if approve else 'Dry run'} of the plan for {day} to {source.describe() if source else crm}:")
    click.echo(f"  {'object':<14}{'changes':>9}{'done before':>13}{verb:>10}{'failed':>8}")
    for obj, counts in report.counts.items():
        click.echo(f"  {obj:<14}{counts.planned:>9,}{counts.already_done:>13,}"
                   f"{(counts.written if approve else counts.to_write):>10,}{counts.failed:>8,}")
    if not approve:
        click.echo("Nothing was written. Run again with --approve to write these changes.")
        return
    click.echo(f"Recorded in {ledger} (write-back {run}).")
    if report.failures:
        shown = "\n".join(f"  {f.change.object} {f.change.record_id}: {f.error}" for f in report.failures[:10])
        raise _Failure(f"{crm} refused {len(report.failures)} change(s); run the same command again to retry them:\n{shown}")


def _api_source(crm: str):
    """The CRM's API source, configured from the environment as a run would be, its secrets resolved."""
    from pipelines.definitions import crm_source

    try:
        return crm_source(crm, None).process_config_and_initialize()
    except ValueError as error:
        raise _Failure(str(error)) from error


@contextlib.contextmanager
def _explained_source_errors():
    from territory.raw_loader import SourceError

    try:
        yield
    except SourceError as error:
        raise _Failure(str(error)) from error


def _load_plan(path: Path | str | None):
    from territory.plan import PlanError, load_plan

    try:
        return load_plan(path)
    except PlanError as error:
        raise _Failure(str(error)) from error


def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise _Failure(f"'{value}' is not a date of the form YYYY-MM-DD") from error


def _run_pipeline(crm_source, snapshot_date: str, debug: bool) -> None:
    """Materialize build_territories_job in process and say where the results are."""
    snapshot = _parse_date(snapshot_date) if snapshot_date else dt.datetime.now(dt.UTC).date()
    _check_snapshot_dates(snapshot, snapshot)
    _load_plan(os.environ.get("TERRITORY_PLAN"))  # a bad plan stops the run before any work
    home = TerritoryHome.from_env()
    _prepare_dagster_home(home)
    click.echo(f"Building territories for {snapshot} from {crm_source.describe()} into {home.root}", err=True)

    from dagster import DagsterInstance

    from pipelines.progress import progress_bars

    started = time.perf_counter()
    job = _definitions(crm_source).resolve_job_def("build_territories_job")
    with DagsterInstance.get() as instance, progress_bars() as bars:
        bars.start_run(f"build {snapshot}", len(job.graph.nodes))
        result = job.execute_in_process(
            run_config={"loggers": {"progress": {}}}, instance=instance, partition_key=snapshot.isoformat(),
            raise_on_error=False,
        )
    if not result.success:
        raise _Failure(_failure_message(result, debug))

    report = home.report_dir(snapshot) / "index.html"
    click.echo(
        f"\nTerritory plan for {snapshot} published in {time.perf_counter() - started:.0f} s.\n"
        f"  analytics database  {home.analytics}\n"
        f"      ({', '.join(PUBLISHED_TABLES)})\n"
        f"  Parquet history     {home.published}/<table>/snapshot_date={snapshot}/\n"
        f"  plan report         {report}\n"
        f"\nExample query (or ./run query \"...\" from the repository):\n"
        f'  territory query "{EXAMPLE_QUERY}"'
    )


def _check_snapshot_dates(first: dt.date, last: dt.date) -> None:
    """Snapshot dates must be partitions: from TERRITORY_FIRST_SNAPSHOT_DATE to today (UTC)."""
    try:
        from assets.partitions import FIRST_SNAPSHOT_DATE
    except ValueError as error:  # a malformed TERRITORY_FIRST_SNAPSHOT_DATE
        raise _Failure(str(error)) from error

    today = dt.datetime.now(dt.UTC).date()
    if first < dt.date.fromisoformat(FIRST_SNAPSHOT_DATE) or last > today:
        raise _Failure(f"snapshot dates run from {FIRST_SNAPSHOT_DATE} (TERRITORY_FIRST_SNAPSHOT_DATE) to today, {today}")


def _definitions(crm_source):
    """The project's definitions with this source, for runs in this process; a malformed TERRITORY_* setting is a
    plain failure."""
    try:
        from pipelines.definitions import build_definitions

        return build_definitions(crm_source=crm_source, in_process=True)
    except ValueError as error:
        raise _Failure(str(error)) from error


def _dagster_home(home: TerritoryHome) -> Path:
    """Where runs are recorded: DAGSTER_HOME, set to TERRITORY_HOME/dagster unless it is set already."""
    return Path(os.environ.setdefault("DAGSTER_HOME", str(home.dagster_home)))


def _prepare_dagster_home(home: TerritoryHome) -> None:
    """Runs are recorded in TERRITORY_HOME/dagster (unless DAGSTER_HOME says otherwise), telemetry off."""
    dagster_home = _dagster_home(home)
    dagster_home.mkdir(parents=True, exist_ok=True)
    settings = dagster_home / "dagster.yaml"
    if not settings.exists():
        settings.write_text("telemetry:\n  enabled: false\n")


# Errors raised to explain bad input or settings in plain words.
_EXPLAINED_ERRORS = {"SourceError", "PlanError", "Failure"}
# Errors Dagster wraps around the one the step raised; the message worth showing is inside them.
_DAGSTER_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


def _failure_message(result, debug: bool) -> str:
    """The error each failed step raised, unwrapped from Dagster's envelope."""
    from pipelines.progress import check_name, without_dbt_vars

    messages = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":  # a blocking data-quality check that failed
            check = event.event_specific_data
            if not check.passed and check.severity.value == "ERROR":
                detail = check.metadata.get("critical")
                messages.append(f"{check_name(check)}: {detail.value if detail else 'failed'}")
            continue
        if event.event_type_value != "STEP_FAILURE":
            continue
        error = event.step_failure_data.error
        if error.cls_name == "DagsterAssetCheckFailedError":  # already told, check by check
            continue
        if debug:  # everything, the plan's dbt vars included
            messages.append(f"{event.step_key}:\n{error.to_string()}")
            continue
        while error.cls_name in _DAGSTER_WRAPPERS and error.cause is not None:
            error = error.cause
        message = error.message.strip()
        if error.cls_name in _EXPLAINED_ERRORS:  # their message says it all; the class path is noise
            message = re.sub(rf"^[\w.]*{error.cls_name}: ", "", message)
        messages.append(f"{event.step_key}: {without_dbt_vars(message)}")
    return "the run failed.\n" + "\n".join(messages or ["(no step reported an error; see the Dagster event log)"])


if __name__ == "__main__":
    sys.exit(main())
