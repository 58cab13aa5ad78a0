{#- Numbers as notes and summaries show them to people. -#}

{#- A fraction as a whole percentage, e.g. 0.625 -> '63%'. -#}
{% macro percent_text(fraction) -%}
    cast({{ round_half_away_from_zero('100 * ' ~ fraction) }} as {{ dbt.type_int() }}) || '%'
{%- endmacro %}
