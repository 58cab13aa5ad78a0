{#- Helpers that turn sections of the plan file (dbt vars, see plan.yml) into SQL. -#}

{#- The first of the bands whose floor `value` reaches, for a {label: floor} mapping that rises from 0. -#}
{% macro band_of(value, floors) %}
    case
        {%- for label, floor in floors.items() | reverse %}
        {%- if not loop.last %}
        when {{ value }} >= {{ floor }} then '{{ label }}'
        {%- endif %}
        {%- endfor %}
        else '{{ (floors.keys() | list)[0] }}'
    end
{%- endmacro %}

{#- The group whose member list holds `value`, for a {group: [members]} mapping; else the SQL `otherwise`. -#}
{% macro group_of(value, groups, otherwise) %}
    case
        {%- for group, members in groups.items() if members %}
        when {{ value }} in ({{ sql_list(members) }}) then '{{ group }}'
        {%- endfor %}
        else {{ otherwise }}
    end
{%- endmacro %}

{#- The sales region of a place: a COUNTRY-STATE entry of var('regions') wins over a COUNTRY entry. -#}
{% macro region_of(country, state) %}
    {%- set by_state = {} -%}
    {%- set by_country = {} -%}
    {%- for region, places in var('regions').items() -%}
        {%- do by_state.update({region: []}) -%}
        {%- do by_country.update({region: []}) -%}
        {%- for place in places -%}
            {%- do (by_state if '-' in place else by_country)[region].append(place) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ group_of(country ~ " || '-' || " ~ state, by_state, group_of(country, by_country, "'unassigned'")) }}
{%- endmacro %}

{#- The best tier whose floor `score` reaches, for var('tiers') listed best first, the last at floor 0. -#}
{% macro tier_of(score) %}
    case
        {%- for tier, floor in var('tiers').items() %}
        {%- if not loop.last %}
        when {{ score }} >= {{ floor }} then '{{ tier }}'
        {%- endif %}
        {%- endfor %}
        else '{{ (var('tiers').keys() | list)[-1] }}'
    end
{%- endmacro %}

{#- A SQL list of string literals, quotes escaped. -#}
{% macro sql_list(values) -%}
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- Great-circle distance in km between two points given in degrees (mean Earth radius, as territory/geo.py). -#}
{% macro haversine_km(lat1, lon1, lat2, lon2) -%}
    2 * 6371.0088 * asin(sqrt(
        power(sin(radians({{ lat2 }} - {{ lat1 }}) / 2), 2)
        + cos(radians({{ lat1 }})) * cos(radians({{ lat2 }})) * power(sin(radians({{ lon2 }} - {{ lon1 }}) / 2), 2)
    ))
{%- endmacro %}

{#- The value of a {key: value} mapping for the key in column `key`, as a CASE expression; strings are quoted. -#}
{% macro lookup(key, mapping) -%}
    case {{ key }}
        {%- for name, value in mapping.items() %}
        when '{{ name }}' then {% if value is string %}'{{ value }}'{% else %}{{ value }}{% endif %}
        {%- endfor %}
    end
{%- endmacro %}

{#- The 1-based position of the value in column `value` among the string `values`, in their order; null when absent. -#}
{% macro position_in(value, values) -%}
    case {{ value }}
        {%- for member in values %}
        when '{{ member | replace("'", "''") }}' then {{ loop.index }}
        {%- endfor %}
    end
{%- endmacro %}
