{#- Win rate per rep and industry and per rep and segment in the performance window, against the team's rate there. -#}
{%- set reps_plan = var('reps') -%}

with closed as (
    select
        opportunities.owner_rep_id as rep_id,
        opportunities.is_won,
        firmographics.industry,
        firmographics.segment
    from {{ ref('int_opportunities__as_of') }} as opportunities
    inner join {{ ref('int_accounts__firmographics') }} as firmographics using (account_id)
    where opportunities.is_closed
        and {{ days_before_snapshot('opportunities.close_date') }} < {{ reps_plan['performance_window_days'] }}
),

by_dimension as (
    select rep_id, 'industry' as dimension, industry as dimension_value, is_won from closed where industry is not null
    union all
    select rep_id, 'segment' as dimension, segment as dimension_value, is_won from closed
),

rates as (
    select
        rep_id,
        dimension,
        dimension_value,
        count(*) as closed_deals,
        count(*) filter (where is_won) as won_deals,
        {{ divide('count(*) filter (where is_won)', 'count(*)') }} as win_rate
    from by_dimension
    group by rep_id, dimension, dimension_value
),

team as (
    select dimension, dimension_value, {{ divide('sum(won_deals)', 'sum(closed_deals)') }} as team_win_rate
    from rates
    group by dimension, dimension_value
)

select
    rates.rep_id,
    rates.dimension,
    rates.dimension_value,
    rates.closed_deals,
    rates.won_deals,
    rates.win_rate,
    team.team_win_rate,
    rates.closed_deals >= {{ reps_plan['min_decisions'] }}
        and rates.win_rate >= team.team_win_rate + {{ reps_plan['win_rate_margin'] }} as is_strength,
    rates.closed_deals >= {{ reps_plan['min_decisions'] }}
        and rates.win_rate <= team.team_win_rate - {{ reps_plan['win_rate_margin'] }} as is_weakness
from rates
inner join team using (dimension, dimension_value)
