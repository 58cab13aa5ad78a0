{#- The account segment for an employee count, by the floors in var('segment_employee_floors'). -#}
{% macro segment_of(employees) %}
    {%- set floors = var('segment_employee_floors') -%}
    case
        when {{ employees }} >= {{ floors['enterprise'] }} then 'enterprise'
        when {{ employees }} >= {{ floors['mid_market'] }} then 'mid_market'
        else 'smb'
    end
{%- endmacro %}
