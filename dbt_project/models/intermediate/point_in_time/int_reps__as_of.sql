{#- Reps hired by the end of the snapshot date. -#}
select *
from {{ ref('stg_crm__reps') }}
where hire_date is null or {{ known_by_snapshot('hire_date') }}
