"""Each CRM source end to end, through the `territory` command: a Salesforce export, Salesforce's API on a local
HTTPS server, a HubSpot export, HubSpot's API on a local server and a Salesforce replica on a real PostgreSQL
server, each through the whole pipeline to published territories, and the plan written back to the CRM as its
import files or through its API.

Every source holds crm_small (tests/fixtures/) in its CRM's shape, so each publishes a plan for its 40 accounts.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from fixtures.make_hubspot_export import EXPORT as HUBSPOT_EXPORT
from fixtures.make_hubspot_export import portal
from support import postgres_server as postgres
from support.hubspot_server import HubSpotServer
from support.salesforce_server import SalesforceServer

pytestmark = pytest.mark.e2e
TERRITORY = str(Path(sys.executable).with_name("territory"))
SALESFORCE_EXPORT = Path(__file__).resolve().parents[1] / "fixtures" / "salesforce_export"
SNAPSHOT = "2026-06-30"
ACCOUNTS = 40
CLIENT_ID, CLIENT_SECRET = "3MVG9-territory-e2e", "client-secret-e2e-91c4"
HUBSPOT_TOKEN = "pat-na1-e2e-SECRET-5a7c"
postgres_server = postgres.postgres_server


def territory(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "TERRITORY_HOME": str(home), **env}
    environment.pop("DAGSTER_HOME", None)
    result = subprocess.run([TERRITORY, *args], capture_output=True, text=True, env=environment, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def build(home: Path, source: str, *path: str, **env: str) -> subprocess.CompletedProcess:
    """`territory run` of the snapshot from `source`."""
    return territory(home, "run", "--source", source, *(("--path", *path) if path else ()), "--snapshot-date", SNAPSHOT,
                     **env)


def assignments(home: Path) -> dict[str, str]:
    with duckdb.connect(str(home / "analytics.duckdb"), read_only=True) as conn:
        return dict(conn.sql("select account_id, rep_id from territory_assignments").fetchall())


def crm_owners(home: Path) -> dict[str, str]:
    """Each account's owner in the CRM, as the run loaded it."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        return dict(conn.sql("select account_id, owner_rep_id from raw.accounts").fetchall())


def moved_accounts(home: Path) -> dict[str, str]:
    """The accounts whose planned rep is not their CRM owner, with the planned rep."""
    owners = crm_owners(home)
    return {account: rep for account, rep in assignments(home).items() if owners[account] != rep}


def files_holding(folder: Path, secret: str) -> list[Path]:
    """The files under `folder` (warehouse, published tables, Dagster's event log and compute logs...) holding `secret`."""
    return [path for path in folder.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_a_salesforce_export_becomes_territories_and_data_loader_files(tmp_path):
    home = tmp_path / "home"
    build(home, "salesforce", str(SALESFORCE_EXPORT))
    plan = assignments(home)
    assert len(plan) == ACCOUNTS and all(rep.startswith("005") for rep in plan.values())  # Salesforce User ids

    written = territory(home, "writeback", "--to", "salesforce").stdout
    folder = home / "writeback" / "salesforce" / SNAPSHOT
    assert str(folder / "Account.csv") in written
    assert {row["Id"]: row["OwnerId"] for row in rows(folder / "Account.csv")} == moved_accounts(home)


def test_a_salesforce_org_through_its_api_and_the_plan_written_back_through_it(tmp_path):
    home = tmp_path / "home"
    with SalesforceServer.from_export(SALESFORCE_EXPORT, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                      page_size=25) as server:
        env = {"SALESFORCE_LOGIN_URL": server.url, "SALESFORCE_CLIENT_ID": CLIENT_ID,
               "SALESFORCE_CLIENT_SECRET": CLIENT_SECRET, "REQUESTS_CA_BUNDLE": str(server.ca_file)}
        run = build(home, "salesforce", **env)
        assert CLIENT_SECRET not in run.stdout + run.stderr
        assert len(assignments(home)) == ACCOUNTS
        moved = moved_accounts(home)
        assert moved  # crm_small's plan moves accounts

        dry_run = territory(home, "writeback", "--to", "salesforce", "--api", **env).stdout
        assert "Nothing was written" in dry_run and not server.requests_to("composite/sobjects")

        territory(home, "writeback", "--to", "salesforce", "--api", "--approve", **env)
        assert {account: server.records["Account"][account]["OwnerId"] for account in moved} == moved
        sent = len(server.requests_to("composite/sobjects"))
        again = territory(home, "writeback", "--to", "salesforce", "--api", "--approve", **env)
        assert len(server.requests_to("composite/sobjects")) == sent  # the ledger holds every change: none is sent twice
        assert f"{len(moved):>13,}" in again.stdout  # "done before"
        # A pull that fails part way, past its retries, keeps the last good data and says so plainly.
        landed = {path: path.read_bytes() for path in (home / "sources" / "salesforce-api").rglob("*") if path.is_file()}
        server.fail("query", 503, times=None, retry_after=0)  # retried at once, then given up
        failed = subprocess.run([TERRITORY, "run", "--source", "salesforce", "--snapshot-date", SNAPSHOT],
                                capture_output=True, text=True, timeout=900,
                                env={**os.environ, "TERRITORY_HOME": str(home), **env})
        assert failed.returncode == 1 and "keeps the last good pull" in failed.stderr and "Traceback" not in failed.stderr
        assert {path: path.read_bytes() for path in landed} == landed
        assert crm_owners(home)  # the raw tables are still there
    ledger = [json.loads(line) for line in (home / "writeback" / "salesforce" / f"{SNAPSHOT}.jsonl").read_text().splitlines()]
    assert {line["record_id"]: line["to"] for line in ledger if line["object"] == "Account"} == moved
    assert all(line["ok"] and line["run"] and line["written_at"] for line in ledger)
    assert files_holding(home, CLIENT_SECRET) == []


def test_a_hubspot_export_becomes_territories_and_hubspot_import_files(tmp_path):
    home = tmp_path / "home"
    build(home, "hubspot", str(HUBSPOT_EXPORT))
    assert len(assignments(home)) == ACCOUNTS
    territory(home, "writeback", "--to", "hubspot")
    imported = rows(home / "writeback" / "hubspot" / SNAPSHOT / "hubspot_import_companies_owners.csv")
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        emails = dict(conn.sql("select rep_id, email from raw.reps").fetchall())
    assert {row["Record ID"]: row["Company owner"] for row in imported} == {
        account: emails[rep] for account, rep in moved_accounts(home).items()}


def test_a_hubspot_portal_through_its_api_and_the_plan_written_back_through_it(tmp_path):
    home = tmp_path / "home"
    with HubSpotServer(portal(), HUBSPOT_TOKEN) as server:
        env = {"HUBSPOT_API_HOST": server.url, "HUBSPOT_ACCESS_TOKEN": HUBSPOT_TOKEN,
               "HUBSPOT_REP_PROFILES": str(HUBSPOT_EXPORT)}
        run = build(home, "hubspot", **env)
        assert HUBSPOT_TOKEN not in run.stdout + run.stderr
        assert len(assignments(home)) == ACCOUNTS
        moved = moved_accounts(home)
        territory(home, "writeback", "--to", "hubspot", "--api", "--approve", **env)
        owners = {record_id: record.properties["hubspot_owner_id"] for record_id, record in server.records["companies"].items()}
        assert {account: owners[account] for account in moved} == moved
    assert files_holding(home, HUBSPOT_TOKEN) == []


def test_a_salesforce_replica_in_postgresql_becomes_territories(tmp_path, postgres_server):
    postgres.load_salesforce_export(postgres_server, SALESFORCE_EXPORT)
    home = tmp_path / "home"
    run = build(home, "postgres", TERRITORY_POSTGRES_HOST=postgres_server.host,
                TERRITORY_POSTGRES_PORT=str(postgres_server.port), TERRITORY_POSTGRES_DATABASE=postgres_server.database,
                TERRITORY_POSTGRES_USER=postgres_server.user, TERRITORY_POSTGRES_PASSWORD=postgres_server.password,
                TERRITORY_POSTGRES_SCHEMA=postgres_server.schema)
    assert postgres_server.password not in run.stdout + run.stderr
    assert files_holding(home, postgres_server.password) == []
    plan = assignments(home)
    assert len(plan) == ACCOUNTS and all(rep.startswith("005") for rep in plan.values())
    territory(home, "writeback", "--to", "salesforce")
    written = rows(home / "writeback" / "salesforce" / SNAPSHOT / "Account.csv")
    assert {row["Id"]: row["OwnerId"] for row in written} == moved_accounts(home)
