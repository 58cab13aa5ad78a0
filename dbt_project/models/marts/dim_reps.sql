{#- Reps with their capability: performance, PACE, experience, named strengths and weaknesses, capacity and planned load. -#}
{%- set reps_plan = var('reps') -%}
{%- set pace = ['passion', 'awareness', 'curiosity', 'energy'] -%}

with team as (
    select {{ divide('sum(won_deals)', 'nullif(sum(closed_deals), 0)') }} as team_win_rate
    from {{ ref('int_reps__performance') }}
),

win_rate_notes as (
    select
        rep_id,
        is_strength,
        is_weakness,
        win_rate,
        dimension,
        dimension_value,
        dimension_value || ' deals (' || {{ percent_text('win_rate') }} || ' won)' as note
    from {{ ref('int_reps__win_rates') }}
),

win_rate_summaries as (
    -- strengths from the highest win rate down, weaknesses from the lowest up
    select
        rep_id,
        {{ dbt.listagg('case when is_strength then note end', "'; '", 'order by win_rate desc, dimension, dimension_value') }}
            as strong_in,
        {{ dbt.listagg('case when is_weakness then note end', "'; '", 'order by win_rate, dimension, dimension_value') }}
            as weak_in
    from win_rate_notes
    group by rep_id
),

owned as (
    select
        firmographics.owner_rep_id as rep_id,
        count(*) as owned_accounts,
        sum(workload.workload_hours) as planned_hours_owned,
        sum(workload.actual_activity_hours) as actual_hours_on_owned
    from {{ ref('int_accounts__firmographics') }} as firmographics
    inner join {{ ref('int_accounts__workload') }} as workload using (account_id)
    where firmographics.owner_rep_id is not null
    group by firmographics.owner_rep_id
)

select
    reps.rep_id,
    reps.rep_name,
    reps.email,
    reps.role,
    reps.segment,
    reps.region,
    reps.home_latitude,
    reps.home_longitude,
    reps.hire_date,
    reps.industries,
    reps.languages,
    reps.is_active,
    reps.manager_id,
    reps.capacity_hours,
    performance.tenure_years,
    performance.experience_level,
    performance.quota_amount,
    performance.won_amount_in_quota_periods,
    performance.attainment,
    performance.closed_deals,
    performance.won_deals,
    performance.won_amount,
    performance.win_rate,
    team.team_win_rate,
    performance.activities,
    performance.activity_hours,
    performance.pace_assessed_at,
    {%- for dimension in pace %}
    performance.{{ dimension }},
    {%- endfor %}
    performance.pace_score,
    coalesce(owned.owned_accounts, 0) as owned_accounts,
    coalesce(owned.planned_hours_owned, 0) as planned_hours_owned,
    coalesce(owned.actual_hours_on_owned, 0) as actual_hours_on_owned,
    coalesce(owned.planned_hours_owned, 0) / nullif(reps.capacity_hours, 0) as planned_utilization,
    concat_ws(
        '; ',
        case when performance.attainment >= {{ reps_plan['attainment_strength'] }}
            then 'quota attainment ' || {{ percent_text('performance.attainment') }} end,
        case when performance.closed_deals >= {{ reps_plan['min_decisions'] }}
            and performance.win_rate >= team.team_win_rate + {{ reps_plan['win_rate_margin'] }}
            then 'win rate ' || {{ percent_text('performance.win_rate') }} end,
        {%- for dimension in pace %}
        case when performance.{{ dimension }} >= {{ reps_plan['pace_strength'] }} then '{{ dimension }}' end,
        {%- endfor %}
        win_rate_summaries.strong_in
    ) as strengths,
    concat_ws(
        '; ',
        case when performance.attainment < {{ reps_plan['attainment_weakness'] }}
            then 'quota attainment ' || {{ percent_text('performance.attainment') }} end,
        case when performance.closed_deals >= {{ reps_plan['min_decisions'] }}
            and performance.win_rate <= team.team_win_rate - {{ reps_plan['win_rate_margin'] }}
            then 'win rate ' || {{ percent_text('performance.win_rate') }} end,
        {%- for dimension in pace %}
        case when performance.{{ dimension }} <= {{ reps_plan['pace_weakness'] }} then '{{ dimension }}' end,
        {%- endfor %}
        win_rate_summaries.weak_in
    ) as weaknesses
from {{ ref('int_reps__as_of') }} as reps
inner join {{ ref('int_reps__performance') }} as performance using (rep_id)
cross join team
left join win_rate_summaries using (rep_id)
left join owned using (rep_id)
