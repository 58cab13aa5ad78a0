{#- What a new owner needs to pick an account up: recent activity, open deals, key contacts, the last win and loss. -#}
{%- set activity_window_days = 90 -%}  {#- recent activity: the last 90 days, as the column's name says #}
{%- set max_opportunities = 5 -%}
{%- set max_contacts = 3 -%}

with accounts as (
    select account_id from {{ ref('int_accounts__as_of') }}
),

activities as (
    select * from {{ ref('int_activities__as_of') }}
),

opportunities as (
    select * from {{ ref('int_opportunities__as_of') }}
),

recent_activity as (
    select account_id, count(*) as activities_90d
    from activities
    where days_before_snapshot < {{ activity_window_days }}
    group by account_id
),

last_activity as (
    -- the latest activity (of equally late ones, the highest id)
    {{ first_row_per_group(
        'activities', ['account_id'], ['occurred_at', 'activity_id'],
        {'occurred_at': 'last_activity_at', 'activity_type': 'last_activity_type', 'rep_id': 'last_activity_rep_id'},
        descending=true
    ) }}
),

open_opportunities as (
    select
        account_id,
        stage,
        -- e.g. 'negotiation 48,000 (analytics, closes 2026-12-01)'; a deal that closed after the
        -- snapshot has no known stage then
        coalesce(stage, 'stage unknown') || ' ' || coalesce({{ format_thousands('amount') }}, 'no amount')
            || coalesce(
                ' (' || nullif(concat_ws(', ', product_line, 'closes ' || {{ iso_date('close_date') }}), '') || ')', ''
            ) as opportunity_text,
        row_number() over (
            partition by account_id order by amount desc nulls last, close_date nulls last, opportunity_id
        ) as amount_rank
    from opportunities
    where not is_closed
),

open_summaries as (
    select
        account_id,
        {{ dbt.listagg(
            'case when amount_rank <= ' ~ max_opportunities ~ ' then opportunity_text end', "'; '", 'order by amount_rank'
        ) }}
            || case
                when count(*) > {{ max_opportunities }} then '; +' || (count(*) - {{ max_opportunities }}) || ' more'
                else ''
            end as open_opportunities_summary
    from open_opportunities
    group by account_id
),

distinct_open_stages as (
    select distinct
        account_id,
        stage,
        -- the contract's open stages in pipeline order; any other stage after them
        {{ position_in('stage', ['prospecting', 'qualification', 'proposal', 'negotiation']) }} as stage_order
    from open_opportunities
    where stage is not null
),

open_stages as (
    select
        account_id,
        {{ dbt.listagg('stage', "', '", 'order by stage_order nulls last, stage') }} as open_opportunity_stages
    from distinct_open_stages
    group by account_id
),

ranked_contacts as (
    select
        account_id,
        -- e.g. 'VP of Finance (Finance, vp)'
        coalesce(title, 'untitled') || coalesce(' (' || nullif(concat_ws(', ', department, seniority), '') || ')', '')
            as contact_text,
        -- the contract's seniorities, most senior first (unknown ones last), then the longest-known contact
        row_number() over (
            partition by account_id
            order by
                {{ position_in('seniority', ['c_level', 'vp', 'director', 'manager', 'individual_contributor']) }} nulls last,
                created_at,
                contact_id
        ) as seniority_rank
    from {{ ref('int_contacts__as_of') }}
),

contacts as (
    select
        account_id,
        {{ dbt.listagg(
            'case when seniority_rank <= ' ~ max_contacts ~ ' then contact_text end', "'; '", 'order by seniority_rank'
        ) }} as key_contacts,
        count(*) as contacts_total
    from ranked_contacts
    group by account_id
),

last_win as (
    select account_id, max(close_date) as last_won_at
    from opportunities
    where is_won
    group by account_id
),

losses as (
    select account_id, close_date, opportunity_id, loss_reason
    from opportunities
    where is_closed and not is_won and loss_reason is not null
),

last_loss as (
    -- the latest loss (of losses closed the same day, the highest id)
    {{ first_row_per_group(
        'losses', ['account_id'], ['close_date', 'opportunity_id'], {'loss_reason': 'last_lost_reason'}, descending=true
    ) }}
)

select
    accounts.account_id,
    coalesce(recent_activity.activities_90d, 0) as activities_90d,
    last_activity.last_activity_at,
    last_activity.last_activity_type,
    last_activity.last_activity_rep_id,
    open_summaries.open_opportunities_summary,
    open_stages.open_opportunity_stages,
    contacts.key_contacts,
    coalesce(contacts.contacts_total, 0) as contacts_total,
    last_win.last_won_at,
    last_loss.last_lost_reason
from accounts
left join recent_activity using (account_id)
left join last_activity using (account_id)
left join open_summaries using (account_id)
left join open_stages using (account_id)
left join contacts using (account_id)
left join last_win using (account_id)
left join last_loss using (account_id)
