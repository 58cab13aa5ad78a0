"""Data-quality gates: Great Expectations suites, and quarantine of the rows that break them.

A suite is a Great Expectations 1.x suite stored as JSON in `expectations/<name>.json`. Its
`meta` carries the gate's thresholds (`min_rows`, `max_row_count_change`,
`max_quarantined_share`). Two kinds of rule:

* **table rules** (columns present, row count within bounds and within `max_row_count_change`
  of the previous run) are `critical`: a failure stops the run before anything is planned;
* **row rules** (keys present and unique, values in range or in their set, references to an
  existing account or rep) are `warning`: rows that break them are moved to a quarantine
  table with the rule they broke, and the run goes on with the clean rows as long as the
  quarantined share stays under `max_quarantined_share`.

`split_quarantine` compiles the row rules to DuckDB SQL (fast on tens of millions of rows);
`validate_frame` runs the suite with Great Expectations on a DataFrame and reports each
failing expectation with counts and sample values; references to another table are evaluated
by `check_references` in DuckDB instead, since Great Expectations takes minutes to handle a
value set of a million ids. A suite parameter `{"$PARAMETER":
"<table>__<column>"}` stands for the values of that column of that table (a reference);
`min_rows` and `max_rows` are the row-count bounds. Great Expectations is imported only when
a suite is validated: it costs seconds per process.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

EXPECTATIONS_DIR = Path(__file__).resolve().parents[1] / "expectations"
SAMPLE_VALUES = 5


@dataclass(frozen=True)
class Suite:
    """One stored suite: its name, its expectations as stored, and the gate's thresholds."""

    name: str
    expectations: list[dict[str, Any]]
    min_rows: int
    max_row_count_change: float
    max_quarantined_share: float

    @property
    def row_rules(self) -> list[dict[str, Any]]:
        return [e for e in self.expectations if e.get("severity") == "warning"]

    @property
    def reference_rules(self) -> list[dict[str, Any]]:
        """Rules whose allowed values are another table's column (checked in SQL: see `check_references`)."""
        return [e for e in self.expectations if _reference(e) is not None]

    @property
    def row_count_rules(self) -> list[dict[str, Any]]:
        return [e for e in self.expectations if e["type"] == "expect_table_row_count_to_be_between"]

    def excluding(self, rules: list[dict[str, Any]]) -> Suite:
        """The suite without `rules` (evaluated elsewhere: references in SQL, a sampled table's row count)."""
        return Suite(
            self.name,
            [e for e in self.expectations if e not in rules],
            self.min_rows,
            self.max_row_count_change,
            self.max_quarantined_share,
        )


def _reference(expectation: dict[str, Any]) -> tuple[str, str] | None:
    """(table, column) when the rule's allowed values are `{"$PARAMETER": "<table>__<column>"}`."""
    value_set = expectation["kwargs"].get("value_set")
    if isinstance(value_set, dict) and "__" in value_set.get("$PARAMETER", ""):
        table, column = value_set["$PARAMETER"].split("__", 1)
        return table, column
    return None


def load_suite(name: str, folder: Path = EXPECTATIONS_DIR) -> Suite:
    """The suite `expectations/<name>.json`."""
    path = folder / f"{name}.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    meta = document.get("meta", {})
    return Suite(
        name=document["name"],
        expectations=document["expectations"],
        min_rows=int(meta.get("min_rows", 0)),
        max_row_count_change=float(meta.get("max_row_count_change", 1.0)),
        max_quarantined_share=float(meta.get("max_quarantined_share", 0.0)),
    )


def describe_rule(expectation: dict[str, Any]) -> str:
    """A short, readable name of a rule, e.g. `latitude between -90 and 90`."""
    kind, kwargs = expectation["type"], expectation["kwargs"]
    column = kwargs.get("column", "")
    if kind == "expect_column_values_to_not_be_null":
        return f"{column} is not null"
    if kind == "expect_column_values_to_be_unique":
        return f"{column} is unique"
    if kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        low_op = ">" if kwargs.get("strict_min") else ">="
        high_op = "<" if kwargs.get("strict_max") else "<="
        parts = [f"{low_op} {low:g}" if low is not None else "", f"{high_op} {high:g}" if high is not None else ""]
        return f"{column} {' and '.join(p for p in parts if p)}"
    if kind == "expect_column_values_to_be_in_set":
        value_set, reference = kwargs["value_set"], _reference(expectation)
        if reference is not None:
            return f"{column} refers to an existing {reference[0]}.{reference[1]}"
        if isinstance(value_set, dict):
            return f"{column} in {value_set['$PARAMETER']}"
        return f"{column} in ({', '.join(map(str, value_set))})"
    if kind == "expect_table_row_count_to_be_between":
        return "row count within bounds"
    if kind == "expect_table_columns_to_match_set":
        return "contract columns present"
    return kind.removeprefix("expect_").replace("_", " ") + (f" ({column})" if column else "")


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _broken_when(expectation: dict[str, Any], schema: str, relation: str | None = None) -> str:
    """SQL true for the rows of `relation` that break a row rule (nulls pass every rule but not-null, as in GX).

    References point at `schema`'s tables. A unique rule looks up the values that occur more than
    once in `relation` (a grouped count: on 20 million rows it is about twice as fast as a window
    count over every row, and the same rows).
    """
    kind, kwargs = expectation["type"], expectation["kwargs"]
    column = f'"{kwargs["column"]}"'
    if kind == "expect_column_values_to_not_be_null":
        return f"{column} is null"
    if kind == "expect_column_values_to_be_unique":
        if relation is None:
            return f"{column} is not null and count(*) over (partition by {column}) > 1"
        repeated = f"select {column} from {relation} where {column} is not null group by {column} having count(*) > 1"
        return f"{column} is not null and {column} in ({repeated})"
    if kind == "expect_column_values_to_be_between":
        conditions = []
        if kwargs.get("min_value") is not None:
            conditions.append(f"{column} {'<=' if kwargs.get('strict_min') else '<'} {_literal(kwargs['min_value'])}")
        if kwargs.get("max_value") is not None:
            conditions.append(f"{column} {'>=' if kwargs.get('strict_max') else '>'} {_literal(kwargs['max_value'])}")
        return f"{column} is not null and ({' or '.join(conditions)})"
    if kind == "expect_column_values_to_be_in_set":
        reference = _reference(expectation)
        if reference is not None:
            allowed = f'select "{reference[1]}" from {schema}.{reference[0]}'
        else:
            allowed = ", ".join(_literal(v) for v in kwargs["value_set"])
        return f"{column} is not null and {column} not in ({allowed})"
    raise ValueError(f"{kind} cannot be a row rule: quarantine supports not_null, unique, between and in_set")


@dataclass(frozen=True)
class BrokenRule:
    """How many rows broke one row rule, with a few of their values."""

    rule: str
    rows: int
    samples: list[str]


@dataclass(frozen=True)
class QuarantineReport:
    """What one table's split set aside."""

    table: str
    rows: int
    quarantined: int
    broken: list[BrokenRule]

    @property
    def share(self) -> float:
        return self.quarantined / self.rows if self.rows else 0.0


def split_quarantine(
    conn: duckdb.DuckDBPyConnection, table: str, suite: Suite, run_id: str, source: str = "raw", target: str = "validated"
) -> QuarantineReport:
    """Copy `source.table` to `target.table` without the rows that break a row rule of `suite`.

    Those rows go to `quarantine.table` with every column, the first rule each broke
    (`quarantine_rule`), every rule it broke (`quarantine_rules`) and the run; earlier runs'
    rows stay. References are checked against `target`, so tables that others refer to must
    be split first.

    One pass finds the broken rows (their row ids and a flag per rule: usually none, at most the
    allowed share); the copy then keeps the other rows in their order, and the counts and samples
    come from the broken rows alone. No copy of the whole table with its flags is made.
    """
    rules = suite.row_rules
    names = [describe_rule(rule) for rule in rules]
    conn.execute("create schema if not exists quarantine")
    conn.execute(f"create schema if not exists {target}")
    relation = f"{source}.{table}"
    flags = [f"coalesce({_broken_when(rule, target, relation)}, false) as broke_{i}" for i, rule in enumerate(rules)]
    any_broken = " or ".join(f"broke_{i}" for i in range(len(rules))) or "false"
    flag_list = ", ".join(flags) or "false as unchecked"
    conn.execute(
        f"create or replace temp table broken as select * from "
        f"(select rowid as quarantine_row, {flag_list} from {relation}) where {any_broken}"
    )
    conn.execute(
        f"create or replace table {target}.{table} as select * from {relation} "
        f"where rowid not in (select quarantine_row from broken)"
    )
    rule_list = "list_filter([" + ", ".join(f"case when broke_{i} then {_literal(n)} end" for i, n in enumerate(names)) + "], lambda r: r is not null)"
    bad = (
        f"select source.*, {rule_list}[1] as quarantine_rule, "
        f"array_to_string({rule_list}, '; ') as quarantine_rules, {_literal(run_id)} as run_id, "
        f"current_timestamp as quarantined_at "
        f"from {relation} as source join broken on source.rowid = broken.quarantine_row"
    )
    conn.execute(f"create table if not exists quarantine.{table} as {bad} limit 0")
    conn.execute(f"insert into quarantine.{table} by name {bad} order by broken.quarantine_row")
    rows = conn.execute(f"select count(*) from {relation}").fetchall()[0][0]
    broken = []
    for i, (rule, name) in enumerate(zip(rules, names)):
        column = f'"{rule["kwargs"]["column"]}"'
        count, samples = conn.execute(
            f"select count(*), list(distinct coalesce(source.{column}::varchar, 'null'))[1:{SAMPLE_VALUES}] "
            f"from {relation} as source join broken on source.rowid = broken.quarantine_row where broke_{i}"
        ).fetchall()[0]
        if count:
            broken.append(BrokenRule(name, count, [str(s) for s in samples or []]))
    quarantined = conn.execute("select count(*) from broken").fetchall()[0][0]
    conn.execute("drop table broken")
    return QuarantineReport(table, rows, quarantined, broken)


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result: what it checks, whether it held, and what broke it."""

    rule: str
    severity: str
    success: bool
    unexpected_count: int | None = None
    unexpected_share: float | None = None
    samples: list[str] = field(default_factory=list)
    observed: str | None = None


@dataclass(frozen=True)
class ValidationReport:
    """A suite's verdict on one table."""

    suite: str
    rows: int
    outcomes: list[ExpectationOutcome]
    validated_rows: int | None = None  # rows Great Expectations saw: fewer than `rows` when it saw a sample


    @property
    def critical_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]


def check_references(conn: duckdb.DuckDBPyConnection, table: str, suite: Suite, schema: str = "raw") -> list[ExpectationOutcome]:
    """The suite's reference rules evaluated in DuckDB on `schema.table`, against the same schema's tables."""
    outcomes = []
    for rule in suite.reference_rules:
        column = f'"{rule["kwargs"]["column"]}"'
        count, total, samples = conn.execute(
            f"select count(*) filter (where {_broken_when(rule, schema)}), count(*), "
            f"list(distinct {column}::varchar) filter (where {_broken_when(rule, schema)})[1:{SAMPLE_VALUES}] "
            f"from {schema}.{table}"
        ).fetchall()[0]
        outcomes.append(
            ExpectationOutcome(
                rule=describe_rule(rule),
                severity=rule.get("severity", "critical"),
                success=count == 0,
                unexpected_count=count,
                unexpected_share=count / total if total else 0.0,
                samples=[str(v) for v in samples or []],
            )
        )
    return outcomes


def row_count_outcome(rows: int, bounds: dict[str, int | None]) -> ExpectationOutcome:
    """The row-count rule judged on a table's true count (when Great Expectations saw only a sample)."""
    low, high = bounds["min_rows"] or 0, bounds["max_rows"]
    return ExpectationOutcome(
        rule="row count within bounds",
        severity="critical",
        success=rows >= low and (high is None or rows <= high),
        observed=str(rows),
    )


def row_count_bounds(suite: Suite, previous_rows: int | None) -> dict[str, int | None]:
    """`min_rows`/`max_rows` parameters: at least the suite's minimum, and near the previous run's count."""
    if previous_rows is None or previous_rows == 0:
        return {"min_rows": suite.min_rows, "max_rows": None}
    change = suite.max_row_count_change
    return {
        "min_rows": max(suite.min_rows, int(previous_rows * (1 - change))),
        "max_rows": int(previous_rows * (1 + change)) + 1,
    }


def validate_frame(
    frame: pd.DataFrame, suite: Suite, parameters: dict[str, Any], data_docs: Path | None = None
) -> ValidationReport:
    """Validate `frame` with `suite` in an ephemeral Great Expectations context.

    `parameters` supplies each suite parameter (row-count bounds, reference values). With
    `data_docs`, the result is also rendered as Data Docs into that folder.
    """
    with warnings.catch_warnings():
        # GX imports pyspark when it is installed (dbt's Spark target brings it), and pyspark warns that it is
        # untested with pandas 3: Spark plays no part in these checks
        warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)
        import great_expectations as gx
        from great_expectations.core.expectation_suite import ExpectationSuite

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    if data_docs is not None:
        context.add_data_docs_site(
            site_name="territory",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    # each expectation carries its readable rule name in meta, which the result hands back
    named = [{**e, "meta": {**e.get("meta", {}), "rule": describe_rule(e)}} for e in suite.expectations]
    gx_suite = context.suites.add(ExpectationSuite(name=suite.name, expectations=named))
    batch_definition = (
        context.data_sources.add_pandas("warehouse").add_dataframe_asset(suite.name).add_batch_definition_whole_dataframe("all")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch_definition, suite=gx_suite)
    )
    actions = [gx.checkpoint.UpdateDataDocsAction(name="data_docs")] if data_docs is not None else []
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=suite.name,
            validation_definitions=[definition],
            actions=actions,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_VALUES},
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters)
    validation = next(iter(result.run_results.values()))
    outcomes = []
    for item in validation.results:
        config = item.expectation_config
        details = item.result or {}
        outcomes.append(
            ExpectationOutcome(
                rule=config.meta["rule"],
                severity=str(getattr(config.severity, "value", config.severity or "critical")),
                success=bool(item.success),
                unexpected_count=details.get("unexpected_count"),
                unexpected_share=(details.get("unexpected_percent") or 0.0) / 100 if "unexpected_percent" in details else None,
                samples=[str(v) for v in details.get("partial_unexpected_list") or []][:SAMPLE_VALUES],
                observed=None if details.get("observed_value") is None else str(details.get("observed_value"))[:200],
            )
        )
    return ValidationReport(suite.name, len(frame), outcomes, len(frame))
