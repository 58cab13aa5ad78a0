{#- Needs per audience segment (industry group x size band) and product line: what wins there, why deals are lost, and the whitespace. -#}
{%- set min_wins = var('needs')['min_wins'] -%}

with accounts as (
    select account_id, industry_group, size_band, potential
    from {{ ref('int_accounts__firmographics') }}
    inner join {{ ref('int_accounts__quality') }} using (account_id)
),

segments as (
    select industry_group, size_band, count(*) as segment_accounts, sum(potential) as segment_potential
    from accounts
    group by industry_group, size_band
),

closed as (
    select accounts.industry_group, accounts.size_band, opportunities.*
    from {{ ref('int_opportunities__as_of') }} as opportunities
    inner join accounts using (account_id)
    where opportunities.is_closed and opportunities.product_line is not null
),

products as (
    select distinct product_line from {{ ref('int_opportunities__as_of') }} where product_line is not null
),

outcomes as (
    select
        industry_group,
        size_band,
        product_line,
        count(*) as closed_deals,
        count(*) filter (where is_won) as won_deals,
        {{ divide('count(*) filter (where is_won)', 'count(*)') }} as win_rate,
        coalesce(sum(amount) filter (where is_won), 0) as won_amount,
        -- the most frequent reason, the first by name of equally frequent ones
        mode() within group (order by loss_reason) filter (where not is_won and loss_reason is not null) as top_loss_reason,
        count(*) filter (where not is_won) as lost_deals
    from closed
    group by industry_group, size_band, product_line
),

segment_outcomes as (
    select
        industry_group,
        size_band,
        {{ divide('count(*) filter (where is_won)', 'count(*)') }} as segment_win_rate,
        mode() within group (order by loss_reason) filter (where not is_won and loss_reason is not null)
            as segment_top_loss_reason
    from closed
    group by industry_group, size_band
),

owners_of_product as (
    -- accounts that have bought the product: they are not whitespace for it
    select distinct accounts.industry_group, accounts.size_band, closed.product_line, accounts.account_id, accounts.potential
    from closed
    inner join accounts using (account_id)
    where closed.is_won
),

adoption as (
    select industry_group, size_band, product_line, count(*) as accounts_with_product, sum(potential) as potential_with_product
    from owners_of_product
    group by industry_group, size_band, product_line
)

select
    segments.industry_group || ' | ' || segments.size_band as needs_segment,
    segments.industry_group,
    segments.size_band,
    products.product_line,
    coalesce(outcomes.closed_deals, 0) as closed_deals,
    coalesce(outcomes.won_deals, 0) as won_deals,
    coalesce(outcomes.lost_deals, 0) as lost_deals,
    outcomes.win_rate,
    segment_outcomes.segment_win_rate,
    coalesce(outcomes.won_amount, 0) as won_amount,
    coalesce(outcomes.won_deals, 0) >= {{ min_wins }}
        and outcomes.win_rate >= segment_outcomes.segment_win_rate as is_winning_product,
    outcomes.top_loss_reason,
    segment_outcomes.segment_top_loss_reason,
    segments.segment_accounts,
    coalesce(adoption.accounts_with_product, 0) as accounts_with_product,
    segments.segment_accounts - coalesce(adoption.accounts_with_product, 0) as whitespace_accounts,
    segments.segment_potential - coalesce(adoption.potential_with_product, 0) as whitespace_potential
from segments
cross join products
left join outcomes using (industry_group, size_band, product_line)
left join segment_outcomes using (industry_group, size_band)
left join adoption using (industry_group, size_band, product_line)
