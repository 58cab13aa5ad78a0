select
    account_id,
    name as account_name,
    domain,
    industry,
    employees,
    annual_revenue,
    country,
    state,
    city,
    postal_code,
    latitude,
    longitude,
    lifecycle_stage,
    owner_rep_id,
    parent_account_id,
    created_at,
    updated_at
from {{ source('crm', 'accounts') }}
