{#- Funnel stage per account from its CRM lifecycle stage, pipeline and activity, as of the snapshot date. -#}
{%- set funnel = var('funnel') -%}

with accounts as (
    select
        firmographics.account_id,
        firmographics.lifecycle_stage,
        coalesce(pipeline.open_opportunities, 0) as open_opportunities,
        coalesce(pipeline.won_deals, 0) as won_deals,
        coalesce(pipeline.won_deals_in_window, 0) as won_deals_in_window,
        coalesce(pipeline.lost_deals_in_window, 0) as lost_deals_in_window,
        engagement.days_since_last_activity
    from {{ ref('int_accounts__firmographics') }} as firmographics
    left join {{ ref('int_accounts__pipeline') }} as pipeline using (account_id)
    left join {{ ref('int_accounts__engagement') }} as engagement using (account_id)
)

select
    account_id,
    case
        when lifecycle_stage = 'churned' and open_opportunities = 0 and won_deals_in_window = 0 then 'churned'
        when lifecycle_stage = 'customer' or won_deals > 0 then
            case
                when coalesce(days_since_last_activity, {{ funnel['at_risk_silent_days'] }}) >= {{ funnel['at_risk_silent_days'] }}
                    or lost_deals_in_window >= {{ funnel['at_risk_recent_losses'] }}
                    then 'at_risk'
                else 'customer'
            end
        when open_opportunities > 0 then 'open_opportunity'
        when lifecycle_stage in ('mql', 'sql', 'opportunity')
            or days_since_last_activity < {{ funnel['prospect_activity_days'] }}
            then 'prospect'
        else 'lead'
    end as funnel_stage
from accounts
