"""DuckDB connections as the pipeline wants them: quiet, and closed promptly by their owner."""

from pathlib import Path

import duckdb


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the DuckDB file at `path` with no progress bar on the terminal."""
    conn = duckdb.connect(str(path), read_only=read_only)
    conn.execute("set enable_progress_bar = false")
    return conn
