{#- Segment, potential and workload per account: provisional rules from dbt_project.yml vars. -#}
{%- set hours = var('workload_hours_per_year') -%}

with accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

segmented as (
    select
        *,
        {{ segment_of('coalesce(employees, 0)') }} as segment
    from accounts
)

select
    *,
    coalesce(annual_revenue, 0) * {{ var('potential_share_of_revenue') }} as potential,
    case segment
        when 'enterprise' then {{ hours['enterprise'] }}
        when 'mid_market' then {{ hours['mid_market'] }}
        else {{ hours['smb'] }}
    end::double as workload_hours
from segmented
