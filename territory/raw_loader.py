"""Load a folder of canonical raw files into the warehouse's `raw` schema, typed by the contract.

A folder holds one file per raw table, `<table>.parquet` or `<table>.csv`. Every column of the
contract must be present; each is cast to its contract type, and extra columns are kept as
they come. All tables load in one transaction: a failure leaves the previous raw data intact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from territory.contract import RAW_TABLES, RawTable

SUPPORTED_SUFFIXES = (".parquet", ".csv")


class SourceError(Exception):
    """Raw input that cannot be loaded; the message names the file, the column and the problem."""


@dataclass(frozen=True)
class LoadedTable:
    name: str
    path: Path
    rows: int


def find_source_files(folder: Path) -> dict[str, Path]:
    """The file for each raw table in `folder`; a SourceError lists any table without one."""
    if not folder.is_dir():
        raise SourceError(f"source folder {folder} does not exist or is not a folder")
    found: dict[str, Path] = {}
    missing: list[str] = []
    for table in RAW_TABLES:
        candidates = [folder / f"{table.name}{suffix}" for suffix in SUPPORTED_SUFFIXES]
        present = [path for path in candidates if path.is_file()]
        if len(present) > 1:
            raise SourceError(f"{folder} holds both {present[0].name} and {present[1].name}; keep one per table")
        if present:
            found[table.name] = present[0]
        else:
            missing.append(table.name)
    if missing:
        raise SourceError(
            f"{folder} has no file for table(s) {', '.join(missing)}: "
            f"expected <table>.parquet or <table>.csv for each of {', '.join(t.name for t in RAW_TABLES)}"
        )
    return found


def _reader(path: Path) -> str:
    quoted = str(path).replace("'", "''")
    if path.suffix == ".csv":
        return f"read_csv('{quoted}', header = true, all_varchar = true)"
    return f"read_parquet('{quoted}')"


def _select_typed(conn: duckdb.DuckDBPyConnection, table: RawTable, path: Path) -> str:
    try:
        present = [row[0] for row in conn.execute(f"DESCRIBE SELECT * FROM {_reader(path)}").fetchall()]
    except duckdb.Error as error:
        raise SourceError(f"{path}: cannot be read as {path.suffix[1:]}: {error}") from error
    missing = [column for column in table.columns if column not in present]
    if missing:
        raise SourceError(f"{path}: missing required column(s) {', '.join(missing)} of table '{table.name}'")
    typed = [f'CAST("{column}" AS {sql_type}) AS "{column}"' for column, sql_type in table.columns.items()]
    extra = [f'"{column}"' for column in present if column not in table.columns]
    return f"SELECT {', '.join(typed + extra)} FROM {_reader(path)}"


def load_raw_tables(conn: duckdb.DuckDBPyConnection, files: dict[str, Path]) -> list[LoadedTable]:
    """Replace `raw.<table>` for every table in `files`, all or nothing."""
    loaded = []
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for table in RAW_TABLES:
            if table.name not in files:
                continue
            path = files[table.name]
            query = _select_typed(conn, table, path)
            try:
                conn.execute(f"CREATE OR REPLACE TABLE raw.{table.name} AS {query}")
            except duckdb.Error as error:
                raise SourceError(f"{path}: a value does not fit the contract of table '{table.name}': {error}") from error
            rows = conn.execute(f"SELECT count(*) FROM raw.{table.name}").fetchone()[0]
            loaded.append(LoadedTable(table.name, path, rows))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return loaded
