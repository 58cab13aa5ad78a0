"""Publish: the plan goes to analytics.duckdb and dated Parquet in one atomic step, with its report."""


import os

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from assets.resources import RunSettings, Warehouse
from territory.publication import PUBLISHED_TABLE_SOURCES, publish
from territory.report import render_plan_report



def _quarantined_this_run(conn, run_id: str) -> dict[str, int]:
    """Rows of each raw table that this run set aside in the quarantine schema."""
    tables = [r[0] for r in conn.execute("select table_name from information_schema.tables where table_schema = 'quarantine'").fetchall()]
    return {
        table: conn.execute(f"select count(*) from quarantine.{table} where run_id = ?", [run_id]).fetchall()[0][0]
        for table in sorted(tables)
    }


def _plan_method(solver_runs) -> str:
    run = solver_runs.iloc[0]
    return f"assignment engine: {run.status}, cost within {run.gap:.2%} of its proven lower bound"


@asset(
    key=AssetKey(["publish", "territory_publication"]),
    group_name="publish",
    deps=[
        AssetKey(["solve", "territory_plan"]),
        AssetKey("dim_accounts"),
        AssetKey("fct_segment_needs"),
        AssetKey("fct_territory_conflicts"),
    ],
    kinds={"duckdb", "parquet"},
)
def territory_publication(context: AssetExecutionContext, warehouse: Warehouse, run_settings: RunSettings) -> MaterializeResult:
    """The territory tables analysts query, published for the run's snapshot date."""
    snapshot_date = run_settings.snapshot()
    with warehouse.connect(read_only=True) as conn:
        tables = {name: conn.sql(f"select * from {source}").to_arrow_table() for name, source in PUBLISHED_TABLE_SOURCES.items()}
        set_aside = _quarantined_this_run(conn, context.run.run_id)
    publication = publish(warehouse.paths, snapshot_date, tables)

    report = warehouse.paths.report_dir(snapshot_date) / "index.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        render_plan_report(
            snapshot_date,
            _plan_method(tables["solver_runs"].to_pandas()),
            tables["territory_assignments"].to_pandas(),
            tables["territory_summary"].to_pandas(),
            set_aside=set_aside,
            data_docs=os.path.relpath(warehouse.paths.quality / "index.html", report.parent),
        ),
        encoding="utf-8",
    )
    context.log.info(f"Published {', '.join(publication.rows)} for {snapshot_date} to {publication.analytics}")
    return MaterializeResult(
        metadata={
            "snapshot_date": snapshot_date.isoformat(),
            "analytics_database": MetadataValue.path(str(publication.analytics)),
            "report": MetadataValue.path(str(report)),
            **{f"rows/{name}": rows for name, rows in publication.rows.items()},
            **{f"quarantined/{table}": rows for table, rows in set_aside.items()},
        }
    )
