{#- Opportunities as they stood at the end of the snapshot date: a deal that closed later was still open then. -#}
with opportunities as (
    select opportunities.*
    from {{ ref('stg_crm__opportunities') }} as opportunities
    inner join {{ ref('int_accounts__as_of') }} as accounts using (account_id)
    where {{ known_by_snapshot('opportunities.created_at') }}
),

closed as (
    select
        *,
        coalesce(is_closed and {{ known_by_snapshot('close_date') }}, false) as is_closed_as_of
    from opportunities
)

select
    opportunity_id,
    account_id,
    owner_rep_id,
    -- the stage a deal had at the snapshot is unknown when it closed after it
    case when is_closed_as_of or not coalesce(is_closed, false) then stage end as stage,
    amount,
    product_line,
    created_at,
    close_date,
    is_closed_as_of as is_closed,
    is_closed_as_of and coalesce(is_won, false) as is_won,
    case when is_closed_as_of and not coalesce(is_won, false) then loss_reason end as loss_reason
from closed
