"""Ingest: land the CRM's raw tables in the warehouse schema `raw`, typed by the canonical contract."""


from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from assets.owners import DATA_ENGINEERING
from assets.resources import CrmSource, RunSettings, Warehouse
from territory.contract import RAW_TABLES
from territory.raw_loader import find_source_files, load_raw_tables
from territory.sources.canonical import UNMAPPED_FILE, read_unmapped

# The values of the CRM without a canonical equivalent that the run's log lists (the file has them all).
UNMAPPED_SHOWN = 10

RAW_ASSET_SPECS = [
    AssetSpec(
        AssetKey(["raw", table.name]),
        description=f"CRM {table.name} as the source delivered them, typed by the canonical contract.",
        group_name="ingest",
        owners=DATA_ENGINEERING,
        kinds={"duckdb"},
        metadata={"key": table.key, "columns": ", ".join(table.columns)},
    )
    for table in RAW_TABLES
]


@multi_asset(specs=RAW_ASSET_SPECS, name="raw_crm_tables")
def raw_crm_tables(
    context: AssetExecutionContext, crm_source: CrmSource, warehouse: Warehouse, run_settings: RunSettings
) -> Iterator[MaterializeResult]:
    """Land every raw CRM table from the configured source, all or nothing."""
    context.log.info(f"Landing {crm_source.describe()}")
    folder = crm_source.land(warehouse.paths, run_settings.plan())
    files = find_source_files(folder)
    with warehouse.connect() as conn:
        loaded = load_raw_tables(conn, files)
    unmapped = read_unmapped(folder)
    unmapped_metadata = {"unmapped_values": len(unmapped)}
    if not unmapped.empty:
        report = folder / UNMAPPED_FILE
        unmapped_metadata["unmapped_report"] = MetadataValue.path(str(report))
        context.log.warning(
            f"{len(unmapped)} value(s) of the CRM had no equivalent in the raw contract; their {unmapped['records'].sum():,} "
            f"record(s) are kept with the documented fallback (all of them in {report}):\n"
            + unmapped.head(UNMAPPED_SHOWN).to_markdown(index=False))
    for table in loaded:
        yield MaterializeResult(
            asset_key=AssetKey(["raw", table.name]),
            metadata={"dagster/row_count": table.rows, "source_file": MetadataValue.path(str(table.path)),
                      **unmapped_metadata},
        )
