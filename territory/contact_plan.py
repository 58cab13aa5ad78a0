"""Dated touches for the next weeks: on which working day each rep contacts each account, by which channel.

The horizon is `weeks` weeks from `start`, a Monday: days 0 .. D - 1 with D = 7 x weeks; day d is a
working day when d mod 7 < 5 (Monday to Friday), and day D, the first day after the horizon, is its
end. Gaps are in calendar days. The model, in the order it is computed:

1. Counts. An account's expected touches of a channel in the horizon are its yearly rate x weeks /
   weeks_per_year, a fraction; the count is floor(expected + phase), the phase in [0, 1) a stable
   hash of the account id (`pd.util.hash_array`), shifted by the channel's index x the golden
   ratio (mod 1) so that an account's channels do not all round up together. Over many accounts
   the counts average the rate, and an account gets the same counts every night.
2. Max gap. An account's gaps run from the horizon's start to its first touch, touch to touch, and
   from its last touch to the horizon's end (with no touch, start to end); none may exceed its
   tier's max gap G. Evenly spaced, n touches keep it when n >= D / G (one more when weekends call
   for it), so an account whose cadence has fewer gets the rest as `filler_channel` touches,
   marked added_for_max_gap; with D <= G it needs none.
3. Min gap. Consecutive touches of an account are at least its tier's min gap g apart. When a
   tier's largest count cannot keep g on working days while keeping G (worked out exactly, below),
   the plan raises ValueError naming the tier, the count and the gaps. The settings refuse a max
   gap below g + 2: two days may be a weekend, while three always hold a working day.
4. Channels. An account's j-th of c touches of a channel takes the place (j + 1/2) / c in its
   sequence (ties in the order of CHANNELS, filler last): each channel spreads over the sequence,
   and the sequence goes round the horizon as a circle, touch i of n at frac(u + i / n) of it.
   A touch takes minutes_per_touch / 60 hours, plus travel_hours_per_visit for an in-person meeting.
5. Stagger. u = (shift + v) / weeks. v = frac(rank x golden ratio), by the account's rank within
   its rep, spreads accounts over the days of the week; the shift, in whole weeks, is greedy: a
   rep's accounts in turn, heaviest first, each take the shift whose weekly hours meet the least
   load placed so far (the least sum of squared weekly loads). A rep's weekly hours come out even.
6. Dates. Touch k in date order aims at working day frac(u n) W / n + k W / n, W = 5 x weeks
   working days, and takes the working day nearest its aim within its window: the days that keep
   g and G from the touch before it (from the start, for the first) and leave room for the
   touches after it. The earliest and latest such days, worked out backwards from the horizon's
   end for each number of touches still to come, make the window exact: it always holds a
   working day when the tier's count is feasible, so the gap rules hold after snapping.
7. Repair. A rep's weekly capacity is capacity_hours / weeks_per_year. A rep-week over it gives
   touches, lightest first and only as many as it takes, to the nearest week within
   REPAIR_REACH_WEEKS that has room for them, on a day that keeps the account's gap rules with its
   neighbouring touches; rounds go on while they help. When a rep's hours over the horizon exceed
   their capacity over it, no schedule fits: their even spread stays, and rep_weeks reports the
   weeks over capacity.

The same inputs give the same plan, to the byte. Nothing here reads or writes files.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

CHANNELS = ("call", "voicemail", "email", "meeting_in_person", "meeting_online")
IN_PERSON = "meeting_in_person"
GOLDEN = (5**0.5 - 1) / 2  # frac(k x GOLDEN) spreads any run of k evenly over [0, 1)
REPAIR_REACH_WEEKS = 2
MAX_REPAIR_ROUNDS = 100
HOURS_TOLERANCE = 1e-6  # hours: float noise in summed hours is not over capacity
LAST_WORKING_WEEKDAY = 4  # Friday, with day 0 a Monday

ACCOUNT_COLUMNS = (
    "account_id", "rep_id", "tier", *(f"planned_{channel}_touches" for channel in CHANNELS), "travel_hours_per_visit",
)
REP_COLUMNS = ("rep_id", "capacity_hours")


@dataclass(frozen=True)
class ContactPlanSettings:
    """What the contact plan is asked for; gaps are in calendar days, per tier."""

    start: dt.date  # a Monday: the first day of the horizon
    minutes_per_touch: Mapping[str, float]  # every channel of CHANNELS
    min_gap_days: Mapping[str, int]  # tier -> fewest days between two touches of an account
    max_gap_days: Mapping[str, int]  # tier -> most days an account may go untouched
    weeks: int = 13
    filler_channel: str = "email"
    weeks_per_year: float = 52.0

    def __post_init__(self) -> None:
        if self.start.weekday() != 0:
            raise ValueError(f"start must be a Monday, got {self.start} ({self.start:%A})")
        if self.weeks < 1:
            raise ValueError(f"weeks must be at least 1, got {self.weeks}")
        if self.weeks_per_year <= 0:
            raise ValueError(f"weeks_per_year must be positive, got {self.weeks_per_year}")
        if set(self.minutes_per_touch) != set(CHANNELS):
            raise ValueError(f"minutes_per_touch must give exactly the channels {CHANNELS}, "
                             f"got {sorted(self.minutes_per_touch)}")
        if any(minutes < 0 for minutes in self.minutes_per_touch.values()):
            raise ValueError("minutes_per_touch must not be negative")
        if self.filler_channel not in CHANNELS:
            raise ValueError(f"filler_channel must be one of {CHANNELS}, got {self.filler_channel!r}")
        if set(self.min_gap_days) != set(self.max_gap_days):
            raise ValueError(f"min_gap_days and max_gap_days must name the same tiers, got "
                             f"{sorted(self.min_gap_days)} and {sorted(self.max_gap_days)}")
        for tier, low in self.min_gap_days.items():
            high = self.max_gap_days[tier]
            if low < 1:
                raise ValueError(f"tier {tier}: min_gap_days must be at least 1, got {low}")
            if low > high:
                raise ValueError(f"tier {tier}: min_gap_days ({low}) exceeds max_gap_days ({high})")
            if high < low + 2:
                raise ValueError(f"tier {tier}: max_gap_days ({high}) must be at least min_gap_days ({low}) + 2, "
                                 "or a touch may find only a weekend between the two")

    @property
    def days(self) -> int:
        return 7 * self.weeks


@dataclass(frozen=True)
class ContactPlan:
    """The touches, and each rep's hours per week against their weekly capacity.

    touches: account_id, rep_id, touch_number, touch_date, week_start, channel, hours, gap_days,
    added_for_max_gap; sorted by rep_id, touch_date, account_id.
    rep_weeks: rep_id, week_start, touches, hours, capacity_hours (weekly), utilization,
    over_capacity; every rep and week of the horizon, sorted by rep_id and week_start.
    """

    touches: pd.DataFrame
    rep_weeks: pd.DataFrame


def _at_or_before(day: np.ndarray) -> np.ndarray:
    """The last working day on or before `day` (day 0 is a Monday)."""
    return day - np.maximum(day % 7 - LAST_WORKING_WEEKDAY, 0)


def _at_or_after(day: np.ndarray) -> np.ndarray:
    """The first working day on or after `day`."""
    weekday = day % 7
    return day + np.where(weekday > LAST_WORKING_WEEKDAY, 7 - weekday, 0)


def _nearest_within(aim: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The working day nearest `aim` in [low, high], which must hold one.

    A Saturday goes to the Friday before and a Sunday to the Monday after (the nearer), unless
    that leaves the window: then the window holds only the other one.
    """
    day = np.clip(aim, low, high)
    weekday = day % 7
    nearer = np.where(weekday == 5, day - 1, np.where(weekday == 6, day + 1, day))
    farther = np.where(weekday == 5, day + 2, day - 2)
    return np.where((nearer >= low) & (nearer <= high), nearer, farther)


def _windows(min_gap: np.ndarray, max_gap: np.ndarray, days: int, most: int) -> tuple[np.ndarray, np.ndarray]:
    """Per tier and j = 0 .. most: the earliest and latest day of a touch with j touches after it.

    Latest: the touches after it keep the min gap up to the last working day. Earliest: the
    touches after it, max gap apart, still reach within max gap of the horizon's end.
    """
    earliest = np.empty((len(min_gap), most + 1), dtype=np.int64)
    latest = np.empty_like(earliest)
    earliest[:, 0] = _at_or_after(days - max_gap)
    latest[:, 0] = _at_or_before(np.full(len(min_gap), days - 1))
    for j in range(1, most + 1):
        earliest[:, j] = _at_or_after(earliest[:, j - 1] - max_gap)
        latest[:, j] = _at_or_before(latest[:, j - 1] - min_gap)
    return earliest, latest


def _first_window(earliest: np.ndarray, latest: np.ndarray, max_gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first and last day a first touch may take, from the earliest and latest days of its place.

    It also falls within max gap of the horizon's start.
    """
    return np.maximum(0, earliest), np.minimum(_at_or_before(max_gap), latest)


def _counts(accounts: pd.DataFrame, settings: ContactPlanSettings) -> np.ndarray:
    """Cadence touches per account and channel in the horizon: (accounts, channels)."""
    rates = accounts[[f"planned_{c}_touches" for c in CHANNELS]].fillna(0.0).to_numpy(dtype=float)
    if np.any(rates < 0) or not np.all(np.isfinite(rates)):
        raise ValueError("planned touches must be finite and not negative")
    ids = accounts["account_id"].to_numpy(dtype=object)
    phase = pd.util.hash_array(ids).astype(np.float64) / 2.0**64
    channel_phase = (phase[:, None] + np.arange(len(CHANNELS)) * GOLDEN) % 1.0
    expected = rates * (settings.weeks / settings.weeks_per_year)
    return np.floor(expected + channel_phase).astype(np.int64)


def _touch_counts(
    cadence: np.ndarray, tier: np.ndarray, tiers: list[str], min_gap: np.ndarray, max_gap: np.ndarray,
    settings: ContactPlanSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Filler touches per account, and the earliest and latest tables; raises when a tier cannot keep its gaps.

    A tier needs the fewest touches whose first can fall within max gap of the start (none when
    the horizon is no longer than max gap); an account has its cadence's touches, or that many.
    """
    days = settings.days
    cadence_total = cadence.sum(axis=1)
    # a max gap of 3 or more moves `earliest` back a day or more per touch: `days` touches reach the start
    most = max(int(cadence_total.max(initial=0)), days) + 1
    earliest, latest = _windows(min_gap, max_gap, days, most)
    counts = np.arange(1, most + 1)
    reaches = earliest[:, counts - 1] <= _at_or_before(max_gap)[:, None]
    # evenly spaced, ceil(days / max gap) touches keep it; a weekend may call for one more
    evenly = np.maximum(-(-days // max_gap), counts[np.argmax(reaches, axis=1)])
    needed = np.where(days <= max_gap, 0, evenly)
    total = np.maximum(cadence_total, needed[tier])
    for k, name in enumerate(tiers):
        largest = int(total[tier == k].max(initial=0))
        if largest == 0:
            continue
        low, high = _first_window(earliest[k, counts - 1], latest[k, counts - 1], max_gap[k])
        if low[largest - 1] > high[largest - 1]:
            fit = counts[low <= high]
            raise ValueError(
                f"tier {name}: {largest} touches in {settings.weeks} weeks cannot be {min_gap[k]} days (the min gap) "
                f"apart on working days while no gap exceeds {max_gap[k]} days (the max gap); "
                + (f"{fit.min()} to {fit.max()} touches can" if len(fit) else "no count can"))
    return total - cadence_total, earliest, latest


def _stagger(
    rep: np.ndarray, account: np.ndarray, place: np.ndarray, count: np.ndarray, hours: np.ndarray, reps: int,
    weeks: int,
) -> np.ndarray:
    """u in [0, 1) per account: where its touches sit in the horizon, chosen to even out its rep's weekly hours.

    Per touch (account, place in its sequence, hours): touch i of n sits at frac(u + i / n) of the
    horizon. u = (shift + v) / weeks: v = frac(rank x golden ratio) spreads accounts over the days
    of the week, and the shift in whole weeks is chosen greedily. A rep's accounts go heaviest
    first (heaviest touch, then hours; LPT order), each taking the shift whose weekly hours meet
    the lowest load placed so far (the smallest dot product with it, which keeps the sum of squared
    weekly loads lowest). One pass per rank, over every rep at once.
    """
    n = len(count)
    heaviest = np.zeros(n)
    has = count > 0
    heaviest[has] = np.maximum.reduceat(hours, (np.cumsum(count) - count)[has])
    weight = np.bincount(account, weights=hours, minlength=n)
    order = np.lexsort((-weight, -heaviest, rep))  # stable: ties in account order
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.searchsorted(rep[order], rep[order])
    v = (rank * GOLDEN) % 1.0
    # an account's weekly hours with no shift; a shift of j weeks moves them round by j
    week = np.floor(v[account] + place * weeks / count[account]).astype(np.int64) % weeks
    profile = np.bincount(account * weeks + week, weights=hours, minlength=n * weeks).reshape(n, weeks)
    turn = (np.arange(weeks)[None, :] + np.arange(weeks)[:, None]) % weeks  # [shift, week] -> week + shift
    load = np.zeros((reps, weeks))
    shift = np.zeros(n, dtype=np.int64)
    by_rank = order[np.lexsort((rep[order], rank[order]))]
    bounds = np.searchsorted(rank[by_rank], np.arange(int(rank.max(initial=-1)) + 2))
    for low, high in itertools.pairwise(bounds):
        batch = by_rank[low:high]  # one account per rep
        rep_load = load[rep[batch]]
        best = np.argmin(np.einsum("aw,ajw->aj", profile[batch], rep_load[:, turn]), axis=1)
        shift[batch] = best
        moved = profile[batch][np.arange(len(batch))[:, None], (np.arange(weeks) - best[:, None]) % weeks]
        load[rep[batch]] = rep_load + moved
    return (shift + v) / weeks


def _interleave(slots: np.ndarray) -> np.ndarray:
    """The slot column (a channel, or filler last) of every touch, account by account, in sequence order.

    `slots` holds each account's touches per column. An account's j-th of c touches in a column
    takes the place (j + 1/2) / c in its sequence, so each column spreads over the sequence.
    """
    n, columns = slots.shape
    per_column = slots.ravel()
    row = np.repeat(np.arange(n * columns), per_column)  # one per touch, in (account, column) order
    j = np.arange(len(row)) - np.repeat(np.cumsum(per_column) - per_column, per_column)
    place = (j + 0.5) / per_column[row]  # in (0, 1), so account + place keeps accounts apart
    # a stable sort of rows in (account, column) order: equal places go to the earlier column
    return (row % columns)[np.argsort(row // columns + place, kind="stable")]


def _place(
    count: np.ndarray, offset: np.ndarray, spacing: np.ndarray, tier: np.ndarray, min_gap: np.ndarray,
    max_gap: np.ndarray, earliest: np.ndarray, latest: np.ndarray,
) -> np.ndarray:
    """The day of every touch, account by account in date order: the working day nearest its aim in its window.

    Touch k aims at working day offset + k x spacing (counting working days only). Its window
    keeps min and max gap with touch k - 1 (max gap with the horizon's start for the first) and
    lies within the earliest and latest days that leave room for the touches after it. One pass
    per touch number, over all accounts at once.
    """
    account = np.repeat(np.arange(len(count)), count)
    k = np.arange(len(account)) - np.repeat(np.cumsum(count) - count, count)
    by_number = np.argsort(k, kind="stable")
    bounds = np.searchsorted(k[by_number], np.arange(int(count.max(initial=0)) + 1))
    day = np.empty(len(account), dtype=np.int64)
    for number in range(len(bounds) - 1):
        index = by_number[bounds[number]:bounds[number + 1]]
        a = account[index]
        t = tier[a]
        after = count[a] - 1 - number
        # floor, not round: the aims, uniform over [0, working days), hit each working day equally often
        working_day = np.floor(offset[a] + number * spacing[a]).astype(np.int64)
        aim = 7 * (working_day // 5) + working_day % 5
        if number == 0:
            low, high = _first_window(earliest[t, after], latest[t, after], max_gap[t])
        else:
            previous = day[index - 1]
            low = np.maximum(previous + min_gap[t], earliest[t, after])
            high = np.minimum(previous + max_gap[t], latest[t, after])
        day[index] = _nearest_within(aim, low, high)
    return day


def _cumsum_within(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Running sums of `values` within each group, in the given order."""
    return pd.Series(values).groupby(group, sort=False).cumsum().to_numpy()


def _repair(
    day: np.ndarray, hours: np.ndarray, account: np.ndarray, rep: np.ndarray, count: np.ndarray,
    min_gap: np.ndarray, max_gap: np.ndarray, weekly_capacity: np.ndarray, weeks: int,
) -> np.ndarray:
    """`day` with touches moved out of rep-weeks over capacity into nearby weeks with room, gap rules kept.

    Arrays are per touch, account by account in date order (min_gap, max_gap: of its tier). Only
    reps whose hours fit their capacity over the horizon are repaired: for the others no schedule
    fits, and the even spread is the best there is. A touch moves to the nearest week (then the one
    with more room) where a day keeps its gaps with its neighbours, which stay put: one touch per
    account per round. An over week gives its lightest touches first, only until it fits (the
    least churn, the weeks stay even), and a target takes only what its room holds, so every round
    lowers the hours over capacity and the rounds end.
    """
    day = day.copy()
    days = 7 * weeks
    first_number = np.repeat(np.cumsum(count) - count, count)
    is_first = np.arange(len(day)) == first_number
    is_last = np.arange(len(day)) == first_number + count[account] - 1
    capacity = np.repeat(weekly_capacity, weeks)
    fits = np.bincount(rep, weights=hours, minlength=len(weekly_capacity)) <= weekly_capacity * weeks + HOURS_TOLERANCE
    repairable = fits[rep]
    for _ in range(MAX_REPAIR_ROUNDS):
        cell = rep * weeks + day // 7
        spare = capacity - np.bincount(cell, weights=hours, minlength=len(capacity))
        moving = np.flatnonzero(repairable & (spare[cell] < -HOURS_TOLERANCE))
        if len(moving) == 0:
            break
        g, big_g, first, last = min_gap[moving], max_gap[moving], is_first[moving], is_last[moving]
        before = day[np.maximum(moving - 1, 0)]  # read only where the touch has one before / after
        after = day[np.minimum(moving + 1, len(day) - 1)]
        low = np.maximum(np.where(first, 0, before + g), np.where(last, days - big_g, after - big_g))
        high = np.minimum(np.where(first, big_g, before + big_g), np.where(last, days - 1, after - g))
        week, weight, home = day[moving] // 7, hours[moving], rep[moving] * weeks
        target = np.full(len(moving), -1)  # the target cell, -1 while none is found
        new_day = day[moving]
        for distance in range(1, REPAIR_REACH_WEEKS + 1):
            open_ = target < 0
            best_room = np.full(len(moving), -np.inf)
            for step in (-distance, distance):
                to = week + step
                to_cell = home + np.clip(to, 0, weeks - 1)
                # a week's days are Monday to Friday: every day of [lo, hi] is a working day
                lo, hi = np.maximum(low, 7 * to), np.minimum(high, 7 * to + LAST_WORKING_WEEKDAY)
                room = spare[to_cell] - weight
                better = open_ & (to >= 0) & (to < weeks) & (lo <= hi) & (room >= -HOURS_TOLERANCE) & (room > best_room)
                best_room = np.where(better, room, best_room)
                target = np.where(better, to_cell, target)
                # the same weekday when the gaps allow it: the days of the week stay even
                new_day = np.where(better, np.clip(day[moving] + 7 * step, lo, hi), new_day)
        # lightest first within each over week, and one touch per account: its neighbours stay put
        found = np.flatnonzero(target >= 0)
        order = found[np.lexsort((weight[found], cell[moving[found]]))]
        _, once = np.unique(account[moving[order]], return_index=True)
        order = order[np.sort(once)]
        # an over week gives only until it fits, and a target week takes only what its room holds
        touch, source, to_cell = moving[order], cell[moving[order]], target[order]
        give = _cumsum_within(source, hours[touch]) - hours[touch] < -spare[source] - HOURS_TOLERANCE
        touch, to_cell, new = touch[give], to_cell[give], new_day[order][give]
        take = _cumsum_within(to_cell, hours[touch]) <= spare[to_cell] + HOURS_TOLERANCE
        if not take.any():
            break
        day[touch[take]] = new[take]
    return day


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the columns {missing}")
    key = frame[columns[0]]
    if key.duplicated().any():
        raise ValueError(f"{name} has duplicate {columns[0]}s, e.g. {key[key.duplicated()].iloc[0]}")


def _dates(start: dt.date, day: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Days since `start` as dates (Arrow date32, which Parquet and DuckDB keep as DATE)."""
    return pd.arrays.ArrowExtensionArray(pa.array(np.datetime64(start, "D") + day.astype("timedelta64[D]")))


def contact_plan(accounts: pd.DataFrame, reps: pd.DataFrame, settings: ContactPlanSettings) -> ContactPlan:
    """The dated touches of every account by its rep over the horizon of `settings` (the module states the model).

    accounts: ACCOUNT_COLUMNS, one row per account, rep_id its owner in the new plan and planned
    touches per year; reps: REP_COLUMNS, capacity_hours per year. Raises ValueError when an
    account's rep or tier is unknown, or when a tier's touches cannot keep its gaps.
    """
    _require(accounts, ACCOUNT_COLUMNS, "accounts")
    _require(reps, REP_COLUMNS, "reps")
    # in id order, the plan does not depend on the order of the rows (float sums included)
    accounts = accounts.iloc[accounts["account_id"].argsort(kind="stable").to_numpy()]
    reps = reps.sort_values("rep_id", kind="stable")
    rep_ids = pd.Index(reps["rep_id"])
    rep = rep_ids.get_indexer(accounts["rep_id"])
    if np.any(rep < 0):
        raise ValueError(f"accounts owned by reps not in reps, e.g. {accounts['rep_id'][rep < 0].head().tolist()}")
    tiers = sorted(settings.min_gap_days)
    tier = pd.Index(tiers).get_indexer(accounts["tier"])
    if np.any(tier < 0):
        unknown = sorted(set(accounts["tier"][tier < 0].astype(str)))
        raise ValueError(f"tiers without min_gap_days and max_gap_days: {unknown}")
    capacity = reps["capacity_hours"].to_numpy(dtype=float)
    travel = accounts["travel_hours_per_visit"].fillna(0.0).to_numpy(dtype=float)
    if not all(np.all(np.isfinite(values) & (values >= 0)) for values in (capacity, travel)):
        raise ValueError("capacity_hours and travel_hours_per_visit must be finite and not negative")
    min_gap = np.array([settings.min_gap_days[name] for name in tiers], dtype=np.int64)
    max_gap = np.array([settings.max_gap_days[name] for name in tiers], dtype=np.int64)

    cadence = _counts(accounts, settings)
    filler, earliest, latest = _touch_counts(cadence, tier, tiers, min_gap, max_gap, settings)
    slots = np.column_stack([cadence, filler])
    slot_channels = (*CHANNELS, settings.filler_channel)
    minutes = np.array([settings.minutes_per_touch[channel] for channel in slot_channels], dtype=float)
    slot_hours = minutes / 60.0 + np.outer(travel, [channel == IN_PERSON for channel in slot_channels])
    count = slots.sum(axis=1)
    account = np.repeat(np.arange(len(count)), count)  # per touch, account by account
    first = np.cumsum(count) - count
    number = np.arange(len(account)) - first[account]  # in the sequence, then in date order
    sequence = _interleave(slots)
    u = _stagger(rep, account, number, count, slot_hours[account, sequence], len(rep_ids), settings.weeks)
    # touch i of the sequence sits at frac(u + i / n) of the horizon: the first in date order is i = -floor(u n)
    column = sequence[first[account] + (number - np.floor(u * count).astype(np.int64)[account]) % count[account]]
    spacing = 5 * settings.weeks / np.maximum(count, 1)  # in working days
    day = _place(count, (u * count) % 1.0 * spacing, spacing, tier, min_gap, max_gap, earliest, latest)
    hours = slot_hours[account, column]
    touch_tier = tier[account]
    day = _repair(day, hours, account, rep[account], count, min_gap[touch_tier], max_gap[touch_tier],
                  capacity / settings.weeks_per_year, settings.weeks)

    gap = day - day[np.maximum(np.arange(len(day)) - 1, 0)]  # masked for each account's first touch
    # one int64 key (rep, day, account) sorts in a third of the time of a lexsort on three
    order = np.argsort((rep[account] * settings.days + day) * len(count) + account)
    touches = pd.DataFrame({
        "account_id": accounts["account_id"].array.take(account[order]),
        "rep_id": rep_ids.array.take(rep[account[order]]),
        "touch_number": number[order] + 1,
        "touch_date": _dates(settings.start, day[order]),
        "week_start": _dates(settings.start, day[order] // 7 * 7),
        "channel": pd.array(slot_channels, dtype="str").take(column[order]),
        "hours": hours[order],
        "gap_days": pd.arrays.IntegerArray(gap[order], number[order] == 0),
        "added_for_max_gap": column[order] == len(CHANNELS),
    })
    cell = rep[account] * settings.weeks + day // 7
    return ContactPlan(touches, _rep_weeks(rep_ids, cell, hours, capacity, settings))


def _rep_weeks(
    rep_ids: pd.Index, cell: np.ndarray, hours: np.ndarray, capacity: np.ndarray, settings: ContactPlanSettings,
) -> pd.DataFrame:
    """Every rep and week of the horizon: touches and hours against the weekly capacity."""
    weeks, cells = settings.weeks, len(rep_ids) * settings.weeks
    load = np.bincount(cell, weights=hours, minlength=cells)
    weekly = np.repeat(capacity / settings.weeks_per_year, weeks)
    return pd.DataFrame({
        "rep_id": rep_ids.array.take(np.repeat(np.arange(len(rep_ids)), weeks)),
        "week_start": _dates(settings.start, np.tile(np.arange(weeks) * 7, len(rep_ids))),
        "touches": np.bincount(cell, minlength=cells),
        "hours": load,
        "capacity_hours": weekly,
        "utilization": np.divide(load, weekly, out=np.full(cells, np.nan), where=weekly > 0),
        "over_capacity": load > weekly + HOURS_TOLERANCE,
    })
