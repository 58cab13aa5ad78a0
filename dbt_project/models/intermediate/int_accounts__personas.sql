{#- Which of the plan's buyer personas each account has among its contacts, and the share covered. -#}
{%- set personas = var('icp')['personas'] -%}
{%- set personas_present -%}
    ({% for persona in personas %}case when {{ persona }}_contacts > 0 then 1 else 0 end{{ ' + ' if not loop.last }}{% endfor %})
{%- endset -%}

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
    {{ divide(personas_present, personas | length) }} as persona_coverage
from counted
