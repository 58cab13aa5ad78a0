{#- Ideal Customer Profile fit per account: each criterion's score, their weighted mean and the audience segment. -#}
{%- set icp = var('icp') -%}
{%- set weights = icp['weights'] -%}
{%- set total_weight = weights['industry'] + weights['size'] + weights['region'] + weights['personas'] -%}

with scored as (
    select
        firmographics.account_id,
        {%- if icp['industries'] %}
        cast(case when firmographics.industry in ({{ sql_list(icp['industries']) }}) then 1 else 0 end as {{ type_double() }})
            as icp_industry_score,
        {%- else %}
        0.0 as icp_industry_score,
        {%- endif %}
        cast(
            case when coalesce(firmographics.employees, 0) between {{ icp['employees']['min'] }} and {{ icp['employees']['max'] }} then 1 else 0 end
            as {{ type_double() }}
        ) as icp_size_score,
        {%- if icp['regions'] %}
        cast(case when firmographics.region in ({{ sql_list(icp['regions']) }}) then 1 else 0 end as {{ type_double() }})
            as icp_region_score,
        {%- else %}
        0.0 as icp_region_score,
        {%- endif %}
        coalesce(personas.persona_coverage, 0) as icp_persona_score
    from {{ ref('int_accounts__firmographics') }} as firmographics
    left join {{ ref('int_accounts__personas') }} as personas using (account_id)
),

fitted as (
    select
        *,
        (
            {{ weights['industry'] }} * icp_industry_score
            + {{ weights['size'] }} * icp_size_score
            + {{ weights['region'] }} * icp_region_score
            + {{ weights['personas'] }} * icp_persona_score
        ) / {{ total_weight }} as icp_fit
    from scored
)

select
    *,
    case
        when icp_fit >= {{ icp['fit_cutoffs']['ideal'] }} then 'ideal'
        when icp_fit >= {{ icp['fit_cutoffs']['good'] }} then 'good'
        when icp_fit >= {{ icp['fit_cutoffs']['partial'] }} then 'partial'
        else 'poor'
    end as audience_segment
from fitted
