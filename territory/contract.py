"""The canonical raw contract: the tables and typed columns every CRM source must produce.

Types are DuckDB SQL types; the loader casts each source column to them. Sources may carry
more columns than listed; those are kept as they come. List-valued rep attributes
(`industries`, `languages`) are semicolon-separated strings so that CSV exports carry them too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RawTable:
    """One raw table of the contract: its key and its typed columns, in order."""

    name: str
    key: str
    columns: dict[str, str]


RAW_TABLES: tuple[RawTable, ...] = (
    RawTable(
        "accounts",
        "account_id",
        {
            "account_id": "VARCHAR",
            "name": "VARCHAR",
            "domain": "VARCHAR",
            "industry": "VARCHAR",
            "employees": "BIGINT",
            "annual_revenue": "DOUBLE",
            "country": "VARCHAR",
            "state": "VARCHAR",
            "city": "VARCHAR",
            "postal_code": "VARCHAR",
            "latitude": "DOUBLE",
            "longitude": "DOUBLE",
            "lifecycle_stage": "VARCHAR",
            "owner_rep_id": "VARCHAR",
            "parent_account_id": "VARCHAR",
            "created_at": "TIMESTAMP",
            "updated_at": "TIMESTAMP",
        },
    ),
    RawTable(
        "contacts",
        "contact_id",
        {
            "contact_id": "VARCHAR",
            "account_id": "VARCHAR",
            "title": "VARCHAR",
            "department": "VARCHAR",
            "seniority": "VARCHAR",
            "owner_rep_id": "VARCHAR",
            "created_at": "TIMESTAMP",
        },
    ),
    RawTable(
        "opportunities",
        "opportunity_id",
        {
            "opportunity_id": "VARCHAR",
            "account_id": "VARCHAR",
            "owner_rep_id": "VARCHAR",
            "stage": "VARCHAR",
            "amount": "DOUBLE",
            "product_line": "VARCHAR",
            "created_at": "TIMESTAMP",
            "close_date": "DATE",
            "is_closed": "BOOLEAN",
            "is_won": "BOOLEAN",
            "loss_reason": "VARCHAR",
        },
    ),
    RawTable(
        "activities",
        "activity_id",
        {
            "activity_id": "VARCHAR",
            "account_id": "VARCHAR",
            "rep_id": "VARCHAR",
            "activity_type": "VARCHAR",
            "occurred_at": "TIMESTAMP",
            "duration_minutes": "INTEGER",
        },
    ),
    RawTable(
        "reps",
        "rep_id",
        {
            "rep_id": "VARCHAR",
            "name": "VARCHAR",
            "email": "VARCHAR",
            "role": "VARCHAR",
            "segment": "VARCHAR",
            "region": "VARCHAR",
            "home_latitude": "DOUBLE",
            "home_longitude": "DOUBLE",
            "capacity_hours": "DOUBLE",
            "hire_date": "DATE",
            "industries": "VARCHAR",
            "languages": "VARCHAR",
            "is_active": "BOOLEAN",
            "manager_id": "VARCHAR",
        },
    ),
    RawTable(
        "quotas",
        "rep_id, period_start",
        {
            "rep_id": "VARCHAR",
            "period_start": "DATE",
            "period_end": "DATE",
            "quota_amount": "DOUBLE",
        },
    ),
    RawTable(
        "assessments",
        "rep_id, assessed_at",
        {
            "rep_id": "VARCHAR",
            "assessed_at": "DATE",
            "passion": "INTEGER",
            "awareness": "INTEGER",
            "curiosity": "INTEGER",
            "energy": "INTEGER",
        },
    ),
)

RAW_TABLE_NAMES: tuple[str, ...] = tuple(table.name for table in RAW_TABLES)

ACTIVITY_TYPES: tuple[str, ...] = ("call", "voicemail", "email", "meeting_in_person", "meeting_online")
LIFECYCLE_STAGES: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "customer", "churned")
OPPORTUNITY_STAGES: tuple[str, ...] = (
    "prospecting",
    "qualification",
    "proposal",
    "negotiation",
    "closed_won",
    "closed_lost",
)
SEGMENTS: tuple[str, ...] = ("smb", "mid_market", "enterprise")
REP_ROLES: tuple[str, ...] = ("inside_sales_rep", "account_executive", "senior_account_executive", "sales_manager")


def raw_table(name: str) -> RawTable:
    """The contract of raw table `name`; a clear error names the tables that exist."""
    for table in RAW_TABLES:
        if table.name == name:
            return table
    raise KeyError(f"'{name}' is not a raw table; the contract has: {', '.join(RAW_TABLE_NAMES)}")
