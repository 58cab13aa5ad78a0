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
    select
        account_id,
        occurred_at as last_activity_at,
        activity_type as last_activity_type,
        rep_id as last_activity_rep_id
    from activities
    qualify row_number() over (partition by account_id order by occurred_at desc, activity_id desc) = 1
),

open_opportunities as (
    select
        account_id,
        stage,
        -- e.g. 'negotiation 48,000 (analytics, closes 2026-12-01)'; a deal that closed after the
        -- snapshot has no known stage then
        coalesce(stage, 'stage unknown') || ' ' || coalesce(format('{:,.0f}', amount), 'no amount')
            || coalesce(
                ' (' || nullif(concat_ws(', ', product_line, 'closes ' || strftime(close_date, '%Y-%m-%d')), '') || ')', ''
            ) as opportunity_text,
        row_number() over (
            partition by account_id order by amount desc nulls last, close_date, opportunity_id
        ) as amount_rank
    from opportunities
    where not is_closed
),

open_summaries as (
    select
        account_id,
        string_agg(opportunity_text, '; ' order by amount_rank) filter (where amount_rank <= {{ max_opportunities }})
            || case
                when count(*) > {{ max_opportunities }} then '; +' || (count(*) - {{ max_opportunities }}) || ' more'
                else ''
            end as open_opportunities_summary
    from open_opportunities
    group by account_id
),

open_stages as (
    select account_id, string_agg(stage, ', ' order by stage_order nulls last, stage) as open_opportunity_stages
    from (
        select distinct
            account_id,
            stage,
            -- the contract's open stages in pipeline order; any other stage after them
            list_position(['prospecting', 'qualification', 'proposal', 'negotiation'], stage) as stage_order
        from open_opportunities
        where stage is not null
    )
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
                list_position(['c_level', 'vp', 'director', 'manager', 'individual_contributor'], seniority) nulls last,
                created_at,
                contact_id
        ) as seniority_rank
    from {{ ref('int_contacts__as_of') }}
),

contacts as (
    select
        account_id,
        string_agg(contact_text, '; ' order by seniority_rank) filter (where seniority_rank <= {{ max_contacts }})
            as key_contacts,
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

last_loss as (
    select account_id, loss_reason as last_lost_reason
    from opportunities
    where is_closed and not is_won and loss_reason is not null
    qualify row_number() over (partition by account_id order by close_date desc, opportunity_id desc) = 1
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
