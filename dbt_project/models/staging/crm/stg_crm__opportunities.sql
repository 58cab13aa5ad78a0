select
    opportunity_id,
    account_id,
    owner_rep_id,
    stage,
    amount,
    product_line,
    created_at,
    close_date,
    is_closed,
    is_won,
    loss_reason
from {{ source('crm', 'opportunities') }}
