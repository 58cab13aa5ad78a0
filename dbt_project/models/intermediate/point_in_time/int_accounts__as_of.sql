{#- Accounts that existed at the end of the snapshot date. -#}
select *
from {{ ref('stg_crm__accounts') }}
where {{ known_by_snapshot('created_at') }}
