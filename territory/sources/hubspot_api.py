"""HubSpot over its CRM API: incremental pulls into an ObjectStore, landing, and owner write-back.

`pull_hubspot` brings the store up to date. The first pull lists each object whole; later pulls ask
the search API only for the records whose modification stamp is at or after the object's watermark,
oldest first, and remove the records HubSpot lists as archived. Each record's companies come from the
v4 associations batch read, the owners (active and archived) from the owners API, and the labels of
the companies' industries from the property's options. A pull is all or nothing: one that fails part
way leaves the store as it was. `land_api` pulls, maps the held records and lands them;
`hubspot_push` sets new owners with batch updates.

Requests go through the official `hubspot-api-client`, whose urllib3 pool retries rate limits (429,
honouring Retry-After), outages (5xx) and dropped connections with backoff. The private app's access
token is only ever handed to that client: no repr, log record, error message or file holds it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.associations.v4 import BatchApi as AssociationsBatchApi
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.objects import ApiException as ObjectsApiException
from hubspot.crm.objects import (
    BasicApi,
    BatchApi,
    BatchInputSimplePublicObjectBatchInput,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SearchApi,
    SimplePublicObjectBatchInput,
)
from hubspot.crm.owners import ApiException as OwnersApiException
from hubspot.crm.owners import OwnersApi
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import CoreApi

from territory.raw_loader import SourceError
from territory.sources.canonical import land_canonical
from territory.sources.hubspot import (
    COMPANY_ASSOCIATED,
    COMPANY_IDS,
    CRM_OBJECTS,
    KEY_PROPERTY,
    MODIFIED_PROPERTY,
    OWNER_COLUMNS,
    OWNER_PROPERTY,
    OWNERS,
    PRIMARY_COMPANY_ID,
    HubSpotMapping,
    RepProfiles,
    association_pairs,
    associations_of,
    to_canonical,
)
from territory.sources.object_store import ObjectStore, Pull
from territory.sources.retries import PULL_KEEPS_STORE, RetryPolicy
from territory.sources.writeback import OwnerChange, Push, PushResult

LOGGER = logging.getLogger(__name__)

API_HOST = "https://api.hubapi.com"
# HubSpot's limits: records per list or search page, results one search query can reach, inputs per batch.
PAGE_LIMIT = 100
SEARCH_RESULT_CAP = 10_000
BATCH_LIMIT = 100
ASSOCIATION_BATCH_LIMIT = 1_000
# A page read, a search or an owner update gives the same result when sent twice.
RETRIED_METHODS = frozenset({"GET", "POST"})
INDUSTRY_OPTIONS = "industry_options"
PRIMARY_LABEL = "Primary"
_API_ERRORS = (ObjectsApiException, AssociationsApiException, OwnersApiException, PropertiesApiException)


@dataclass(frozen=True)
class HubSpotApiSettings:
    """Where HubSpot's API is and how patiently to speak to it.

    `page_size` is the number of records asked of each list or search page (HubSpot allows up to
    100). `search_result_cap` is how many results one search query can page through (HubSpot's
    10,000): a pull that reaches it searches again from the last stamp it read.
    """

    host: str = API_HOST
    page_size: int = PAGE_LIMIT
    search_result_cap: int = SEARCH_RESULT_CAP
    timeout_seconds: float = 60.0
    retry: RetryPolicy = RetryPolicy()

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= PAGE_LIMIT:
            raise ValueError(f"page_size must be between 1 and {PAGE_LIMIT} (HubSpot's limit), not {self.page_size}")
        if self.search_result_cap < 2 * self.page_size:
            raise ValueError(f"search_result_cap must be at least two pages ({2 * self.page_size}), "
                             f"not {self.search_result_cap}")


@dataclass(frozen=True)
class ObjectPull:
    """What one pull read of one HubSpot object."""

    object: str
    fetched: int  # records created or modified since the last pull (every record on the first)
    archived: int  # records HubSpot lists as archived, removed from the store
    searches: int  # search queries run (0 on a first pull, which lists instead); more than 1 past the result cap
    since: str | None  # the watermark the pull started from; None on a first pull


@dataclass(frozen=True)
class HubSpotClient:
    """The HubSpot APIs this source calls, authenticated and retrying, each made once so its connections live on.

    (hubspot-api-client makes a new connection pool each time an API is asked of it.)
    """

    objects: BasicApi
    search: SearchApi
    batch: BatchApi
    associations: AssociationsBatchApi
    owners: OwnersApi
    properties: CoreApi


def connect(token: str, settings: HubSpotApiSettings = HubSpotApiSettings()) -> HubSpotClient:
    """HubSpot's APIs authenticated by a private app's access token, retrying as `settings` say."""
    crm = HubSpot(access_token=token, retry=settings.retry.retry(RETRIED_METHODS), host=settings.host.rstrip("/")).crm
    return HubSpotClient(crm.objects.basic_api, crm.objects.search_api, crm.objects.batch_api,
                         crm.associations.v4.batch_api, crm.owners.owners_api, crm.properties.core_api)


def pull_hubspot(store: ObjectStore, client: HubSpotClient, mapping: HubSpotMapping = HubSpotMapping(),
                 settings: HubSpotApiSettings = HubSpotApiSettings()) -> dict[str, ObjectPull]:
    """Bring `store` up to date with HubSpot's objects, owners and industry labels, or, if anything fails, leave it."""
    with store.pull() as pull:
        report = {obj: _pull_object(pull, client, obj, mapping.properties(obj), store.watermark(obj), settings)
                  for obj in CRM_OBJECTS}
        _pull_owners(pull, client, store.records(OWNERS), settings)
        _pull_industry_options(pull, client, settings)
    for result in report.values():
        LOGGER.info("HubSpot %s: %d records fetched (%s, %d searches), %d archived removed", result.object,
                    result.fetched, "first pull" if result.since is None else f"modified since {result.since}",
                    result.searches, result.archived)
    return report


def read_store(store: ObjectStore) -> dict[str, pd.DataFrame]:
    """The HubSpot objects a store holds, shaped for `to_canonical`: industries by label, associations as pairs."""
    objects = {obj: store.records(obj) for obj in (*CRM_OBJECTS, OWNERS)}
    if objects[OWNERS].empty:
        raise SourceError(f"the HubSpot store at {store.folder} holds no pull yet; pull before landing")
    labels = store.records(INDUSTRY_OPTIONS)
    if not labels.empty:
        industry = objects["companies"]["industry"]
        objects["companies"] = objects["companies"].assign(
            industry=industry.map(labels.set_index("value")["label"]).fillna(industry))
    return objects | {associations_of(obj): association_pairs(objects[obj]) for obj in COMPANY_ASSOCIATED}


def land_api(store_folder: Path, target: Path, token: str, profiles: RepProfiles,
             mapping: HubSpotMapping = HubSpotMapping(), settings: HubSpotApiSettings = HubSpotApiSettings()) -> Path:
    """Pull HubSpot into the store at `store_folder`, then land its records and `profiles` as canonical `target`."""
    store = ObjectStore(store_folder)
    pull_hubspot(store, connect(token, settings), mapping, settings)
    return land_canonical(to_canonical(read_store(store), profiles, mapping), target)


def hubspot_push(client: HubSpotClient, settings: HubSpotApiSettings = HubSpotApiSettings(),
                 batch_size: int = BATCH_LIMIT) -> Push:
    """A Push that sets owners (`hubspot_owner_id`) with batch updates, `batch_size` records a request.

    A record HubSpot rejects fails alone, with HubSpot's message. A request that fails as a whole,
    after its retries, fails each of its records with the reason, and the records after it are not sent.
    """
    if not 1 <= batch_size <= BATCH_LIMIT:
        raise ValueError(f"batch_size must be between 1 and {BATCH_LIMIT}, HubSpot's limit, not {batch_size}")

    def push(obj: str, changes: list[OwnerChange]) -> list[PushResult]:
        results: list[PushResult] = []
        for start in range(0, len(changes), batch_size):
            batch = changes[start:start + batch_size]
            try:
                results += _update_owners(client, obj, batch, settings)
            except SourceError as error:
                results += [PushResult(change.record_id, ok=False, error=str(error)) for change in batch]
                results += [PushResult(change.record_id, ok=False, error="not sent: an earlier request failed")
                            for change in changes[start + batch_size:]]
                break
        return results

    return push


def _pull_object(pull: Pull, client: HubSpotClient, obj: str, properties: tuple[str, ...], since: str | None,
                 settings: HubSpotApiSettings) -> ObjectPull:
    """Add to `pull` the records of `obj` changed since `since` (every record when None) and remove the archived."""
    with _explained(f"reading HubSpot {obj} {'(first pull)' if since is None else f'modified since {since}'}"):
        if since is None:
            pages, searches = _listed(client, obj, properties, settings, archived=False), []
        else:
            pages, searches = _searched(client, obj, properties, since, settings)
        records = _records(pages, properties)
        if obj in COMPANY_ASSOCIATED:
            records = _with_companies(client, obj, records, settings)
        archived = [record.id for page in _listed(client, obj, (KEY_PROPERTY,), settings, archived=True)
                    for record in page]
    pull.upsert(obj, records, key=KEY_PROPERTY, stamp_field=MODIFIED_PROPERTY[obj])
    pull.delete(obj, archived, key=KEY_PROPERTY)
    return ObjectPull(obj, len(records), len(archived), len(searches), since)


def _listed(client: HubSpotClient, obj: str, properties: tuple[str, ...], settings: HubSpotApiSettings,
            archived: bool) -> Iterator[list[Any]]:
    """Every page of `obj`'s records (those archived, or those not), by the list API's cursor."""
    after = None
    while True:
        page = client.objects.get_page(obj, limit=settings.page_size, after=after, properties=list(properties),
                                       archived=archived, _request_timeout=settings.timeout_seconds)
        yield page.results
        if page.paging is None or page.paging.next is None:
            return
        after = page.paging.next.after


def _searched(client: HubSpotClient, obj: str, properties: tuple[str, ...], since: str,
              settings: HubSpotApiSettings) -> tuple[list[list[Any]], list[str]]:
    """The pages of `obj`'s records modified at or after `since`, oldest first, and the stamp each search started from.

    One search query can page through only `search_result_cap` results; before passing it, the
    search starts again from the newest stamp read (records sharing it come again, harmlessly).
    """
    stamp = MODIFIED_PROPERTY[obj]
    pages: list[list[Any]] = []
    starts = [since]
    after, reached = None, 0
    while True:
        since_start = Filter(property_name=stamp, operator="GTE", value=_epoch_ms(starts[-1]))
        # HubSpot documents sorts as objects; the client's model types them as text but sends them as given
        request = PublicObjectSearchRequest(filter_groups=[FilterGroup(filters=[since_start])],
                                            sorts=[{"propertyName": stamp, "direction": "ASCENDING"}],
                                            properties=list(properties), limit=settings.page_size, after=after)
        page = client.search.do_search(obj, request, _request_timeout=settings.timeout_seconds)
        pages.append(page.results)
        reached += len(page.results)
        if page.paging is None or page.paging.next is None:
            return pages, starts
        after = page.paging.next.after
        if reached + settings.page_size > settings.search_result_cap:
            newest = max(record.properties[stamp] for record in page.results)
            if _epoch_ms(newest) == _epoch_ms(starts[-1]):
                raise SourceError(f"more than {settings.search_result_cap} HubSpot {obj} share the modification "
                                  f"stamp {newest}, more than one search can read; pull {obj} into a fresh store, "
                                  f"whose first pull lists them without that limit")
            starts.append(newest)
            after, reached = None, 0


def _records(pages: Iterator[list[Any]] | list[list[Any]], properties: tuple[str, ...]) -> pd.DataFrame:
    """Records of API pages as one frame: a column per property, values as HubSpot wrote them."""
    rows = [record.properties | {KEY_PROPERTY: record.id} for page in pages for record in page]
    return pd.DataFrame(rows, columns=list(properties), dtype=object)


def _with_companies(client: HubSpotClient, obj: str, records: pd.DataFrame,
                    settings: HubSpotApiSettings) -> pd.DataFrame:
    """`records` with the companies each is associated with (";"-separated ids) and its primary company."""
    companies: dict[str, str] = {}
    primary: dict[str, str] = {}
    ids = records[KEY_PROPERTY].tolist()
    for start in range(0, len(ids), ASSOCIATION_BATCH_LIMIT):
        inputs = [PublicFetchAssociationsBatchRequest(id=record_id)
                  for record_id in ids[start:start + ASSOCIATION_BATCH_LIMIT]]
        answer = client.associations.get_page(
            obj, "companies", BatchInputPublicFetchAssociationsBatchRequest(inputs=inputs),
            _request_timeout=settings.timeout_seconds)
        for association in answer.results:
            record_id = association._from.id
            companies[record_id] = ";".join(str(company.to_object_id) for company in association.to)
            primary |= {record_id: str(company.to_object_id) for company in association.to
                        if any(kind.label == PRIMARY_LABEL for kind in company.association_types)}
    return records.assign(**{COMPANY_IDS: records[KEY_PROPERTY].map(companies),
                             PRIMARY_COMPANY_ID: records[KEY_PROPERTY].map(primary)})


def _pull_owners(pull: Pull, client: HubSpotClient, held: pd.DataFrame, settings: HubSpotApiSettings) -> None:
    """Replace the store's owners by HubSpot's, active and archived (deals and reps still name archived owners)."""
    with _explained("reading HubSpot's owners"):
        owners = [owner for archived in (False, True) for owner in _owner_pages(client, archived, settings)]
    frame = pd.DataFrame([{"id": owner.id, "email": owner.email, "firstName": owner.first_name,
                           "lastName": owner.last_name, "userId": None if owner.user_id is None else str(owner.user_id),
                           "archived": str(owner.archived).lower()} for owner in owners],
                         columns=list(OWNER_COLUMNS), dtype=object)
    pull.upsert(OWNERS, frame, key="id", stamp_field=None)
    if not held.empty:
        pull.delete(OWNERS, set(held["id"].astype(str)) - set(frame["id"]), key="id")


def _owner_pages(client: HubSpotClient, archived: bool, settings: HubSpotApiSettings) -> Iterator[Any]:
    after = None
    while True:
        page = client.owners.get_page(limit=settings.page_size, after=after, archived=archived,
                                      _request_timeout=settings.timeout_seconds)
        yield from page.results
        if page.paging is None or page.paging.next is None:
            return
        after = page.paging.next.after


def _pull_industry_options(pull: Pull, client: HubSpotClient, settings: HubSpotApiSettings) -> None:
    """Hold the labels of the companies' industry values, which HubSpot's API gives as internal values."""
    with _explained("reading the options of HubSpot's company property industry"):
        options = client.properties.get_by_name("companies", "industry",
                                                _request_timeout=settings.timeout_seconds).options
    frame = pd.DataFrame([{"value": option.value, "label": option.label} for option in options],
                         columns=["value", "label"], dtype=object)
    pull.upsert(INDUSTRY_OPTIONS, frame, key="value", stamp_field=None)


def _update_owners(client: HubSpotClient, obj: str, batch: list[OwnerChange],
                   settings: HubSpotApiSettings) -> list[PushResult]:
    """HubSpot's answer, one result per change in order, to setting the owners of `batch`."""
    inputs = [SimplePublicObjectBatchInput(id=change.record_id, properties={OWNER_PROPERTY: change.to_owner})
              for change in batch]
    with _explained(f"updating the owners of {len(batch)} HubSpot {obj}", then="check the records in HubSpot"):
        answer = client.batch.update(obj, BatchInputSimplePublicObjectBatchInput(inputs=inputs),
                                     _request_timeout=settings.timeout_seconds)
    updated = {record.id for record in answer.results}
    # a 207 answer lists the records it refused, by id, in each error's context
    errors = {record_id: f"{error.category}: {error.message}"
              for error in getattr(answer, "errors", None) or [] for record_id in (error.context or {}).get("ids", [])}
    return [PushResult(change.record_id, ok=True) if change.record_id in updated else
            PushResult(change.record_id, ok=False, error=errors.get(change.record_id, "HubSpot did not confirm it"))
            for change in batch]


def _epoch_ms(stamp: str) -> str:
    """A HubSpot time (ISO 8601) as the milliseconds since 1970 that search filters compare."""
    return str(pd.Timestamp(stamp).value // 1_000_000)


@contextmanager
def _explained(doing: str, then: str = PULL_KEEPS_STORE) -> Iterator[None]:
    """Turn a failed HubSpot call into a SourceError that says what failed while `doing` what, and `then` what to do."""
    try:
        yield
    except _API_ERRORS as error:
        raise SourceError(f"HubSpot answered {error.status} ({_error_text(error.body)}) while {doing}; "
                          f"{_ADVICE.get(error.status, _ADVICE_SERVER)}; {then}") from error
    except urllib3.exceptions.HTTPError as error:
        raise SourceError(f"HubSpot could not be reached while {doing} ({type(error).__name__}, after the "
                          f"configured retries); {then}") from error
    except ValueError as error:
        # the client checks every answer against HubSpot's published schema
        raise SourceError(f"HubSpot's answer while {doing} is not in the documented shape ({error}); {then}") from error


_ADVICE_SERVER = "HubSpot was busy or unavailable through every retry; allow more retries or try later"
_ADVICE: Mapping[int, str] = {
    400: "HubSpot refused the request; check the mapping's properties and the page size",
    401: "the access token was refused (mistyped, rotated or revoked); check the private app's access token",
    403: "the private app lacks a scope this needs; give it the scopes listed in docs/sources/hubspot.md",
    404: "HubSpot has no such object or property; check the mapping's properties",
    429: "HubSpot's rate limit held through every retry; allow more retries or run later",
}


def _error_text(body: Any) -> str:
    """HubSpot's error body (`{"category", "message", ...}`) in one line."""
    try:
        error = json.loads(body) if body else {}
    except ValueError:
        return str(body)[:200]
    if not isinstance(error, dict):
        return str(error)[:200]
    return f"{error.get('category', 'error')}: {error.get('message', 'no details')}"[:300]
