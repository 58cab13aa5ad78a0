"""The plan report: one self-contained HTML page per snapshot date, readable offline."""

from __future__ import annotations

import datetime as dt
import html

import pandas as pd

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #1f2933; }
h1 { margin-bottom: .2rem; } .muted { color: #616e7c; }
.figures { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.5rem 0; }
.figure { border: 1px solid #d9e2ec; border-radius: .5rem; padding: .8rem 1.2rem; min-width: 10rem; }
.figure b { display: block; font-size: 1.6rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #e4e7eb; text-align: right; }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
tr.over td { background: #fff3f3; }
"""


def _figure(label: str, value: str) -> str:
    return f'<div class="figure"><b>{html.escape(value)}</b>{html.escape(label)}</div>'


def render_plan_report(
    snapshot_date: dt.date,
    method: str,
    assignments: pd.DataFrame,
    summary: pd.DataFrame,
    set_aside: dict[str, int] | None = None,
    data_docs: str | None = None,
) -> str:
    """HTML for the plan: headline figures, each rep's load against capacity and fair share, and data quality.

    `set_aside` counts the rows of each raw table the run quarantined; `data_docs` links the
    validation's Data Docs.
    """
    over = summary["utilization"] > 1.0
    figures = [
        _figure("accounts assigned", f"{len(assignments):,}"),
        _figure("active reps", f"{len(summary):,}"),
        _figure("accounts changing owner", f"{assignments['changed'].mean():.1%}" if len(assignments) else "0%"),
        _figure("reps over capacity", f"{int(over.sum())}"),
        _figure("largest workload deviation", f"{summary['workload_deviation'].abs().max():+.0%}" if len(summary) else "-"),
    ]
    rows = []
    for record in summary.sort_values("utilization", ascending=False).itertuples():
        rows.append(
            f'<tr class="{"over" if record.utilization > 1.0 else ""}"><td>{html.escape(str(record.rep_id))}</td>'
            f"<td>{html.escape(str(record.rep_name))} · {html.escape(str(record.segment))}</td>"
            f"<td>{record.accounts:,}</td><td>{record.potential:,.0f}</td>"
            f"<td>{record.workload_hours:,.0f}</td><td>{record.capacity_hours:,.0f}</td>"
            f"<td>{record.utilization:.0%}</td><td>{record.workload_deviation:+.0%}</td></tr>"
        )
    quarantined = {table: rows for table, rows in (set_aside or {}).items() if rows}
    quality_items = "".join(f"<li>{html.escape(t)}: {n:,} row(s) set aside</li>" for t, n in quarantined.items())
    quality = (
        f"<p>{'Rows that broke a data-quality rule were quarantined, not planned on:' if quarantined else 'No row was quarantined.'}</p>"
        f"<ul>{quality_items}</ul>"
        + (f'<p><a href="{html.escape(data_docs)}">Validation results (Data Docs)</a></p>' if data_docs else "")
    )
    reasons = assignments["reason"].value_counts()
    reason_items = "".join(f"<li>{html.escape(str(r))}: {c:,}</li>" for r, c in reasons.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Territory plan {snapshot_date}</title>
<style>{_STYLE}</style></head><body>
<h1>Territory plan for {snapshot_date}</h1>
<p class="muted">Method: {html.escape(method)}.</p>
<div class="figures">{''.join(figures)}</div>
<h2>Data quality</h2>{quality}
<h2>Why accounts went where they did</h2><ul>{reason_items}</ul>
<h2>Reps: workload against capacity</h2>
<table><thead><tr><th>Rep</th><th>Name · segment</th><th>Accounts</th><th>Potential</th>
<th>Workload h</th><th>Capacity h</th><th>Utilization</th><th>vs fair share</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
</body></html>
"""
