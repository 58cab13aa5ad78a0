select
    rep_id,
    assessed_at,
    passion,
    awareness,
    curiosity,
    energy
from {{ source('crm', 'assessments') }}
