"""The Salesforce REST source against a local Salesforce API: pulls, retries, failures, secrets, write-back."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import urllib3.util.retry
from support.salesforce_server import SalesforceServer

from territory.contract import RAW_TABLES
from territory.raw_loader import SourceError
from territory.sources.canonical import land_canonical, read_unmapped
from territory.sources.object_store import ObjectStore
from territory.sources.salesforce import SalesforceMapping, read_export, to_canonical
from territory.sources.salesforce_api import (
    RetryPolicy,
    SalesforceApiSettings,
    SalesforceCredentials,
    connect,
    land_api,
    pull_objects,
    salesforce_push,
)
from territory.sources.writeback import OwnerChange, PushResult

EXPORT = Path(__file__).resolve().parents[1] / "fixtures" / "salesforce_export"
CLIENT_ID = "3MVG9-territory-planner"
CLIENT_SECRET = "client-secret-7f3a9c"
PASSWORD = "user-password-51be+securitytoken"
SERVER_PAGE = 15  # records per page the server sends: the 40 accounts take 3 pages
RETRIES = 3
OBJECTS = SalesforceMapping().objects()


@pytest.fixture(autouse=True)
def waits(monkeypatch) -> list[float]:
    """The waits urllib3 would sleep between retries, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(urllib3.util.retry, "time", SimpleNamespace(sleep=waited.append, time=time.time))
    return waited


@pytest.fixture
def server():
    with SalesforceServer.from_export(EXPORT, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                      username="ops@acme.example", password=PASSWORD,
                                      page_size=SERVER_PAGE) as running:
        yield running


def settings(server: SalesforceServer) -> SalesforceApiSettings:
    return SalesforceApiSettings(page_size=200, retry=RetryPolicy(retries=RETRIES, backoff_seconds=0.5),
                                 ca_bundle=server.ca_file)


def credentials(server: SalesforceServer, secret: str = CLIENT_SECRET) -> SalesforceCredentials:
    return SalesforceCredentials(server.url, CLIENT_ID, secret)


def pull(server: SalesforceServer, store: ObjectStore):
    return pull_objects(store, connect(credentials(server), settings(server)), OBJECTS, page_size=200)


def live(server: SalesforceServer, obj: str) -> dict[str, dict]:
    """The records of `obj` not in the recycle bin."""
    return {record_id: record for record_id, record in server.records[obj].items() if not record["IsDeleted"]}


def soql_for(server: SalesforceServer, obj: str, route: str = "query") -> list[str]:
    return [request.soql for request in server.requests_to(route) if f" FROM {obj}" in request.soql]


def file_digests(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_first_pull_reads_every_record_over_several_pages(server, tmp_path):
    store = ObjectStore(tmp_path / "store")

    report = pull(server, store)

    accounts = live(server, "Account")
    assert report.objects["Account"].fetched == len(accounts) == 40
    assert report.objects["Account"].pages == 3
    assert len(server.requests_to("query_more")) >= 2
    assert set(store.records("Account")["Id"]) == set(accounts)
    assert report.objects["Account"].watermark == max(record["SystemModstamp"] for record in accounts.values())
    assert store.watermark("Account") == report.objects["Account"].watermark
    assert all(" WHERE " not in soql for soql in soql_for(server, "Account"))
    assert server.requests_to("queryAll") == []  # nothing held yet, so nothing to delete
    for name, obj in OBJECTS.items():
        if name in server.records:
            assert len(store.records(name)) == len(live(server, name)), name
            assert set(obj.required_fields) <= set(store.records(name).columns), name


def test_a_second_pull_fetches_only_the_changes_and_removes_the_deletions(server, tmp_path):
    store = ObjectStore(tmp_path / "store")
    first = pull(server, store).objects["Account"].watermark
    modified, deleted = sorted(live(server, "Account"))[:2]
    contact = sorted(live(server, "Contact"))[0]
    server.modify("Account", modified, Name="Renamed Holdings")
    server.delete("Account", deleted)
    server.delete("Contact", contact)
    server.received.clear()

    report = pull(server, store)

    since = pd.Timestamp(first).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    [changed] = soql_for(server, "Account")
    assert changed.endswith(f"FROM Account WHERE SystemModstamp >= {since} ORDER BY SystemModstamp")
    assert soql_for(server, "Account", "queryAll") == [
        f"SELECT Id FROM Account WHERE IsDeleted = true AND SystemModstamp >= {since}"]
    at_or_after = [record_id for record_id, record in live(server, "Account").items()
                   if pd.Timestamp(record["SystemModstamp"]) >= pd.Timestamp(since)]
    assert modified in at_or_after
    assert report.objects["Account"].fetched == len(at_or_after) < 40
    assert (report.objects["Account"].deleted, report.objects["Contact"].deleted) == (1, 1)
    held = store.records("Account").set_index("Id")
    assert held.loc[modified, "Name"] == "Renamed Holdings"
    assert deleted not in held.index and len(held) == 39
    assert contact not in set(store.records("Contact")["Id"])
    # deletions do not move the watermark: records changed while they were read must not be skipped next time
    assert store.watermark("Account") == server.records["Account"][modified]["SystemModstamp"] > first


def test_rate_limits_and_outages_are_retried_honouring_retry_after(server, tmp_path, waits):
    server.fail("describe", 429, times=1)
    server.fail("query", 429, times=2, retry_after=7)
    server.fail("query_more", 503, times=2)
    store = ObjectStore(tmp_path / "store")

    report = pull(server, store)

    assert server.requests_to("describe")[0].path == server.requests_to("describe")[1].path

    first_query = server.requests_to("query")[:3]
    assert [request.soql for request in first_query] == [first_query[0].soql] * 3  # two 429s, then the answer
    assert waits[:2] == [7, 7]
    more = server.requests_to("query_more")
    assert more[0].path == more[1].path == more[2].path  # two 503s, then the page
    assert report.objects["Account"].fetched == 40
    assert len(store.records("Account")) == 40


@pytest.mark.parametrize("status", [500, None], ids=["page-keeps-failing", "connection-keeps-dropping"])
def test_a_pull_that_fails_part_way_leaves_the_store_byte_for_byte_as_it_was(server, tmp_path, status):
    store = ObjectStore(tmp_path / "store")
    pull(server, store)
    before = file_digests(store.folder)
    for record_id in sorted(server.records["Account"])[:20]:  # changes enough for a second page
        server.modify("Account", record_id, Name="Changed")
    server.fail("query_more", status, times=None)
    server.received.clear()

    with pytest.raises(SourceError) as raised:
        pull(server, store)

    assert file_digests(store.folder) == before
    assert len(server.requests_to("query_more")) == RETRIES + 1
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in message
    assert "reading the Account records modified since" in message
    assert "the local copy keeps the last good pull; run the pull again" in message
    if status == 500:
        assert message.startswith("Salesforce answered 500 (UNKNOWN_EXCEPTION: An unexpected error occurred")
    else:
        assert message.startswith("Salesforce could not be reached while reading the Account records")


def test_refused_client_credentials_say_which_settings_to_check(server):
    with pytest.raises(SourceError) as raised:
        connect(credentials(server, secret="not-the-secret"), settings(server))

    message = str(raised.value)
    assert message.startswith(f"Salesforce refused the credentials at {server.url}/services/oauth2/token "
                              "(invalid_client: invalid client credentials); check the connected app's client id "
                              "and client secret")
    assert "not-the-secret" not in message
    assert server.issued_tokens == []


def test_a_refused_password_names_the_security_token(server):
    refused = SalesforceCredentials(server.url, CLIENT_ID, CLIENT_SECRET, username="ops@acme.example",
                                    password="wrong-password")
    with pytest.raises(SourceError, match=r"\(invalid_grant: authentication failure\).*security token appended"):
        connect(refused, settings(server))

    accepted = SalesforceCredentials(server.url, CLIENT_ID, CLIENT_SECRET, username="ops@acme.example",
                                     password=PASSWORD)
    connect(accepted, settings(server))
    assert server.requests_to("token")[-1].body["grant_type"] == "password"
    assert len(server.issued_tokens) == 1


def test_a_missing_optional_field_is_reported_and_a_missing_required_one_refused(server, tmp_path):
    optional = next(name for name in OBJECTS["Account"].optional_fields if name in server.fields["Account"])
    server.drop_field("Account", optional)

    report = pull(server, ObjectStore(tmp_path / "store"))

    assert optional in report.objects["Account"].missing_fields
    assert all(optional not in soql for soql in soql_for(server, "Account"))

    required = next(name for name in OBJECTS["Account"].required_fields if name != "Id")
    server.drop_field("Account", required)
    with pytest.raises(SourceError, match=f"Salesforce's Account has no field {required} that the mapping needs"):
        pull(server, ObjectStore(tmp_path / "other"))


def test_secrets_never_appear_in_logs_errors_reprs_or_files(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    store = ObjectStore(tmp_path / "store")
    target = tmp_path / "canonical"
    land_api(store.folder, target, credentials(server), settings=settings(server))
    server.fail("query", 500, times=None)
    for attempt in (
        lambda: pull(server, store),
        lambda: connect(credentials(server, secret="wrong-" + CLIENT_SECRET), settings(server)),
        lambda: connect(SalesforceCredentials(server.url, CLIENT_ID, CLIENT_SECRET, username="ops@acme.example",
                                              password="wrong-" + PASSWORD), settings(server)),
    ):
        with pytest.raises(SourceError) as raised:
            attempt()
        errors.append(raised.value)
    password_credentials = SalesforceCredentials(server.url, CLIENT_ID, CLIENT_SECRET, "ops@acme.example", PASSWORD)

    secrets = [CLIENT_SECRET, PASSWORD, *server.issued_tokens]
    texts = [record.getMessage() for record in caplog.records] + [record.exc_text or "" for record in caplog.records]
    for error in errors:
        while error is not None:
            texts += [str(error), repr(error)]
            error = error.__cause__ or error.__context__
    texts += [repr(password_credentials), str(password_credentials)]
    texts += [path.read_bytes().decode("utf-8", "replace") for path in tmp_path.rglob("*") if path.is_file()]
    assert len(server.issued_tokens) == 2 and caplog.records
    for secret in secrets:
        assert not [text for text in texts if secret in text]


def test_write_back_updates_owners_in_batches_of_200_each_record_on_its_own(server):
    accounts = sorted(live(server, "Account"))
    users = sorted(server.records["User"])
    rejected, unknown_owner, deleted = accounts[:3]
    server.reject_update(rejected, "FIELD_CUSTOM_VALIDATION_EXCEPTION", "Owner changes need approval")
    server.delete("Account", deleted)
    changes = [OwnerChange("Account", record_id, record_id, server.records["Account"][record_id]["OwnerId"], users[0])
               for record_id in accounts]
    changes[1] = OwnerChange("Account", unknown_owner, unknown_owner, None, "005NOSUCHUSER")
    changes += [OwnerChange("Account", f"001FAKE{i:011d}", f"001FAKE{i:011d}", None, users[1]) for i in range(410)]

    results = salesforce_push(connect(credentials(server), settings(server)))("Account", changes)

    requests = server.requests_to("composite")
    assert [len(request.body["records"]) for request in requests] == [200, 200, 50]
    assert all(request.method == "PATCH" and request.body["allOrNone"] is False for request in requests)
    assert requests[0].body["records"][3] == {"attributes": {"type": "Account"}, "id": accounts[3], "OwnerId": users[0]}
    assert [result.record_id for result in results] == [change.record_id for change in changes]
    assert results[:3] == [
        PushResult(rejected, ok=False, error="FIELD_CUSTOM_VALIDATION_EXCEPTION: Owner changes need approval"),
        PushResult(unknown_owner, ok=False, error="INVALID_CROSS_REFERENCE_KEY: invalid cross reference id"),
        PushResult(deleted, ok=False, error="ENTITY_IS_DELETED: entity is deleted"),
    ]
    assert all(result.ok and result.error is None for result in results[3:len(accounts)])
    assert all(server.records["Account"][record_id]["OwnerId"] == users[0] for record_id in accounts[3:])
    assert server.records["Account"][rejected]["OwnerId"] == changes[0].from_owner
    assert not any(result.ok for result in results[len(accounts):])


def test_a_write_back_request_that_keeps_failing_raises_and_sends_no_more(server):
    accounts = sorted(live(server, "Account"))
    user = sorted(server.records["User"])[0]
    server.fail("composite", 503, times=None)
    changes = [OwnerChange("Account", record_id, record_id, None, user) for record_id in accounts]

    with pytest.raises(SourceError) as raised:
        salesforce_push(connect(credentials(server), settings(server)), batch_size=15)("Account", changes)

    assert len(server.requests_to("composite")) == RETRIES + 1  # the first request, retried; no second
    assert str(raised.value) == (
        "Salesforce answered 503 (SERVER_UNAVAILABLE: Server is temporarily unavailable.) while updating the owners "
        "of 15 Account records; Salesforce was busy or unavailable through every retry; allow more retries or try "
        "later; no later records were sent"
    )


def test_land_api_lands_what_the_export_of_the_same_org_lands(server, tmp_path):
    landed = land_api(tmp_path / "store", tmp_path / "api", credentials(server), settings=settings(server))

    expected = land_canonical(to_canonical(read_export(EXPORT)), tmp_path / "export")
    assert sorted(path.name for path in landed.iterdir()) == sorted(path.name for path in expected.iterdir())
    for table in RAW_TABLES:  # the store holds records in the order they changed; compare by key
        key = table.key.split(", ")
        api, export = (pd.read_parquet(folder / f"{table.name}.parquet").sort_values(key, ignore_index=True)
                       for folder in (landed, expected))
        pd.testing.assert_frame_equal(api, export, obj=table.name)
    assert read_unmapped(landed).equals(read_unmapped(expected))
