{#- Contacts that existed at the end of the snapshot date, on accounts that existed then. -#}
select contacts.*
from {{ ref('stg_crm__contacts') }} as contacts
inner join {{ ref('int_accounts__as_of') }} as accounts using (account_id)
where {{ known_by_snapshot('contacts.created_at') }}
