select
    activity_id,
    account_id,
    rep_id,
    activity_type,
    occurred_at,
    duration_minutes
from {{ source('crm', 'activities') }}
