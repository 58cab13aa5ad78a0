{#- Account type: segment, size and revenue bands, industry group and sales region, by the plan's rules. -#}
select
    *,
    {{ band_of('coalesce(employees, 0)', var('segments')) }} as segment,
    {{ band_of('coalesce(employees, 0)', var('size_bands')) }} as size_band,
    {{ band_of('coalesce(annual_revenue, 0)', var('revenue_bands')) }} as revenue_band,
    {{ group_of('industry', var('industry_groups'), "'other'") }} as industry_group,
    {{ region_of('country', 'state') }} as region
from {{ ref('int_accounts__as_of') }}
