{#- Each account's open pipeline, business won and lost within the activity window, and its closed-deal record. -#}
{%- set window_days = var('funnel')['activity_window_days'] -%}

with opportunities as (
    select
        *,
        is_closed and {{ days_before_snapshot('close_date') }} < {{ window_days }} as closed_in_window
    from {{ ref('int_opportunities__as_of') }}
)

select
    account_id,
    count(*) filter (where not is_closed) as open_opportunities,
    coalesce(sum(amount) filter (where not is_closed), 0) as open_pipeline_amount,
    count(*) filter (where is_won and closed_in_window) as won_deals_in_window,
    coalesce(sum(amount) filter (where is_won and closed_in_window), 0) as won_amount_in_window,
    count(*) filter (where is_closed and not is_won and closed_in_window) as lost_deals_in_window,
    count(*) filter (where is_won) as won_deals,
    count(*) filter (where is_closed) as closed_deals
from opportunities
group by account_id
