"""The HubSpot API source against a local HubSpot (tests/support/hubspot_server.py) serving crm_small.

Pulls land the same canonical tables as the export; incremental pulls ask only for what changed; rate
limits and outages are retried; a failing pull leaves the store as it was; the token stays secret; the
write-back sends batches of 100 and reports each refused record.
"""

import logging

import pandas as pd
import pytest
from fixtures.make_hubspot_export import EXPORT, portal, typed_tables, write_expected_canonical
from support.hubspot_server import HubSpotServer

from territory.raw_loader import SourceError
from territory.sources.canonical import read_unmapped
from territory.sources.hubspot import read_rep_profiles
from territory.sources.hubspot_api import (
    HubSpotApiSettings,
    RetryPolicy,
    connect,
    hubspot_push,
    land_api,
    pull_hubspot,
)
from territory.sources.object_store import ObjectStore
from territory.sources.writeback import OwnerChange

TOKEN = "pat-na1-4f1c2e9a-SECRET-7d3b"
COMPANIES = "/crm/v3/objects/companies"
CALLS_SEARCH = "/crm/v3/objects/calls/search"


@pytest.fixture()
def server():
    with HubSpotServer(portal(), TOKEN) as running:
        yield running


def settings_for(server, **overrides) -> HubSpotApiSettings:
    fast = {"host": server.url, "page_size": 25, "retry": RetryPolicy(retries=3, backoff_seconds=0),
            "timeout_seconds": 10}
    return HubSpotApiSettings(**fast | overrides)


def pull(server, store, token=TOKEN, **overrides):
    settings = settings_for(server, **overrides)
    return pull_hubspot(store, connect(token, settings), settings=settings)


def epoch_ms(stamp: str) -> str:
    return str(pd.Timestamp(stamp).value // 1_000_000)


def store_files(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def listing(server, path, archived="false"):
    return [r for r in server.received("GET", path) if r.query.get("archived", "false").lower() == archived]


def test_the_api_pull_lands_the_same_tables_as_the_export_over_many_pages(server, tmp_path):
    landed = land_api(tmp_path / "store", tmp_path / "landed", TOKEN, read_rep_profiles(EXPORT),
                      settings=settings_for(server))
    write_expected_canonical(tmp_path / "expected")
    expected = typed_tables(tmp_path / "expected")
    for name, table in typed_tables(landed).items():
        pd.testing.assert_frame_equal(table, expected[name], obj=name)
    assert read_unmapped(landed)["value"].tolist() == ["98765432", "1234567"]  # the custom stages, by internal value
    calls = listing(server, "/crm/v3/objects/calls")
    assert [r.query.get("after") for r in calls] == [None, *(str(after) for after in range(25, 349, 25))]
    assert calls[0].query["properties"].split(",")[:3] == ["hs_object_id", "hs_timestamp", "hubspot_owner_id"]
    assert not [r for r in server.requests if r.path.endswith("/search")]  # a first pull lists, it does not search


def test_an_incremental_pull_asks_only_for_changes_since_the_watermark_and_applies_archives(server, tmp_path):
    store = ObjectStore(tmp_path / "store")
    pull(server, store)
    watermark = store.watermark("companies")
    assert watermark == "2026-05-25T03:26:02.000Z"  # the newest hs_lastmodifieddate of crm_small's companies
    server.requests.clear()
    server.modify("companies", "7000000003", at="2026-07-01T08:00:00.000Z", name="Blue Forge Group")
    server.archive("deals", "9000000007", at="2026-07-01T09:00:00.000Z")

    report = pull(server, store)

    search = server.received("POST", f"{COMPANIES}/search")[0].body
    assert search["filterGroups"] == [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1779679562000"}]}]  # the watermark, in ms
    assert search["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    contacts = server.received("POST", "/crm/v3/objects/contacts/search")[0].body
    assert contacts["filterGroups"][0]["filters"][0]["propertyName"] == "lastmodifieddate"
    assert not listing(server, COMPANIES)  # nothing is listed whole again
    # the changed company, and the one at the watermark (a stamp may be shared, so the search includes it)
    assert (report["companies"].fetched, report["deals"].archived) == (2, 1)
    companies = store.records("companies").set_index("hs_object_id")
    assert len(companies) == 40 and companies.loc["7000000003", "name"] == "Blue Forge Group"
    assert store.watermark("companies") == "2026-07-01T08:00:00.000Z"
    assert "9000000007" not in set(store.records("deals")["hs_object_id"]) and len(store.records("deals")) == 49


def test_a_search_past_the_result_cap_searches_again_from_the_last_stamp(tmp_path):
    with HubSpotServer(portal(), TOKEN, search_cap=30) as server:
        store = ObjectStore(tmp_path / "store")
        pull(server, store, page_size=10, search_result_cap=30)
        store_watermark = store.watermark("calls")
        calls = [call for call, record in sorted(server.records["calls"].items())
                 if record.properties["hs_lastmodifieddate"] != store_watermark][:45]
        for minute, call_id in enumerate(calls):
            server.modify("calls", call_id, at=f"2026-07-01T10:{minute:02d}:00.000Z", hs_call_duration="120000")

        report = pull(server, store, page_size=10, search_result_cap=30)

        # 46 records from the watermark on: the first search reads 30 of them, up to 10:28, the second the rest
        starts = [r.body["filterGroups"][0]["filters"][0]["value"] for r in server.received("POST", CALLS_SEARCH)]
        assert starts == [epoch_ms(store_watermark)] * 3 + [epoch_ms("2026-07-01T10:28:00Z")] * 2
        assert report["calls"].searches == 2
        held = store.records("calls").set_index("hs_object_id")["hs_call_duration"]
        assert (held[calls] == "120000").all() and len(held) == 349


def test_more_records_on_one_stamp_than_a_search_can_reach_is_a_plain_error(tmp_path):
    with HubSpotServer(portal(), TOKEN, search_cap=30) as server:
        store = ObjectStore(tmp_path / "store")
        pull(server, store, page_size=10, search_result_cap=30)
        before = store_files(store.folder)
        for call_id in sorted(server.records["calls"])[:45]:
            server.modify("calls", call_id, at="2026-07-01T10:00:00.000Z")
        with pytest.raises(SourceError, match="more than 30 HubSpot calls share the modification stamp "
                                              "2026-07-01T10:00:00.000Z"):
            pull(server, store, page_size=10, search_result_cap=30)
        assert store_files(store.folder) == before


def test_rate_limits_and_outages_are_retried_until_they_pass(server, tmp_path):
    first_page = lambda r: r.path == COMPANIES and "after" not in r.query  # noqa: E731
    server.fail(429, first_page, times=2, retry_after="1")
    server.fail(503, lambda r: r.path == "/crm/v4/associations/deals/companies/batch/read", times=2)
    server.fail(502, lambda r: r.path == "/crm/v3/owners", times=1)
    store = ObjectStore(tmp_path / "store")

    pull(server, store)

    assert len([r for r in listing(server, COMPANIES) if "after" not in r.query]) == 3
    assert len(server.received("POST", "/crm/v4/associations/deals/companies/batch/read")) == 3
    assert len(store.records("companies")) == 40 and len(store.records("owners")) == 4


def test_a_page_that_keeps_failing_leaves_the_store_as_it_was(server, tmp_path):
    store = ObjectStore(tmp_path / "store")
    pull(server, store)
    before = store_files(store.folder)
    server.modify("companies", "7000000001", at="2026-07-02T00:00:00.000Z", name="Delta Data Group")
    server.fail(500, lambda r: r.path == CALLS_SEARCH, times=None)

    with pytest.raises(SourceError) as raised:
        pull(server, store)

    message = str(raised.value)
    assert message.startswith("HubSpot answered 500 (INTERNAL_ERROR: injected fault 500) while reading HubSpot calls "
                              "modified since 2026-06-29T")
    assert message.endswith("HubSpot was busy or unavailable through every retry; allow more retries or try later; "
                            "the local copy keeps the last good pull; run the pull again")
    assert "\n" not in message and "Traceback" not in message
    assert len(server.received("POST", CALLS_SEARCH)) == 4  # the request and its 3 retries
    assert store_files(store.folder) == before  # the companies pulled before the failure were not written


def test_a_first_pull_that_fails_writes_no_store(server, tmp_path):
    server.fail(500, lambda r: r.path == "/crm/v3/objects/meetings", times=None)
    with pytest.raises(SourceError, match="while reading HubSpot meetings \\(first pull\\)"):
        pull(server, ObjectStore(tmp_path / "store"))
    assert not (tmp_path / "store").exists()


def test_a_refused_token_is_a_plain_error(server, tmp_path):
    with pytest.raises(SourceError) as raised:
        pull(server, ObjectStore(tmp_path / "store"), token="pat-na1-wrong")
    assert str(raised.value) == (
        "HubSpot answered 401 (INVALID_AUTHENTICATION: Authentication credentials not found. This API supports OAuth "
        "2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/"
        "oauth-overview) while reading HubSpot companies (first pull); the access token was refused (mistyped, "
        "rotated or revoked); check the private app's access token; the local copy keeps the last good pull; run the "
        "pull again")
    assert len(server.requests) == 1  # a refusal is not retried


def test_the_token_appears_in_no_log_error_repr_or_file(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    # hubspot-api-client sets the "urllib3" logger to WARNING with every model it makes; its children can still talk
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    settings = settings_for(server)
    landed = land_api(tmp_path / "store", tmp_path / "landed", TOKEN, read_rep_profiles(EXPORT), settings=settings)
    client = connect(TOKEN, settings)
    server.fail(500, lambda r: r.path == CALLS_SEARCH, times=None)
    with pytest.raises(SourceError) as raised:
        pull_hubspot(ObjectStore(tmp_path / "store"), client, settings=settings)
    results = hubspot_push(client, settings)("companies", [
        OwnerChange("companies", "7000000001", "7000000001", "70000004", "70000001")])

    assert "HubSpot companies: 40 records fetched" in caplog.text
    assert '"POST /crm/v3/objects/calls/search HTTP/1.1" 500' in caplog.text  # urllib3's lines are heard
    texts = [caplog.text, str(raised.value), repr(raised.value.__cause__), repr(settings), repr(results)]
    texts += [path.read_bytes().decode("utf-8", "replace") for path in tmp_path.rglob("*") if path.is_file()]
    assert landed.exists() and not [text for text in texts if TOKEN in text or "SECRET" in text]


def test_the_push_sends_batches_of_100_and_reports_each_refused_record(server):
    settings = settings_for(server)
    contacts = sorted(server.records["contacts"])
    server.reject_update(contacts[5], "Property values were not valid: hubspot_owner_id 'x' is not a valid owner")
    server.archive("contacts", contacts[150], at="2026-07-01T00:00:00.000Z")
    changes = [OwnerChange("contacts", contact, "7000000001", None, "70000002") for contact in contacts]
    push = hubspot_push(connect(TOKEN, settings), settings)

    results = push("contacts", changes)

    batches = server.received("POST", "/crm/v3/objects/contacts/batch/update")
    assert [len(r.body["inputs"]) for r in batches] == [100, 100, 6]
    assert batches[0].body["inputs"][0] == {"id": contacts[0], "properties": {"hubspot_owner_id": "70000002"}}
    assert [result.record_id for result in results] == contacts
    refused = {result.record_id: result.error for result in results if not result.ok}
    assert refused == {
        contacts[5]: "VALIDATION_ERROR: Property values were not valid: hubspot_owner_id 'x' is not a valid owner",
        contacts[150]: "OBJECT_NOT_FOUND: Could not get some contacts objects, they may be deleted or not exist",
    }
    held = server.records["contacts"]
    assert held[contacts[0]].properties["hubspot_owner_id"] == "70000002"
    assert held[contacts[5]].properties["hubspot_owner_id"] != "70000002"


def test_a_batch_that_fails_whole_fails_its_records_and_the_rest_are_not_sent(server):
    settings = settings_for(server)
    deals = sorted(server.records["deals"])
    server.fail(503, lambda r: r.path.endswith("/batch/update") and r.body["inputs"][0]["id"] == deals[20], times=None)
    push = hubspot_push(connect(TOKEN, settings), settings, batch_size=20)

    results = push("deals", [OwnerChange("deals", deal, "7000000001", None, "70000001") for deal in deals])

    assert [result.ok for result in results] == [True] * 20 + [False] * 30
    assert results[20].error.startswith("HubSpot answered 503 (INTERNAL_ERROR: injected fault 503) while updating "
                                        "the owners of 20 HubSpot deals")
    assert {result.error for result in results[40:]} == {"not sent: an earlier request failed"}
    # the first batch, then the second and its 3 retries; the rest were not sent
    assert len(server.received("POST", "/crm/v3/objects/deals/batch/update")) == 1 + 4


def test_settings_refuse_pages_hubspot_would_refuse():
    with pytest.raises(ValueError, match="page_size must be between 1 and 100"):
        HubSpotApiSettings(page_size=200)
    with pytest.raises(ValueError, match="batch_size must be between 1 and 100"):
        hubspot_push(None, batch_size=101)
