"""A local Salesforce REST API for tests: the documented requests and answers, over HTTPS on 127.0.0.1.

It serves what `territory.sources.salesforce_api` uses, on records held per object:

    POST  /services/oauth2/token                         client credentials or password flow -> access token
    GET   /services/data/vXX.X/query/?q=<SOQL>           the first page of a query's records
    GET   /services/data/vXX.X/queryAll/?q=<SOQL>        the same, deleted records included
    GET   /services/data/vXX.X/query/<locator>-<offset>  the next page: a page's `nextRecordsUrl`
    GET   /services/data/vXX.X/sobjects/<Object>/describe  the object's fields
    PATCH /services/data/vXX.X/composite/sobjects        update up to 200 records, each on its own

The SOQL it understands is the client's: `SELECT f, ... FROM Object [WHERE c [AND c]] [ORDER BY f]`,
a condition being `SystemModstamp >= <datetime>` or `IsDeleted = true`. Every API call needs the
`Authorization: Bearer <token>` the token endpoint issued, or gets 401 INVALID_SESSION_ID.

Tests change the data between pulls (`modify`, `delete`, `drop_field`, `reject_update`), inject
faults (`fail`: N answers of a status, with Retry-After, or a dropped connection, or forever), and
read every request received (`received`). simple-salesforce speaks only HTTPS, so the server has
a certificate for 127.0.0.1 from a throwaway trustme CA, whose certificate is at `ca_file`.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import trustme

MAX_COLLECTION = 200
SYSTEM_FIELDS = ("Id", "SystemModstamp", "IsDeleted")
FIXED_STAMP = "2026-06-30T00:00:00.000+0000"

SOQL = re.compile(r"SELECT (?P<fields>.+?) FROM (?P<object>\w+)(?: WHERE (?P<where>.+?))?(?: ORDER BY (?P<order>\w+))?")
CONDITION = re.compile(r"(?P<field>\w+) (?P<operator>>=|=) (?P<value>\S+)")
DATA_PATH = r"/services/data/v\d+\.\d+"
ROUTES = (  # (method, path, route): the route names the endpoint in `received` and in faults
    ("POST", r"/services/oauth2/token", "token"),
    ("GET", DATA_PATH + r"/query/?", "query"),
    ("GET", DATA_PATH + r"/queryAll/?", "queryAll"),
    ("GET", DATA_PATH + r"/query(?:All)?/(?P<locator>\w+)-(?P<offset>\d+)", "query_more"),
    ("GET", DATA_PATH + r"/sobjects/(?P<obj>\w+)/describe/?", "describe"),
    ("PATCH", DATA_PATH + r"/composite/sobjects", "composite"),
)
# The error each fault status comes with, as Salesforce words it.
FAULT_ERRORS = {
    429: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    500: ("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support."),
    502: ("SERVER_UNAVAILABLE", "Bad gateway."),
    503: ("SERVER_UNAVAILABLE", "Server is temporarily unavailable."),
}


@dataclass(frozen=True)
class Received:
    """One request as the server received it."""

    method: str
    route: str  # token, query, queryAll, query_more, describe, composite; "unknown" for any other path
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any  # the decoded JSON or form body; None without one

    @property
    def soql(self) -> str | None:
        return self.params.get("q")

    @property
    def data_path(self) -> str:
        """The REST API's root in this request's path, with its version: /services/data/vXX.X."""
        return re.match(DATA_PATH, self.path)[0]


@dataclass
class Fault:
    """What the server answers a route with instead: `status` (None drops the connection), `times` (None: always)."""

    route: str
    status: int | None
    times: int | None = 1
    retry_after: int | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


class SalesforceServer:
    """A Salesforce org's REST API on 127.0.0.1, over records given per object; use it as a context manager."""

    def __init__(self, objects: Mapping[str, pd.DataFrame], client_id: str, client_secret: str,
                 username: str | None = None, password: str | None = None, page_size: int = 2000):
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password = username, password
        self.page_size = page_size  # the most records a page holds, whatever batch size the client asks
        self.records = {name: {record["Id"]: record for record in _records(frame)} for name, frame in objects.items()}
        self.fields = {name: list(dict.fromkeys([*SYSTEM_FIELDS, *frame.columns])) for name, frame in objects.items()}
        self.received: list[Received] = []
        self.faults: list[Fault] = []
        self.issued_tokens: list[str] = []
        self.rejections: dict[str, tuple[str, str]] = {}
        self._cursors: dict[str, list[dict]] = {}
        stamps = [record["SystemModstamp"] for held in self.records.values() for record in held.values()]
        self._clock = max(stamps, default=FIXED_STAMP)
        self._lock = threading.Lock()
        self._exit = ExitStack()

    @classmethod
    def from_export(cls, folder: Path, **kwargs: Any) -> SalesforceServer:
        """A server holding the records of a folder of `<Object>.csv` files (a Data Export)."""
        return cls({path.stem: _typed(pd.read_csv(path, dtype=str, keep_default_na=False))
                    for path in sorted(Path(folder).glob("*.csv"))}, **kwargs)

    # -- running ------------------------------------------------------------------------------

    def __enter__(self) -> SalesforceServer:
        ca = trustme.CA()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.ca_file = Path(self._exit.enter_context(ca.cert_pem.tempfile()))
        http = _HttpServer(self, context)
        self.url = f"https://127.0.0.1:{http.server_address[1]}"
        threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._exit.callback(http.server_close)
        self._exit.callback(http.shutdown)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._exit.close()

    # -- what tests do ------------------------------------------------------------------------

    def modify(self, obj: str, record_id: str, **values: Any) -> None:
        """Change a record as a user would: its fields, and its SystemModstamp to now."""
        self.records[obj][record_id].update(values, SystemModstamp=self._tick())

    def delete(self, obj: str, record_id: str) -> None:
        """Move a record to the recycle bin: `query` no longer returns it, `queryAll` does with IsDeleted = true."""
        self.records[obj][record_id].update(IsDeleted=True, SystemModstamp=self._tick())

    def drop_field(self, obj: str, field: str) -> None:
        """Make the org lack a field, as one without that custom field (or hiding it from the user) would."""
        self.fields[obj].remove(field)
        for record in self.records[obj].values():
            record.pop(field, None)

    def fail(self, route: str, status: int | None, times: int | None = 1, retry_after: int | None = None) -> None:
        """Answer the next `times` requests of `route` with `status` (None: drop the connection; times None: always)."""
        self.faults.append(Fault(route, status, times, retry_after))

    def reject_update(self, record_id: str, status_code: str, message: str) -> None:
        """Refuse any update of one record with this error, as a validation rule or a lock would."""
        self.rejections[record_id] = (status_code, message)

    def requests_to(self, route: str) -> list[Received]:
        return [request for request in self.received if request.route == route]

    # -- answering ----------------------------------------------------------------------------

    def answer(self, request: Received, path_values: dict[str, str]) -> Answer | None:
        """Salesforce's answer to a request, or None to drop the connection; `path_values` are the route's parts."""
        with self._lock:
            self.received.append(request)
            fault = next((f for f in self.faults if f.route == request.route and f.times != 0), None)
            if fault is not None:
                fault.times = None if fault.times is None else fault.times - 1
                if fault.status is None:
                    return None
                code, message = FAULT_ERRORS[fault.status]
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                return Answer(fault.status, [{"errorCode": code, "message": message}], headers)
            if request.route == "unknown":
                return Answer(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
            if request.route == "token":
                return self._token(request.body or {})
            if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.issued_tokens:
                return Answer(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
            endpoint = getattr(self, f"_{request.route}")
            return endpoint(request, **path_values)

    def _token(self, form: dict[str, str]) -> Answer:
        """An access token for the right app (and, in the password flow, user), or OAuth's error otherwise."""
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return Answer(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        user = (form.get("username"), form.get("password"))
        if form.get("grant_type") == "client_credentials" or (
                form.get("grant_type") == "password" and self.username is not None
                and user == (self.username, self.password)):
            return self._issue_token()
        return Answer(400, {"error": "invalid_grant", "error_description": "authentication failure"})

    def _issue_token(self) -> Answer:
        token = f"00DTEST0000000001!{secrets.token_urlsafe(32)}"
        self.issued_tokens.append(token)
        return Answer(200, {"access_token": token, "instance_url": self.url, "token_type": "Bearer",
                            "id": f"{self.url}/id/00DTEST0000000001/005TEST0000000001",
                            "issued_at": "1782820800000", "signature": secrets.token_urlsafe(32)})

    def _query(self, request: Received) -> Answer:
        return self._run_soql(request, include_deleted=False)

    def _queryAll(self, request: Received) -> Answer:
        return self._run_soql(request, include_deleted=True)

    def _run_soql(self, request: Received, include_deleted: bool) -> Answer:
        query = SOQL.fullmatch(request.soql or "")
        if query is None:
            return Answer(400, [{"errorCode": "MALFORMED_QUERY", "message": f"unexpected SOQL: {request.soql}"}])
        obj, fields = query["object"], [name.strip() for name in query["fields"].split(",")]
        if obj not in self.records:
            return Answer(400, [{"errorCode": "INVALID_TYPE", "message": f"sObject type '{obj}' is not supported."}])
        unknown = [name for name in fields if name not in self.fields[obj]]
        if unknown:
            return Answer(400, [{"errorCode": "INVALID_FIELD",
                                 "message": f"No such column '{unknown[0]}' on entity '{obj}'."}])
        conditions = [CONDITION.fullmatch(text) for text in query["where"].split(" AND ")] if query["where"] else []
        matching = [record for record in self.records[obj].values()
                    if (include_deleted or not record["IsDeleted"]) and all(_holds(c, record) for c in conditions)]
        if query["order"]:
            matching.sort(key=lambda record: record[query["order"]])
        rows = [{"attributes": {"type": obj, "url": f"{request.data_path}/sobjects/{obj}/{record['Id']}"},
                 **{name: record.get(name) for name in fields}} for record in matching]
        locator = f"01gTEST{len(self._cursors):08d}"
        self._cursors[locator] = rows
        return self._page(request, locator, 0)

    def _query_more(self, request: Received, locator: str, offset: str) -> Answer:
        if locator not in self._cursors:
            return Answer(400, [{"errorCode": "INVALID_QUERY_LOCATOR", "message": "invalid query locator"}])
        return self._page(request, locator, int(offset))

    def _page(self, request: Received, locator: str, offset: int) -> Answer:
        """One page of a query's records from `offset`; `nextRecordsUrl` leads to the next while any are left."""
        asked = re.search(r"batchSize=(\d+)", request.headers.get("Sforce-Query-Options", ""))
        size = min(self.page_size, int(asked[1]) if asked else 2000)
        rows = self._cursors[locator]
        body = {"totalSize": len(rows), "done": offset + size >= len(rows), "records": rows[offset:offset + size]}
        if not body["done"]:
            body["nextRecordsUrl"] = f"{request.data_path}/query/{locator}-{offset + size}"
        return Answer(200, body)

    def _describe(self, request: Received, obj: str) -> Answer:
        if obj not in self.fields:
            return Answer(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        # Salesforce describes each field with some forty attributes; the client reads only `name`
        return Answer(200, {"name": obj, "queryable": True, "fields": [{"name": name} for name in self.fields[obj]]})

    def _composite(self, request: Received) -> Answer:
        records = request.body["records"]
        if len(records) > MAX_COLLECTION:
            message = "record limit reached. cannot submit more than 200 records into this call"
            return Answer(400, [{"errorCode": "EXCEEDED_ID_LIMIT", "message": message}])
        return Answer(200, [self._update(record) for record in records])

    def _update(self, change: dict[str, Any]) -> dict[str, Any]:
        """The result of one record's update in a collection: `success` and `errors`, as Salesforce gives them."""
        obj, record_id = change["attributes"]["type"], change["id"]
        record = self.records.get(obj, {}).get(record_id)
        values = {name: value for name, value in change.items() if name not in ("attributes", "id")}
        if record_id in self.rejections:
            code, message = self.rejections[record_id]
            return _failed(code, message, list(values))
        if record is None or record["IsDeleted"]:
            return _failed("ENTITY_IS_DELETED", "entity is deleted", [])
        users = self.records.get("User", {})
        if "OwnerId" in values and values["OwnerId"] not in users:
            return _failed("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["OwnerId"])
        record.update(values, SystemModstamp=self._tick())
        return {"id": record_id, "success": True, "errors": []}

    def _tick(self) -> str:
        """A SystemModstamp one second after the latest one, so that every change is newer than the last."""
        now = datetime.strptime(self._clock, "%Y-%m-%dT%H:%M:%S.%f%z") + timedelta(seconds=1)
        self._clock = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        return self._clock


def _failed(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": fields}]}


def _holds(condition: re.Match[str], record: dict[str, Any]) -> bool:
    """Whether `record` meets a `SystemModstamp >= <datetime>` or `IsDeleted = true` condition."""
    value = record[condition["field"]]
    if condition["operator"] == ">=":
        return datetime.fromisoformat(value) >= datetime.fromisoformat(condition["value"])
    return value == (condition["value"].lower() == "true")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of `frame` as JSON-ready records, with the system fields every Salesforce record has."""
    records = json.loads(frame.to_json(orient="records"))
    for record in records:
        record.setdefault("SystemModstamp", record.get("LastModifiedDate") or FIXED_STAMP)
        record.setdefault("IsDeleted", False)
    return records


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """An export's text columns typed as the REST API types them."""
    return pd.DataFrame({name: _json_column(name, text.mask(text == "")) for name, text in frame.items()})


def _json_column(name: str, values: pd.Series) -> pd.Series:
    """One field's text values as JSON gives them: booleans, numbers, datetimes with +0000, or text.

    A field is a number when every value reads as one, unless it is text in Salesforce however it
    looks (ids, postal codes, phone numbers).
    """
    present = values.dropna()
    if present.empty:
        return values
    if present.str.lower().isin(["true", "false"]).all():
        return values.str.lower().map({"true": True, "false": False})
    if not name.endswith(("Id", "PostalCode", "Phone")) and pd.to_numeric(present, errors="coerce").notna().all():
        return pd.to_numeric(values)
    return values.str.replace(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z$", r"\1.000+0000", regex=True)


class _HttpServer(ThreadingHTTPServer):
    """HTTPS on a free port of 127.0.0.1, a thread per connection, answering through a SalesforceServer."""

    daemon_threads = True

    def __init__(self, salesforce: SalesforceServer, context: ssl.SSLContext):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.salesforce = salesforce
        self.socket = context.wrap_socket(self.socket, server_side=True)


class _Handler(BaseHTTPRequestHandler):
    """The HTTP side: parse the request, route it, write the JSON answer (or drop the connection)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would hold the second 40 ms
    server: _HttpServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        json_body = self.headers.get("Content-Type", "").startswith("application/json")
        body = (json.loads(raw) if json_body else dict(parse_qsl(raw))) if raw else None
        route, match = next(((name, m) for method, pattern, name in ROUTES
                             if method == self.command and (m := re.fullmatch(pattern, url.path))), ("unknown", None))
        request = Received(self.command, route, url.path, dict(parse_qsl(url.query)), dict(self.headers), body)
        answer = self.server.salesforce.answer(request, match.groupdict() if match else {})
        if answer is None:
            self.close_connection = True
            return
        payload = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_PATCH = do_GET

    def log_message(self, *args: Any) -> None:
        """Stay quiet: tests read `received` instead."""
