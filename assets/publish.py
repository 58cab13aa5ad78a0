"""Publish: the plan goes to analytics.duckdb and dated Parquet in one atomic step, with its report."""


from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from assets.resources import RunSettings, Warehouse
from territory.publication import PUBLISHED_TABLE_SOURCES, publish
from territory.report import render_plan_report

PLAN_METHOD = "greedy nearest eligible rep with capacity (baseline)"


@asset(
    key=AssetKey(["publish", "territory_publication"]),
    group_name="publish",
    deps=[
        AssetKey(["solve", "baseline_assignment"]),
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
    publication = publish(warehouse.paths, snapshot_date, tables)

    report = warehouse.paths.report_dir(snapshot_date) / "index.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        render_plan_report(
            snapshot_date,
            PLAN_METHOD,
            tables["territory_assignments"].to_pandas(),
            tables["territory_summary"].to_pandas(),
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
        }
    )
