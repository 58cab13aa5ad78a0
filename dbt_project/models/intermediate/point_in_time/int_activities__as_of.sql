{#- Activities that had happened by the end of the snapshot date, with their age in days. -#}
select
    activities.*,
    {{ days_before_snapshot('activities.occurred_at') }} as days_before_snapshot
from {{ ref('stg_crm__activities') }} as activities
where {{ known_by_snapshot('activities.occurred_at') }}
