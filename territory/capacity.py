"""Capacity gap per market (region x industry group x size band), and what to do about it.

Model, per market:

- required_hours = the sum of its accounts' `workload_hours` (the yearly hours their cadence needs).
- available_hours: with a plan, each rep's capacity is shared among the markets the rep works in,
  in proportion to the hours of work the rep carries in each; a rep with no work contributes
  nothing. Without a plan (the solve found none), each pool's capacity (the sum of its reps'
  `capacity_hours`) is shared among markets in proportion to the pool's required hours in each;
  the caller gives each account's pool and each rep's pool in a `pool` column. A pool with work
  but no reps contributes nothing, so its work shows as missing.
- reps_serving = the reps whose capacity is shared into the market: with a plan the reps with
  work there, without one the reps of the pools with work there.
- utilization = required / available (NaN when nothing is available);
  missing_hours = max(0, required - available).
- When hours are missing, they are covered in this order:
  1. outsourced_lead_generation_hours = min(missing, the market's `prospecting_hours`): the call,
     voicemail and email work on leads and prospects;
  2. outsourced_appointment_setting_hours = min(what is left, `prospect_meetings` x
     `appointment_setting_hours_per_meeting`): booking a prospect meeting can be outsourced, the
     meeting itself cannot;
  3. reps_to_hire = ceil(the rest / `rep_hours_per_year`), of experience_level_to_hire = the
     market's `experience_required` ('any': any level; null when nobody is to be hired).
- recommendation says it in one sentence: "hire 2 senior reps (2,900 h uncovered); outsource
  300 h of lead generation", or "covered" when nothing is missing ("covered, with little
  headroom" when utilization exceeds `headroom`).

Rows are sorted by missing_hours (largest first), then market_id. Nothing here reads or writes files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# The proportional sharing hands a fully loaded rep's capacity back with rounding error; a
# difference this small is not a shortfall.
NEGLIGIBLE_HOURS = 1e-6

DESCRIBING_COLUMNS = ("market_id", "region", "industry_group", "size_band", "intensity")  # copied from markets
MARKET_COLUMNS = (*DESCRIBING_COLUMNS, "experience_required")
ACCOUNT_COLUMNS = ("account_id", "market_id", "workload_hours", "prospecting_hours", "prospect_meetings")
REP_COLUMNS = ("rep_id", "capacity_hours")


@dataclass(frozen=True)
class CapacitySettings:
    """What the recommendation assumes.

    rep_hours_per_year: selling hours of one full-time hire (the plan's `markets.rep_hours_per_year`);
    appointment_setting_hours_per_meeting: the time booking one prospect meeting takes;
    headroom: the utilization above which a covered market has little headroom.
    """

    rep_hours_per_year: float
    appointment_setting_hours_per_meeting: float
    headroom: float = 0.9

    def __post_init__(self) -> None:
        if not self.rep_hours_per_year > 0:
            raise ValueError(f"rep_hours_per_year must be positive, got {self.rep_hours_per_year}")
        if not self.appointment_setting_hours_per_meeting >= 0:
            raise ValueError("appointment_setting_hours_per_meeting must be non-negative, "
                             f"got {self.appointment_setting_hours_per_meeting}")
        if not 0 < self.headroom <= 1:
            raise ValueError(f"headroom is a utilization in (0, 1], got {self.headroom}")


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {', '.join(missing)}")


def _shared_capacity(
    owner: pd.Series, market: pd.Series, hours: np.ndarray, capacity: pd.Series, headcount: pd.Series,
) -> pd.DataFrame:
    """Per market: the capacity each owner (a rep, or a pool) shares into it in proportion to the
    hours the owner carries there, and the reps behind the owners with hours there.

    `owner` and `market` have one entry per account; `capacity` and `headcount` are indexed by owner.
    """
    work = pd.DataFrame({"owner": owner.to_numpy(), "market_id": market.to_numpy(), "hours": hours})
    work = work.groupby(["owner", "market_id"], sort=True)["hours"].sum()
    work = work[work > 0]
    share = work / work.groupby(level="owner").transform("sum")
    owners = work.index.get_level_values("owner")
    return pd.DataFrame({
        "available_hours": share.to_numpy() * capacity.reindex(owners).fillna(0.0).to_numpy(dtype=float),
        "reps_serving": headcount.reindex(owners).fillna(0).to_numpy(dtype=np.int64),
    }, index=work.index).groupby(level="market_id").sum()


def _recommendation(
    missing: float, lead_generation: float, appointment_setting: float, hires: int, uncovered: float, level: str | None,
    utilization: float, headroom: float,
) -> str:
    if missing <= 0:
        return "covered, with little headroom" if utilization > headroom else "covered"
    parts = []
    if hires:
        kind = "" if level in (None, "any") else f"{level} "
        parts.append(f"hire {hires} {kind}rep{'s' if hires > 1 else ''} ({uncovered:,.0f} h uncovered)")
    outsourced = [f"{hours:,.0f} h of {work}" for hours, work in (
        (lead_generation, "lead generation"), (appointment_setting, "appointment setting")) if hours > 0]
    if outsourced:
        parts.append("outsource " + " and ".join(outsourced))
    return "; ".join(parts)


def capacity_gap_by_market(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    markets: pd.DataFrame,
    settings: CapacitySettings,
    assignment: pd.Series | None = None,
) -> pd.DataFrame:
    """Each market's required against available hours, and the outsourcing and hires that close the gap.

    accounts: one row per account with account_id, market_id, workload_hours, prospecting_hours
    (call, voicemail and email hours of lead and prospect accounts, 0 for the others) and
    prospect_meetings (planned meetings per year of those accounts), plus `pool` without a plan.
    reps: rep_id and capacity_hours, plus `pool` without a plan. markets: dim_markets rows.
    assignment: the plan's rep_id per account, indexed by account_id; None when no plan was found.
    See the module docstring for the model.
    """
    _require(accounts, ACCOUNT_COLUMNS + (() if assignment is not None else ("pool",)), "accounts")
    _require(reps, REP_COLUMNS + (() if assignment is not None else ("pool",)), "reps")
    _require(markets, MARKET_COLUMNS, "markets")
    market_ids = pd.Index(markets["market_id"], name="market_id")
    unknown = ~accounts["market_id"].isin(market_ids)
    if unknown.any():
        raise ValueError(f"account {accounts.loc[unknown, 'account_id'].iloc[0]} is in a market not in markets")
    hours = accounts["workload_hours"].fillna(0.0).clip(lower=0).to_numpy(dtype=float)
    capacity = reps["capacity_hours"].fillna(0.0).clip(lower=0).to_numpy(dtype=float)

    if assignment is not None:
        owner = accounts["account_id"].map(assignment)
        unowned = ~owner.isin(reps["rep_id"])
        if unowned.any():
            account = accounts.loc[unowned, "account_id"].iloc[0]
            raise ValueError(f"account {account} has no rep in the assignment, or one not in reps")
        shared = _shared_capacity(owner, accounts["market_id"], hours, pd.Series(capacity, index=reps["rep_id"]),
                                  pd.Series(1, index=reps["rep_id"]))
    else:
        if accounts["pool"].isna().any():
            raise ValueError(f"account {accounts.loc[accounts['pool'].isna(), 'account_id'].iloc[0]} has no pool")
        pools = pd.Series(capacity).groupby(reps["pool"].to_numpy())
        shared = _shared_capacity(accounts["pool"], accounts["market_id"], hours, pools.sum(), pools.size())
    shared = shared.reindex(market_ids, fill_value=0)

    work = pd.DataFrame({
        "market_id": accounts["market_id"].to_numpy(), "required_hours": hours,
        "prospecting_hours": accounts["prospecting_hours"].fillna(0.0).to_numpy(dtype=float),
        "prospect_meetings": accounts["prospect_meetings"].fillna(0.0).to_numpy(dtype=float),
    }).groupby("market_id").agg(
        accounts=("required_hours", "size"), required_hours=("required_hours", "sum"),
        prospecting_hours=("prospecting_hours", "sum"), prospect_meetings=("prospect_meetings", "sum"),
    ).reindex(market_ids, fill_value=0)

    required = work["required_hours"].to_numpy(dtype=float)
    available = shared["available_hours"].to_numpy(dtype=float)
    missing = np.maximum(0.0, required - available)
    missing[missing < NEGLIGIBLE_HOURS] = 0.0
    lead_generation = np.minimum(missing, work["prospecting_hours"].to_numpy(dtype=float))
    appointment_setting = np.minimum(
        missing - lead_generation,
        work["prospect_meetings"].to_numpy(dtype=float) * settings.appointment_setting_hours_per_meeting,
    )
    uncovered = missing - lead_generation - appointment_setting
    hires = np.ceil(uncovered / settings.rep_hours_per_year).astype(np.int64)
    level = np.where(hires > 0, markets["experience_required"].to_numpy(dtype=object), None)
    utilization = np.divide(required, available, out=np.full(len(required), np.nan), where=available > 0)

    gap = pd.DataFrame({
        **{column: markets[column].to_numpy() for column in DESCRIBING_COLUMNS},
        "accounts": work["accounts"].to_numpy(dtype=np.int64),
        "reps_serving": shared["reps_serving"].to_numpy(dtype=np.int64),
        "required_hours": required,
        "available_hours": available,
        "utilization": utilization,
        "missing_hours": missing,
        "outsourced_lead_generation_hours": lead_generation,
        "outsourced_appointment_setting_hours": appointment_setting,
        "reps_to_hire": hires,
        "experience_level_to_hire": level,
        "recommendation": [
            _recommendation(*row, settings.headroom)
            for row in zip(missing, lead_generation, appointment_setting, hires, uncovered, level, utilization)
        ],
    })
    return gap.sort_values(["missing_hours", "market_id"], ascending=[False, True], kind="stable", ignore_index=True)
