{#- Ownership conflicts to resolve before or by the plan: one row per conflict, with the record and reps involved. -#}

with accounts as (
    select account_id, account_name, domain, segment, owner_rep_id, parent_account_id
    from {{ ref('int_accounts__firmographics') }}
),

reps as (
    select rep_id, segment, is_active from {{ ref('int_reps__as_of') }}
),

sharing_domains as (
    select account_id, owner_rep_id, domain, count(*) over (partition by domain) as accounts_on_domain
    from accounts
    where domain is not null
),

owned as (
    select accounts.*, reps.rep_id is not null as owner_exists, reps.is_active as owner_is_active, reps.segment as owner_segment
    from accounts
    left join reps on reps.rep_id = accounts.owner_rep_id
),

conflicts as (
    select 'unowned_account' as conflict_type, 'high' as severity, account_id, 'account' as record_type,
        account_id as record_id, owner_rep_id, null as other_rep_id, 'the account has no owner' as detail
    from owned
    where owner_rep_id is null

    union all
    select 'unknown_owner', 'high', account_id, 'account', account_id, owner_rep_id, null,
        'the owner ' || owner_rep_id || ' is not a rep in the CRM at the snapshot date'
    from owned
    where owner_rep_id is not null and not owner_exists

    union all
    select 'inactive_owner', 'high', account_id, 'account', account_id, owner_rep_id, null,
        'the owner ' || owner_rep_id || ' is no longer active'
    from owned
    where owner_exists and not owner_is_active

    union all
    select 'segment_mismatch', 'medium', account_id, 'account', account_id, owner_rep_id, null,
        'the account is ' || segment || ', its owner serves ' || owner_segment
    from owned
    where owner_exists and owner_segment <> segment

    union all
    select 'contact_owner_mismatch', 'low', contacts.account_id, 'contact', contacts.contact_id,
        accounts.owner_rep_id, contacts.owner_rep_id,
        'the contact is owned by ' || contacts.owner_rep_id || ', the account by ' || coalesce(accounts.owner_rep_id, 'nobody')
    from {{ ref('int_contacts__as_of') }} as contacts
    inner join accounts using (account_id)
    where contacts.owner_rep_id is distinct from accounts.owner_rep_id and contacts.owner_rep_id is not null

    union all
    -- closed deals keep the owner who worked them; only open ones conflict
    select 'opportunity_owner_mismatch', 'medium', opportunities.account_id, 'opportunity', opportunities.opportunity_id,
        accounts.owner_rep_id, opportunities.owner_rep_id,
        'the open opportunity is owned by ' || opportunities.owner_rep_id || ', the account by '
            || coalesce(accounts.owner_rep_id, 'nobody')
    from {{ ref('int_opportunities__as_of') }} as opportunities
    inner join accounts using (account_id)
    where not opportunities.is_closed
        and opportunities.owner_rep_id is distinct from accounts.owner_rep_id
        and opportunities.owner_rep_id is not null

    union all
    select 'family_split', 'medium', children.account_id, 'account', children.account_id,
        children.owner_rep_id, parents.owner_rep_id,
        'the parent account ' || parents.account_id || ' is owned by ' || parents.owner_rep_id
            || ', this child by ' || children.owner_rep_id
    from accounts as children
    inner join accounts as parents on parents.account_id = children.parent_account_id
    where children.owner_rep_id <> parents.owner_rep_id

    union all
    select 'duplicate_domain', 'medium', account_id, 'account', account_id, owner_rep_id, null,
        (accounts_on_domain - 1) || ' other account(s) share the domain ' || domain
    from sharing_domains
    where accounts_on_domain > 1
)

select
    md5(conflict_type || '|' || record_type || '|' || record_id) as conflict_id,
    *
from conflicts
