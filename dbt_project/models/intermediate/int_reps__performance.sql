{#- Each rep's measured performance in the window before the snapshot: attainment, win rate, activity, PACE, tenure. -#}
{%- set reps_plan = var('reps') -%}
{%- set window_days = reps_plan['performance_window_days'] -%}

with reps as (
    select * from {{ ref('int_reps__as_of') }}
),

quota_periods as (
    -- quarters (or any periods) that ended within the window
    select rep_id, period_start, period_end, quota_amount
    from {{ ref('stg_crm__quotas') }}
    where {{ known_by_snapshot('period_end') }}
        and {{ days_before_snapshot('period_end') }} < {{ window_days }}
),

quota as (
    select rep_id, sum(quota_amount) as quota_amount, min(period_start) as quota_start, max(period_end) as quota_end
    from quota_periods
    group by rep_id
),

closed as (
    select *
    from {{ ref('int_opportunities__as_of') }}
    where is_closed and {{ days_before_snapshot('close_date') }} < {{ window_days }}
),

deals as (
    select
        owner_rep_id as rep_id,
        count(*) as closed_deals,
        count(*) filter (where is_won) as won_deals,
        coalesce(sum(amount) filter (where is_won), 0) as won_amount
    from closed
    group by owner_rep_id
),

won_in_quota_periods as (
    -- wins closed within the counted quota periods, which may have begun before the window
    select quota.rep_id, coalesce(sum(opportunities.amount), 0) as won_amount
    from quota
    inner join {{ ref('int_opportunities__as_of') }} as opportunities
        on opportunities.owner_rep_id = quota.rep_id
        and opportunities.is_won
        and opportunities.close_date between quota.quota_start and quota.quota_end
    group by quota.rep_id
),

activity as (
    select rep_id, count(*) as activities, {{ divide('coalesce(sum(duration_minutes), 0)', 60) }} as activity_hours
    from {{ ref('int_activities__as_of') }}
    where days_before_snapshot < {{ window_days }}
    group by rep_id
),

assessments as (
    select
        rep_id,
        assessed_at,
        passion,
        awareness,
        curiosity,
        energy,
        row_number() over (partition by rep_id order by assessed_at desc) as recency_rank
    from {{ ref('stg_crm__assessments') }}
    where {{ known_by_snapshot('assessed_at') }}
),

latest_assessment as (
    select rep_id, assessed_at, passion, awareness, curiosity, energy
    from assessments
    where recency_rank = 1
),

measured as (
    select
        reps.rep_id,
        {{ divide(days_before_snapshot('reps.hire_date'), 365.25) }} as tenure_years,
        coalesce(quota.quota_amount, 0) as quota_amount,
        coalesce(won_in_quota_periods.won_amount, 0) as won_amount_in_quota_periods,
        case when quota.quota_amount > 0 then coalesce(won_in_quota_periods.won_amount, 0) / quota.quota_amount end
            as attainment,
        coalesce(deals.closed_deals, 0) as closed_deals,
        coalesce(deals.won_deals, 0) as won_deals,
        coalesce(deals.won_amount, 0) as won_amount,
        case when deals.closed_deals > 0 then {{ divide('deals.won_deals', 'deals.closed_deals') }} end as win_rate,
        coalesce(activity.activities, 0) as activities,
        coalesce(activity.activity_hours, 0) as activity_hours,
        latest_assessment.assessed_at as pace_assessed_at,
        latest_assessment.passion,
        latest_assessment.awareness,
        latest_assessment.curiosity,
        latest_assessment.energy,
        {{ divide(
            'latest_assessment.passion + latest_assessment.awareness + latest_assessment.curiosity + latest_assessment.energy', 4
        ) }} as pace_score
    from reps
    left join quota using (rep_id)
    left join won_in_quota_periods using (rep_id)
    left join deals using (rep_id)
    left join activity using (rep_id)
    left join latest_assessment using (rep_id)
)

select
    *,
    case
        when tenure_years >= {{ reps_plan['experience_years']['senior'] }} then 'senior'
        when tenure_years >= {{ reps_plan['experience_years']['experienced'] }} then 'experienced'
        else 'junior'
    end as experience_level
from measured
