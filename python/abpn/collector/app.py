"""The collector's HTTP service: the API and the dashboard in front of the Store.

What it promises, beyond the Store's own promises (store.py):
- POST /api/records takes a result record of any schema_version the collector knows (schemas.py);
  the OpenAPI document describes the same JSON Schema files, it has no copy of its own;
- a record is kept exactly as posted: GET /api/records/{run_id} returns the posted bytes;
- bodies over MAX_BODY_BYTES are refused (413) without being read past the limit (guards.py);
- a client must deliver a request's headers within HEADERS_TIMEOUT_S and the whole request within
  REQUEST_TIMEOUT_S, or gets 408 and loses the connection: slow clients cannot hold connections
  (connections.py);
- the unauthenticated reads cost the same with 20 or 20,000 records: the report and the dashboard
  are worked out again only when a record was added since (Store.data_version), from the new
  records on, never per request;
- with a token configured, writes need `Authorization: Bearer <token>` (compared in constant time);
- web pages can neither write (Origin, Content-Type) nor read through DNS rebinding (Host): guards.py;
- a body is parsed in linear time off the event loop, its nesting and numbers bounded before the
  validator sees it: no request can stall the others or end in a 500 (body.py);
- at the connection limit, the connection that has waited longest without sending its request
  headers is closed to make room: half-open sockets cannot shut ordinary clients out (connections.py).
"""
import hmac
import ipaddress
import json
import sqlite3
import threading
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from abpn import __version__
from abpn.collector import report
from abpn.collector.body import parse_body
from abpn.collector.connections import CONNECTIONS_PER_CLIENT, DEFAULT_PORT, REQUEST_TIMEOUT_S, server_config
from abpn.collector.guards import MAX_BODY_BYTES, BodyLimit, RequestGuard
from abpn.collector.store import Conflict, InvalidRecord, Store, parse_time, utc_text
from abpn.core.files import check_output_path
from abpn.errors import AbpnError

MIN_TOKEN_LENGTH = 16
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
    source: str
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


class ProblemItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problems(BaseModel):
    """Every reason a request or a record was refused."""
    detail: list[ProblemItem]


# What `since` and `until` take, in the OpenAPI document: a date or an RFC 3339 date-time.
MOMENT_SCHEMA = {"anyOf": [{"type": "string", "format": "date"},
                           {"type": "string", "format": "date-time", "maxLength": 40}]}


def _parse_moment(value, name, end_of_day):
    """A date (YYYY-MM-DD, a whole UTC day) or an RFC 3339 date-time (naive means UTC)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(), timezone.utc)
            if end_of_day:
                moment = moment + timedelta(days=1) if day < date.max else datetime.max.replace(tzinfo=timezone.utc)
        else:
            moment = parse_time(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise HTTPException(422, [{"loc": ["query", name], "type": "value_error",
                                   "msg": f"{value!r} is neither a date (2026-11-24) nor an RFC 3339 "
                                          "date-time (2026-11-24T15:04:05Z)"}]) from None
    try:
        utc_text(moment)
        return moment
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before UTC's year 1: the ends of time
        end = datetime.min if moment.year == 1 else datetime.max
        return end.replace(tzinfo=timezone.utc)


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
  the server has one, 408 when the request is not received within {REQUEST_TIMEOUT_S:g} s, 415 unless the
  body is `application/json`, 403 with an `Origin` other than the collector's own (a web page).
- `POST /api/write-access` stores nothing: 204 when a write with the same credentials would be accepted.
- Every request's `Host` must name the collector's address (421 otherwise): no DNS rebinding.
- Reads (records, report, dashboard) need no token. `GET /api/records/{{run_id}}` returns the record as posted.
"""


def create_app(store, token=None):
    """The ASGI app over `store` (a Store or a database path). With `token`, writes need it."""
    store = store if isinstance(store, Store) else Store(store)
    expected = token.encode("utf-8") if token else None
    reports = _ReportCache(store)
    app = FastAPI(title="abpn-tool collector", version=__version__, description=_OPENAPI_DESCRIPTION,
                  redoc_url=None,
                  responses={421: {"model": Problem, "description": "Host does not name the collector"}})
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(RequestGuard)
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

    refusals = {401: {"model": Problem, "description": "Missing or wrong bearer token (a collector started with one)"},
                403: {"model": Problem, "description": "A write from a web page (a foreign Origin)"},
                415: {"model": Problem, "description": "A body not declared application/json"}}

    @app.post("/api/records", status_code=201, response_model=Stored, dependencies=[Depends(check_token)],
              openapi_extra={"requestBody": {"required": True,
                                             "content": {"application/json": {"schema": RECORD_SCHEMA_REF}}}},
              responses={200: {"model": Stored, "description": "The identical record was already stored"},
                         **refusals, 408: {"model": Problem}, 409: {"model": Problem}, 413: {"model": Problem},
                         422: {"model": Problems, "description": "Not a result record: every reason"}})
    async def post_record(request: Request, response: Response):
        try:
            body = await request.body()
        except ClientDisconnect:  # gone, or cut off by the request deadline (which answered 408)
            return Response(status_code=408)
        # Parsing and validating a 1 MiB body takes a while: off the event loop, other requests go on.
        run_id, outcome = await run_in_threadpool(_store_body, store, body)
        if outcome == "exists":
            response.status_code = 200
        else:
            response.headers["Location"] = f"/api/records/{run_id}"
        return {"run_id": run_id, "status": outcome}

    @app.post("/api/write-access", status_code=204, dependencies=[Depends(check_token)], responses=refusals)
    def write_access():
        """Answers 204 when a write with these credentials would be accepted; stores nothing. Clients ask
        before a benchmark run, so a wrong token shows before any phone is touched."""
        return Response(status_code=204)

    @app.get("/api/records", response_model=RecordList)
    def list_records(
        chipset: Annotated[str | None, Query(max_length=200, description="Chipset name or SoC model")] = None,
        accelerator: Annotated[Literal[store.schemas.accelerators()] | None, Query()] = None,
        model_sha256: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
        since: Annotated[str | None, Query(max_length=40, description="Date or date-time, inclusive",
                                           json_schema_extra=MOMENT_SCHEMA)] = None,
        until: Annotated[str | None, Query(max_length=40, description="Date (inclusive) or date-time (exclusive)",
                                           json_schema_extra=MOMENT_SCHEMA)] = None,
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


def _store_body(store, body):
    record, text = parse_body(body)
    try:
        outcome = store.add(record, text)
    except Conflict as error:
        raise HTTPException(409, str(error)) from None
    except InvalidRecord as error:
        raise HTTPException(422, [_problem_detail(p) for p in error.problems]) from None
    return record["run_id"].lower(), outcome


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


def dashboard_url(host, port):
    """Where to open the dashboard: requests must name the address they arrive at (guards.py), and a
    browser asked for the wildcard address arrives on loopback."""
    try:
        wildcard = ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        wildcard = False
    if wildcard:
        return f"http://127.0.0.1:{port}/ (phones: http://<this computer's IP address>:{port})"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def serve(db, host="127.0.0.1", port=DEFAULT_PORT, token=None, connections_per_client=CONNECTIONS_PER_CLIENT):
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
    print(f"Collector storing into {db}; dashboard at {dashboard_url(host, port)} , API docs at /docs"
          + (" (writes need the token)" if token else ""), flush=True)
    uvicorn.Server(server_config(app, host, port, connections_per_client=connections_per_client)).run(sockets=[listener])


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
