select
    rep_id,
    period_start,
    period_end,
    quota_amount
from {{ source('crm', 'quotas') }}
