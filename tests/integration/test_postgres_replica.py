"""The PostgreSQL replica source against a real, throwaway PostgreSQL server holding the Salesforce export."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import socket
import traceback
import uuid
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
from psycopg import sql
from support import postgres_server as server

from territory.contract import RAW_TABLES
from territory.raw_loader import SourceError
from territory.sources.canonical import read_unmapped
from territory.sources.object_store import ObjectStore, Pull
from territory.sources.postgres_replica import PostgresReplica, fivetran_name, land_replica, pull_replica
from territory.sources.salesforce import SalesforceMapping, read_export, to_canonical

EXPORT = Path(__file__).resolve().parents[1] / "fixtures" / "salesforce_export"
# The throwaway server for the session: a fixture of the support module, made this module's.
postgres_server = server.postgres_server


@pytest.fixture
def replica(postgres_server: PostgresReplica) -> PostgresReplica:
    """The Salesforce export replicated into a schema of its own, as Fivetran would land it."""
    settings = dataclasses.replace(postgres_server, schema=f"salesforce_{uuid.uuid4().hex[:8]}")
    server.load_salesforce_export(settings, EXPORT)
    return settings


def run_sql(replica: PostgresReplica, statement: str, *params) -> list[tuple]:
    """Run `statement` in the replica's schema (as `{}`), as the replication tool or an administrator would."""
    with closing(server.connect(replica)) as connection:
        cursor = connection.execute(sql.SQL(statement).format(sql.Identifier(replica.schema)), params or None)
        return cursor.fetchall() if cursor.description else []


def folder_bytes(folder: Path) -> dict[str, str]:
    """Every file under `folder` and a digest of its bytes."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_fivetran_names_follow_the_api_names_so_custom_fields_need_no_table():
    names = ["Id", "OwnerId", "BillingPostalCode", "NumberOfEmployees", "SystemModstamp", "IsDeleted",
             "Territory_Segment__c", "PACE_Assessment__c", "ForecastingQuota", "URLField__c", "Address2Street"]
    assert [fivetran_name(name) for name in names] == [
        "id", "owner_id", "billing_postal_code", "number_of_employees", "system_modstamp", "is_deleted",
        "territory_segment_c", "pace_assessment_c", "forecasting_quota", "url_field_c", "address2_street"]


def test_the_settings_hide_the_password():
    settings = PostgresReplica(host="db.example", database="crm", user="reader", password="s3cret-Pa55")
    assert "s3cret-Pa55" not in repr(settings) and "s3cret-Pa55" not in str(settings)
    assert settings.address == "reader@db.example:5432/crm"
    with pytest.raises(ValueError, match="sslmode must be one of"):
        dataclasses.replace(settings, sslmode="sometimes")


def test_a_missing_server_fails_instead_of_skipping_when_services_are_required(monkeypatch):
    monkeypatch.setenv(server.REQUIRE_SERVICES, "1")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is not installed"):
        server.require_service("PostgreSQL is not installed")
    monkeypatch.delenv(server.REQUIRE_SERVICES)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is not installed"):
        server.require_service("PostgreSQL is not installed")


def test_the_first_pull_holds_every_object_and_lands_what_the_export_lands(replica, tmp_path):
    store = ObjectStore(tmp_path / "store")
    target = land_replica(tmp_path / "store", tmp_path / "canonical", replica)

    exported = read_export(EXPORT)
    for name, records in exported.items():
        live = records[records["IsDeleted"].fillna("false") != "true"] if "IsDeleted" in records else records
        assert sorted(store.records(name)["Id"]) == sorted(live["Id"]), name
    expected = to_canonical(exported)
    for table in RAW_TABLES:
        keys = [key.strip() for key in table.key.split(",")]
        landed = pd.read_parquet(target / f"{table.name}.parquet").sort_values(keys, ignore_index=True)
        pd.testing.assert_frame_equal(landed, expected.tables[table.name].sort_values(keys, ignore_index=True),
                                      check_dtype=False, obj=table.name)
    pd.testing.assert_frame_equal(read_unmapped(target), expected.unmapped.astype({"records": "int64"}),
                                  check_dtype=False)


def test_a_second_pull_reads_only_the_rows_written_since_and_removes_deleted_records(replica, tmp_path):
    store = ObjectStore(tmp_path / "store")
    pull_replica(store, replica)
    watermark = store.watermark("Account")
    changed = ["001Hn0000000001IAA", "001Hn0000000002IAA"]
    gone = "003Hn0000000002IAA"
    # Fivetran stamps every row it writes; Salesforce stamps the edit, but not a purge from the recycle bin.
    run_sql(replica, "UPDATE {}.account SET name = name || ' (renamed)', system_modstamp = '2026-07-01T09:00:00Z', "
                     "_fivetran_synced = '2026-07-01T09:05:00Z' WHERE id = ANY(%s)", changed)
    run_sql(replica, "UPDATE {}.contact SET _fivetran_deleted = true, _fivetran_synced = '2026-07-01T09:05:00Z' "
                     "WHERE id = %s", gone)
    at_watermark = {table: run_sql(replica, f"SELECT count(*) FROM {{}}.{table} WHERE _fivetran_synced = %s",
                                   store.watermark(obj))[0][0]
                    for obj, table in (("Account", "account"), ("Contact", "contact"), ("User", "user"))}

    report = pull_replica(store, replica).objects

    # Rows stamped exactly at the watermark are read again: several rows can share a stamp.
    assert (report["Account"].fetched, report["Account"].deleted) == (len(changed) + at_watermark["account"], 0)
    assert (report["Contact"].fetched, report["Contact"].deleted) == (1 + at_watermark["contact"], 1)
    assert report["User"].fetched == at_watermark["user"]
    accounts = store.records("Account").set_index("Id")
    assert accounts.loc[changed, "Name"].str.endswith(" (renamed)").all()
    assert (accounts.loc[changed, "SystemModstamp"] == pd.Timestamp("2026-07-01T09:00:00Z")).all()
    assert store.watermark("Account") > watermark
    assert gone not in set(store.records("Contact")["Id"])


def test_custom_fields_are_read_by_their_fivetran_names(replica, tmp_path):
    run_sql(replica, 'ALTER TABLE {}."user" ADD COLUMN sales_territory_c text')
    run_sql(replica, 'UPDATE {}."user" SET sales_territory_c = \'Pacific Northwest\'')
    mapping = SalesforceMapping(rep_region_field="Sales_Territory__c")

    target = land_replica(tmp_path / "store", tmp_path / "canonical", replica, mapping)

    assert set(pd.read_parquet(target / "reps.parquet")["region"]) == {"pacific_northwest"}


def test_the_password_is_in_no_log_record_and_no_file(replica, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)

    land_replica(tmp_path / "store", tmp_path / "canonical", replica)

    assert caplog.records and replica.password not in caplog.text
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert written and not [path for path in written if replica.password.encode() in path.read_bytes()]


def test_a_wrong_password_is_refused_in_plain_words_that_never_show_it(replica, tmp_path, caplog):
    wrong = dataclasses.replace(replica, password=f"not-{replica.password}")
    caplog.set_level(logging.DEBUG)

    with pytest.raises(SourceError) as refused:
        pull_replica(ObjectStore(tmp_path / "store"), wrong)

    message = str(refused.value)
    assert message.startswith(f"cannot connect to the PostgreSQL replica {replica.address}: ")
    assert "password authentication failed" in message
    shown = "".join(traceback.format_exception(refused.value)) + caplog.text + repr(wrong)
    assert wrong.password not in shown and replica.password not in shown
    assert not (tmp_path / "store").exists()


def test_a_server_that_is_not_there_is_named_without_the_password(replica, tmp_path):
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    absent = dataclasses.replace(replica, port=closed_port)

    with pytest.raises(SourceError, match=f"cannot connect to the PostgreSQL replica .*:{closed_port}/.*refused") as refused:
        pull_replica(ObjectStore(tmp_path / "store"), absent)

    assert replica.password not in "".join(traceback.format_exception(refused.value))


def test_a_missing_table_or_column_is_named(replica, tmp_path):
    run_sql(replica, "DROP TABLE {}.opportunity")
    run_sql(replica, "ALTER TABLE {}.account DROP COLUMN billing_postal_code")
    run_sql(replica, "DROP TABLE {}.pace_assessment_c")  # an optional object: left out, not an error

    with pytest.raises(SourceError) as missing:
        pull_replica(ObjectStore(tmp_path / "store"), replica)

    assert missing.value.problems == [
        f"{replica.schema}.account has no column billing_postal_code (the field Account.BillingPostalCode)",
        f"the replica has no table {replica.schema}.opportunity (the Salesforce object Opportunity)",
    ]
    assert not (tmp_path / "store").exists()


def test_a_bookkeeping_column_of_the_wrong_type_is_named_and_the_store_kept(replica, tmp_path):
    store = ObjectStore(tmp_path / "store")
    pull_replica(store, replica)
    before = folder_bytes(store.folder)
    run_sql(replica, "ALTER TABLE {}.task ALTER COLUMN _fivetran_synced TYPE text")

    with pytest.raises(SourceError, match=r"\.task\._fivetran_synced is text, not a timestamp"):
        pull_replica(store, replica)

    assert folder_bytes(store.folder) == before


def test_a_pull_that_fails_between_objects_leaves_the_store_byte_identical(replica, tmp_path, monkeypatch):
    store = ObjectStore(tmp_path / "store")
    pull_replica(store, replica)
    before = folder_bytes(store.folder)
    run_sql(replica, "UPDATE {}.account SET _fivetran_synced = '2026-07-01T09:05:00Z'")
    upsert = Pull.upsert

    def upsert_then_drop(pull, obj, records, **kwargs):
        upsert(pull, obj, records, **kwargs)
        if obj == "Account":  # the replication tool drops a table while the pull is under way
            run_sql(replica, "DROP TABLE {}.task")

    monkeypatch.setattr(Pull, "upsert", upsert_then_drop)

    with pytest.raises(SourceError, match=rf"no table {replica.schema}\.task \(the Salesforce object Task\)"):
        pull_replica(store, replica)

    assert folder_bytes(store.folder) == before
