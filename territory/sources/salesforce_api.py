"""Salesforce over its REST API: incremental pulls into an ObjectStore, landing, and owner write-back.

`connect` signs in (OAuth 2.0 client credentials, or username-password) and returns a
`simple_salesforce.Salesforce` client whose requests retry rate limits, outages and dropped
connections with backoff. `pull_objects` asks each object only for the records whose
`SystemModstamp` is at or after the store's watermark, every page of them, and for the records
deleted since (`queryAll` with `IsDeleted = true`); a pull that fails part way leaves the store as
it was. `land_api` pulls, maps the held records to the canonical tables and lands them.
`salesforce_push` writes new owners back with sObject Collections updates, each record on its own.

Secrets (the client secret, the password, the access token) never appear in a repr, a log record
or an error message.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceResourceNotFound
from simple_salesforce.format import format_soql
from urllib3.util.retry import Retry

from territory.raw_loader import SourceError
from territory.sources.canonical import land_canonical
from territory.sources.object_store import ObjectPull, ObjectStore, Pull, PullReport
from territory.sources.retries import PULL_KEEPS_STORE, RetryPolicy
from territory.sources.salesforce import SalesforceMapping, SalesforceObject, to_canonical
from territory.sources.writeback import OwnerChange, Push, PushResult

LOGGER = logging.getLogger(__name__)

# Every Salesforce record has both; a change of any kind, deletion included, moves SystemModstamp.
KEY_FIELD = "Id"
STAMP_FIELD = "SystemModstamp"
DELETED_FIELD = "IsDeleted"
# The most records one sObject Collections request may update.
COLLECTION_LIMIT = 200
# A token request, a query page or an owner update gives the same result when sent twice.
RETRIED_METHODS = frozenset({"GET", "POST", "PATCH"})


@dataclass(frozen=True)
class SalesforceCredentials:
    """How the pipeline signs in to a Salesforce org: a connected app, and for the password flow a user.

    Without `username`, the OAuth 2.0 client credentials flow signs in as the app's run-as user (the
    way for server-to-server jobs); with it, the username-password flow signs in as that user, whose
    `password` carries the security token appended when the org asks for one. `login_url` is the
    org's My Domain URL, e.g. https://acme.my.salesforce.com. The repr leaves the secrets out.
    """

    login_url: str
    client_id: str
    client_secret: str = field(repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.username is None) != (self.password is None):
            raise ValueError("the username-password flow needs both a username and a password; give both or neither")

    @property
    def token_url(self) -> str:
        return f"{self.login_url.rstrip('/')}/services/oauth2/token"

    def token_request(self) -> dict[str, str]:
        """The form fields of this flow's token request."""
        app = {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.username is None:
            return {"grant_type": "client_credentials", **app}
        return {"grant_type": "password", **app, "username": self.username, "password": self.password or ""}

    def settings_to_check(self) -> str:
        """The settings to check when Salesforce refuses these credentials, in words."""
        app = "the connected app's client id and client secret"
        if self.username is None:
            return f"{app}, that the app enables the client credentials flow with a run-as user, and the login URL"
        return f"{app}, the username, the password (with the security token appended) and the login URL"


@dataclass(frozen=True)
class SalesforceApiSettings:
    """Which API version to speak, and how patiently.

    `page_size` is the batch size asked of each query page (Salesforce allows 200 to 2000 and may send
    fewer). `ca_bundle` is a certificate file to trust instead of the system's, e.g. a TLS-inspecting
    proxy's.
    """

    api_version: str = "62.0"
    page_size: int = 2000
    timeout_seconds: float = 120.0
    retry: RetryPolicy = RetryPolicy()
    ca_bundle: Path | None = None

    def __post_init__(self) -> None:
        if not 200 <= self.page_size <= 2000:
            raise ValueError(f"page_size must be between 200 and 2000 (Salesforce's limits), not {self.page_size}")


class _RetryingAdapter(HTTPAdapter):
    """Retries per a RetryPolicy, bounds every request by a timeout, and trusts `ca_bundle` when given.

    requests has no default timeout, and lets REQUESTS_CA_BUNDLE override a session's own `verify`;
    the adapter sees every request, so it sets both there.
    """

    def __init__(self, retry: Retry, timeout_seconds: float, ca_bundle: Path | None):
        super().__init__(max_retries=retry)
        self.timeout_seconds = timeout_seconds
        self.ca_bundle = ca_bundle

    def send(self, request: requests.PreparedRequest, timeout: Any = None, verify: Any = True,
             **kwargs: Any) -> requests.Response:
        return super().send(request, timeout=timeout or self.timeout_seconds,
                            verify=str(self.ca_bundle) if self.ca_bundle else verify, **kwargs)


def connect(credentials: SalesforceCredentials,
            settings: SalesforceApiSettings = SalesforceApiSettings()) -> Salesforce:
    """Sign in to Salesforce; the client retries and times out its requests as `settings` say."""
    session = requests.Session()
    adapter = _RetryingAdapter(settings.retry.retry(RETRIED_METHODS), settings.timeout_seconds, settings.ca_bundle)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    with _explained(f"signing in at {credentials.token_url}", "check the login URL and the network"):
        response = session.post(credentials.token_url, data=credentials.token_request())
    if response.status_code in (400, 401):
        refusal = _json_or_empty(response)
        raise SourceError(
            f"Salesforce refused the credentials at {credentials.token_url} "
            f"({refusal.get('error', response.status_code)}: {refusal.get('error_description', response.reason)}); "
            f"check {credentials.settings_to_check()}"
        )
    if not response.ok:
        raise SourceError(f"Salesforce answered {response.status_code} {response.reason} to the sign-in at "
                          f"{credentials.token_url}; check the login URL, or run again later")
    token = response.json()
    return Salesforce(session_id=token["access_token"], instance_url=token["instance_url"], session=session,
                      version=settings.api_version)


def pull_objects(store: ObjectStore, client: Salesforce, objects: Mapping[str, SalesforceObject],
                 page_size: int = 2000) -> PullReport:
    """Bring `store` up to date with Salesforce for `objects`, all of them or, if anything fails, none."""
    with store.pull() as pull:
        pulled = [_pull_object(pull, client, name, obj, store.watermark(name), page_size)
                  for name, obj in objects.items()]
    report = {result.object: replace(result, watermark=store.watermark(result.object)) for result in pulled}
    for result in report.values():
        if not result.in_org:
            LOGGER.warning("Salesforce has no object %s; it is optional and left out", result.object)
            continue
        LOGGER.info("Salesforce %s: %d records fetched in %d pages, %d deleted; watermark %s", result.object,
                    result.fetched, result.pages, result.deleted, result.watermark)
        if result.missing_fields:
            LOGGER.warning("Salesforce %s lacks the optional fields %s; they are left out", result.object,
                           ", ".join(result.missing_fields))
    return PullReport(report)


def land_api(store_folder: Path, target: Path, credentials: SalesforceCredentials,
             mapping: SalesforceMapping = SalesforceMapping(),
             settings: SalesforceApiSettings = SalesforceApiSettings()) -> Path:
    """Pull Salesforce into the store at `store_folder`, then land all the records it holds as canonical `target`."""
    store = ObjectStore(store_folder)
    report = pull_objects(store, connect(credentials, settings), mapping.objects(), settings.page_size)
    records = {name: store.records(name) for name in report.pulled}
    return land_canonical(to_canonical(records, mapping), target)


def salesforce_push(client: Salesforce, batch_size: int = COLLECTION_LIMIT) -> Push:
    """A Push that sets owners with sObject Collections updates, `batch_size` records a request, each on its own.

    Each record succeeds or fails alone (`allOrNone: false`) and gets Salesforce's answer as its
    result. A request that fails as a whole, after its retries, raises a SourceError.
    """
    if not 1 <= batch_size <= COLLECTION_LIMIT:
        raise ValueError(f"batch_size must be between 1 and {COLLECTION_LIMIT}, Salesforce's limit, not {batch_size}")

    def push(obj: str, changes: list[OwnerChange]) -> list[PushResult]:
        return [result for start in range(0, len(changes), batch_size)
                for result in _update_owners(client, obj, changes[start:start + batch_size])]

    return push


def _update_owners(client: Salesforce, obj: str, batch: list[OwnerChange]) -> list[PushResult]:
    """Set the owners of `batch` in one request; Salesforce answers for each record, in order."""
    body = {
        "allOrNone": False,
        "records": [{"attributes": {"type": obj}, "id": change.record_id, "OwnerId": change.to_owner}
                    for change in batch],
    }
    with _explained(f"updating the owners of {len(batch)} {obj} records", "no later records were sent"):
        answers = client.restful("composite/sobjects", method="PATCH", json=body)
    return [PushResult(change.record_id, ok=answer["success"], error=_errors_text(answer["errors"]))
            for change, answer in zip(batch, answers, strict=True)]


def _pull_object(pull: Pull, client: Salesforce, name: str, obj: SalesforceObject, since: str | None,
                 page_size: int) -> ObjectPull:
    """Add to `pull` the records of object `name` changed and deleted since `since` (every record when None)."""
    described = _described_fields(client, name, obj)
    if described is None:
        return ObjectPull(name, fetched=0, deleted=0, pages=0, watermark=None, in_org=False)
    lacking = [field_name for field_name in (KEY_FIELD, STAMP_FIELD, *obj.required_fields)
               if field_name not in described]
    if lacking:
        raise SourceError(f"Salesforce's {name} has no field {', '.join(lacking)} that the mapping needs; check the "
                          "field API names in the mapping and the field-level security of the signed-in user")
    fields = list(dict.fromkeys([KEY_FIELD, STAMP_FIELD, *(f for f in obj.fields if f in described)]))
    missing = tuple(f for f in obj.optional_fields if f not in described)

    changed = f"SELECT {', '.join(fields)} FROM {name}{_since_clause(since, 'WHERE')} ORDER BY {STAMP_FIELD}"
    reading = (f"reading every {name} record (first pull)" if since is None
               else f"reading the {name} records modified since {since}")
    with _explained(reading, PULL_KEEPS_STORE):
        pages = [pd.DataFrame.from_records(records, columns=fields)
                 for records in _query_pages(client, changed, page_size)]
    fetched = pd.concat(pages, ignore_index=True)
    pull.upsert(name, fetched, key=KEY_FIELD, stamp_field=STAMP_FIELD)

    deleted_ids: list[str] = []
    if since is not None and DELETED_FIELD in described:
        deleted = f"SELECT {KEY_FIELD} FROM {name} WHERE {DELETED_FIELD} = true{_since_clause(since, 'AND')}"
        with _explained(f"reading the {name} records deleted since {since}", PULL_KEEPS_STORE):
            deleted_ids = [record[KEY_FIELD] for records in _query_pages(client, deleted, page_size, deleted=True)
                           for record in records]
        pull.delete(name, deleted_ids, key=KEY_FIELD)
    return ObjectPull(name, fetched=len(fetched), deleted=len(deleted_ids), pages=len(pages), watermark=None,
                      missing_fields=missing)


def _described_fields(client: Salesforce, name: str, obj: SalesforceObject) -> set[str] | None:
    """The field names Salesforce describes for object `name`; None when the org lacks an optional object."""
    with _explained(f"describing {name}", PULL_KEEPS_STORE):
        try:
            description = client.restful(f"sobjects/{name}/describe")
        except SalesforceResourceNotFound:
            if obj.required:
                raise
            return None
    return {entry["name"] for entry in description["fields"]}


def _query_pages(client: Salesforce, soql: str, page_size: int, deleted: bool = False) -> Iterator[list[dict]]:
    """The records of a SOQL query, page by page, following `nextRecordsUrl`; `deleted` queries the recycle bin too."""
    options = {"headers": {"Sforce-Query-Options": f"batchSize={page_size}"}}
    page = client.query(soql, include_deleted=deleted, **options)
    yield page["records"]
    while not page["done"]:
        page = client.query_more(page["nextRecordsUrl"], identifier_is_url=True, **options)
        yield page["records"]


def _since_clause(since: str | None, keyword: str) -> str:
    """` <keyword> SystemModstamp >= <since>` as a SOQL datetime literal, or nothing on a first pull."""
    if since is None:
        return ""
    # SOQL datetimes take no fractions of a second: truncating moves the bound earlier, never past a change
    return format_soql(f" {keyword} {STAMP_FIELD} >= {{}}", pd.Timestamp(since).to_pydatetime())


@contextmanager
def _explained(doing: str, then: str) -> Iterator[None]:
    """Turn a failed Salesforce call into a SourceError saying what failed while `doing` what, and `then` what to do."""
    try:
        yield
    except SalesforceError as error:
        raise SourceError(
            f"Salesforce answered {error.status} ({_errors_text(error.content) or 'no details'}) while {doing}; "
            f"{_ADVICE.get(error.status, _ADVICE_SERVER)}; {then}"
        ) from error
    except requests.RequestException as error:
        raise SourceError(f"Salesforce could not be reached while {doing} ({type(error).__name__}, after the "
                          f"configured retries); {then}") from error


_ADVICE_SERVER = "Salesforce was busy or unavailable through every retry; allow more retries or try later"
_ADVICE = {
    400: "Salesforce refused the request; check the API version and the object and field names",
    401: "the access token was refused (expired or revoked); run again to sign in anew",
    403: "the signed-in user lacks API access or permission on the object; check its profile and permission sets",
    404: "the org has no such object, or the API version is too old; check the objects and the API version",
}


def _errors_text(errors: Any) -> str | None:
    """Salesforce's error list (`[{"errorCode" or "statusCode", "message"}]`) in one line; None when empty."""
    if not errors:
        return None
    if not isinstance(errors, list):
        return str(errors)[:200]
    return "; ".join(f"{error.get('errorCode') or error.get('statusCode')}: {error.get('message')}" for error in errors)


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        return response.json()
    except ValueError:
        return {}
