{%- set channels = var('cadence')['minutes_per_touch'] -%}
{%- set personas = var('icp')['personas'] -%}

select
    firmographics.account_id,
    firmographics.account_name,
    firmographics.domain,
    firmographics.owner_rep_id,
    firmographics.parent_account_id,
    firmographics.lifecycle_stage,
    funnel.funnel_stage,

    -- account type
    firmographics.segment,
    firmographics.industry,
    firmographics.industry_group,
    firmographics.employees,
    firmographics.size_band,
    firmographics.annual_revenue,
    firmographics.revenue_band,
    firmographics.country,
    firmographics.state,
    firmographics.city,
    firmographics.postal_code,
    firmographics.region,
    firmographics.latitude,
    firmographics.longitude,
    firmographics.region || ' | ' || firmographics.industry_group || ' | ' || firmographics.size_band as market_id,

    -- audience
    icp.audience_segment,
    icp.icp_fit,
    icp.icp_industry_score,
    icp.icp_size_score,
    icp.icp_region_score,
    icp.icp_persona_score,
    coalesce(personas.contacts, 0) as contacts,
    {%- for persona in personas %}
    coalesce(personas.{{ persona }}_contacts, 0) as {{ persona }}_contacts,
    {%- endfor %}

    -- quality
    quality.potential,
    quality.potential_firmographic,
    quality.potential_pipeline,
    quality.potential_expansion,
    quality.win_probability,
    quality.win_probability_stage_base,
    quality.win_probability_icp_adjusted,
    quality.won_deals,
    quality.closed_deals,
    quality.cost_to_serve,
    quality.cost_to_serve_travel,
    quality.cost_to_serve_support,
    proximity.distance_to_base_km,
    proximity.nearest_base_rep_id,
    quality.net_value,
    quality.quality_score,
    quality.tier,

    -- pipeline and engagement
    coalesce(pipeline.open_opportunities, 0) as open_opportunities,
    coalesce(pipeline.open_pipeline_amount, 0) as open_pipeline_amount,
    coalesce(pipeline.won_amount_in_window, 0) as won_amount_in_window,
    coalesce(pipeline.lost_deals_in_window, 0) as lost_deals_in_window,
    engagement.days_since_last_activity,

    -- workload: planned cadence against logged activity
    {%- for channel in channels %}
    workload.planned_{{ channel }}_touches,
    {%- endfor %}
    workload.planned_touches,
    workload.planned_touch_hours,
    workload.planned_travel_hours,
    workload.workload_hours,
    {%- for channel in channels %}
    workload.actual_{{ channel }}_touches,
    {%- endfor %}
    workload.actual_touches,
    workload.actual_activity_hours,
    workload.cadence_adherence,

    firmographics.created_at
from {{ ref('int_accounts__firmographics') }} as firmographics
inner join {{ ref('int_accounts__funnel') }} as funnel using (account_id)
inner join {{ ref('int_accounts__icp_fit') }} as icp using (account_id)
inner join {{ ref('int_accounts__quality') }} as quality using (account_id)
inner join {{ ref('int_accounts__workload') }} as workload using (account_id)
left join {{ ref('int_accounts__personas') }} as personas using (account_id)
left join {{ ref('int_accounts__pipeline') }} as pipeline using (account_id)
left join {{ ref('int_accounts__engagement') }} as engagement using (account_id)
left join {{ ref('int_accounts__rep_proximity') }} as proximity using (account_id)
