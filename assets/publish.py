"""Publish: the plan goes to analytics.duckdb and dated Parquet in one atomic step, with its report."""

import base64
import os

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from assets.owners import DATA_ENGINEERING
from assets.partitions import snapshot_asset
from assets.partitions import snapshot_date as snapshot_of
from assets.resources import Warehouse
from territory.contract import RAW_TABLES
from territory.publication import PUBLISHED_TABLE_SOURCES, publish
from territory.report import ReportTables, render_plan_report, rep_loads_png


def _quarantined_from_the_extract(context: AssetExecutionContext) -> dict[str, int]:
    """Rows of each raw table that the last validation set aside: the extract this plan was built on.

    Read from the validation's own record, because a backfill validates once and publishes in later runs.
    """
    set_aside = {}
    for table in RAW_TABLES:
        records = context.instance.fetch_materializations(AssetKey(["validated", table.name]), limit=1).records
        rows = records[0].asset_materialization.metadata.get("quarantined_rows") if records else None
        if rows is not None and rows.value:
            set_aside[table.name] = int(rows.value)
    return set_aside


@snapshot_asset(
    key=AssetKey(["publish", "territory_publication"]),
    group_name="publish",
    owners=DATA_ENGINEERING,
    deps=[
        AssetKey(["solve", "territory_plan"]),
        AssetKey(["solve", "contact_plan"]),
        AssetKey(["solve", "territory_quotas"]),
        AssetKey("dim_accounts"),
        AssetKey("dim_markets"),
        AssetKey("fct_segment_needs"),
        AssetKey("fct_territory_conflicts"),
    ],
    kinds={"duckdb", "parquet"},
)
def territory_publication(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    """The territory tables analysts query, published for the run's snapshot date."""
    snapshot_date = snapshot_of(context)
    with warehouse.connect(read_only=True) as conn:
        tables = {name: conn.sql(f"select * from {source}").to_arrow_table() for name, source in PUBLISHED_TABLE_SOURCES.items()}
    set_aside = _quarantined_from_the_extract(context)
    publication = publish(warehouse.paths, snapshot_date, tables)

    report = warehouse.paths.report_dir(snapshot_date) / "index.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(
        render_plan_report(
            snapshot_date,
            ReportTables.from_arrow(tables),
            set_aside=set_aside,
            data_docs=os.path.relpath(warehouse.paths.quality / "index.html", report.parent),
        ),
        encoding="utf-8",
    )
    if publication.recovered:
        context.log.warning(f"Before publishing: {publication.recovered}")
    destination = publication.analytics or f"Parquet ({warehouse.paths.analytics} keeps a later date; its history was rebuilt)"
    context.log.info(f"Published {', '.join(publication.rows)} for {snapshot_date} to {destination}")
    return MaterializeResult(
        metadata={
            "snapshot_date": snapshot_date.isoformat(),
            "analytics_database": MetadataValue.path(str(publication.analytics)) if publication.analytics else "keeps a later date",
            "report": MetadataValue.path(str(report)),
            **{f"rows/{name}": rows for name, rows in publication.rows.items()},
            **{f"quarantined/{table}": rows for table, rows in set_aside.items()},
            "busiest_reps": MetadataValue.md(_busiest_reps(tables["territory_summary"])),
            "rep_loads": MetadataValue.md(_rep_loads_picture(tables["territory_summary"])),
        }
    )


def _rep_loads_picture(summary) -> str:
    """Each rep's workload against capacity and potential against fair share, as a picture in Markdown."""
    if summary.num_rows == 0:
        return "No active rep."
    png = base64.b64encode(rep_loads_png(summary.to_pandas())).decode("ascii")
    return f"![Each rep's workload against capacity and potential against fair share](data:image/png;base64,{png})"


def _busiest_reps(summary) -> str:
    """The ten reps with the highest utilization, as a Markdown preview for the Dagster UI."""
    columns = ["rep_id", "rep_name", "segment", "accounts", "workload_hours", "capacity_hours", "utilization"]
    busiest = summary.to_pandas()[columns].sort_values("utilization", ascending=False).head(10)
    return busiest.round({"workload_hours": 0, "capacity_hours": 0, "utilization": 2}).to_markdown(index=False)
