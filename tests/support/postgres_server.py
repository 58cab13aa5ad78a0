"""A throwaway PostgreSQL server for tests, and a loader that fills it the way Fivetran replicates Salesforce.

`postgres_server`, a session fixture (a test module takes it with `postgres_server = server.postgres_server`),
starts a real server from the installed binaries on a free loopback port, in a temporary folder, with
one database owned by a user with a password; it stops the server and deletes the folder at the end.

Without PostgreSQL installed the tests that need it skip, saying why, unless the environment sets
TERRITORY_REQUIRE_SERVICES=1 (CI does): then they fail, so a missing server can never pass silently.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from territory.sources.postgres_replica import PostgresReplica, fivetran_name

REQUIRE_SERVICES = "TERRITORY_REQUIRE_SERVICES"
SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")
# PostgreSQL refuses to run as root; as root the server runs as Debian's `postgres` system user.
SERVER_USER = "postgres"
DATABASE = "crm_replica"
USER = "territory"


def find_server_binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres; None when no PostgreSQL server is installed."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        candidates.append(Path(bindir))
    # Debian keeps server binaries off PATH, one folder per major version: prefer the newest.
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
                         reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).resolve().parent)
    return next((folder for folder in candidates if all((folder / tool).is_file() for tool in SERVER_TOOLS)), None)


def require_service(reason: str) -> None:
    """Skip the test for want of a service, or fail it when the environment requires every service."""
    if os.environ.get(REQUIRE_SERVICES) == "1":
        pytest.fail(f"{reason} ({REQUIRE_SERVICES}=1: tests that need it must not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresReplica]:
    """Settings of an empty database on a throwaway PostgreSQL server running for the test session."""
    binaries = find_server_binaries()
    if binaries is None:
        require_service(
            "PostgreSQL is not installed (no initdb, pg_ctl and postgres under `pg_config --bindir`, "
            "/usr/lib/postgresql/*/bin or PATH): install the Debian package postgresql, e.g. with "
            "`sudo .ci/install-system-packages`"
        )
    if os.geteuid() == 0 and not _user_exists(SERVER_USER):
        require_service(f"running as root, the test server needs the system user '{SERVER_USER}', which does not exist")
    with throwaway_server(binaries) as settings:
        yield settings


@contextmanager
def throwaway_server(binaries: Path) -> Iterator[PostgresReplica]:
    """Run a new PostgreSQL server from `binaries` until the block ends, then delete every trace of it."""
    folder = Path(tempfile.mkdtemp(prefix="territory-postgres-"))
    data, log = folder / "data", folder / "server.log"
    superuser_password = secrets.token_urlsafe(16)
    password_file = folder / "superuser-password"
    password_file.write_text(superuser_password)
    if os.geteuid() == 0:
        shutil.chown(folder, SERVER_USER)
        shutil.chown(password_file, SERVER_USER)
    started = False
    try:
        _run(binaries / "initdb", "--pgdata", data, "--username", SERVER_USER, "--pwfile", password_file,
             "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-locale", "--no-sync")
        password_file.unlink()
        port = _free_port()
        with (data / "postgresql.conf").open("a") as conf:
            # Loopback only, and no Unix socket (its default folder may not be writable); durability is not needed.
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        _run(binaries / "pg_ctl", "--pgdata", data, "--log", log, "--wait", "--timeout", "60", "start", log=log)
        started = True
        settings = PostgresReplica(host="127.0.0.1", port=port, database=DATABASE, user=USER,
                                   password=secrets.token_urlsafe(16), sslmode="disable")
        _create_database(settings, superuser_password)
        yield settings
    finally:
        if started:
            _run(binaries / "pg_ctl", "--pgdata", data, "--mode", "immediate", "--wait", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def connect(settings: PostgresReplica) -> psycopg.Connection:
    """An autocommit connection to the test database, as its owner."""
    return psycopg.connect(host=settings.host, port=settings.port, dbname=settings.database, user=settings.user,
                           password=settings.password, sslmode=settings.sslmode, autocommit=True)


# The Salesforce field types of the export's fields that are not text, as Fivetran types them in PostgreSQL.
FIELD_TYPES: dict[str, str] = {
    **dict.fromkeys(("IsDeleted", "IsClosed", "IsWon", "IsActive"), "boolean"),
    **dict.fromkeys(("CreatedDate", "LastModifiedDate", "SystemModstamp", "StartDateTime", "EndDateTime"),
                    "timestamp with time zone"),
    **dict.fromkeys(("CloseDate", "ActivityDate", "StartDate", "Assessed_On__c", "Hire_Date__c"), "date"),
    **dict.fromkeys(("NumberOfEmployees", "CallDurationInSeconds", "DurationInMinutes"), "integer"),
    **dict.fromkeys(("AnnualRevenue", "BillingLatitude", "BillingLongitude", "Amount", "QuotaAmount", "Latitude",
                     "Longitude", "Capacity_Hours__c", "Passion__c", "Awareness__c", "Curiosity__c", "Energy__c"),
                    "double precision"),
}
FIVETRAN_COLUMNS = {"_fivetran_deleted": "boolean NOT NULL", "_fivetran_synced": "timestamp with time zone NOT NULL"}
# When the replica "synced" a record the export gives no SystemModstamp for.
SYNCED_AT = "2026-06-30T00:00:00Z"


def load_salesforce_export(settings: PostgresReplica, export: Path) -> dict[str, int]:
    """Create `settings.schema` with a table per `<Object>.csv` of a Salesforce export, as Fivetran lands it.

    Tables and columns get Fivetran's names and types, `id` is the primary key, `_fivetran_deleted` is
    false and `_fivetran_synced` is the record's SystemModstamp (SYNCED_AT where it has none), as if
    the connector had synced every change as it happened. Returns the rows loaded per object.
    """
    loaded = {}
    with closing(connect(settings)) as connection, connection.transaction():
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(settings.schema)))
        for path in sorted(Path(export).glob("*.csv")):
            records = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
            types = {fivetran_name(name): FIELD_TYPES.get(name, "text") for name in records.columns} | FIVETRAN_COLUMNS
            synced = records["SystemModstamp"] if "SystemModstamp" in records else SYNCED_AT
            records = records.rename(columns=fivetran_name).assign(_fivetran_deleted="false", _fivetran_synced=synced)
            table = sql.Identifier(settings.schema, fivetran_name(path.stem))
            definitions = [sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(types[column]))
                           for column in records.columns]
            connection.execute(sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY (id))").format(
                table, sql.SQL(", ").join(definitions)))
            copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                table, sql.SQL(", ").join(map(sql.Identifier, records.columns)))
            with connection.cursor().copy(copy) as rows:
                rows.write(records.to_csv(index=False, header=False))
            loaded[path.stem] = len(records)
    return loaded


def _create_database(settings: PostgresReplica, superuser_password: str) -> None:
    admin = psycopg.connect(host=settings.host, port=settings.port, dbname="postgres", user=SERVER_USER,
                            password=superuser_password, sslmode=settings.sslmode, autocommit=True)
    with closing(admin):
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(settings.user), sql.Literal(settings.password)))
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(settings.database), sql.Identifier(settings.user)))


def _run(*command: str | Path, log: Path | None = None) -> None:
    """Run a server tool, as the server's system user when we are root; on failure say why, with the server's `log`."""
    arguments = [str(part) for part in command]
    if os.geteuid() == 0:
        arguments = ["runuser", "-u", SERVER_USER, "--", *arguments]
    result = subprocess.run(arguments, capture_output=True, text=True)
    if result.returncode != 0:
        server_log = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{result.stdout}{result.stderr}{server_log}")


def _free_port() -> int:
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
