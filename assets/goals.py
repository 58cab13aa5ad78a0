"""Goals: territory quotas allocated from the company's goals, and each territory's progress against the milestones."""

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue

from assets.owners import SALES_OPERATIONS
from assets.partitions import snapshot_asset, snapshot_date
from assets.resources import RunSettings, Warehouse
from territory import goals

ASSIGNMENTS_QUERY = "select account_id, rep_id from solve.territory_assignments"
ACCOUNTS_QUERY = "select account_id, segment, region, potential, win_probability, funnel_stage from main.dim_accounts"
REPS_QUERY = "select rep_id, rep_name, segment, region, hire_date, experience_level from main.dim_reps where is_active"
OPPORTUNITIES_QUERY = (
    "select opportunity_id, account_id, owner_rep_id, amount, close_date, is_won, is_closed from main.int_opportunities__as_of"
)
CRM_QUOTAS_QUERY = "select rep_id, period_start, period_end, quota_amount from main.stg_crm__quotas"


@snapshot_asset(
    key=AssetKey(["solve", "territory_quotas"]),
    group_name="solve",
    owners=SALES_OPERATIONS,
    deps=[
        AssetKey(["solve", "territory_plan"]), AssetKey("dim_accounts"), AssetKey("dim_reps"),
        AssetKey("int_opportunities__as_of"), AssetKey("stg_crm__quotas"),
    ],
    kinds={"python", "duckdb"},
)
def territory_quotas(context: AssetExecutionContext, warehouse: Warehouse, run_settings: RunSettings) -> MaterializeResult:
    """Each territory's quota of the company's goals, and who is on track, behind or at risk by the snapshot date."""
    plan, day = run_settings.plan(), snapshot_date(context)
    with warehouse.connect(read_only=True) as conn:
        assignments, accounts, reps = (conn.sql(q).df() for q in (ASSIGNMENTS_QUERY, ACCOUNTS_QUERY, REPS_QUERY))
        opportunities, crm_quotas = conn.sql(OPPORTUNITIES_QUERY).df(), conn.sql(CRM_QUOTAS_QUERY).df()

    settings = plan.goals.quota_settings()
    allocated, skipped = [], []
    # A goal that cannot be allocated (no baseline to grow from, nobody holding its accounts) is
    # reported and left out: the plan and the other goals are still published.
    for spec in plan.goals.targets:
        try:
            target = spec.target or goals.growth_target(
                spec.metric, spec.growth, spec.start, spec.deadline, spec.segment, accounts, opportunities)
            goal = spec.to_goal(target)
            allocated.append((goal, goals.territory_quotas([goal], settings, assignments, accounts, reps, crm_quotas)))
        except ValueError as error:
            context.log.warning(f"goal '{spec.name}' left out: {error}")
            skipped.append(f"{spec.name}: {error}")
    quotas = goals.territory_quotas([], settings, assignments, accounts, reps) if not allocated else pd.concat(
        [frame for _, frame in allocated], ignore_index=True)
    progress = goals.goal_progress([goal for goal, _ in allocated], quotas, assignments, accounts, reps, opportunities, day)

    warehouse.replace_tables("solve", {"territory_quotas": quotas, "goal_progress": progress})
    company = progress[progress["level"] == "company"]
    reps_by_status = progress[progress["level"] == "rep"].groupby(["goal", "status"]).size().unstack(fill_value=0)
    return MaterializeResult(metadata={
        "dagster/row_count": len(quotas),
        "goals": MetadataValue.md(company[["goal", "metric", "quota", "expected_to_date", "actual_to_date", "status"]]
                                  .to_markdown(index=False) if not company.empty else "no goal"),
        "reps_by_status": MetadataValue.md(reps_by_status.to_markdown() if not reps_by_status.empty else "no rep"),
        "skipped_goals": MetadataValue.md("\n".join(f"- {line}" for line in skipped) or "none"),
    })
