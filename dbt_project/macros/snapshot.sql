{#- Point in time: every model describes the CRM as it stood at the end of var('snapshot_date'). -#}

{#- The snapshot date as a SQL date; today when the var is not set. -#}
{% macro snapshot_date() -%}
    {%- set value = var('snapshot_date') -%}
    {%- if value -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value | string) -%}
            {{ exceptions.raise_compiler_error("var('snapshot_date') must be YYYY-MM-DD, got '" ~ value ~ "'") }}
        {%- endif -%}
        date '{{ value }}'
    {%- else -%}
        current_date
    {%- endif -%}
{%- endmacro %}

{#- True for a timestamp or date at or before the end of the snapshot date (a SQL-standard interval
    literal: DuckDB, PostgreSQL and Spark all read it). -#}
{% macro known_by_snapshot(column) -%}
    ({{ column }} < {{ snapshot_date() }} + interval '1' day)
{%- endmacro %}

{#- Whole days from a timestamp or date to the end of the snapshot date. -#}
{% macro days_before_snapshot(column) -%}
    {{ dbt.datediff('cast(' ~ column ~ ' as date)', snapshot_date(), 'day') }}
{%- endmacro %}
