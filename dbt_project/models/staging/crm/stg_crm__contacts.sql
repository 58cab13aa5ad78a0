select
    contact_id,
    account_id,
    title,
    department,
    seniority,
    owner_rep_id,
    created_at
from {{ source('crm', 'contacts') }}
