"""A terse progress logger for people at a terminal: one line per step, asset and failed check."""

from __future__ import annotations

import logging
import re
import sys

from dagster import InitLoggerContext, logger

_LOG_RECORD_METADATA = "dagster_meta"
# dbt commands carry the whole plan as --vars JSON: a screenful that says nothing at a terminal.
_DBT_VARS = re.compile(r"--vars \{.*\}(?=`| --|$)", re.MULTILINE)


def without_dbt_vars(text: str) -> str:
    """`text` with each dbt command's --vars JSON shortened to `--vars {...}`."""
    return _DBT_VARS.sub("--vars {...}", text)


def check_name(check) -> str:
    """An asset check evaluation's name, e.g. `raw/accounts satisfies_expectation_suite`."""
    return f"{check.asset_key.to_user_string()} {check.check_name}"


class _ProgressHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        line = _describe(record)
        if line:
            print(line, file=sys.stderr, flush=True)


def _describe(record: logging.LogRecord) -> str | None:
    meta = getattr(record, _LOG_RECORD_METADATA, None) or {}
    event = meta.get("dagster_event")
    if event is None:  # a message an asset logged
        message = without_dbt_vars(str(meta.get("orig_message", record.getMessage())))
        return f"    {message}" if record.levelno >= logging.INFO else None
    kind, data = event.event_type_value, event.event_specific_data
    if kind == "STEP_START":
        return f"> {event.step_key}"
    if kind == "STEP_SUCCESS":
        return f"  done {event.step_key} in {data.duration_ms / 1000:.1f} s"
    if kind == "STEP_FAILURE":
        return f"  FAILED {event.step_key}"
    if kind == "ASSET_MATERIALIZATION":
        materialization = data.materialization
        rows = materialization.metadata.get("dagster/row_count")
        suffix = f" ({rows.value:,} rows)" if rows is not None else ""
        return f"    built {materialization.asset_key.to_user_string()}{suffix}"
    if kind == "ASSET_CHECK_EVALUATION" and not data.passed:
        return f"    check failed: {check_name(data)}"
    return None


@logger(description="One line per step, materialized asset and failed check, on stderr.")
def progress_logger(init_context: InitLoggerContext) -> logging.Logger:
    progress = logging.getLogger("territory.progress")
    progress.setLevel(logging.DEBUG)  # Dagster logs its events at DEBUG; _describe picks the few that matter
    progress.propagate = False
    if not progress.handlers:
        progress.addHandler(_ProgressHandler())
    return progress
