"""Snapshot dates: the graph from transform to publish is partitioned by the day it describes.

A partition key is a snapshot date (YYYY-MM-DD, UTC): the models see the CRM as it was at the
end of that day, and the plan is published under that date. Ingest and validation are not
partitioned: they land the latest extract, which carries the history every date is built from.
"""

import datetime as dt
import os
import warnings
from collections.abc import Callable

from dagster import AssetExecutionContext, BackfillPolicy, BetaWarning, DailyPartitionsDefinition, asset


def _first_snapshot_date() -> str:
    """The first date a plan can be built for; TERRITORY_FIRST_SNAPSHOT_DATE moves it for older history."""
    value = os.environ.get("TERRITORY_FIRST_SNAPSHOT_DATE") or "2020-01-01"
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"TERRITORY_FIRST_SNAPSHOT_DATE must be a date of the form YYYY-MM-DD, got '{value}'") from None
    return value


FIRST_SNAPSHOT_DATE = _first_snapshot_date()

# end_offset=1: today is a partition too, so a run on the day describes the CRM as it is now.
snapshot_partitions = DailyPartitionsDefinition(start_date=FIRST_SNAPSHOT_DATE, end_offset=1, timezone="UTC")
# Each run builds exactly one date: the warehouse holds one snapshot's models at a time.
one_date_per_run = BackfillPolicy.multi_run(max_partitions_per_run=1)


def snapshot_date(context: AssetExecutionContext) -> dt.date:
    """The date the run describes: its partition key."""
    return dt.date.fromisoformat(context.partition_key)


def snapshot_asset(**asset_arguments) -> Callable:
    """`@asset`, partitioned by snapshot date, one date per run.

    Dagster labels `backfill_policy` on `@asset` beta; it is the documented way to say one date per
    run, and without it the jobs mixing these assets with the dbt assets warn about varying policies.
    """

    def decorate(function: Callable):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BetaWarning)
            return asset(partitions_def=snapshot_partitions, backfill_policy=one_date_per_run, **asset_arguments)(function)

    return decorate
