{#- Account quality: potential, win probability and cost to serve, each with its named parts; net value, score and tier. -#}
{%- set potential = var('potential') -%}
{%- set win = var('win_probability') -%}
{%- set cost = var('cost_to_serve') -%}

with accounts as (
    select
        firmographics.account_id,
        firmographics.segment,
        coalesce(firmographics.annual_revenue, 0) as annual_revenue,
        funnel.funnel_stage,
        icp.icp_fit,
        coalesce(pipeline.open_pipeline_amount, 0) as open_pipeline_amount,
        coalesce(pipeline.won_amount_in_window, 0) as won_amount_in_window,
        coalesce(pipeline.won_deals, 0) as won_deals,
        coalesce(pipeline.closed_deals, 0) as closed_deals,
        coalesce(engagement.actual_activity_hours, 0) as actual_activity_hours,
        proximity.distance_to_base_km
    from {{ ref('int_accounts__firmographics') }} as firmographics
    inner join {{ ref('int_accounts__funnel') }} as funnel using (account_id)
    inner join {{ ref('int_accounts__icp_fit') }} as icp using (account_id)
    left join {{ ref('int_accounts__pipeline') }} as pipeline using (account_id)
    left join {{ ref('int_accounts__engagement') }} as engagement using (account_id)
    left join {{ ref('int_accounts__rep_proximity') }} as proximity using (account_id)
),

parts as (
    select
        account_id,
        annual_revenue * {{ potential['share_of_revenue'] }} as potential_firmographic,
        open_pipeline_amount * {{ potential['open_pipeline_weight'] }} as potential_pipeline,
        won_amount_in_window * {{ potential['won_expansion_rate'] }} as potential_expansion,

        cast({{ lookup('funnel_stage', win['by_funnel_stage']) }} as {{ type_double() }}) as win_probability_stage_base,
        least(
            {{ win['max'] }},
            {{ lookup('funnel_stage', win['by_funnel_stage']) }} * (1 + {{ win['icp_lift'] }} * (icp_fit - 0.5))
        ) as win_probability_icp_adjusted,
        won_deals,
        closed_deals,

        -- travel to the segment's yearly in-person visits and back, from the nearest rep base
        {{ lookup('segment', cost['visits_per_year']) }} * 2 * coalesce(distance_to_base_km, 0) * {{ cost['cost_per_km'] }}
            as cost_to_serve_travel,
        -- support: the segment's baseline hours, or the hours the CRM logged when they are more
        greatest({{ lookup('segment', cost['support_hours_per_year']) }}, actual_activity_hours) * {{ cost['cost_per_hour'] }}
            as cost_to_serve_support
    from accounts
),

valued as (
    select
        *,
        potential_firmographic + potential_pipeline + potential_expansion as potential,
        -- the account's own closed deals, blended with prior_strength pseudo-deals at the adjusted base rate
        case
            when closed_deals + {{ win['prior_strength'] }} = 0 then win_probability_icp_adjusted
            else least(
                {{ win['max'] }},
                (won_deals + {{ win['prior_strength'] }} * win_probability_icp_adjusted) / (closed_deals + {{ win['prior_strength'] }})
            )
        end as win_probability,
        cost_to_serve_travel + cost_to_serve_support as cost_to_serve
    from parts
),

netted as (
    select
        *,
        potential * win_probability - cost_to_serve as net_value
    from valued
)

select
    *,
    100 * percent_rank() over (order by net_value) as quality_score,
    {{ tier_of('100 * percent_rank() over (order by net_value)') }} as tier
from netted
