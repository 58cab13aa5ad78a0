"""Progress at a terminal (bars with lines above them) and in a log (lines only)."""

from __future__ import annotations

import io

from rich.console import Console

from pipelines.progress import progress_bars


def test_at_a_terminal_the_bar_counts_the_steps_and_the_lines_scroll_above_it():
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    with progress_bars(console) as bars:
        bars.start_run("build 2026-11-27", steps=2)
        bars.step_started("territory_dbt_models")
        bars.say("    built dim_accounts (40 rows)")
        print("dbt's own log line")  # hidden under the bars; dbt keeps its log
        bars.step_ended()
        bars.step_started("solve__territory_plan")
        bars.step_ended()
    output = screen.getvalue()
    assert "built dim_accounts (40 rows)" in output
    assert "build 2026-11-27: solve__territory_plan" in output
    assert "2/2" in output
    assert "dbt's own log line" not in output


def test_in_a_log_there_are_only_lines_and_stdout_goes_to_stderr(capsys):
    console = Console(file=io.StringIO(), force_terminal=False)
    with progress_bars(console) as bars:
        bars.start_run("build 2026-11-27", steps=1)
        bars.start_dates(3)
        bars.step_started("territory_dbt_models")
        bars.say("> territory_dbt_models")
        print("dbt's own log line")
        bars.step_ended()
        bars.finish_date()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "> territory_dbt_models\ndbt's own log line\n"


def test_a_step_skipped_after_a_failure_is_one_short_line(capsys):
    import logging

    from pipelines.progress import _ProgressHandler

    message = ("Dependencies for step territory_dbt_models failed: ['validated_crm_tables', 'validated_crm_tables']. "
               "Not executing.")
    record = logging.LogRecord("dagster", logging.ERROR, __file__, 1, message, None, None)
    record.dagster_meta = {"orig_message": message}
    _ProgressHandler().emit(record)
    assert capsys.readouterr().err == "  skipped territory_dbt_models: a step it needs failed\n"
