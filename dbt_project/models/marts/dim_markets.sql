{#- Markets (region x industry group x size band): size, penetration, potential, intensity and the reps they call for. -#}
{%- set markets = var('markets') -%}
{%- set top_tier = (var('tiers').keys() | list)[0] -%}

with markets as (
    select
        market_id,
        region,
        industry_group,
        size_band,
        count(*) as accounts,
        count(*) filter (where funnel_stage in ('customer', 'at_risk')) as customers,
        count(*) filter (where tier = '{{ top_tier }}') as top_tier_accounts,
        sum(potential) as total_potential,
        sum(potential * win_probability) as expected_value,
        sum(workload_hours) as workload_hours,
        avg(icp_fit) as average_icp_fit,
        -- leads: accounts not yet in a deal or a customer, and how good they are
        count(*) filter (where funnel_stage in ('lead', 'prospect')) as leads,
        count(*) filter (where funnel_stage in ('lead', 'prospect') and audience_segment in ('ideal', 'good')) as good_fit_leads,
        avg(icp_fit) filter (where funnel_stage in ('lead', 'prospect')) as lead_average_icp_fit,
        avg(quality_score) filter (where funnel_stage in ('lead', 'prospect')) as lead_average_quality_score
    from {{ ref('dim_accounts') }}
    group by market_id, region, industry_group, size_band
),

ranked as (
    select
        *,
        {{ divide('customers', 'accounts') }} as penetration,
        100 * percent_rank() over (order by total_potential) as potential_rank
    from markets
),

intense as (
    select
        *,
        case
            when potential_rank >= {{ markets['intensity_cutoffs']['high'] }} then 'high'
            when potential_rank >= {{ markets['intensity_cutoffs']['medium'] }} then 'medium'
            else 'low'
        end as intensity
    from ranked
)

select
    *,
    workload_hours / {{ markets['rep_hours_per_year'] }} as reps_needed_fte,
    cast(ceil(workload_hours / {{ markets['rep_hours_per_year'] }}) as {{ dbt.type_int() }}) as reps_needed,
    {{ lookup('intensity', markets['experience_by_intensity']) }} as experience_required
from intense
