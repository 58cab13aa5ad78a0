"""The weekly on-call roster: per team and week, who takes inbound leads and who covers absent teammates.

Each team's m reps, ordered by rep_id, take turns round robin on the absolute week a: whole weeks
since EPOCH, a fixed Monday, not since the first week asked for. So every night's roster agrees
with the last one on the weeks both cover, and a backfill gives the roster that was published.

- inbound_leads: rep number a mod m takes the week's inbound leads;
- absence_cover: rep number (a + floor(m / 2)) mod m covers absent teammates: with m >= 2 never the
  rep on inbound leads, and half a turn after it, so in a team of four or more no rep has the
  two duties in consecutive weeks.

A round robin gives each rep one week of a duty in every m consecutive weeks, so over any run of
consecutive weeks teammates hold each duty a number of times differing by at most one. A team of
one rep has nobody to cover for: it gets inbound_leads and no absence_cover row. When a team's
members change, its turns are dealt again from its new member list (evenness holds for any run
of weeks with the same members). Nothing here reads or writes files.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

EPOCH = dt.date(1970, 1, 5)  # the first Monday of the Unix epoch
INBOUND_LEADS = "inbound_leads"
ABSENCE_COVER = "absence_cover"
COLUMNS = ("week_start", "team", "duty", "rep_id")


def absolute_week(day: dt.date) -> int:
    """Whole weeks from EPOCH to `day`, a Monday."""
    return (day - EPOCH).days // 7


def rotation_schedule(reps: pd.DataFrame, start: dt.date, weeks: int) -> pd.DataFrame:
    """The roster of `weeks` weeks from `start` (a Monday), one row per week, team and duty.

    reps: rep_id and team, one row per rep on the roster. Rows come sorted by week_start, team and
    duty (absence_cover before inbound_leads); week_start is a date (Arrow date32).
    """
    if start.weekday() != 0:
        raise ValueError(f"start must be a Monday, got {start} ({start:%A})")
    if weeks < 0:
        raise ValueError(f"weeks must not be negative, got {weeks}")
    missing = [column for column in ("rep_id", "team") if column not in reps.columns]
    if missing:
        raise ValueError(f"reps lacks the columns {missing}")
    if reps["team"].isna().any():
        raise ValueError(f"reps without a team: {reps.loc[reps['team'].isna(), 'rep_id'].tolist()[:5]}")
    if reps["rep_id"].duplicated().any():
        raise ValueError(f"duplicate rep_ids: {sorted(set(reps.loc[reps['rep_id'].duplicated(), 'rep_id']))[:5]}")

    roster = reps.sort_values(["team", "rep_id"], kind="stable")
    team_codes, teams = pd.factorize(roster["team"], sort=True)
    size = np.bincount(team_codes, minlength=len(teams))
    first = np.cumsum(size) - size  # each team's first row in `roster`
    # (week, team) pairs, weeks outer; the absolute week decides the turn
    week = np.repeat(np.arange(weeks), len(teams))
    team = np.tile(np.arange(len(teams)), weeks)
    turn = absolute_week(start) + week
    m = size[team]
    inbound = first[team] + turn % m
    cover = first[team] + (turn + m // 2) % m
    has_cover = m >= 2
    # duties in name order within a (week, team): absence_cover, then inbound_leads
    row_week = np.concatenate([week[has_cover], week])
    row_team = np.concatenate([team[has_cover], team])
    row_rep = np.concatenate([cover[has_cover], inbound])
    row_duty = np.concatenate([np.zeros(has_cover.sum(), dtype=np.int64), np.ones(len(week), dtype=np.int64)])
    order = np.lexsort((row_duty, row_team, row_week))
    days = np.datetime64(start, "D") + (7 * row_week[order]).astype("timedelta64[D]")
    return pd.DataFrame({
        "week_start": pd.arrays.ArrowExtensionArray(pa.array(days, type=pa.date32())),
        "team": teams.take(row_team[order]),
        "duty": pd.array([ABSENCE_COVER, INBOUND_LEADS], dtype="str").take(row_duty[order]),
        "rep_id": roster["rep_id"].array.take(row_rep[order]),
    })
