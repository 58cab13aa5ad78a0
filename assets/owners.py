"""Who answers for each stage, as Dagster shows it beside every asset."""

DATA_ENGINEERING = ["team:data-engineering"]  # ingest, validate, publish
ANALYTICS_ENGINEERING = ["team:analytics-engineering"]  # the dbt models
SALES_OPERATIONS = ["team:sales-operations"]  # the plan and what follows from it
