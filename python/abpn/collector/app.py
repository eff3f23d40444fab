"""The collector's HTTP service: the API and the dashboard in front of the Store.

What it promises, beyond the Store's own promises (store.py):
- POST /api/records takes a result record of any schema_version the collector knows (schemas.py);
  the OpenAPI document describes the same JSON Schema files, it has no copy of its own;
- a record is kept exactly as posted: GET /api/records/{run_id} returns the posted bytes;
- bodies over MAX_BODY_BYTES are refused (413) without being read past the limit;
- a client must deliver a request's headers within HEADERS_TIMEOUT_S and the whole request within
  REQUEST_TIMEOUT_S, or gets 408 and loses the connection: slow clients cannot hold connections;
- the unauthenticated reads cost the same with 20 or 20,000 records: the report and the dashboard
  are worked out again only when a record was added since (Store.data_version), from the new
  records on, never per request;
- with a token configured, writes need `Authorization: Bearer <token>` (compared in constant time).
"""
import hmac
import ipaddress
import json
import sqlite3
import threading
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Literal

import h11
from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.h11_impl import H11Protocol

from abpn import __version__
from abpn.collector import report
from abpn.collector.store import Conflict, InvalidRecord, Store, parse_time, utc_text
from abpn.core.files import check_output_path
from abpn.errors import AbpnError

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_PORT = 8765
MIN_TOKEN_LENGTH = 16
HEADERS_TIMEOUT_S = 10.0
# 1 MiB in 30 s is 35 KB/s: a phone on a poor link still gets a full-size record through.
REQUEST_TIMEOUT_S = 30.0
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
RECORD_SCHEMA_REF = {"$ref": "#/components/schemas/ResultRecord"}


class Stored(BaseModel):
    run_id: str
    status: Literal["created", "exists"]


class AcceleratorSummary(BaseModel):
    accelerator: str
    status: str
    median_ms: float | None


class RecordSummary(BaseModel):
    run_id: str
    created_at: str
    received_at: str
    kind: Literal["phone", "host"]
    chipset: str
    soc_model: str | None
    device: str
    model_sha256: str
    model_file: str
    results: list[AcceleratorSummary]


class RecordList(BaseModel):
    count: int
    records: list[RecordSummary]


class Problem(BaseModel):
    detail: str


# ---------------------------------------------------------------------------------------------------
# Connections


class BoundedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with deadlines on receiving each request.

    uvicorn closes idle keep-alive connections but never times out a request being received: a
    client that sends its headers slowly, or declares Content-Length: 100 and sends 2 bytes, holds
    a connection (and one of `limit_concurrency` slots) for ever. Here the deadlines start with the
    connection, or with the previous response on a kept-alive one.
    """

    headers_timeout_s = HEADERS_TIMEOUT_S
    request_timeout_s = REQUEST_TIMEOUT_S
    _deadline = None

    def connection_made(self, transport):
        super().connection_made(transport)
        self._start_request_clock()

    def _start_request_clock(self):
        self._request_started = self.loop.time()
        self._arm(self.headers_timeout_s, "request headers")

    def _arm(self, delay, what):
        self._disarm()
        self._deadline = self.loop.call_later(max(delay, 0), self._expired, what)

    def _disarm(self):
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def handle_events(self):
        waiting_for_headers = self.conn.their_state is h11.IDLE
        super().handle_events()
        state = self.conn.their_state
        if state is h11.SEND_BODY and waiting_for_headers:
            self._arm(self._request_started + self.request_timeout_s - self.loop.time(), "request body")
        elif state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm()  # the whole request is in (or the connection is over)

    def on_response_complete(self):
        # Before super(): it may go on to a pipelined request, whose events must see a fresh clock.
        self._start_request_clock()
        super().on_response_complete()

    def connection_lost(self, exc):
        self._disarm()
        super().connection_lost(exc)

    def _expired(self, what):
        self._deadline = None
        if self.transport.is_closing():
            return
        # Not a byte of a next request: a quiet connection, closed without an answer nobody asked for
        # (an HTTP client could take it for the answer to its next request).
        quiet = self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]
        answered = self.conn.their_state is h11.SEND_BODY and self.cycle is not None and self.cycle.response_started
        if not quiet and not answered:
            limit = self.headers_timeout_s if what == "request headers" else self.request_timeout_s
            detail = json.dumps({"detail": f"{what} not received within {limit:g} s of the request's start; "
                                           "send the whole request at once"}).encode()
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                                 b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(detail), detail))
        self.transport.close()


def protocol_with_timeouts(headers_timeout_s=HEADERS_TIMEOUT_S, request_timeout_s=REQUEST_TIMEOUT_S):
    return type("BoundedH11Protocol", (BoundedH11Protocol,),
                {"headers_timeout_s": headers_timeout_s, "request_timeout_s": request_timeout_s})


def server_config(app, host="127.0.0.1", port=DEFAULT_PORT, *, headers_timeout_s=HEADERS_TIMEOUT_S,
                  request_timeout_s=REQUEST_TIMEOUT_S, **options):
    """The uvicorn configuration the collector runs with (`serve` and the tests alike)."""
    import uvicorn

    settings = {"log_level": "info", "server_header": False, "proxy_headers": False, "timeout_keep_alive": 5,
                "limit_concurrency": 100, **options}
    return uvicorn.Config(app, host=host, port=port, http=protocol_with_timeouts(headers_timeout_s, request_timeout_s),
                          **settings)


# ---------------------------------------------------------------------------------------------------
# HTTP service


class _BodyLimit:
    """Refuses request bodies over `limit` bytes: by Content-Length before reading, and by counting
    while reading for bodies sent without one (chunked)."""

    def __init__(self, app, limit):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    return await JSONResponse({"detail": "Content-Length is not a number"}, 400)(scope, receive, send)
                if int(value) > self.limit:
                    return await self._too_large(scope, receive, send)
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, counted_receive, send)

    def _message(self):
        return f"request body over the limit of {self.limit} bytes; a result record is far smaller"

    async def _too_large(self, scope, receive, send):
        await JSONResponse({"detail": self._message()}, 413)(scope, receive, send)


def _parse_moment(value, name, end_of_day):
    """A date (YYYY-MM-DD, a whole UTC day) or an RFC 3339 date-time (naive means UTC)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(), timezone.utc)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = parse_time(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        utc_text(moment)
        return moment
    except (ValueError, OverflowError):
        raise HTTPException(422, [{"loc": ["query", name], "type": "value_error",
                                   "msg": f"{value!r} is neither a date (2026-11-24) nor an RFC 3339 "
                                          "date-time (2026-11-24T15:04:05Z)"}]) from None


class _UnreadableBody(ValueError):
    pass


def _no_duplicate_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        # Parsers disagree on which one wins; the stored record must mean the same to every reader.
        duplicate = next(key for key in keys if keys.count(key) > 1)
        raise _UnreadableBody(f"the key {duplicate!r} appears twice in one object")
    return dict(pairs)


def _reject_constant(name):
    raise _UnreadableBody(f"{name} is not a JSON number")


def parse_body(body):
    """(record, text) from a request body: strict UTF-8 JSON, no NaN/Infinity, no repeated keys."""
    try:
        text = body.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant), text
    except UnicodeDecodeError as error:
        message = f"the body is not UTF-8 text ({error.reason} at byte {error.start})"
    except json.JSONDecodeError as error:
        message = f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
    except _UnreadableBody as error:
        message = f"the body is not standard JSON: {error}"
    except RecursionError:
        message = "the body nests deeper than a result record ever does"
    raise HTTPException(422, [{"loc": ["body"], "msg": message, "type": "json_invalid"}])


class _ReportCache:
    """The report and its renderings, worked out again only when a record was added since (by any
    process), and then only from the new records on."""

    def __init__(self, store):
        self.store = store
        self.lock = threading.Lock()
        self.aggregate = report.Aggregate()
        self.version = 0
        self.report = None
        self.rendered = {}

    def get(self, form):
        version = self.store.data_version()
        # One rebuild at a time: many readers after an insert wait for it rather than each redraw.
        with self.lock:
            if self.report is None or version != self.version:
                runs, self.version = self.store.report_runs(after=self.version)
                self.report = self.aggregate.add(runs).report()
                self.rendered = {}
            if form not in self.rendered:
                if form == "json":
                    self.rendered[form] = json.dumps(report.to_json(self.report)).encode("utf-8")
                else:
                    self.rendered[form] = report.render_html(self.report, dashboard=True)
            return self.rendered[form]


_OPENAPI_DESCRIPTION = f"""Collects ABPN benchmark result records and reports them per chipset and accelerator.

- `POST /api/records` stores one record: `ResultRecord`, the JSON Schema of the record's
  `schema_version` (python/abpn/record/schema/). 201 when stored, 200 when the identical record was already
  stored, 409 when another record has the same `run_id`, 413 over {MAX_BODY_BYTES} bytes, 422 when it
  breaks its schema or contradicts itself (each reason listed), 401 without the right bearer token when
  the server has one, 408 when the request is not received within {REQUEST_TIMEOUT_S:g} s.
- Reads (records, report, dashboard) need no token. `GET /api/records/{{run_id}}` returns the record as posted.
"""


def create_app(store, token=None):
    """The ASGI app over `store` (a Store or a database path). With `token`, writes need it."""
    store = store if isinstance(store, Store) else Store(store)
    expected = token.encode("utf-8") if token else None
    reports = _ReportCache(store)
    app = FastAPI(title="abpn-tool collector", version=__version__, description=_OPENAPI_DESCRIPTION,
                  redoc_url=None)
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    bearer = HTTPBearer(auto_error=False, description="The token given to `abpn-tool serve --token`")

    def openapi():
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                store.schemas.openapi_components("ResultRecord"))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi

    def check_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]):
        if expected is None:
            return
        given = credentials.credentials.encode("utf-8") if credentials else b""
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401, "missing or wrong token: send `Authorization: Bearer <token>` with the "
                                     "token the collector was started with",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, error):
        # FastAPI's default handler echoes each bad input back, which fails on NaN (-> 500) and can
        # return most of a 1 MiB body; where and what is enough to fix the request.
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in error.errors()]
        return JSONResponse({"detail": detail}, 422)

    @app.exception_handler(sqlite3.OperationalError)
    async def database_busy(request, error):
        return JSONResponse({"detail": f"database unavailable ({error}); retry later"}, 503,
                            headers={"Retry-After": "5"})

    @app.post("/api/records", status_code=201, response_model=Stored, dependencies=[Depends(check_token)],
              openapi_extra={"requestBody": {"required": True,
                                             "content": {"application/json": {"schema": RECORD_SCHEMA_REF}}}},
              responses={200: {"model": Stored, "description": "The identical record was already stored"},
                         401: {"model": Problem}, 408: {"model": Problem}, 409: {"model": Problem},
                         413: {"model": Problem}})
    async def post_record(request: Request, response: Response):
        try:
            body = await request.body()
        except ClientDisconnect:  # gone, or cut off by the request deadline (which answered 408)
            return Response(status_code=408)
        record, text = parse_body(body)
        try:
            outcome = await run_in_threadpool(store.add, record, text)
        except Conflict as error:
            raise HTTPException(409, str(error)) from None
        except InvalidRecord as error:
            raise HTTPException(422, [_problem_detail(p) for p in error.problems]) from None
        run_id = record["run_id"].lower()
        if outcome == "exists":
            response.status_code = 200
        else:
            response.headers["Location"] = f"/api/records/{run_id}"
        return {"run_id": run_id, "status": outcome}

    @app.get("/api/records", response_model=RecordList)
    def list_records(
        chipset: Annotated[str | None, Query(max_length=200, description="Chipset name or SoC model")] = None,
        accelerator: Annotated[Literal[store.schemas.accelerators()] | None, Query()] = None,
        model_sha256: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
        since: Annotated[str | None, Query(max_length=40, description="Date or date-time, inclusive")] = None,
        until: Annotated[str | None, Query(max_length=40, description="Date (inclusive) or date-time (exclusive)")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ):
        since_ = _parse_moment(since, "since", end_of_day=False) if since else None
        until_ = _parse_moment(until, "until", end_of_day=True) if until else None
        rows = store.summaries(chipset=chipset, accelerator=accelerator, model_sha256=model_sha256,
                               since=since_, until=until_, limit=limit)
        return {"count": len(rows), "records": rows}

    @app.get("/api/records/{run_id}", responses={
        200: {"description": "The record, byte for byte as it was posted",
              "content": {"application/json": {"schema": RECORD_SCHEMA_REF}}},
        404: {"model": Problem}})
    def get_record(run_id: Annotated[str, PathParam(pattern=UUID_PATTERN)]):
        body = store.get(run_id)
        if body is None:
            raise HTTPException(404, f"no record with run_id {run_id}")
        return Response(body.encode("utf-8"), media_type="application/json")

    @app.get("/api/report")
    def get_report():
        """The per-chipset report as JSON (the dashboard's data)."""
        return Response(reports.get("json"), media_type="application/json")

    @app.get("/", response_class=HTMLResponse)
    def dashboard():
        return HTMLResponse(reports.get("html"), headers={"Content-Security-Policy": report.CONTENT_SECURITY_POLICY,
                                                          "X-Content-Type-Options": "nosniff"})

    return app


def _problem_detail(problem):
    path, _, message = problem.partition(": ")
    steps = [] if path == "(record)" else path.split("/")
    location = ["body"] + [int(step) if step.isdigit() else step for step in steps]
    return {"loc": location, "msg": message or problem, "type": "schema"}


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_serve_options(host, token):
    if token is not None:
        if len(token) < MIN_TOKEN_LENGTH or not token.isascii() or not token.isprintable() or " " in token:
            raise AbpnError(f"the token must be at least {MIN_TOKEN_LENGTH} printable ASCII characters without "
                            "spaces; make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(24))'")
    elif not is_loopback(host):
        raise AbpnError(f"refusing to listen on {host} without a token: anyone on that network could post records. "
                        "Pass --token (or set ABPN_COLLECTOR_TOKEN), or listen on 127.0.0.1")


def serve(db, host="127.0.0.1", port=DEFAULT_PORT, token=None):
    """Runs the collector until interrupted."""
    import uvicorn

    check_serve_options(host, token)
    check_output_path(db, parents=True, database=True)
    # Bound first: a port in use must fail before the database is created or the dashboard announced.
    listener = _listen(host, port)
    try:
        app = create_app(Store(db), token=token)
    except BaseException:
        listener.close()
        raise
    port = listener.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"Collector storing into {db}; dashboard at http://{shown}:{port}/ , API docs at /docs"
          + (" (writes need the token)" if token else ""), flush=True)
    uvicorn.Server(server_config(app, host, port)).run(sockets=[listener])


def _listen(host, port):
    """A listening socket on host:port, or an AbpnError saying why not."""
    import socket

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except socket.gaierror as error:
        raise AbpnError(f"cannot listen on {host}: no such address ({error.strerror}); pass --host 127.0.0.1 or "
                        "an address of this computer") from None
    except OSError as error:
        raise AbpnError(f"cannot listen on {host}:{port}: {error.strerror or error}. Another program may be using "
                        "the port: pass another --port, or stop it.") from None
