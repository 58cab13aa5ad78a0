select
    rep_id,
    rep_name,
    email,
    role,
    segment,
    region,
    home_latitude,
    home_longitude,
    capacity_hours,
    hire_date,
    industries,
    languages,
    is_active,
    manager_id
from {{ ref('stg_crm__reps') }}
