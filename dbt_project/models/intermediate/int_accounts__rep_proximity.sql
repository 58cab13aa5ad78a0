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
    -- a cell's candidates are the bases of its segment, or every base (key '*') when its segment has none:
    -- a cell without a segment, or of a segment no active rep serves. Pairing each cell with its own
    -- segment's bases keeps the search at cells x reps of the segment, not cells x all reps
    select distinct
        accounts.segment,
        accounts.cell_latitude,
        accounts.cell_longitude,
        coalesce(served_segments.segment, '*') as base_key
    from accounts
    left join (select distinct segment from bases) as served_segments on served_segments.segment = accounts.segment
),

keyed_bases as (
    select segment as base_key, rep_id, home_latitude, home_longitude from bases
    union all
    select '*' as base_key, rep_id, home_latitude, home_longitude from bases
),

cell_to_base as (
    select
        cells.segment,
        cells.cell_latitude,
        cells.cell_longitude,
        keyed_bases.rep_id,
        {{ haversine_km('cells.cell_latitude', 'cells.cell_longitude', 'keyed_bases.home_latitude', 'keyed_bases.home_longitude') }} as distance_km
    from cells
    inner join keyed_bases on keyed_bases.base_key = cells.base_key
),

nearest_base as (
    -- the closest candidate (the first rep id of equally close ones)
    {{ first_row_per_group(
        'cell_to_base', ['segment', 'cell_latitude', 'cell_longitude'], ['distance_km', 'rep_id'],
        {'rep_id': 'nearest_base_rep_id'}
    ) }}
)

select
    accounts.account_id,
    nearest_base.nearest_base_rep_id,
    {{ haversine_km('accounts.latitude', 'accounts.longitude', 'bases.home_latitude', 'bases.home_longitude') }} as distance_to_base_km
from accounts
inner join nearest_base using (segment, cell_latitude, cell_longitude)
inner join bases on bases.rep_id = nearest_base.nearest_base_rep_id
