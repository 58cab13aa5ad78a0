{#- Distance from each account to the nearest active rep base of its segment (of any segment when it has none). -#}
{#- The nearest base is searched per grid cell of about 5 km, not per account, which keeps the search at
    cells x reps instead of accounts x reps; the distance is then measured exactly to that base. -#}
{%- set cell_degrees = 0.05 -%}

with accounts as (
    select
        account_id,
        segment,
        latitude,
        longitude,
        {{ round_half_away_from_zero('latitude / ' ~ cell_degrees) }} * {{ cell_degrees }} as cell_latitude,
        {{ round_half_away_from_zero('longitude / ' ~ cell_degrees) }} * {{ cell_degrees }} as cell_longitude
    from {{ ref('int_accounts__firmographics') }}
    where latitude is not null and longitude is not null
),

bases as (
    -- a rep without a segment is no account's base
    select rep_id, segment, home_latitude, home_longitude
    from {{ ref('int_reps__as_of') }}
    where is_active and segment is not null and home_latitude is not null and home_longitude is not null
),

cells as (
    select distinct segment, cell_latitude, cell_longitude from accounts
),

cell_to_base as (
    select
        cells.segment,
        cells.cell_latitude,
        cells.cell_longitude,
        bases.rep_id,
        bases.segment = cells.segment as same_segment,
        {{ haversine_km('cells.cell_latitude', 'cells.cell_longitude', 'bases.home_latitude', 'bases.home_longitude') }} as distance_km
    from cells
    cross join bases
),

ranked_bases as (
    select
        segment,
        cell_latitude,
        cell_longitude,
        rep_id,
        -- same-segment bases first, then the closest (the first rep id of equally close ones)
        row_number() over (
            partition by segment, cell_latitude, cell_longitude
            order by case when same_segment then 0 else 1 end, distance_km, rep_id
        ) as base_rank
    from cell_to_base
),

nearest_base as (
    select segment, cell_latitude, cell_longitude, rep_id as nearest_base_rep_id
    from ranked_bases
    where base_rank = 1
)

select
    accounts.account_id,
    nearest_base.nearest_base_rep_id,
    {{ haversine_km('accounts.latitude', 'accounts.longitude', 'bases.home_latitude', 'bases.home_longitude') }} as distance_to_base_km
from accounts
inner join nearest_base using (segment, cell_latitude, cell_longitude)
inner join bases on bases.rep_id = nearest_base.nearest_base_rep_id
