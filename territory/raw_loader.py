"""Load a folder of canonical raw files into the warehouse's `raw` schema, typed by the contract.

A folder holds one file per raw table, `<table>.parquet` or `<table>.csv`. Every column of the
contract must be present; each is cast to its contract type, and extra columns are kept as
they come. All tables load in one transaction: a failure leaves the previous raw data intact.

Bad input is explained, never dumped as a DuckDB error. The happy path reads each file once (a
schema look-up, then one `CREATE TABLE ... AS SELECT CAST(...)`); only when something fails does
the loader look closer, and then it reports every problem of every file in one `SourceError`,
each naming the file, the column, the rule and how many rows or values break it, e.g.

    /data/export/opportunities.csv: column close_date: 3 values are not a valid DATE, expected YYYY-MM-DD (e.g. 'soon', '2026-13-45')
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from territory.contract import RAW_TABLES, RawTable

SUPPORTED_SUFFIXES = (".parquet", ".csv")

# Tables without which no plan can be built: an empty one is refused (other tables may be empty).
REQUIRED_NONEMPTY = ("accounts", "reps")

# What each contract type expects, in the words of a CRM export.
_TYPE_HINTS = {
    "BIGINT": "expected a whole number",
    "INTEGER": "expected a whole number up to 2,147,483,647",
    "DOUBLE": "expected a number",
    "BOOLEAN": "expected true or false",
    "DATE": "expected YYYY-MM-DD",
    "TIMESTAMP": "expected YYYY-MM-DD HH:MM:SS",
}

# DuckDB's CSV rejects (error_type) in plain words: what the lines have, and a hint at the cause.
_CSV_ERRORS = {
    "TOO MANY COLUMNS": ("more fields than the header's {fields}", "a delimiter inside a value that is not quoted?"),
    "MISSING COLUMNS": ("fewer fields than the header's {fields}", "a line cut short or a missing delimiter?"),
    "INVALID ENCODING": ("text that is not valid UTF-8", "save the file as UTF-8"),
    "UNQUOTED VALUE": ("a quote inside a value that is not quoted as a whole", "quote the whole value and double inner quotes"),
    "LINE SIZE OVER MAXIMUM": ("more characters than DuckDB's maximum line size", "an unclosed quote?"),
}

_CSV_DELIMITERS = (",", ";", "\t", "|")
_SAMPLES = 3
_scan_ids = itertools.count()


class SourceError(Exception):
    """Raw input that cannot be loaded; the message names the file, the column and the problem.

    `problems` holds one line per problem, each starting with the file it is about.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


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


def load_raw_tables(conn: duckdb.DuckDBPyConnection, files: dict[str, Path]) -> list[LoadedTable]:
    """Replace `raw.<table>` for every table in `files`, all or nothing.

    A SourceError lists every problem found in any file; the previous `raw` tables stay as they were.
    """
    tables = [table for table in RAW_TABLES if table.name in files]
    # Cheap checks first (file size, header, columns), so a broken file fails before any big load.
    columns: dict[str, dict[str, str]] = {}
    problems: dict[str, list[str]] = {}
    for table in tables:
        found, present = _inspect(conn, table, files[table.name])
        columns[table.name] = present
        if found:
            problems[table.name] = found
    loaded: list[LoadedTable] = []
    if not problems:
        loaded = _load_all(conn, tables, files, columns, problems)
    if problems:
        # Check the files that are not known to be bad yet, so that one run reports everything.
        for table in tables:
            if table.name not in problems and table.name not in {done.name for done in loaded}:
                found = _value_problems(conn, table, files[table.name], columns[table.name])
                if found:
                    problems[table.name] = found
        lines = [f"{files[t.name]}: {problem}" for t in tables for problem in problems.get(t.name, [])]
        if len(lines) == 1:
            raise SourceError(lines[0], lines)
        raise SourceError(f"{len(lines)} problems in the source files; nothing was loaded:\n  " + "\n  ".join(lines), lines)
    return loaded


def _load_all(conn, tables, files, columns, problems) -> list[LoadedTable]:
    """Create every raw table in one transaction; on the first failure roll back and say why."""
    loaded: list[LoadedTable] = []
    conn.execute("BEGIN TRANSACTION")
    in_transaction = True
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for table in tables:
            path = files[table.name]
            try:
                conn.execute(f"CREATE OR REPLACE TABLE raw.{table.name} AS {_select_typed(table, path, columns[table.name])}")
            except duckdb.Error as error:
                conn.execute("ROLLBACK")
                in_transaction = False
                problems[table.name] = _value_problems(conn, table, path, columns[table.name]) or [
                    f"cannot be loaded into table '{table.name}': {_plain(error, path)}"
                ]
                return loaded
            rows = conn.execute(f"SELECT count(*) FROM raw.{table.name}").fetchone()[0]
            if rows == 0 and table.name in REQUIRED_NONEMPTY:
                conn.execute("ROLLBACK")
                in_transaction = False
                problems[table.name] = [_empty_table(table, path)]
                return loaded
            loaded.append(LoadedTable(table.name, path, rows))
        conn.execute("COMMIT")
        in_transaction = False
    finally:
        if in_transaction:
            conn.execute("ROLLBACK")
    return loaded


def _reader(path: Path, **options: str) -> str:
    quoted = str(path).replace("'", "''")
    if path.suffix == ".csv":
        extra = "".join(f", {key} = {value}" for key, value in options.items())
        return f"read_csv('{quoted}', header = true, all_varchar = true{extra})"
    return f"read_parquet('{quoted}')"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_typed(table: RawTable, path: Path, present: dict[str, str]) -> str:
    typed = [f"CAST({_quote(column)} AS {sql_type}) AS {_quote(column)}" for column, sql_type in table.columns.items()]
    extra = [_quote(column) for column in present if column not in table.columns]
    return f"SELECT {', '.join(typed + extra)} FROM {_reader(path)}"


def _inspect(conn, table: RawTable, path: Path) -> tuple[list[str], dict[str, str]]:
    """Problems visible without reading the data (empty file, unreadable, missing columns), and the file's columns."""
    kind = path.suffix[1:].upper()
    if path.stat().st_size == 0:
        return [f"the file is empty (0 bytes); a {kind} file of table '{table.name}' needs at least {_minimum(path)}"], {}
    try:
        present = dict(row[:2] for row in conn.execute(f"DESCRIBE SELECT * FROM {_reader(path)}").fetchall())
    except duckdb.Error as error:
        return _unreadable(conn, table, path, error), {}
    missing = [column for column in table.columns if column not in present]
    if not missing:
        return [], present
    if path.suffix == ".csv":
        # An extra delimiter or a bad byte can make DuckDB's dialect detection misread the header.
        structural = _csv_problems(conn, table, path)
        if structural:
            return structural, {}
    found = f"; its columns are {', '.join(list(present)[:20])}" if len(missing) > len(table.columns) // 2 else ""
    return [f"missing required column(s) {', '.join(missing)} of table '{table.name}' ({len(missing)} of {len(table.columns)}){found}"], present


def _minimum(path: Path) -> str:
    return "its header line" if path.suffix == ".csv" else "a Parquet footer with the schema"


def _empty_table(table: RawTable, path: Path) -> str:
    what = "only a header line, " if path.suffix == ".csv" else ""
    return f"table '{table.name}' has {what}0 rows; it needs at least one row to build a plan"


def _value_problems(conn, table: RawTable, path: Path, present: dict[str, str]) -> list[str]:
    """Count, per contract column, the values that do not cast to the contract type (one pass over the file)."""
    checked = [(column, sql_type) for column, sql_type in table.columns.items() if present.get(column) != sql_type]
    aggregates = ["count(*)"]
    for column, sql_type in checked:
        bad = f"{_quote(column)} IS NOT NULL AND TRY_CAST({_quote(column)} AS {sql_type}) IS NULL"
        aggregates += [
            f"count(*) FILTER (WHERE {bad})",
            f"approx_top_k(CAST({_quote(column)} AS VARCHAR), {_SAMPLES}) FILTER (WHERE {bad})",
        ]
    try:
        result = conn.execute(f"SELECT {', '.join(aggregates)} FROM {_reader(path)}").fetchone()
    except duckdb.Error as error:
        return _unreadable(conn, table, path, error)
    problems = []
    for index, (column, sql_type) in enumerate(checked):
        count, samples = result[1 + 2 * index], result[2 + 2 * index]
        if count:
            values = "values are" if count > 1 else "value is"
            examples = ", ".join(_short(sample) for sample in (samples or []))
            hint = f", {_TYPE_HINTS[sql_type]}" if sql_type in _TYPE_HINTS else ""
            stored = f"; the file stores it as {present[column]}" if path.suffix != ".csv" else ""
            problems.append(f"column {column}: {count} {values} not a valid {sql_type}{hint} (e.g. {examples}){stored}")
    if not problems and result[0] == 0 and table.name in REQUIRED_NONEMPTY:
        problems.append(_empty_table(table, path))
    return problems


def _short(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


def _unreadable(conn, table: RawTable, path: Path, error: duckdb.Error) -> list[str]:
    """A file DuckDB cannot read: for CSV, find the lines at fault; otherwise say so in one line."""
    if path.suffix == ".csv":
        return _csv_problems(conn, table, path) or [f"cannot be read as CSV: {_plain(error, path)}"]
    return [f"not a readable Parquet file, truncated or corrupt ({_plain(error, path)})"]


def _csv_problems(conn, table: RawTable, path: Path) -> list[str]:
    """Lines of a CSV file that do not parse, grouped by problem, using DuckDB's rejects table."""
    delimiter = _header_delimiter(table, path)
    if delimiter is None:
        return []
    scan = next(_scan_ids)
    rejects, scans = f"territory_rejects_{scan}", f"territory_reject_scans_{scan}"
    reader = _reader(
        path,
        delim=_sql_string(delimiter),
        quote="'\"'",
        escape="'\"'",
        ignore_errors="true",
        store_rejects="true",
        rejects_table=_sql_string(rejects),
        rejects_scan=_sql_string(scans),
    )
    try:
        fields = len(conn.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall())
        conn.execute(f"SELECT max(COLUMNS(*)) FROM {reader}").fetchall()  # every column, so every field is parsed
        grouped = conn.execute(
            f"SELECT error_type, count(DISTINCT line), list(DISTINCT line ORDER BY line)[:{_SAMPLES}], "
            f"list(DISTINCT column_name ORDER BY column_name) FILTER (WHERE column_name IS NOT NULL), "
            f"min(error_message) FROM {rejects} GROUP BY error_type ORDER BY min(line)"
        ).fetchall()
    except duckdb.Error:
        return []
    finally:
        for name in (rejects, scans):
            try:
                conn.execute(f"DROP TABLE IF EXISTS {name}")
            except duckdb.Error:
                pass
    problems = []
    for error_type, count, lines, columns, message in grouped:
        what, hint = _CSV_ERRORS.get(error_type, (f"a problem DuckDB calls {error_type.lower()}", _first_line(message)))
        column = f"column {', '.join(columns)}: " if columns else ""
        plural = "lines have" if count > 1 else "line has"
        where = ("lines " if len(lines) > 1 else "line ") + ", ".join(str(line) for line in lines)
        problems.append(f"{column}{count} {plural} {what.format(fields=fields)} (e.g. {where}); {hint}")
    return problems


def _header_delimiter(table: RawTable, path: Path) -> str | None:
    """The delimiter that splits the header line into the most contract columns (None: no header found)."""
    with path.open("rb") as file:
        header = file.readline(1 << 16).decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    best, best_hits = None, 0
    for delimiter in _CSV_DELIMITERS:
        names = {name.strip().strip('"').strip() for name in header.split(delimiter)}
        hits = len(names & set(table.columns))
        if hits > best_hits:
            best, best_hits = delimiter, hits
    return best


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _first_line(text: str) -> str:
    return next((line.strip() for line in str(text).splitlines() if line.strip()), "")


def _plain(error: duckdb.Error, path: Path) -> str:
    """DuckDB's message in one short line: no error class prefix, no repeated path, the CSV line if given."""
    text = str(error)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    detail = _first_line(text)
    if line:  # the problem sentence follows the "Original Line" echo
        rest = [part.strip() for part in text.splitlines()[1:] if part.strip() and not part.startswith("Original Line")]
        detail = f"line {line.group(1)}: {rest[0] if rest else detail}"
    detail = re.sub(r"^[A-Za-z ]*Error: ", "", detail).replace(f"'{path}'", path.name).replace(str(path), path.name)
    return detail if len(detail) <= 200 else detail[:197] + "..."
