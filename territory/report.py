"""The plan report: one self-contained HTML page per snapshot date, readable offline.

Pictures where a reader would rather look than read (the map, each rep's load, the reasons, the
weekly load, the markets, the conflicts), tables where they need numbers. Every picture is a PNG
drawn by matplotlib's Agg renderer and embedded as a `data:` URI; the page loads no script,
stylesheet, font or image from elsewhere, so the one file opens offline and can be mailed.

Nothing here reads or writes files: the publish asset and `territory report` read the tables.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import pyarrow as pa

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1f2933; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #d9e2ec; } .muted { color: #616e7c; }
.figures { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1.2rem 0; }
.figure { border: 1px solid #d9e2ec; border-radius: .5rem; padding: .8rem 1.2rem; min-width: 9rem; }
.figure b { display: block; font-size: 1.5rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #616e7c; font-size: .9rem; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; margin: .8rem 0; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid #e4e7eb; text-align: left; vertical-align: top; }
th.n, td.n { text-align: right; white-space: nowrap; }
tr.marked td { background: #fff3f3; }
summary { cursor: pointer; color: #3e4c59; }
"""

# Rep colours: tab20 without its greys (which mean "no active owner"), the strong half first, so
# that reps next to each other in the cycle look unlike. 80 reps share 18 colours.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
)
NO_OWNER = "#c7c7c7"
WITHIN, OVER, MARK = "#4c78a8", "#d62728", "#1f2933"
SEVERITY_COLOURS = {"high": "#d62728", "medium": "#ff7f0e", "low": "#bcbd22"}
INTENSITY_COLOURS = {"high": "#d62728", "medium": "#ff7f0e", "low": "#4c78a8"}
GOAL_STATUSES = ("reached", "on_track", "behind", "at_risk", "no_quota", "not_started")  # the order of the counts
DPI = 100
# More dots than this add nothing a reader can see (the picture has fewer pixels) and only cost time.
MAP_POINTS = 50_000
LARGEST_MOVES = 15
MARKETS_LISTED = 12
MARKETS_NAMED = 5
_RC = {
    "font.size": 8, "axes.titlesize": 9, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.color": "#e4e7eb", "grid.linewidth": .6, "axes.axisbelow": True,
}


@dataclass(frozen=True)
class ReportTables:
    """The published tables of one snapshot date that the report draws on, named as published."""

    territory_assignments: pd.DataFrame
    territory_summary: pd.DataFrame
    territory_moves: pd.DataFrame
    account_segments: pd.DataFrame  # only the accounts' places: account_id, latitude, longitude
    capacity_gap: pd.DataFrame
    solver_runs: pd.DataFrame
    territory_conflicts: pd.DataFrame
    markets: pd.DataFrame
    goal_progress: pd.DataFrame
    contact_plan_weeks: pd.DataFrame

    @classmethod
    def from_arrow(cls, tables: Mapping[str, pa.Table]) -> ReportTables:
        """The report's frames from published tables; a table missing from `tables` is an empty frame."""
        wide = {"account_segments": ["account_id", "latitude", "longitude"]}  # 70-odd columns, three needed
        return cls(**{
            name: tables[name].select(wide.get(name, tables[name].column_names)).to_pandas() if name in tables
            else pd.DataFrame()
            for name in REPORT_TABLES
        })


REPORT_TABLES: tuple[str, ...] = tuple(field.name for field in fields(ReportTables))


def render_plan_report(
    snapshot_date: dt.date, tables: ReportTables, set_aside: Mapping[str, int] | None = None,
    data_docs: str | None = None,
) -> str:
    """The plan report of `snapshot_date` as one HTML page.

    `set_aside` counts the rows of each raw table the run quarantined (None when not known, as
    when the report is rendered again from the published tables); `data_docs` links the
    validation's Data Docs.
    """
    import matplotlib  # here, not at the top: it costs a second, and loading the Dagster definitions must stay fast

    with matplotlib.rc_context(_RC):
        sections = [
            _section("solver", "How good the plan is", _solver(tables.solver_runs)),
            _section("map", "Where the accounts go", _territory_map(tables)),
            _section("reps", "Each rep's load", _rep_loads(tables.territory_summary)),
            _section("moves", "What changes owner, and why",
                     _moves(tables.territory_assignments, tables.territory_moves)),
            _section("capacity", "Capacity per market", _capacity_gap(tables.capacity_gap)),
            _section("goals", "Goals", _goals(tables.goal_progress)),
            _section("contact-plan", "The contact plan's weekly load", _weekly_load(tables.contact_plan_weeks)),
            _section("markets", "Market penetrability", _markets(tables.markets)),
            _section("conflicts", "Ownership conflicts in the CRM", _conflicts(tables.territory_conflicts)),
            _section("quality", "Data quality", _data_quality(set_aside, data_docs)),
        ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Territory plan {snapshot_date}</title>
<style>{_STYLE}</style></head><body>
<h1>Territory plan for {snapshot_date}</h1>
<div class="figures" id="headline">{_headline(tables)}</div>
{''.join(sections)}
</body></html>
"""


# --- building blocks -----------------------------------------------------------------------------------------


def _text(value: object) -> str:
    """A cell's value as escaped text; '' when it is missing."""
    return "" if pd.isna(value) else html.escape(str(value))


def _number(value: object, spec: str) -> str:
    """`value` formatted by `spec`, or '-' when it is missing."""
    return "-" if value is None or pd.isna(value) else format(value, spec)


def _stat(label: str, value: str) -> str:
    return f'<div class="figure"><b>{html.escape(value)}</b>{html.escape(label)}</div>'


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}</section>\n'


def _words(code: object) -> str:
    """A snake_case code as words: 'moved_for_balance' -> 'moved for balance'."""
    return str(code).replace("_", " ")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Container[int] = (),
           marked: Sequence[bool] = ()) -> str:
    """A table of already escaped cells; the `numeric` columns align right and `marked` rows are tinted."""
    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(f'<{tag}{" class=n" if k in numeric else ""}>{v}</{tag}>' for k, v in enumerate(values))

    body = "".join(f'<tr{" class=marked" if k < len(marked) and marked[k] else ""}>{cells("td", row)}</tr>'
                   for k, row in enumerate(rows))
    return f"<table><thead><tr>{cells('th', [html.escape(h) for h in head])}</tr></thead><tbody>{body}</tbody></table>"


def _new_figure(width: float, height: float):
    """An empty matplotlib figure of `width` x `height` inches, not attached to pyplot (no GUI, no global state)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _picture(figure, alt: str, caption: str) -> str:
    """The figure as a PNG embedded in the page, with its caption."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    width, height = (round(inches * DPI) for inches in figure.get_size_inches())
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" width="{width}" height="{height}" '
            f'alt="{html.escape(alt)}"><figcaption>{caption}</figcaption></figure>')


def _rgba(colours: Sequence[str]) -> np.ndarray:
    from matplotlib.colors import to_rgba_array

    return to_rgba_array(colours)


# --- the sections ---------------------------------------------------------------------------------------------


def _headline(tables: ReportTables) -> str:
    """The figures a reader wants first: how many accounts and reps, how much changes, what is short."""
    assignments, summary = tables.territory_assignments, tables.territory_summary
    gap, conflicts = tables.capacity_gap, tables.territory_conflicts
    moves = len(tables.territory_moves)
    newly_owned = int(assignments["reason"].eq("newly_owned").sum()) if len(assignments) else 0
    figures = [
        _stat("accounts assigned", f"{len(assignments):,}"),
        _stat("active reps", f"{len(summary):,}"),
        _stat("accounts changing owner", f"{moves:,} ({moves / len(assignments):.1%})" if len(assignments) else "0"),
        _stat("accounts newly owned", f"{newly_owned:,}"),
        _stat("reps over capacity", f"{int((summary['utilization'] > 1.0).sum())}" if len(summary) else "0"),
        _stat("markets short of capacity", f"{int((gap['missing_hours'] > 0).sum())}" if len(gap) else "0"),
        _stat("high-severity conflicts", f"{int(conflicts['severity'].eq('high').sum()):,}" if len(conflicts) else "0"),
    ]
    return "".join(figures)


def _solver(solver_runs: pd.DataFrame) -> str:
    """The engine's own figures: status, gap to its lower bound, largest deviation per balanced measure, moves, time."""
    if solver_runs.empty:
        return "<p>No solver run was published for this date.</p>"
    run = solver_runs.iloc[0]
    deviations = [
        _stat(f"largest {_words(column.removeprefix('max_deviation_'))} deviation from fair share",
              _number(run[column], ".1%"))
        for column in solver_runs.columns if column.startswith("max_deviation_")
    ]
    figures = [
        _stat("status", str(run["status"])),
        _stat("cost above the proven lower bound, at most", _number(run["gap"], ".2%")),
        *deviations,
        _stat("accounts moved", _number(run["moved_share"], ".1%")),
        _stat("expected value moved", _number(run["moved_value_share"], ".1%")),
        _stat("seconds to solve", _number(run["seconds"], ",.1f")),
    ]
    diagnosis = f"<p>{_text(run['diagnosis'])}</p>" if pd.notna(run.get("diagnosis")) else ""
    return ('<p class="muted">The assignment engine minimises travel, fit and disruption cost with every balance '
            "kept, and proves a lower bound on that cost: the gap says how far from the best possible plan this one "
            f"can be at most.</p><div class=\"figures\">{''.join(figures)}</div>{diagnosis}")


def _rep_colours(summary: pd.DataFrame) -> pd.Series:
    """Each active rep's index into PALETTE, dealt in the order of their bases from west to east: neighbours differ."""
    order = summary.reindex(columns=["rep_id", "home_longitude"]).sort_values(["home_longitude", "rep_id"])
    return pd.Series(np.arange(len(order)) % len(PALETTE), index=order["rep_id"].to_numpy())


def _territory_map(tables: ReportTables) -> str:
    """Two maps side by side on plain longitude and latitude: each account as a dot in its owner's colour,
    before the plan (the CRM's owner) and after it, with each rep's base as a triangle in the rep's colour."""
    assignments, summary, places = tables.territory_assignments, tables.territory_summary, tables.account_segments
    if assignments.empty or places.empty:
        return "<p>No account to draw.</p>"
    located = (assignments[["account_id", "rep_id", "previous_rep_id"]]
               .merge(places[["account_id", "latitude", "longitude"]], on="account_id")
               .dropna(subset=["latitude", "longitude"]))
    drawn = located.sample(MAP_POINTS, random_state=0) if len(located) > MAP_POINTS else located
    colour_of = _rep_colours(summary)
    palette = _rgba([*PALETTE, NO_OWNER])  # the last row: no active owner
    # (a summary published before it held the bases has none to draw)
    bases = summary.reindex(columns=["rep_id", "home_latitude", "home_longitude"]).dropna()
    dot = float(np.clip(60_000 / max(len(drawn), 1), 2, 16))  # in points squared: fewer accounts, larger dots

    from matplotlib.lines import Line2D

    figure = _new_figure(12, 5)
    axes = figure.subplots(1, 2, sharex=True, sharey=True)
    for ax, column, title in zip(axes, ("previous_rep_id", "rep_id"), ("Before: the CRM's owners", "After: the plan")):
        colours = palette[drawn[column].map(colour_of).fillna(len(PALETTE)).to_numpy(dtype=int)]
        ax.scatter(drawn["longitude"], drawn["latitude"], c=colours, s=dot, linewidths=0)
        ax.scatter(bases["home_longitude"], bases["home_latitude"], marker="^", s=40, edgecolors=MARK, linewidths=.7,
                   c=palette[bases["rep_id"].map(colour_of).to_numpy(dtype=int)])
        ax.set_title(title, loc="left")
        ax.set_xlabel("longitude")
    axes[0].set_ylabel("latitude")
    figure.legend(handles=[
        Line2D([], [], marker="o", linestyle="", color=NO_OWNER, markersize=4, label="no active owner"),
        Line2D([], [], marker="^", linestyle="", markerfacecolor="white", markeredgecolor=MARK, label="a rep's base"),
    ], loc="outside upper right", ncols=2, frameon=False, fontsize=7)
    sampled = (f" A sample of {len(drawn):,} of the {len(located):,} accounts is drawn."
               if len(drawn) < len(located) else "")
    unplaced = len(assignments) - len(located)
    caption = (f"Each dot is an account, in its owner's colour; the {len(PALETTE)} colours cycle over the "
               f"{len(summary):,} reps, so a colour names a rep only near that rep's base.{sampled}"
               + (f" {unplaced:,} account(s) without coordinates are not drawn." if unplaced else ""))
    return _picture(figure, "Accounts by owner before and after the plan, with the reps' bases", caption)


def _compact(value: float, _position=None) -> str:
    """An axis label for a large amount: 1,500 -> 1.5k, 110,000,000 -> 110M."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:,.3g}{suffix}"
    return f"{value:,.0f}"


def rep_loads_png(summary: pd.DataFrame) -> bytes:
    """The picture of each rep's load (see `_rep_loads_figure`) as PNG bytes, e.g. for the Dagster UI."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        buffer = io.BytesIO()
        _rep_loads_figure(summary.sort_values(["segment", "rep_id"]).reset_index(drop=True)).savefig(
            buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _rep_loads(summary: pd.DataFrame) -> str:
    """The picture of each rep's load, then every rep's numbers in a folded table."""
    if summary.empty:
        return "<p>No active rep.</p>"
    reps = summary.sort_values(["segment", "rep_id"]).reset_index(drop=True)
    picture = _picture(
        _rep_loads_figure(reps), "Each rep's workload against capacity and potential against fair share",
        "Above, each rep's workload hours for the year against their capacity (the dark marks); below, their "
        "potential as a share of their fair share (the line at 100%).",
    )
    order = reps.sort_values("utilization", ascending=False)
    rows = [
        (_text(r.rep_id), f"{_text(r.rep_name)} · {_text(r.segment)}", f"{r.accounts:,}", _number(r.potential, ",.0f"),
         _number(r.workload_hours, ",.0f"), _number(r.capacity_hours, ",.0f"), _number(r.utilization, ".0%"),
         _number(r.workload_deviation, "+.0%"))
        for r in order.itertuples()
    ]
    table = _table(("Rep", "Name · segment", "Accounts", "Potential", "Workload h", "Capacity h", "Utilization",
                    "Workload vs fair share"), rows, numeric=range(2, 8), marked=list(order["utilization"] > 1.0))
    return f"{picture}<details><summary>Every rep's numbers</summary>{table}</details>"


def _rep_loads_figure(reps: pd.DataFrame):
    """Two bar charts over `reps` (ordered by segment): workload hours against capacity, a rep over capacity in
    red, and potential as a share of the rep's fair share."""
    x = np.arange(len(reps))
    over = (reps["utilization"] > 1.0).to_numpy()
    figure = _new_figure(12, 6.4)
    # not sharing x: the rep ids label the lower chart only, and 80 ticks cost time even unlabelled
    workload, potential = figure.subplots(2, 1)
    workload.bar(x, reps["workload_hours"], color=np.where(over, OVER, WITHIN), width=.8)
    workload.hlines(reps["capacity_hours"], x - .4, x + .4, colors=MARK, linewidths=1.4, label="capacity")
    # room above the bars for the segments' names
    workload.set_ylim(0, 1.12 * max(reps["workload_hours"].max(), reps["capacity_hours"].max()))
    workload.yaxis.set_major_formatter(_compact)
    workload.set_ylabel("workload hours per year")
    workload.set_title("Workload against capacity" + (f": {int(over.sum())} rep(s) over, in red" if over.any() else ""),
                       loc="left")
    if "potential_deviation" in reps:  # the column exists when potential is a balanced measure
        # as a share of fair share, so that reps of pools with very different potential compare on one axis
        potential.bar(x, reps["potential_deviation"] + 1.0, color=WITHIN, width=.8)
        potential.axhline(1.0, color=MARK, linewidth=1.2, label="fair share")
        potential.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
        potential.set_ylabel("potential / fair share")
        potential.set_title("Potential against fair share (in the rep's pool, by capacity and experience)", loc="left")
    else:
        potential.bar(x, reps["potential"], color=WITHIN, width=.8)
        potential.yaxis.set_major_formatter(_compact)
        potential.set_ylabel("potential per year")
        potential.set_title("Potential", loc="left")
    workload.set_xticks([])
    potential.set_xticks(x, reps["rep_id"], rotation=90, fontsize=7 if len(reps) <= 40 else 5)
    # segments are contiguous in this order: a line between two, and the segment's name at the top of its reps
    starts = np.flatnonzero(reps["segment"].ne(reps["segment"].shift()).to_numpy())
    for ax in (workload, potential):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower right", bbox_to_anchor=(1, 1), frameon=False, fontsize=7)
        for start in starts[1:]:
            ax.axvline(start - .5, color="#9aa5b1", linewidth=.8)
        ax.set_xlim(-.6, len(reps) - .4)
        ax.grid(axis="x", visible=False)
    for start, end in zip(starts, [*starts[1:], len(reps)]):
        workload.annotate(_words(reps["segment"][start]), ((start + end - 1) / 2, .98),
                          xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=8, color="#3e4c59")
    return figure


def _moves(assignments: pd.DataFrame, moves: pd.DataFrame) -> str:
    """A bar per assignment reason with its count, then the largest moves by potential with what the new owner needs."""
    if assignments.empty:
        return "<p>No account in the plan.</p>"
    reasons = assignments["reason"].value_counts().sort_values()
    figure = _new_figure(8, .45 * len(reasons) + .7)
    ax = figure.subplots()
    bars = ax.barh([_words(r) for r in reasons.index], reasons.to_numpy(), color=WITHIN)
    ax.bar_label(bars, [f"{c:,} ({c / len(assignments):.1%})" for c in reasons], padding=3, fontsize=7)
    ax.margins(x=.18)
    ax.set_xlabel("accounts")
    ax.grid(axis="y", visible=False)
    picture = _picture(
        figure, "Accounts by the reason for their owner",
        "Kept: the owner stays. Newly owned: no active owner before. The other reasons are moves: the previous "
        "owner may not own the account under the plan's rules, the new owner fits better, or the balance needed it.",
    )
    if moves.empty:
        return picture + "<p>No account changes owner.</p>"
    largest = moves.sort_values("potential", ascending=False).head(LARGEST_MOVES)
    rows = [
        (f"{_text(m.account_name)}<br><span class=muted>{_text(m.account_id)}</span>", _text(m.tier),
         f"{_text(m.from_rep_id)} → {_text(m.to_rep_id)}", _text(_words(m.reason)), _number(m.potential, ",.0f"),
         _text(m.open_opportunities_summary) or "none", _text(m.key_contacts) or "none",
         f"{_text(_words(m.last_activity_type))} {m.days_since_last_activity:,.0f} days ago"
         if pd.notna(m.days_since_last_activity) else "never")
        for m in largest.itertuples()
    ]
    table = _table(("Account", "Tier", "From → to", "Reason", "Potential", "Open deals", "Key contacts",
                    "Last activity"), rows, numeric=(4,))
    return (f"{picture}<h3>The {len(largest)} largest of {len(moves):,} moves, by potential</h3>"
            f"<p class=muted>What the new owner needs to know at the handoff.</p>{table}")


def _capacity_gap(gap: pd.DataFrame) -> str:
    """The markets with missing hours (or, when none misses any, the busiest) with the recommendation."""
    if gap.empty:
        return "<p>No market to report.</p>"
    short = gap[gap["missing_hours"] > 0]
    if len(short):
        shown = short.sort_values("missing_hours", ascending=False).head(MARKETS_LISTED)
        lead = f"{len(short):,} of {len(gap):,} markets miss hours; the largest gaps:"
    else:
        shown = gap.sort_values(["utilization", "required_hours"], ascending=False).head(MARKETS_LISTED)
        lead = f"Every one of the {len(gap):,} markets is covered; the busiest:"
    rows = [
        (_text(g.market_id), _text(g.intensity), f"{g.accounts:,}", f"{g.reps_serving:,}",
         _number(g.required_hours, ",.0f"), _number(g.available_hours, ",.0f"), _number(g.utilization, ".0%"),
         _number(g.missing_hours, ",.0f"), _text(g.recommendation))
        for g in shown.itertuples()
    ]
    table = _table(("Market", "Intensity", "Accounts", "Reps", "Required h", "Available h", "Utilization", "Missing h",
                    "Recommendation"), rows, numeric=range(2, 8), marked=list(shown["missing_hours"] > 0))
    return f"<p>{lead}</p>{table}"


def _goals(progress: pd.DataFrame) -> str:
    """Per goal: the company's progress and how many reps stand at each status."""
    if progress.empty:
        return "<p>No goal is allocated.</p>"
    reps = progress[progress["level"] == "rep"]
    rows = []
    for goal in progress[progress["level"] == "company"].itertuples():
        counts = reps.loc[reps["goal"] == goal.goal, "status"].value_counts()
        statuses = [s for s in GOAL_STATUSES if s in counts] + [s for s in counts.index if s not in GOAL_STATUSES]
        rows.append((
            _text(goal.goal), _text(_words(goal.metric)), _number(goal.quota, ",.0f"),
            _number(goal.expected_to_date, ",.0f"), _number(goal.actual_to_date, ",.0f"),
            _number(goal.attainment, ".0%"), _number(goal.pace, ".0%"),
            _text(_words(goal.status)), _text(goal.next_milestone),
            " · ".join(f"{counts[s]} {_words(s)}" for s in statuses) or "no rep",
        ))
    table = _table(("Goal", "Metric", "Quota", "Expected by now", "Actual", "Attainment", "Pace", "Status",
                    "Next milestone", "Reps by status"), rows, numeric=range(2, 7))
    return ('<p class="muted">The company\'s progress on each goal, measured on the accounts each territory holds in '
            f"the new plan; pace is actual against what is due by now.</p>{table}")


def _weekly_load(weeks: pd.DataFrame) -> str:
    """A bar per week of the contact plan: the planned hours of all reps, against their weekly capacity."""
    if weeks.empty:
        return "<p>No contact plan.</p>"
    per_week = weeks.groupby("week_start").agg(
        hours=("hours", "sum"), capacity=("capacity_hours", "sum"), over=("over_capacity", "sum")).sort_index()
    x = np.arange(len(per_week))
    figure = _new_figure(10, 3)
    ax = figure.subplots()
    bars = ax.bar(x, per_week["hours"], color=np.where(per_week["over"] > 0, OVER, WITHIN), width=.8)
    ax.step(np.append(x, x[-1] + 1) - .5, np.append(per_week["capacity"], per_week["capacity"].iloc[-1]),
            where="post", color=MARK, linewidth=1.2, label="capacity of all reps")
    ax.bar_label(bars, [f"{int(n)} over" if n else "" for n in per_week["over"]], padding=2, fontsize=7, color=OVER)
    ax.set_xticks(x, [pd.Timestamp(w).strftime("%d %b") for w in per_week.index], fontsize=7)
    ax.set_ylabel("hours per week")
    ax.set_xlabel("week starting")
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), frameon=False, fontsize=7)
    ax.grid(axis="x", visible=False)
    total, capacity = per_week["hours"].sum(), per_week["capacity"].sum()
    rep_weeks = int(per_week["over"].sum())
    caption = f"{total:,.0f} planned hours over {len(per_week)} weeks against {capacity:,.0f} hours of capacity"
    caption += f" ({total / capacity:.0%})." if capacity > 0 else "."
    if rep_weeks:
        caption += f" In red: the weeks where a rep is over their weekly capacity ({rep_weeks:,} rep-weeks in all)."
    return _picture(figure, "Planned contact hours per week against capacity", caption)


def _markets(markets: pd.DataFrame) -> str:
    """Each market as a dot: total potential (log scale) against penetration, sized by accounts, coloured by intensity;
    the markets with the most potential not yet won are ringed, numbered and listed."""
    if markets.empty:
        return "<p>No market to draw.</p>"
    drawable = markets[markets["total_potential"] > 0]  # a log scale has no place for nothing
    figure = _new_figure(9, 4.6)
    ax = figure.subplots()
    sizes = 12 + 240 * np.sqrt(drawable["accounts"] / drawable["accounts"].max())
    for intensity, colour in INTENSITY_COLOURS.items():
        these = drawable["intensity"] == intensity
        ax.scatter(drawable.loc[these, "total_potential"], drawable.loc[these, "penetration"], s=sizes[these], c=colour,
                   alpha=.6, edgecolors="white", linewidths=.5, label=f"{intensity} intensity")
    untapped = (drawable["total_potential"] * (1 - drawable["penetration"])).nlargest(MARKETS_NAMED)
    named = drawable.loc[untapped.index]
    ax.scatter(named["total_potential"], named["penetration"], s=sizes[untapped.index], facecolors="none",
               edgecolors=MARK, linewidths=1)
    for number, (potential, penetration) in enumerate(zip(named["total_potential"], named["penetration"]), start=1):
        # alternately above and below, so that two markets on one spot stay readable
        ax.annotate(str(number), (potential, penetration), xytext=(5, 4 if number % 2 else -11),
                    textcoords="offset points", fontsize=8, weight="bold")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_compact)
    ax.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    ax.set_xlabel("total potential per year (log scale)")
    ax.set_ylabel("penetration: customers / accounts")
    ax.legend(loc="upper left", fontsize=7, markerscale=.5)
    picture = _picture(
        figure, "Markets by potential and penetration",
        "Each dot is a market (region, industry group and size band), sized by its accounts. Ringed and numbered: the "
        f"{len(named)} with the most potential not yet won, potential × (1 − penetration), listed below.",
    )
    rows = [
        (str(number), _text(m.market_id), _text(m.intensity), f"{m.accounts:,}", _number(m.penetration, ".0%"),
         _number(m.total_potential, ",.0f"), _number(open_potential, ",.0f"))
        for number, (m, open_potential) in enumerate(zip(named.itertuples(), untapped), start=1)
    ]
    return picture + _table(("", "Market", "Intensity", "Accounts", "Penetration", "Potential", "Not yet won"), rows,
                            numeric=(3, 4, 5, 6))


def _conflicts(conflicts: pd.DataFrame) -> str:
    """A bar per conflict type, stacked by severity, with its count."""
    if conflicts.empty:
        return "<p>No ownership conflict in the CRM.</p>"
    counts = pd.crosstab(conflicts["conflict_type"], conflicts["severity"])
    counts = counts.loc[counts.sum(axis=1).sort_values().index]
    figure = _new_figure(8, .4 * len(counts) + .9)
    ax = figure.subplots()
    left = np.zeros(len(counts))
    severities = [s for s in SEVERITY_COLOURS if s in counts] + [s for s in counts if s not in SEVERITY_COLOURS]
    for severity in severities:
        ax.barh([_words(t) for t in counts.index], counts[severity], left=left, label=severity,
                color=SEVERITY_COLOURS.get(severity, NO_OWNER))
        left += counts[severity].to_numpy()
    for y, total in enumerate(left):
        ax.annotate(f"{int(total):,}", (total, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    ax.margins(x=.1)
    ax.set_xlabel("conflicts")
    ax.legend(title="severity", fontsize=7, title_fontsize=7, loc="lower right")
    ax.grid(axis="y", visible=False)
    return _picture(
        figure, "Ownership conflicts by type and severity",
        f"{len(conflicts):,} conflicts in the CRM at the snapshot. High: the account has no usable owner; medium: "
        "records owned apart or likely duplicates; low: contacts owned by someone else.",
    )


def _data_quality(set_aside: Mapping[str, int] | None, data_docs: str | None) -> str:
    """The rows of each raw table that broke a data-quality rule and were set aside, and the link to the Data Docs."""
    if set_aside is None:
        counts = ("<p>This page was rendered again from the published tables, which do not record the rows set aside; "
                  "the Data Docs show the latest validation.</p>")
    elif any(set_aside.values()):
        items = "".join(f"<li>{_text(table)}: {n:,} row(s) set aside</li>" for table, n in set_aside.items() if n)
        counts = f"<p>Rows that broke a data-quality rule were quarantined, not planned on:</p><ul>{items}</ul>"
    else:
        counts = "<p>No row was quarantined.</p>"
    link = f'<p><a href="{html.escape(data_docs)}">Validation results (Data Docs)</a></p>' if data_docs else ""
    return counts + link
