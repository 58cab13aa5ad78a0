{#- Which of the plan's buyer personas each account has among its contacts, and the share covered. -#}
{%- set personas = var('icp')['personas'] -%}

with counted as (
    select
        account_id,
        {%- for persona, rule in personas.items() %}
        count(*) filter (
            where seniority in ({{ sql_list(rule['seniorities']) }})
            and department in ({{ sql_list(rule['departments']) }})
        ) as {{ persona }}_contacts,
        {%- endfor %}
        count(*) as contacts
    from {{ ref('int_contacts__as_of') }}
    group by account_id
)

select
    *,
    (
        {%- for persona in personas %}
        ({{ persona }}_contacts > 0)::int{{ ' +' if not loop.last }}
        {%- endfor %}
    ) / {{ personas | length }}.0 as persona_coverage
from counted
