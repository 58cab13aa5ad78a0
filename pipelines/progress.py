"""Progress for people at a terminal: a line per step, asset and failed check, under progress bars.

At a terminal, `progress_bars()` shows a bar of the run's steps (and of a backfill's dates) with
the step running now, its elapsed time and what is left, while the lines scroll above it. Piped
to a file or a CI log, the bars are off and only the lines are written.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, redirect_stdout

from dagster import InitLoggerContext, logger
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_LOG_RECORD_METADATA = "dagster_meta"
# dbt commands carry the whole plan as --vars JSON: a screenful that says nothing at a terminal.
_DBT_VARS = re.compile(r"--vars \{.*\}(?=`| --|$)", re.MULTILINE)
# How Dagster's executor says it will not run a step whose inputs are missing.
_SKIPPED_STEP = re.compile(r"Dependencies for step (?P<step>\S+) (?:failed|were not executed)")


def without_dbt_vars(text: str) -> str:
    """`text` with each dbt command's --vars JSON shortened to `--vars {...}`."""
    return _DBT_VARS.sub("--vars {...}", text)


def check_name(check) -> str:
    """An asset check evaluation's name, e.g. `raw/accounts satisfies_expectation_suite`."""
    return f"{check.asset_key.to_user_string()} {check.check_name}"


class ProgressBars:
    """The bars of one command, a run's steps and a backfill's dates; plain lines when `progress` is None."""

    def __init__(self, progress: Progress | None):
        self._progress = progress
        self._steps: TaskID | None = None
        self._label = ""
        self._dates: TaskID | None = None

    def say(self, line: str) -> None:
        """Print `line` on stderr (above the bars while they are shown)."""
        if self._progress is None:
            print(line, file=sys.stderr, flush=True)
        else:
            self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def start_dates(self, total: int) -> None:
        """Show a bar of the `total` dates a backfill builds."""
        if self._progress is not None:
            self._dates = self._progress.add_task("dates", total=total)

    def finish_date(self) -> None:
        if self._dates is not None:
            self._progress.advance(self._dates)

    def start_run(self, label: str, steps: int) -> None:
        """Show a bar of the `steps` steps of a run named `label`, in place of the previous run's."""
        if self._progress is None:
            return
        if self._steps is not None:
            self._progress.remove_task(self._steps)
        self._label = label
        self._steps = self._progress.add_task(label, total=steps)

    def step_started(self, step_key: str) -> None:
        if self._steps is not None:
            self._progress.update(self._steps, description=f"{self._label}: {step_key}")

    def step_ended(self) -> None:
        if self._steps is not None:
            self._progress.advance(self._steps)


_bars: ProgressBars | None = None


@contextmanager
def progress_bars(console: Console | None = None) -> Iterator[ProgressBars]:
    """Progress on stderr while the block runs: bars and lines at a terminal, lines otherwise.

    The progress logger's lines go through the same bars. What the block prints on stdout (dbt's
    own log, hundreds of lines a run, kept in TERRITORY_HOME/dbt/runs too) goes to stderr in
    line mode and is hidden under the bars, so that stdout carries only a command's answer.
    """
    global _bars
    # Pinned to the terminal as it is now: while a step runs, Dagster captures its output through a
    # pipe, and a console that looked again would stop drawing the bars.
    console = console or Console(file=sys.stderr, force_terminal=sys.stderr.isatty())
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with ExitStack() as stack:
        progress = None
        if console.is_terminal:
            stack.enter_context(redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
            progress = stack.enter_context(
                Progress(*columns, console=console, redirect_stdout=False, redirect_stderr=False))
        else:
            stack.enter_context(redirect_stdout(sys.stderr))
        _bars = ProgressBars(progress)
        try:
            yield _bars
        finally:
            _bars = None


class _ProgressHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        bars = _bars or ProgressBars(None)
        _follow_steps(record, bars)
        line = _describe(record)
        if line:
            bars.say(line)


def _follow_steps(record: logging.LogRecord, bars: ProgressBars) -> None:
    meta = getattr(record, _LOG_RECORD_METADATA, None) or {}
    event = meta.get("dagster_event")
    if event is None:
        if _SKIPPED_STEP.match(str(meta.get("orig_message", ""))):
            bars.step_ended()
    elif event.event_type_value == "STEP_START":
        bars.step_started(event.step_key)
    elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
        bars.step_ended()


def _describe(record: logging.LogRecord) -> str | None:
    meta = getattr(record, _LOG_RECORD_METADATA, None) or {}
    event = meta.get("dagster_event")
    if event is None:  # a message an asset (or Dagster's executor) logged
        message = without_dbt_vars(str(meta.get("orig_message", record.getMessage())))
        skipped = _SKIPPED_STEP.match(message)
        if skipped:  # Dagster lists every input of the step, one screen line each: the name is enough
            return f"  skipped {skipped['step']}: a step it needs failed"
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
