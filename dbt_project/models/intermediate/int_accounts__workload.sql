{#- Planned touches per channel from the tier's cadence, the hours they take with travel, and the touches actually logged. -#}
{%- set cadence = var('cadence') -%}
{%- set channels = cadence['minutes_per_touch'] -%}

with accounts as (
    select
        quality.account_id,
        quality.tier,
        coalesce(proximity.distance_to_base_km, 0) as distance_to_base_km,
        {%- for channel in channels %}
        coalesce(engagement.actual_{{ channel }}_touches, 0) as actual_{{ channel }}_touches,
        {%- endfor %}
        coalesce(engagement.actual_touches, 0) as actual_touches,
        coalesce(engagement.actual_activity_hours, 0) as actual_activity_hours
    from {{ ref('int_accounts__quality') }} as quality
    left join {{ ref('int_accounts__rep_proximity') }} as proximity using (account_id)
    left join {{ ref('int_accounts__engagement') }} as engagement using (account_id)
),

planned as (
    select
        *,
        {%- for channel in channels %}
        cast(case tier
            {%- for tier, touches in cadence['touches_per_year'].items() %} when '{{ tier }}' then {{ touches[channel] }}{% endfor %}
        end as {{ type_double() }}) as planned_{{ channel }}_touches,
        {%- endfor %}
        least(
            2 * distance_to_base_km / {{ cadence['travel_speed_kmh'] }}, {{ cadence['max_travel_hours_per_visit'] }}
        ) as travel_hours_per_visit
    from accounts
),

hours as (
    select
        *,
        (
            {%- for channel, minutes in channels.items() %}
            planned_{{ channel }}_touches * {{ minutes }}{{ ' +' if not loop.last }}
            {%- endfor %}
        ) / 60.0 as planned_touch_hours,
        planned_meeting_in_person_touches * travel_hours_per_visit as planned_travel_hours,
        {%- for channel in channels %}
        planned_{{ channel }}_touches{{ ' +' if not loop.last }}
        {%- endfor %} as planned_touches
    from planned
)

select
    *,
    planned_touch_hours + planned_travel_hours as workload_hours,
    case when planned_touches > 0 then actual_touches / planned_touches end as cadence_adherence
from hours
