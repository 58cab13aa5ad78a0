"""Salesforce from a PostgreSQL replica that Fivetran's Salesforce connector keeps, pulled incrementally.

The replica follows Fivetran's convention: one schema (`salesforce` unless configured) holds a table
per object and a column per field, each named by `fivetran_name` (`Account.BillingPostalCode` is
`account.billing_postal_code`, `PACE_Assessment__c.Energy__c` is `pace_assessment_c.energy_c`),
beside Fivetran's `_fivetran_synced` (when Fivetran last wrote the row) and `_fivetran_deleted`
(the record is gone from Salesforce). docs/sources/postgres.md has the details.

`pull_replica` reads, per object of the Salesforce mapping, the rows Fivetran wrote at or after the
object's watermark (every row on the first pull), gives their columns back their API names, and
upserts them into an ObjectStore; rows flagged `_fivetran_deleted` or `is_deleted` leave the store.
All objects are read in one read-only snapshot, and a pull that fails leaves the store as it was.
`land_replica` pulls, maps the held records with the Salesforce mapping and lands them.

The password never appears in a repr, a log record or an error message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql

from territory.raw_loader import SourceError
from territory.sources.canonical import land_canonical
from territory.sources.object_store import ObjectPull, ObjectStore, Pull, PullReport
from territory.sources.salesforce import SalesforceMapping, SalesforceObject, to_canonical

LOGGER = logging.getLogger(__name__)

KEY_FIELD = "Id"
# The pull's watermark. Fivetran sets `_fivetran_synced` on every row it writes, also where SystemModstamp
# stays as it was: a record it flags `_fivetran_deleted` after a purge, rows it lands late (a re-sync, a field
# newly synced). A SystemModstamp watermark would miss those for good.
SYNCED_COLUMN = "_fivetran_synced"
FIVETRAN_DELETED = "_fivetran_deleted"
DELETED_FIELD = "IsDeleted"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Rows read per round trip: bounds the memory a large table takes while it is read.
BATCH_ROWS = 50_000
KEEPS_STORE = "the local copy keeps the last good pull; run the pull again"
# pandas types of the PostgreSQL types a replica holds, stable from one pull to the next;
# other types (json, arrays) come as psycopg reads them.
DTYPES: Mapping[str, str] = {
    "text": "string",
    "character varying": "string",
    "character": "string",
    "uuid": "string",
    "smallint": "Int64",
    "integer": "Int64",
    "bigint": "Int64",
    "real": "Float64",
    "double precision": "Float64",
    "numeric": "Float64",
    "boolean": "boolean",
    "date": "datetime64[s]",
    "timestamp with time zone": "datetime64[us, UTC]",
    "timestamp without time zone": "datetime64[us]",
}
# The columns the pull relies on: the types they may have, and what it tells by them.
BOOKKEEPING_TYPES: Mapping[str, tuple[tuple[str, ...], str, str]] = {
    SYNCED_COLUMN: (("timestamp with time zone", "timestamp without time zone"), "a timestamp", "which rows changed"),
    FIVETRAN_DELETED: (("boolean",), "boolean", "which records were deleted"),
    "is_deleted": (("boolean",), "boolean", "which records were deleted"),
}


@dataclass(frozen=True)
class PostgresReplica:
    """Where the Salesforce replica is and how to sign in (a read-only user is enough); the repr hides the password."""

    host: str
    database: str
    user: str
    password: str = field(repr=False)
    port: int = 5432
    schema: str = "salesforce"
    sslmode: str = "prefer"
    connect_timeout_seconds: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be between 1 and 65535, not {self.port}")
        if self.sslmode not in SSL_MODES:
            raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}, not {self.sslmode!r}")
        if not self.schema:
            raise ValueError("schema must name the replica's schema, e.g. 'salesforce'")

    @property
    def address(self) -> str:
        """The database as people write it, without the password: user@host:port/database."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


def fivetran_name(api_name: str) -> str:
    """The table or column name Fivetran gives a Salesforce API name.

    Words split where the case changes (OwnerId -> owner_id, URLField -> url_field), every run of
    other characters and underscores becomes one underscore (Energy__c -> energy_c), all lower case.
    """
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", api_name)
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", words)
    return re.sub(r"[\W_]+", "_", words).lower()


@dataclass(frozen=True)
class _ReplicaTable:
    """The table of one Salesforce object in the replica, and its columns read under their API names."""

    obj: str
    name: str
    columns: Mapping[str, str]  # column -> API name (Fivetran's own columns have no other)
    dtypes: Mapping[str, str]  # column -> pandas dtype
    missing_fields: tuple[str, ...]

    @property
    def deletion_flags(self) -> list[str]:
        return [name for name in (FIVETRAN_DELETED, DELETED_FIELD) if name in self.columns.values()]


def pull_replica(store: ObjectStore, replica: PostgresReplica,
                 mapping: SalesforceMapping = SalesforceMapping()) -> PullReport:
    """Bring `store` up to date with the replica for every object of `mapping`, all of them or, if anything fails, none."""
    objects = mapping.objects()
    with _connection(replica) as connection:
        tables = _replica_tables(connection, replica, objects)
        with store.pull() as pull:
            pulled = [
                _pull_table(pull, connection, replica, tables[name], store.watermark(name)) if name in tables
                else ObjectPull(name, fetched=0, deleted=0, pages=0, watermark=None, in_org=False)
                for name in objects
            ]  # fmt: skip
    report = {result.object: replace(result, watermark=store.watermark(result.object)) for result in pulled}
    for result in report.values():
        if result.in_org:
            LOGGER.info("replica %s: %d rows fetched, %d deleted; watermark %s", result.object, result.fetched,
                        result.deleted, result.watermark)
        else:
            LOGGER.warning("the replica has no table for %s; it is optional and left out", result.object)
    return PullReport(report)


def land_replica(store_folder: Path, target: Path, replica: PostgresReplica,
                 mapping: SalesforceMapping = SalesforceMapping()) -> Path:
    """Pull the replica into the store at `store_folder`, then land the store's records as canonical tables at `target`."""
    store = ObjectStore(store_folder)
    report = pull_replica(store, replica, mapping)
    records = {name: store.records(name) for name in report.pulled}
    return land_canonical(to_canonical(records, mapping), target)


@contextmanager
def _connection(replica: PostgresReplica) -> Iterator[psycopg.Connection]:
    """A read-only connection whose one transaction sees every table as of the same moment, in UTC."""
    try:
        connection = psycopg.connect(
            host=replica.host, port=replica.port, dbname=replica.database, user=replica.user,
            password=replica.password, sslmode=replica.sslmode, connect_timeout=replica.connect_timeout_seconds,
            options="-c TimeZone=UTC", application_name="territory-planner",
        )  # fmt: skip
    except psycopg.Error as error:
        # `from None`: the driver's exception is not shown, so nothing of the connection settings can leak through it.
        raise SourceError(
            f"cannot connect to the PostgreSQL replica {replica.address}: {_reason(error)}; "
            "check the host, port, database, user and password settings and that the server accepts connections"
        ) from None
    connection.read_only = True
    connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with connection:
        yield connection


def _replica_tables(connection: psycopg.Connection, replica: PostgresReplica,
                    objects: Mapping[str, SalesforceObject]) -> dict[str, _ReplicaTable]:
    """The replica's table of each object it has; a SourceError lists every required table or column it lacks."""
    with _reading(replica, f"the tables of schema {replica.schema}"):
        described = connection.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = %s",
            [replica.schema],
        ).fetchall()
    types: dict[str, dict[str, str]] = {}
    for table, column, data_type in described:
        types.setdefault(table, {})[column] = data_type
    tables: dict[str, _ReplicaTable] = {}
    problems: list[str] = []
    for name, spec in objects.items():
        table = fivetran_name(name)
        present = types.get(table)
        if present is None:
            if spec.required:
                problems.append(f"the replica has no table {replica.schema}.{table} (the Salesforce object {name})")
            continue
        required = list(dict.fromkeys([KEY_FIELD, SYNCED_COLUMN, FIVETRAN_DELETED, *spec.required_fields]))
        problems += [f"{replica.schema}.{table} has no column {fivetran_name(api_name)} ({_field(name, api_name)})"
                     for api_name in required if fivetran_name(api_name) not in present]
        problems += _type_problems(replica.schema, table, present)
        wanted = [*required, *spec.optional_fields]
        columns = {fivetran_name(api_name): api_name for api_name in wanted if fivetran_name(api_name) in present}
        tables[name] = _ReplicaTable(
            name, table, columns, {column: DTYPES.get(present[column], "object") for column in columns},
            tuple(api_name for api_name in spec.optional_fields if fivetran_name(api_name) not in present),
        )
    if len(problems) == 1:
        raise SourceError(f"{problems[0]}; check the schema setting and the objects and fields the replication syncs")
    if problems:
        raise SourceError(
            f"{len(problems)} problems in the PostgreSQL replica {replica.address}; nothing was pulled:\n  "
            + "\n  ".join(problems), problems,
        )  # fmt: skip
    return tables


def _type_problems(schema: str, table: str, present: Mapping[str, str]) -> list[str]:
    """The columns the pull relies on whose type would make it read the wrong rows."""
    return [
        f"{schema}.{table}.{column} is {present[column]}, not {kind}: the pull cannot tell {purpose}"
        for column, (types, kind, purpose) in BOOKKEEPING_TYPES.items()
        if column in present and present[column] not in types
    ]


def _pull_table(pull: Pull, connection: psycopg.Connection, replica: PostgresReplica, table: _ReplicaTable,
                since: str | None) -> ObjectPull:
    """Add to `pull` the rows of `table` written at or after `since` (every row when None)."""

    def typed(batch: list[tuple]) -> pd.DataFrame:
        return pd.DataFrame.from_records(batch, columns=list(table.columns)).astype(table.dtypes)

    query = sql.SQL("SELECT {columns} FROM {table}").format(
        columns=sql.SQL(", ").join(map(sql.Identifier, table.columns)),
        table=sql.Identifier(replica.schema, table.name),
    )
    if since is not None:
        query += sql.SQL(" WHERE {} >= %s").format(sql.Identifier(SYNCED_COLUMN))
    pages: list[pd.DataFrame] = []
    with _reading(replica, f"{replica.schema}.{table.name} (the Salesforce object {table.obj})"):
        # A server-side cursor, so that only one batch of rows is in memory as Python objects at a time.
        with connection.cursor(name=f"pull_{table.name}") as cursor:
            cursor.execute(query, None if since is None else [pd.Timestamp(since).to_pydatetime()])
            while batch := cursor.fetchmany(BATCH_ROWS):
                pages.append(typed(batch))
    records = (pd.concat(pages, ignore_index=True) if pages else typed([])).rename(columns=table.columns)
    deleted = records[table.deletion_flags].fillna(False).any(axis=1)
    # Deleted rows are upserted too, so that their stamps move the watermark; the deletion wins over the upsert.
    pull.upsert(table.obj, records, key=KEY_FIELD, stamp_field=SYNCED_COLUMN)
    pull.delete(table.obj, records.loc[deleted, KEY_FIELD], key=KEY_FIELD)
    return ObjectPull(table.obj, fetched=len(records), deleted=int(deleted.sum()), pages=len(pages), watermark=None,
                      missing_fields=table.missing_fields)


@contextmanager
def _reading(replica: PostgresReplica, what: str) -> Iterator[None]:
    """Turn a database error while reading `what` into a SourceError that says what failed and what to do."""
    try:
        yield
    except psycopg.errors.UndefinedTable as error:
        raise SourceError(f"the replica has no table {what} any more: it was dropped while the pull ran; "
                          f"{KEEPS_STORE}") from error
    except psycopg.OperationalError as error:
        raise SourceError(f"the connection to the PostgreSQL replica {replica.address} failed while reading {what}: "
                          f"{_reason(error)}; {KEEPS_STORE}") from error
    except psycopg.Error as error:
        raise SourceError(f"the PostgreSQL replica {replica.address} could not read {what}: "
                          f"{_reason(error)}; {KEEPS_STORE}") from error


def _reason(error: psycopg.Error) -> str:
    """The server's words for `error`, or else libpq's first line without its "connection to ... failed:" preamble."""
    reason = error.diag.message_primary or str(error).strip().splitlines()[0]
    return re.sub(r"^.*\bfailed:\s+(?:FATAL:\s+)?", "", reason)


def _field(obj: str, api_name: str) -> str:
    return "Fivetran's bookkeeping column" if api_name.startswith("_fivetran") else f"the field {obj}.{api_name}"
