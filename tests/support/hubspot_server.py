"""A local HubSpot CRM API for tests: the endpoints the HubSpot source uses, served over real HTTP.

`HubSpotServer(portal, token)` serves a `Portal` (tests/fixtures/make_hubspot_export.py) from a thread
on a free port of 127.0.0.1, shaped as HubSpot documents its API:

    GET  /crm/v3/objects/{object}?limit&after&properties&archived      list, by `after` cursor
    POST /crm/v3/objects/{object}/search                                 filterGroups (GTE/LTE/EQ), sorts, paging
    POST /crm/v4/associations/{object}/companies/batch/read              the companies of each input id
    GET  /crm/v3/owners?limit&after&archived                             owners
    GET  /crm/v3/properties/companies/industry                           the industry property with its options
    POST /crm/v3/objects/{object}/batch/update                           up to 100 inputs; 207 with per-record errors

Requests need `Authorization: Bearer <token>` (else 401 with HubSpot's error body). A search cannot
page past `search_cap` results (HubSpot's 10,000), as on HubSpot. Every request is recorded in
`requests`; `fail` injects faults (429 with Retry-After, 5xx, a page that always fails); `modify`,
`archive` and `reject_update` change the portal between pulls and pushes.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd
from fixtures.make_hubspot_export import Portal

PRIMARY_TYPE_IDS = {"contacts": 1, "deals": 5, "calls": 181, "emails": 185, "meetings": 187}
UNLABELLED_TYPE_IDS = {"contacts": 279, "deals": 341, "calls": 182, "emails": 186, "meetings": 188}
CREATED = "2020-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class Fault:
    """Answer `status` (and `retry_after`) to the next `times` requests that `matches` (None: to every one)."""

    status: int
    matches: Callable[[Request], bool]
    times: int | None = 1
    retry_after: str | None = None


@dataclass
class Record:
    """A CRM record as HubSpot holds it."""

    id: str
    properties: dict[str, str | None]
    companies: list[str] = field(default_factory=list)  # associated company ids, the primary first
    archived_at: str | None = None


class HubSpotServer:
    """A HubSpot portal served over HTTP on 127.0.0.1; use it as a context manager."""

    def __init__(self, portal: Portal, token: str, search_cap: int = 10_000):
        self.token = token
        self.search_cap = search_cap
        self.records = {obj: _records(frame) for obj, frame in portal.records.items()}
        self.owners = portal.owners.to_dict("records")
        self.industries = portal.industries.to_dict("records")
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.rejected_updates: dict[str, str] = {}
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._http.hubspot = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubSpotServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    # ------------------------------------------------------------------ changing the portal

    def fail(self, status: int, matches: Callable[[Request], bool] = lambda request: True, times: int | None = 1,
             retry_after: str | None = None) -> None:
        """Answer `status` to the next `times` requests that `matches` (every one when `times` is None)."""
        self.faults.append(Fault(status, matches, times, retry_after))

    def modify(self, obj: str, record_id: str, at: str, **properties: str) -> None:
        """Change a record's properties at time `at` (ISO 8601), which becomes its modification stamp."""
        record = self.records[obj][record_id]
        record.properties |= properties | {_stamp_property(obj): at}

    def archive(self, obj: str, record_id: str, at: str) -> None:
        """Archive a record (HubSpot's delete): lists and searches leave it out, `archived=true` lists it."""
        self.records[obj][record_id].archived_at = at

    def reject_update(self, record_id: str, message: str) -> None:
        """Make batch updates fail for this record alone, with `message`."""
        self.rejected_updates[record_id] = message

    def received(self, method: str, path: str) -> list[Request]:
        """The requests received for `path` (exactly) with `method`."""
        return [request for request in self.requests if request.method == method and request.path == path]

    # ------------------------------------------------------------------ serving

    def answer(self, request: Request, authorization: str | None) -> tuple[int, dict[str, str], Any]:
        """Status, headers and JSON body of the answer to `request`."""
        with self._lock:
            self.requests.append(request)
            if authorization != f"Bearer {self.token}":
                return 401, {}, _error(
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
            fault = next((fault for fault in self.faults if fault.times != 0 and fault.matches(request)), None)
            if fault is not None:
                if fault.times is not None:
                    fault.times -= 1
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                category = "RATE_LIMITS" if fault.status == 429 else "INTERNAL_ERROR"
                return fault.status, headers, _error(category, f"injected fault {fault.status}")
            return self._route(request)

    def _route(self, request: Request) -> tuple[int, dict[str, str], Any]:
        parts = request.path.strip("/").split("/")
        match request.method, parts:
            case "GET", ["crm", "v3", "objects", obj] if obj in self.records:
                return self._list(obj, request.query)
            case "POST", ["crm", "v3", "objects", obj, "search"] if obj in self.records:
                return self._search(obj, request.body)
            case "POST", ["crm", "v3", "objects", obj, "batch", "update"] if obj in self.records:
                return self._batch_update(obj, request.body)
            case "POST", ["crm", "v4", "associations", obj, "companies", "batch", "read"] if obj in self.records:
                return self._associations(obj, request.body)
            case "GET", ["crm", "v3", "owners"]:
                return self._owners(request.query)
            case "GET", ["crm", "v3", "properties", "companies", "industry"]:
                return 200, {}, _industry_property(self.industries)
        return 404, {}, _error("OBJECT_NOT_FOUND", f"no route for {request.method} {request.path}")

    def _list(self, obj: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        limit, after = int(query.get("limit", 10)), int(query.get("after", 0))
        if limit > 100:
            return 400, {}, _error("VALIDATION_ERROR", "limit must be at most 100")
        archived = query.get("archived", "false").lower() == "true"
        properties = query.get("properties", "").split(",")
        held = [record for record in self.records[obj].values() if (record.archived_at is not None) == archived]
        page = held[after:after + limit]
        body = {"results": [_object(record, obj, properties) for record in page]}
        return 200, {}, body | _paging(after + limit, len(held))

    def _search(self, obj: str, body: dict) -> tuple[int, dict[str, str], Any]:
        limit, after = int(body.get("limit", 10)), int(body.get("after") or 0)
        if after + limit > self.search_cap:
            return 400, {}, _error("VALIDATION_ERROR", f"Search results are limited to {self.search_cap} per query")
        held = [record for record in self.records[obj].values() if record.archived_at is None]
        groups = body.get("filterGroups") or []
        if groups:
            held = [record for record in held if any(all(_passes(record, condition) for condition in group["filters"])
                                                     for group in groups)]
        for sort in reversed(body.get("sorts") or []):
            held.sort(key=lambda record: _epoch_ms(record.properties.get(sort["propertyName"])),
                      reverse=sort.get("direction") == "DESCENDING")
        page = held[after:after + limit]
        results = [_object(record, obj, body.get("properties") or []) for record in page]
        return 200, {}, {"total": len(held), "results": results} | _paging(after + limit, len(held))

    def _associations(self, obj: str, body: dict) -> tuple[int, dict[str, str], Any]:
        results = []
        for item in body["inputs"]:
            record = self.records[obj].get(item["id"])
            if record is None or not record.companies:
                continue
            results.append({"from": {"id": record.id}, "to": [
                {"toObjectId": int(company), "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": PRIMARY_TYPE_IDS[obj], "label": "Primary"},
                    {"category": "HUBSPOT_DEFINED", "typeId": UNLABELLED_TYPE_IDS[obj], "label": None},
                ] if position == 0 else [
                    {"category": "HUBSPOT_DEFINED", "typeId": UNLABELLED_TYPE_IDS[obj], "label": None}]}
                for position, company in enumerate(record.companies)]})
        return 200, {}, _batch(results)

    def _owners(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        limit, after = int(query.get("limit", 100)), int(query.get("after", 0))
        archived = query.get("archived", "false").lower() == "true"
        held = [owner for owner in self.owners if (owner["archived"] == "true") == archived]
        results = [{"id": owner["id"], "email": owner["email"], "firstName": owner["firstName"],
                    "lastName": owner["lastName"], "userId": int(owner["userId"]), "type": "PERSON",
                    "createdAt": CREATED, "updatedAt": CREATED, "archived": archived, "teams": []}
                   for owner in held[after:after + limit]]
        return 200, {}, {"results": results} | _paging(after + limit, len(held))

    def _batch_update(self, obj: str, body: dict) -> tuple[int, dict[str, str], Any]:
        inputs = body["inputs"]
        if len(inputs) > 100:
            return 400, {}, _error("VALIDATION_ERROR", "Batch input cannot exceed 100 inputs")
        updated, errors = [], []
        for item in inputs:
            record = self.records[obj].get(item["id"])
            if record is None or record.archived_at is not None:
                errors.append(_record_error("OBJECT_NOT_FOUND", f"Could not get some {obj} objects, they may be "
                                                                f"deleted or not exist", item["id"]))
            elif item["id"] in self.rejected_updates:
                errors.append(_record_error("VALIDATION_ERROR", self.rejected_updates[item["id"]], item["id"]))
            else:
                record.properties |= item["properties"]
                updated.append(_object(record, obj, list(item["properties"])))
        if errors:
            return 207, {}, _batch(updated) | {"errors": errors, "numErrors": len(errors)}
        return 200, {}, _batch(updated)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # one write per answer on a kept-alive connection, without waiting for a delayed ACK between header and body
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        # a list parameter comes repeated (properties=a&properties=b) or comma-separated: HubSpot takes both
        query = {name: ",".join(values) for name, values in parse_qs(url.query).items()}
        request = Request(self.command, url.path, query, body)
        status, headers, answer = self.server.hubspot.answer(request, self.headers.get("Authorization"))
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # the tests read `requests`, not stderr
        pass


def _records(frame: pd.DataFrame) -> dict[str, Record]:
    properties = frame.drop(columns=["associated_company_ids", "primary_company_id"], errors="ignore")
    companies = frame.get("associated_company_ids", pd.Series(None, index=frame.index))
    return {
        row["hs_object_id"]: Record(row["hs_object_id"], {name: None if pd.isna(value) else str(value)
                                                          for name, value in row.items()},
                                    [] if pd.isna(company) else str(company).split(";"))
        for row, company in zip(properties.to_dict("records"), companies, strict=True)
    }


def _object(record: Record, obj: str, properties: list[str]) -> dict[str, Any]:
    """A record as the API writes it: the asked properties (and the defaults every answer holds)."""
    stamp = _stamp_property(obj)
    asked = set(properties) | {"hs_object_id", "createdate", stamp}
    answer = {
        "id": record.id,
        "properties": {name: record.properties.get(name) for name in sorted(asked) if name},
        "createdAt": record.properties.get("createdate") or CREATED,
        "updatedAt": record.properties.get(stamp) or CREATED,
        "archived": record.archived_at is not None,
    }
    return answer | ({"archivedAt": record.archived_at} if record.archived_at else {})


def _passes(record: Record, condition: dict) -> bool:
    held = _epoch_ms(record.properties.get(condition["propertyName"]))
    wanted = _epoch_ms(condition["value"])
    return {"GTE": held >= wanted, "GT": held > wanted, "LTE": held <= wanted, "LT": held < wanted,
            "EQ": held == wanted}[condition["operator"]]


def _epoch_ms(value: str | None) -> int:
    """A time given as epoch milliseconds or ISO 8601, in epoch milliseconds (missing: -1)."""
    if value is None:
        return -1
    if str(value).isdigit():
        return int(value)
    return pd.Timestamp(value).value // 1_000_000


def _stamp_property(obj: str) -> str:
    return "lastmodifieddate" if obj == "contacts" else "hs_lastmodifieddate"


def _paging(next_after: int, total: int) -> dict[str, Any]:
    if next_after >= total:
        return {}
    return {"paging": {"next": {"after": str(next_after), "link": f"?after={next_after}"}}}


def _batch(results: list[dict]) -> dict[str, Any]:
    return {"status": "COMPLETE", "results": results, "startedAt": CREATED, "completedAt": CREATED}


def _error(category: str, message: str) -> dict[str, Any]:
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}


def _record_error(category: str, message: str, record_id: str) -> dict[str, Any]:
    return {"status": "error", "category": category, "message": message, "context": {"ids": [record_id]},
            "links": {}, "errors": []}


def _industry_property(options: list[dict]) -> dict[str, Any]:
    return {
        "name": "industry", "label": "Industry", "type": "enumeration", "fieldType": "select",
        "groupName": "companyinformation", "description": "The type of business the company performs.",
        "hidden": False, "formField": True, "calculated": False, "externalOptions": False,
        "options": [{"label": option["label"], "value": option["value"], "displayOrder": position, "hidden": False}
                    for position, option in enumerate(options)],
    }
