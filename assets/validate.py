"""Validate: Great Expectations suites guard the raw tables, and rows that break a rule are quarantined.

* `raw_tables_satisfy_their_suites` runs each raw table's suite (expectations/raw_<table>.json)
  as a blocking asset check on `raw/<table>`: a critical failure (missing columns, a row count
  out of bounds or drifting from the previous run) stops everything downstream; row-rule
  failures are warnings, listed with counts and sample values. The results are rendered as
  Data Docs under TERRITORY_HOME/quality.
* the key outputs (`dim_accounts`, `dim_reps`, the plan's `territory_assignments`) meet their
  suites (expectations/output_<table>.json) in blocking checks too: a plan built on a broken
  mart, or a broken plan, is never published.
* `validated_crm_tables` copies each raw table to `validated.<table>` without the rows that
  break a row rule; those go to `quarantine.<table>` with the rule and the run. The run halts
  when a table's quarantined share exceeds its suite's `max_quarantined_share`.
"""


from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset_check,
    multi_asset,
    multi_asset_check,
)

from assets.owners import DATA_ENGINEERING
from assets.resources import RunSettings, Warehouse
from territory.contract import RAW_TABLES
from territory.quality import (
    ValidationReport,
    check_references,
    load_suite,
    row_count_bounds,
    row_count_outcome,
    split_quarantine,
    validate_frame,
)

# Referenced tables first: references are checked against the already validated tables.
VALIDATION_ORDER = ("reps", "accounts", "contacts", "opportunities", "activities", "quotas", "assessments")
CHECK_NAME = "satisfies_expectation_suite"
# Great Expectations on pandas takes about 2 s and 0.5 GB per million rows and rule set: larger
# tables are validated on a reproducible sample of this many rows; their row count and
# references are still judged on every row (in SQL), and the quarantine step applies every row
# rule to every row.
GX_MAX_ROWS = 2_000_000


def _sample_clause(rows: int) -> str:
    """A reproducible uniform sample of GX_MAX_ROWS of `rows` rows: Bernoulli, drawn a little larger, then cut.

    Not a reservoir sample: DuckDB draws a reservoir on one thread and materialises it, 24 s for
    2,000,000 of 18 million activities, where Bernoulli takes 0.5 s. The 10% (plus 1,000 rows)
    drawn above GX_MAX_ROWS keep the draw from falling short (over 50 standard deviations at 2
    million rows); the cut keeps the scan order, which DuckDB preserves, so the same table gives
    the same sample.
    """
    percent = min(100.0, 100.0 * (GX_MAX_ROWS * 1.1 + 1_000) / rows)
    return f" using sample {percent:.6f}% (bernoulli, 7) limit {GX_MAX_ROWS}"


def _raw_key(table: str) -> AssetKey:
    return AssetKey(["raw", table])


def _previous_row_count(context: AssetCheckExecutionContext, table: str) -> int | None:
    """The raw row count of the last run that passed validation, for the drift bounds.

    A blocked run never counts: re-running the same bad extract is blocked again.
    """
    records = context.instance.fetch_materializations(AssetKey(["validated", table]), limit=1).records
    if not records:
        return None
    count = records[0].asset_materialization.metadata.get("raw_rows")
    return None if count is None else int(count.value)


def _failures_table(report: ValidationReport) -> str:
    failing = [o for o in report.outcomes if not o.success]
    if not failing:
        return "every expectation holds"
    rows = [
        {
            "rule": o.rule,
            "severity": o.severity,
            "rows": o.unexpected_count,
            "share": None if o.unexpected_share is None else f"{o.unexpected_share:.2%}",
            "samples or observed": ", ".join(o.samples) if o.samples else o.observed,
        }
        for o in failing
    ]
    return pd.DataFrame(rows).to_markdown(index=False)


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            CHECK_NAME,
            asset=_raw_key(table.name),
            blocking=True,
            description=f"raw {table.name} meets expectations/raw_{table.name}.json",
        )
        for table in RAW_TABLES
    ],
)
def raw_tables_satisfy_their_suites(
    context: AssetCheckExecutionContext, warehouse: Warehouse
) -> Iterator[AssetCheckResult]:
    """Each raw table against its Great Expectations suite; critical failures block the run."""
    docs = warehouse.paths.quality
    for table in VALIDATION_ORDER:
        suite = load_suite(f"raw_{table}")
        previous = _previous_row_count(context, table)
        bounds = row_count_bounds(suite, previous)
        with warehouse.connect(read_only=True) as conn:
            rows = conn.execute(f"select count(*) from raw.{table}").fetchall()[0][0]
            sampled = rows > GX_MAX_ROWS
            frame = conn.sql(f"select * from raw.{table}{_sample_clause(rows) if sampled else ''}").df()
            references = check_references(conn, table, suite)
        in_sql = suite.reference_rules + (suite.row_count_rules if sampled else [])
        report = validate_frame(frame, suite.excluding(in_sql), dict(bounds), data_docs=docs)
        outcomes = report.outcomes + references + ([row_count_outcome(rows, bounds)] if sampled else [])
        report = ValidationReport(report.suite, rows, outcomes, validated_rows=len(frame))
        del frame
        drift = ""
        if previous and any(o.rule == "row count within bounds" for o in report.critical_failures):
            drift = (
                f" - expected {bounds['min_rows']:,} to {bounds['max_rows']:,} rows: the last validated run had "
                f"{previous:,}, and expectations/raw_{table}.json allows a change of {suite.max_row_count_change:.0%}"
            )
        yield _check_result(context, _raw_key(table), report, docs, drift)


def _check_result(
    context: AssetCheckExecutionContext, key: AssetKey, report: ValidationReport, docs, note: str = ""
) -> AssetCheckResult:
    """A suite's verdict as a check result: ERROR (blocking) on a critical failure, WARN on row-rule failures."""
    critical, warnings = report.critical_failures, report.warnings
    summary = "; ".join(f"{o.rule} (observed {o.observed or f'{o.unexpected_count} rows'})" for o in critical) + note
    context.log.info(f"{key.to_user_string()}: {len(critical)} critical failure(s), {len(warnings)} warning(s) {summary}".rstrip())
    return AssetCheckResult(
        asset_key=key,
        check_name=CHECK_NAME,
        passed=not critical and not warnings,
        severity=AssetCheckSeverity.ERROR if critical else AssetCheckSeverity.WARN,
        metadata={
            "rows": report.rows,
            "validated_rows": report.validated_rows,
            "critical_failures": len(critical),
            "critical": summary or "none",
            "warnings": len(warnings),
            "failing_expectations": MetadataValue.md(_failures_table(report)),
            "data_docs": MetadataValue.path(str(docs / "index.html")),
        },
    )


@dataclass(frozen=True)
class Output:
    """A key output and its suite: the table the suite reads, and the warehouse facts its parameters need."""

    key: AssetKey
    suite: str
    query: str
    value_lists: dict[str, str] = field(default_factory=dict)  # suite parameter -> query of its allowed values
    exact_rows_query: str | None = None  # the row count the table must have, when it is known


OUTPUTS = (
    Output(AssetKey("dim_accounts"), "output_dim_accounts", "select * from main.dim_accounts"),
    Output(AssetKey("dim_reps"), "output_dim_reps", "select * from main.dim_reps"),
    Output(
        AssetKey(["solve", "territory_plan"]),
        "output_territory_assignments",
        "select * from solve.territory_assignments",
        value_lists={"active_rep_ids": "select rep_id from main.dim_reps where is_active"},
        exact_rows_query="select count(*) from main.dim_accounts",  # one row per account
    ),
)


def _output_check(output: Output) -> AssetChecksDefinition:
    @asset_check(
        asset=output.key,
        name=CHECK_NAME,
        blocking=True,
        description=f"{output.key.to_user_string()} meets expectations/{output.suite}.json",
    )
    def output_satisfies_its_suite(
        context: AssetCheckExecutionContext, warehouse: Warehouse, run_settings: RunSettings
    ) -> AssetCheckResult:
        suite = load_suite(output.suite)
        parameters = {**row_count_bounds(suite, None), "plan_tiers": list(run_settings.plan().tiers)}
        with warehouse.connect(read_only=True) as conn:
            frame = conn.sql(output.query).df()
            for name, query in output.value_lists.items():
                parameters[name] = [row[0] for row in conn.execute(query).fetchall()]
            if output.exact_rows_query:
                rows = conn.execute(output.exact_rows_query).fetchall()[0][0]
                parameters.update(min_rows=rows, max_rows=rows)
        report = validate_frame(frame, suite, parameters, data_docs=warehouse.paths.quality)
        return _check_result(context, output.key, report, warehouse.paths.quality)

    return output_satisfies_its_suite


output_checks = [_output_check(output) for output in OUTPUTS]


@multi_asset(
    specs=[
        AssetSpec(
            AssetKey(["validated", table.name]),
            deps=[_raw_key(table.name)],
            description=f"CRM {table.name} without the rows that break a row rule of its suite (those are quarantined).",
            group_name="validate",
            owners=DATA_ENGINEERING,
            kinds={"duckdb"},
        )
        for table in RAW_TABLES
    ],
    name="validated_crm_tables",
)
def validated_crm_tables(context: AssetExecutionContext, warehouse: Warehouse) -> Iterator[MaterializeResult]:
    """The raw tables minus their quarantined rows; halts when a table loses more than its suite allows."""
    suites = {table: load_suite(f"raw_{table}") for table in VALIDATION_ORDER}
    with warehouse.connect() as conn:
        reports = {table: split_quarantine(conn, table, suites[table], context.run.run_id) for table in VALIDATION_ORDER}
    too_many = []
    for table in VALIDATION_ORDER:
        report, limit = reports[table], suites[table].max_quarantined_share
        for broken in report.broken:
            context.log.warning(
                f"quarantined {broken.rows:,} row(s) of {table} that break '{broken.rule}' (e.g. {', '.join(broken.samples)})"
            )
        if report.share > limit:
            rules = "; ".join(f"{b.rule}: {b.rows:,} (e.g. {', '.join(b.samples[:3])})" for b in report.broken)
            too_many.append(
                f"{table}: {report.quarantined:,} of {report.rows:,} rows ({report.share:.1%}) break a rule, "
                f"more than the {limit:.1%} allowed - {rules}"
            )
    if too_many:
        raise Failure(
            description="too many bad rows to plan on; they are in the warehouse's quarantine schema:\n" + "\n".join(too_many)
        )
    for table in RAW_TABLES:
        report = reports[table.name]
        yield MaterializeResult(
            asset_key=AssetKey(["validated", table.name]),
            metadata={
                "dagster/row_count": report.rows - report.quarantined,
                "raw_rows": report.rows,
                "quarantined_rows": report.quarantined,
                "quarantined_share": report.share,
                "broken_rules": MetadataValue.md(
                    pd.DataFrame([vars(b) for b in report.broken]).to_markdown(index=False) if report.broken else "none"
                ),
            },
        )
