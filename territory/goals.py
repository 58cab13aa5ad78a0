"""Company goals, the territory quotas allocated from them, and progress against their milestones.

A goal is a target for one metric over a window [start, deadline], optionally for one account
segment:

- revenue: the won opportunity amount closed in the window;
- new_logos: the accounts whose first ever won deal closes in the window.

Quotas. Each rep who holds accounts in a goal's scope gets quota = target x w_r / sum(w), with
w_r = basis_r x ramp_r x experience_r:

- basis: the potential of the rep's in-scope accounts (revenue), or the expected value
  (potential x win probability) of those not yet customers (new_logos, `NEW_LOGO_STAGES`);
- ramp: the rep's mean quota share over the window. A new hire carries `ramp_start_share` on
  their hire date, rising linearly to 1 at hire date + `ramp_months`; before the hire date the
  rep carries nothing. A rep without a hire date counts as fully ramped;
- experience: `QuotaSettings.experience_factor` of the rep's experience level (1 when unlisted).

Progress. The share of a goal due by a date is piecewise linear through (start, 0), the
milestones and (deadline, 1). Progress is measured on the accounts each territory holds now,
whoever closed the deals, and rolled up to regions and the company.

Time is counted in days. The ramp and the expected share treat the window as the continuous
interval from start to deadline; CRM quota periods are whole days, both ends included.
Nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

Metric = Literal["revenue", "new_logos"]
METRICS: tuple[str, ...] = ("revenue", "new_logos")
# accounts that can still become a new logo: never won (a churned account won before)
NEW_LOGO_STAGES: tuple[str, ...] = ("lead", "prospect", "open_opportunity")
DAYS_PER_MONTH = 365.25 / 12
BEHIND_PACE = 0.8  # the pace (actual / expected) below which a territory is at risk rather than behind
_EPOCH = date(1970, 1, 1)
QUOTA_COLUMNS = ("goal", "metric", "segment", "rep_id", "rep_name", "region", "accounts", "basis", "ramp_factor",
                 "experience_factor", "weight_share", "quota", "crm_quota", "period_start", "period_end")
PROGRESS_COLUMNS = ("goal", "metric", "level", "rep_id", "region", "quota", "expected_to_date", "actual_to_date",
                    "attainment", "pace", "gap_to_expected", "next_milestone", "due_at_next_milestone", "status")
_TEXT, _DATE = pd.ArrowDtype(pa.string()), pd.ArrowDtype(pa.date32())
# Column types of an empty result, so that a run with no goal publishes the same schema as any other.
_COLUMN_TYPES = {
    "accounts": "int64", "period_start": _DATE, "period_end": _DATE, "next_milestone": _DATE,
    **dict.fromkeys(("basis", "ramp_factor", "experience_factor", "weight_share", "quota", "crm_quota",
                     "expected_to_date", "actual_to_date", "attainment", "pace", "gap_to_expected",
                     "due_at_next_milestone"), "float64"),
}


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=_COLUMN_TYPES.get(name, _TEXT)) for name in columns})


@dataclass(frozen=True)
class Milestone:
    """`share` (0..1) of the goal's target is due by `due`."""

    due: date
    share: float

    def __post_init__(self) -> None:
        if not 0 <= self.share <= 1:
            raise ValueError(f"milestone {self.due}: share must be in [0, 1], got {self.share}")


@dataclass(frozen=True)
class Goal:
    """A company goal: `target` of `metric` between `start` and `deadline`, both included.

    `segment` restricts the goal to the accounts of one segment (None: every account).
    Milestones lie within the window, in order of date, with non-decreasing shares.
    """

    name: str
    metric: Metric
    target: float
    start: date
    deadline: date
    segment: str | None = None
    milestones: tuple[Milestone, ...] = ()

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"goal {self.name!r}: metric must be one of {METRICS}, got {self.metric!r}")
        if not (np.isfinite(self.target) and self.target > 0):
            raise ValueError(f"goal {self.name!r}: target must be a positive number, got {self.target}")
        if self.start >= self.deadline:
            raise ValueError(f"goal {self.name!r}: start {self.start} must be before the deadline {self.deadline}")
        for milestone in self.milestones:
            if not self.start <= milestone.due <= self.deadline:
                raise ValueError(
                    f"goal {self.name!r}: milestone {milestone.due} lies outside [{self.start}, {self.deadline}]")
        for earlier, later in zip(self.milestones, self.milestones[1:]):
            if later.due < earlier.due:
                raise ValueError(f"goal {self.name!r}: milestone {later.due} comes after {earlier.due}; list them by date")
            if later.share < earlier.share:
                raise ValueError(
                    f"goal {self.name!r}: milestone shares must not decrease, {earlier.share} by {earlier.due} "
                    f"then {later.share} by {later.due}")


@dataclass(frozen=True)
class QuotaSettings:
    """How a rep's quota share follows their ramp and experience (see the module docstring)."""

    ramp_months: float
    ramp_start_share: float
    experience_factor: dict[str, float]

    def __post_init__(self) -> None:
        if not self.ramp_months >= 0:
            raise ValueError(f"ramp_months must be >= 0, got {self.ramp_months}")
        if not 0 <= self.ramp_start_share <= 1:
            raise ValueError(f"ramp_start_share must be in [0, 1], got {self.ramp_start_share}")
        for level, factor in self.experience_factor.items():
            if not (np.isfinite(factor) and factor >= 0):
                raise ValueError(f"experience_factor[{level!r}] must be a non-negative number, got {factor}")


def _day(value: date) -> float:
    return float((value - _EPOCH).days)


def _days(values: pd.Series) -> np.ndarray:
    """Day numbers of dates (a time of day is dropped), NaN when missing."""
    stamps = pd.to_datetime(values).dt.normalize()
    return ((stamps - pd.Timestamp(_EPOCH)) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)


def _checkpoints(goal: Goal) -> dict[date, float]:
    """The milestones and the deadline (share 1), by date; a date listed twice keeps its largest share."""
    return {milestone.due: milestone.share for milestone in goal.milestones} | {goal.deadline: 1.0}


def expected_share(goal: Goal, on: date) -> float:
    """The share of `goal` due by `on`: piecewise linear through (start, 0), the milestones and
    (deadline, 1); 0 before the start, 1 after the deadline."""
    # a milestone on the start date overrides the (start, 0) point: its share is due from day one
    points = {goal.start: 0.0} | _checkpoints(goal)
    return float(np.interp(_day(on), [_day(due) for due in points], list(points.values()), left=0.0, right=1.0))


def _mean_ramp(hire_day: np.ndarray, start: float, end: float, settings: QuotaSettings) -> np.ndarray:
    """Each rep's mean ramp over [start, end], integrated exactly (NaN hire day: fully ramped).

    ramp(t) = 0 before the hire day h, then s0 + (1 - s0) x min((t - h) / L, 1). With u = max(t - h, 0)
    and c = min(u, L), its integral from h to t is s0 x u + (1 - s0) x (c^2 / 2L + u - c).
    """
    length = settings.ramp_months * DAYS_PER_MONTH
    s0 = settings.ramp_start_share

    def integral(t: float) -> np.ndarray:
        u = np.maximum(t - hire_day, 0.0)
        c = np.minimum(u, length)
        rising = c * c / (2 * length) if length > 0 else 0.0  # no ramp: full share from the hire day
        return s0 * u + (1 - s0) * (rising + u - c)

    return np.where(np.isnan(hire_day), 1.0, (integral(end) - integral(start)) / (end - start))


def _held_accounts(assignments: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """The plan's owner of each account, with the account's attributes."""
    columns = ["account_id", "segment", "potential", "win_probability", "funnel_stage"]
    return assignments[["account_id", "rep_id"]].merge(accounts[columns], on="account_id", how="inner")


def _in_scope(held: pd.DataFrame, goal: Goal) -> pd.DataFrame:
    return held if goal.segment is None else held[held["segment"] == goal.segment]


def _crm_quota(crm_quotas: pd.DataFrame | None, goal: Goal) -> pd.Series:
    """Per rep: the CRM quota of the goal's window, each period's amount prorated by its days inside it."""
    if crm_quotas is None or crm_quotas.empty:
        return pd.Series(dtype=float)
    first, last = _days(crm_quotas["period_start"]), _days(crm_quotas["period_end"])
    overlap = np.minimum(last, _day(goal.deadline)) - np.maximum(first, _day(goal.start)) + 1
    inside = overlap > 0
    prorated = crm_quotas["quota_amount"].to_numpy(dtype=float, na_value=np.nan) * overlap / (last - first + 1)
    return pd.Series(prorated[inside]).groupby(crm_quotas["rep_id"].to_numpy()[inside]).sum()


def territory_quotas(
    goals: tuple[Goal, ...] | list[Goal], settings: QuotaSettings, assignments: pd.DataFrame, accounts: pd.DataFrame,
    reps: pd.DataFrame, crm_quotas: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per goal and rep holding accounts in the goal's scope: the rep's quota and its make-up.

    quota = target x weight_share, weight_share = w_r / sum(w) (the model is in the module docstring),
    so a goal's quotas add up to its target. crm_quota is the rep's CRM quota over the goal's window
    (periods prorated by overlapping days), null when no CRM period overlaps it. Rows follow the
    goals' order, then rep_id.

    Raises ValueError when goal names repeat, or when a goal's weights add up to 0 (no rep holds
    accounts in its scope, their basis is 0, or none of them is on board during the window): the
    target then has nothing to be split in proportion to.
    """
    names = [goal.name for goal in goals]
    if len(set(names)) != len(names):
        raise ValueError(f"goal names must be unique, got {names}")
    held = _held_accounts(assignments, accounts)
    rep_info = reps.set_index("rep_id")[["rep_name", "region", "hire_date", "experience_level"]]
    frames = []
    for goal in goals:
        scope = _in_scope(held, goal)
        potential = scope["potential"].fillna(0.0).clip(lower=0).to_numpy(dtype=float)
        if goal.metric == "revenue":
            basis = potential
        else:
            open_for_logo = scope["funnel_stage"].isin(NEW_LOGO_STAGES).to_numpy()
            basis = potential * scope["win_probability"].fillna(0.0).to_numpy(dtype=float) * open_for_logo
        per_rep = (pd.DataFrame({"rep_id": scope["rep_id"].to_numpy(), "basis": basis})
                   .groupby("rep_id", sort=True)["basis"].agg(accounts="size", basis="sum"))
        info = rep_info.reindex(per_rep.index)
        ramp = _mean_ramp(_days(info["hire_date"]), _day(goal.start), _day(goal.deadline), settings)
        experience = info["experience_level"].map(settings.experience_factor).fillna(1.0).to_numpy(dtype=float)
        weight = per_rep["basis"].to_numpy() * ramp * experience
        if not weight.sum() > 0:
            raise ValueError(
                f"goal {goal.name!r}: the {len(weight)} rep(s) holding accounts in its scope "
                f"(segment {goal.segment or 'any'}) have a total weight of 0 (basis x ramp x experience), "
                "so the target cannot be allocated in proportion to it")
        share = weight / weight.sum()
        frames.append(pd.DataFrame({
            "goal": goal.name, "metric": goal.metric, "segment": goal.segment,
            "rep_id": per_rep.index.to_numpy(), "rep_name": info["rep_name"].to_numpy(),
            "region": info["region"].to_numpy(), "accounts": per_rep["accounts"].to_numpy(dtype=np.int64),
            "basis": per_rep["basis"].to_numpy(), "ramp_factor": ramp, "experience_factor": experience,
            "weight_share": share, "quota": goal.target * share,
            "crm_quota": per_rep.index.map(_crm_quota(crm_quotas, goal)).to_numpy(dtype=float, na_value=np.nan),
            "period_start": goal.start, "period_end": goal.deadline,
        }))
    return pd.concat(frames, ignore_index=True) if frames else _empty(QUOTA_COLUMNS)


def _progress_measures(frame: pd.DataFrame, share: float, started: bool, behind_pace: float) -> pd.DataFrame:
    """Adds expected_to_date, attainment, pace, gap_to_expected and status to rows of quota and actual_to_date."""
    quota, actual = frame["quota"].to_numpy(dtype=float), frame["actual_to_date"].to_numpy(dtype=float)
    expected = quota * share
    status = np.select(
        # actual >= pace x expected also holds when nothing is due yet (expected 0): on track
        [np.full(len(frame), not started), quota <= 0, actual >= quota, actual >= expected, actual >= behind_pace * expected],
        ["not_started", "no_quota", "reached", "on_track", "behind"],
        "at_risk",
    )
    return frame.assign(
        expected_to_date=expected,
        attainment=np.divide(actual, quota, out=np.full(len(frame), np.nan), where=quota > 0),
        pace=np.divide(actual, expected, out=np.full(len(frame), np.nan), where=expected > 0),
        gap_to_expected=expected - actual,
        status=status,
    )


def achieved(metric: Metric, opportunities: pd.DataFrame, first: date, last: date) -> pd.Series:
    """Per account: what it achieved of `metric` with a close date in [first, last].

    revenue: the won amount; new_logos: 1 when the account's first ever won deal closed then.
    """
    won = opportunities[opportunities["is_won"].eq(True).to_numpy(dtype=bool, na_value=False)]
    won_day = pd.Series(_days(won["close_date"]), index=won.index)
    if metric == "revenue":
        in_window = won_day.between(_day(first), _day(last))
        return won.loc[in_window, "amount"].fillna(0.0).groupby(won.loc[in_window, "account_id"]).sum()
    first_win_day = won_day.groupby(won["account_id"]).min()
    return first_win_day.between(_day(first), _day(last)).astype(float)


def growth_target(
    metric: Metric, growth: float, start: date, deadline: date, segment: str | None, accounts: pd.DataFrame,
    opportunities: pd.DataFrame,
) -> float:
    """The target of a growth goal: (1 + growth) x what the accounts in scope achieved in the equally long span before `start`.

    Raises ValueError when they achieved nothing then: there is no baseline to grow from.
    """
    span = deadline - start
    baseline_start, baseline_end = start - span - timedelta(days=1), start - timedelta(days=1)
    scope = accounts if segment is None else accounts[accounts["segment"] == segment]
    baseline = float(scope["account_id"].map(achieved(metric, opportunities, baseline_start, baseline_end)).fillna(0.0).sum())
    if not baseline > 0:
        raise ValueError(f"no {metric} was won from {baseline_start} to {baseline_end} in segment {segment or 'any'}: "
                         "a growth goal needs that baseline; give the goal a target instead")
    return (1 + growth) * baseline


def goal_progress(
    goals: tuple[Goal, ...] | list[Goal], quotas: pd.DataFrame, assignments: pd.DataFrame, accounts: pd.DataFrame,
    reps: pd.DataFrame, opportunities: pd.DataFrame, as_of: date, behind_pace: float = BEHIND_PACE,
) -> pd.DataFrame:
    """Progress of each goal by `as_of`, per rep (the rows of `quotas`), region and company.

    Progress is measured on the accounts each territory now holds (`assignments`), within the goal's
    scope, whoever closed the deals: actual_to_date is the won amount (revenue) or the number of
    accounts won for the first time ever (new_logos) with a close date in [start, min(as_of, deadline)].
    A rep's region is the one in `reps`; regions and the company sum their reps' quotas, expected and
    actual values.

    expected_to_date = quota x `expected_share(goal, as_of)`; pace = actual / expected (null while
    nothing is due); gap_to_expected = expected - actual (>= 0: behind). next_milestone is the first
    milestone after as_of, the deadline counting as the last one (share 1); due_at_next_milestone =
    quota x its share. status: not_started (as_of before the start), else no_quota (a quota of 0, e.g.
    a rep hired after the deadline), reached (actual >= quota), on_track (pace >= 1, or nothing due
    yet), behind (pace >= `behind_pace`), at_risk.

    Rows: goals in the given order; per goal the company, its regions, then its reps by region and rep_id.
    """
    if not 0 < behind_pace <= 1:
        raise ValueError(f"behind_pace must be in (0, 1], got {behind_pace}")
    held = _held_accounts(assignments, accounts)
    region_of = reps.set_index("rep_id")["region"]
    frames = []
    for goal in goals:
        rows = quotas[quotas["goal"] == goal.name]
        if rows.empty:
            raise ValueError(f"goal {goal.name!r} has no quotas: allocate them with territory_quotas first")
        per_account = achieved(goal.metric, opportunities, goal.start, min(as_of, goal.deadline))
        scope = _in_scope(held, goal)
        actual = scope["account_id"].map(per_account).fillna(0.0).groupby(scope["rep_id"].to_numpy()).sum()
        rep_level = pd.DataFrame({
            "level": "rep", "rep_id": rows["rep_id"].to_numpy(), "region": rows["rep_id"].map(region_of).to_numpy(),
            "quota": rows["quota"].to_numpy(dtype=float),
            "actual_to_date": rows["rep_id"].map(actual).fillna(0.0).to_numpy(dtype=float),
        }).sort_values(["region", "rep_id"], na_position="last")
        totals = ["quota", "actual_to_date"]
        region_level = (rep_level.groupby("region", dropna=False, sort=True)[totals].sum().reset_index()
                        .assign(level="region", rep_id=None))
        company_level = rep_level[totals].sum().to_frame().T.assign(level="company", rep_id=None, region=None)
        checkpoint = next(((due, share) for due, share in _checkpoints(goal).items() if due > as_of), None)
        progress = _progress_measures(
            pd.concat([company_level, region_level, rep_level], ignore_index=True),
            expected_share(goal, as_of), as_of >= goal.start, behind_pace,
        )
        frames.append(progress.assign(
            goal=goal.name, metric=goal.metric,
            next_milestone=checkpoint[0] if checkpoint else None,
            due_at_next_milestone=progress["quota"] * checkpoint[1] if checkpoint else np.nan,
        ))
    if not frames:
        return _empty(PROGRESS_COLUMNS)
    progress = pd.concat(frames, ignore_index=True)[list(PROGRESS_COLUMNS)]
    # a date column even when no milestone is left, so the table keeps its types from one date to the next
    return progress.assign(next_milestone=pd.array(progress["next_milestone"], dtype=_DATE))
