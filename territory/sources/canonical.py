"""What every CRM source produces: the canonical raw tables, a report of what did not map, and a folder.

A source (Salesforce, HubSpot, a SQL replica) reads the CRM's own objects, maps them field by field
to the tables of `territory.contract`, and lands them with `land_canonical` as one folder that
ingest loads. Values a source cannot map are kept on their record (with the documented fallback)
and listed in the folder's `_unmapped.csv`, so that nothing is dropped silently.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from territory.contract import RAW_TABLE_NAMES

UNMAPPED_FILE = "_unmapped.csv"
# One row per (object, field, value) that had no canonical equivalent.
UNMAPPED_COLUMNS = ("source_object", "source_field", "value", "records", "treatment")


@dataclass(frozen=True)
class CanonicalExtract:
    """The canonical raw tables of one pull, and the values that did not map.

    `tables` holds a DataFrame per raw table name of the contract, with at least its columns.
    `unmapped` has the columns UNMAPPED_COLUMNS; `treatment` says what the record got instead,
    e.g. "stage kept as 'qualification' (open)" or "activity_type left empty".
    """

    tables: dict[str, pd.DataFrame]
    unmapped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(UNMAPPED_COLUMNS)))

    def __post_init__(self) -> None:
        missing = [name for name in RAW_TABLE_NAMES if name not in self.tables]
        if missing:
            raise ValueError(f"a canonical extract needs every raw table; missing: {', '.join(missing)}")
        if list(self.unmapped.columns) != list(UNMAPPED_COLUMNS):
            raise ValueError(f"unmapped must have the columns {', '.join(UNMAPPED_COLUMNS)}")


def land_canonical(extract: CanonicalExtract, folder: Path) -> Path:
    """Write `extract` as `folder/<table>.parquet` plus `folder/_unmapped.csv`, replacing `folder` whole."""

    def write(staging: Path) -> None:
        for name in RAW_TABLE_NAMES:
            extract.tables[name].to_parquet(staging / f"{name}.parquet", index=False)
        extract.unmapped.to_csv(staging / UNMAPPED_FILE, index=False)

    return replace_folder(folder, write)


def replace_folder(folder: Path, write: Callable[[Path], None]) -> Path:
    """Replace `folder` by what `write` puts in an empty folder, or leave it as it was if `write` fails.

    `write` fills a sibling staging folder, which is then swapped in by renames: a reader sees the
    old folder or the new one, never a half-written one.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}")
    staging.mkdir()
    retired = folder.with_name(f".{folder.name}.retired-{uuid.uuid4().hex}")
    try:
        write(staging)
        if folder.exists():
            os.replace(folder, retired)
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    return folder


def read_unmapped(folder: Path) -> pd.DataFrame:
    """The `_unmapped.csv` report of a landed folder; empty when the source wrote none."""
    path = Path(folder) / UNMAPPED_FILE
    if not path.exists():
        return pd.DataFrame(columns=list(UNMAPPED_COLUMNS))
    return pd.read_csv(path, dtype={"value": str})
