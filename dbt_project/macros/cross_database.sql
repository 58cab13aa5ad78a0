{#- SQL that DuckDB, PostgreSQL and Spark spell or evaluate differently: the models call these, never a
    dialect's own form, so that the project runs unchanged on each engine (docs/models.md, Engines). -#}

{#- A 64-bit floating-point type. dbt.type_float() is not one: it names FLOAT, which is 32-bit on DuckDB
    and Spark; and Spark does not know the standard name DOUBLE PRECISION. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- `numerator` / `denominator` in floating point. PostgreSQL divides integers to an integer and Spark
    divides an integer by a decimal literal to a decimal of six places; DuckDB always divides in
    double precision, and so does every engine once the numerator is a double. -#}
{% macro divide(numerator, denominator) -%}
    cast({{ numerator }} as {{ type_double() }}) / {{ denominator }}
{%- endmacro %}

{#- The nearest whole number, halves away from zero (2.5 -> 3, -2.5 -> -3), as a floating-point or
    decimal number. -#}
{% macro round_half_away_from_zero(number) -%}
    {{ return(adapter.dispatch('round_half_away_from_zero')(number)) }}
{%- endmacro %}

{% macro default__round_half_away_from_zero(number) -%}
    round({{ number }})
{%- endmacro %}

{#- PostgreSQL's round() of a double precision rounds halves to even (2.5 -> 2), unlike DuckDB's and Spark's;
    round() of a numeric would not, but a double cast to numeric keeps only 15 of its digits. -#}
{% macro postgres__round_half_away_from_zero(number) -%}
    (sign({{ number }}) * floor(abs({{ number }}) + 0.5))
{%- endmacro %}

{#- A number rounded to a whole number (halves to even) as text with comma thousands separators, e.g. '48,000'. -#}
{% macro format_thousands(number) -%}
    {{ return(adapter.dispatch('format_thousands')(number)) }}
{%- endmacro %}

{% macro default__format_thousands(number) -%}
    format('{:,.0f}', {{ number }})
{%- endmacro %}

{#- to_char's pattern needs a digit position per digit: 21 cover any amount a double holds exactly. -#}
{% macro postgres__format_thousands(number) -%}
    to_char({{ number }}, 'FM999,999,999,999,999,999,990')
{%- endmacro %}

{% macro spark__format_thousands(number) -%}
    format_number({{ number }}, 0)
{%- endmacro %}

{#- A date as ISO text, YYYY-MM-DD. -#}
{% macro iso_date(date) -%}
    {{ return(adapter.dispatch('iso_date')(date)) }}
{%- endmacro %}

{% macro default__iso_date(date) -%}
    cast({{ date }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- PostgreSQL casts a date to text in the session's DateStyle, which need not be ISO. -#}
{% macro postgres__iso_date(date) -%}
    to_char({{ date }}, 'YYYY-MM-DD')
{%- endmacro %}

{#- dbt.listagg on Spark: dbt-spark's version drops the ORDER BY (with a warning), but Spark 4 orders
    within the group itself. dbt_project.yml's dispatch setting makes dbt.listagg find this one first. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ exceptions.raise_compiler_error("listagg: limit_num is not supported on Spark; aggregate a CASE of the rows to keep") }}
    {%- endif -%}
    listagg({{ measure }}, {{ delimiter_text }}){% if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endmacro %}

{#- The first row of each group of `relation` (a table or CTE name) in the order of the keys `order_by`:
    the group's `partition_by` columns and the row's `columns` (a mapping of column -> alias). The keys
    all ascend, or with `descending` all descend; nulls come last on every engine. End the keys with a
    unique column, so that the first row is one row. By default a row_number() window ranks every row;
    on DuckDB a grouped arg_min/arg_max picks the same row without sorting each group (about twice as
    fast on 20 million activities): each key is preceded by its null flag, since DuckDB compares a null
    inside a row value as the largest value, and the row is packed in a struct, which arg_max keeps
    even when a column of it is null. -#}
{% macro first_row_per_group(relation, partition_by, order_by, columns, descending=false) -%}
    {{ return(adapter.dispatch('first_row_per_group')(relation, partition_by, order_by, columns, descending)) }}
{%- endmacro %}

{% macro default__first_row_per_group(relation, partition_by, order_by, columns, descending) -%}
    select
        {{ partition_by | join(', ') }},
        {%- for column, alias in columns.items() %}
        {{ column }} as {{ alias }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        select
            *,
            row_number() over (
                partition by {{ partition_by | join(', ') }}
                order by {% for key in order_by %}{{ key }}{{ ' desc' if descending }} nulls last{{ ', ' if not loop.last }}{% endfor %}
            ) as first_row_rank
        from {{ relation }}
    ) as ranked_rows
    where first_row_rank = 1
{%- endmacro %}

{% macro duckdb__first_row_per_group(relation, partition_by, order_by, columns, descending) -%}
    select
        {{ partition_by | join(', ') }},
        {%- for column, alias in columns.items() %}
        first_row.{{ column }} as {{ alias }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        select
            {{ partition_by | join(', ') }},
            {{ 'arg_max' if descending else 'arg_min' }}(
                { {%- for column in columns %}'{{ column }}': {{ column }}{{ ', ' if not loop.last }}{% endfor -%} },
                ({% for key in order_by %}{{ key }} is {{ 'not ' if descending }}null, {{ key }}{{ ', ' if not loop.last }}{% endfor %})
            ) as first_row
        from {{ relation }}
        group by {{ partition_by | join(', ') }}
    ) as first_rows
{%- endmacro %}
