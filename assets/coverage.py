"""Coverage: the plan's dated touches for the next weeks, and the weekly on-call rotation of each team."""

import datetime as dt

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from assets.owners import SALES_OPERATIONS
from assets.partitions import snapshot_asset, snapshot_date
from assets.resources import RunSettings, Warehouse
from territory.contact_plan import CHANNELS, ContactPlanSettings, contact_plan
from territory.rotation import rotation_schedule

ACCOUNTS_QUERY = f"""
    select assignments.account_id, assignments.rep_id, accounts.tier,
        {', '.join(f'accounts.planned_{channel}_touches' for channel in CHANNELS)}, accounts.planned_travel_hours
    from solve.territory_assignments as assignments join main.dim_accounts as accounts using (account_id)
    order by assignments.account_id
"""
REPS_QUERY = "select rep_id, capacity_hours, segment, region from main.dim_reps where is_active order by rep_id"


def first_planned_day(snapshot: dt.date) -> dt.date:
    """The Monday after the snapshot date: where the contact plan and the rotation start."""
    return snapshot + dt.timedelta(days=7 - snapshot.weekday())


@snapshot_asset(
    key=AssetKey(["solve", "contact_plan"]),
    group_name="solve",
    owners=SALES_OPERATIONS,
    deps=[AssetKey(["solve", "territory_plan"]), AssetKey("dim_accounts"), AssetKey("dim_reps")],
    kinds={"python", "duckdb"},
)
def coverage_plan(context: AssetExecutionContext, warehouse: Warehouse, run_settings: RunSettings) -> MaterializeResult:
    """Each rep's dated touches of each account for the next weeks, within capacity and gap rules, and who is on call."""
    plan, start = run_settings.plan(), first_planned_day(snapshot_date(context))
    with warehouse.connect(read_only=True) as conn:
        accounts, reps = conn.sql(ACCOUNTS_QUERY).df(), conn.sql(REPS_QUERY).df()
    visits = accounts["planned_meeting_in_person_touches"].to_numpy(dtype=float)
    accounts["travel_hours_per_visit"] = np.divide(
        accounts["planned_travel_hours"].to_numpy(dtype=float), visits, out=np.zeros(len(accounts)), where=visits > 0)
    settings = ContactPlanSettings(
        start=start, minutes_per_touch=plan.cadence.minutes_per_touch, min_gap_days=plan.contact_plan.min_gap_days,
        max_gap_days=plan.contact_plan.max_gap_days, weeks=plan.contact_plan.weeks,
        filler_channel=plan.contact_plan.filler_channel,
    )
    planned = contact_plan(accounts, reps, settings)
    teams = reps[plan.rotation.team_by].fillna("unassigned").astype(str).agg("/".join, axis=1)
    roster = rotation_schedule(pd.DataFrame({"rep_id": reps["rep_id"], "team": teams}), start, plan.contact_plan.weeks)

    tables = {"contact_plan": planned.touches, "contact_plan_weeks": planned.rep_weeks, "rotation_schedule": roster}
    warehouse.replace_tables("solve", tables)
    weeks = planned.rep_weeks
    over = weeks[weeks["over_capacity"]]
    if not over.empty:
        context.log.warning(f"{over['rep_id'].nunique()} rep(s) have {len(over)} week(s) over capacity in the contact plan")
    return MaterializeResult(metadata={
        "dagster/row_count": len(planned.touches),
        "first_day": start.isoformat(),
        "touches_by_channel": MetadataValue.md(planned.touches["channel"].value_counts().to_markdown()),
        "added_for_max_gap": int(planned.touches["added_for_max_gap"].sum()),
        "max_weekly_utilization": float(weeks["utilization"].max()) if len(weeks) else 0.0,
        "rep_weeks_over_capacity": len(over),
        "teams_on_rotation": int(teams.nunique()),
    })
