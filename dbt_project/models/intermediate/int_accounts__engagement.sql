{#- Touches per channel, hours and recency of each account's activity within the funnel's activity window. -#}
{%- set window_days = var('funnel')['activity_window_days'] -%}

with activities as (
    select * from {{ ref('int_activities__as_of') }}
),

in_window as (
    select
        account_id,
        {%- for channel in var('cadence')['minutes_per_touch'] %}
        count(*) filter (where activity_type = '{{ channel }}') as actual_{{ channel }}_touches,
        {%- endfor %}
        count(*) as actual_touches,
        {{ divide('coalesce(sum(duration_minutes), 0)', 60) }} as actual_activity_hours,
        count(distinct rep_id) as active_reps
    from activities
    where days_before_snapshot < {{ window_days }}
    group by account_id
),

latest as (
    select account_id, min(days_before_snapshot) as days_since_last_activity
    from activities
    group by account_id
)

select
    latest.account_id,
    latest.days_since_last_activity,
    {%- for channel in var('cadence')['minutes_per_touch'] %}
    coalesce(in_window.actual_{{ channel }}_touches, 0) as actual_{{ channel }}_touches,
    {%- endfor %}
    coalesce(in_window.actual_touches, 0) as actual_touches,
    coalesce(in_window.actual_activity_hours, 0) as actual_activity_hours,
    coalesce(in_window.active_reps, 0) as active_reps
from latest
left join in_window using (account_id)
