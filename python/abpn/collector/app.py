"""The collector: a SQLite store of result records and the HTTP service in front of it.

`Store` is the only code that touches the database; `abpn-tool serve` (the HTTP API and the
dashboard), `push-and-bench --db` and `abpn-tool report` all go through it.

What the service promises:
- a record is acknowledged (201/200) only after its transaction is committed (WAL, synchronous=FULL);
- `run_id` is the idempotency key: the same record again is stored once (200), a different record with
  a known `run_id` is refused (409);
- every record matches python/abpn/schema/result_record.schema.json (the contract, checked with
  jsonschema); the pydantic models below mirror it so that the OpenAPI document describes it;
- bodies over MAX_BODY_BYTES are refused (413) without being read past the limit;
- with a token configured, writes need `Authorization: Bearer <token>` (compared in constant time);
- values from records only ever reach SQLite as bound parameters, never SQL text or file paths.
"""
import hashlib
import hmac
import ipaddress
import json
import sqlite3
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from abpn import __version__
from abpn.bench.chipsets import chipset_name
from abpn.errors import AbpnError
from abpn.bench.record import ACCELERATORS, record_errors

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_PORT = 8765
MIN_TOKEN_LENGTH = 16
DB_SCHEMA_VERSION = 1
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class Conflict(AbpnError):
    """A different record with this run_id is already stored."""


class InvalidRecord(AbpnError):
    def __init__(self, problems):
        self.problems = problems
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"result record refused: {shown}{more}")


# ---------------------------------------------------------------------------------------------------
# Pydantic mirror of the JSON Schema. It gives the OpenAPI document and the first check of a request;
# the schema's if/then rules become unions on `kind` and `status`. Every record is then validated
# against the JSON Schema itself before it is stored: that file stays the contract.


def _omit_default(schema):
    # Optional keys that may not be null: absent is allowed, null is not (as in the contract).
    schema.pop("default", None)


def _optional(**kwargs):
    return Field(default=None, json_schema_extra=_omit_default, **kwargs)


Text = Annotated[str, Field(max_length=200)]
OptionalText = Annotated[str, Field(max_length=200)] | None
LongText = Annotated[str, Field(max_length=2000)] | None
Milliseconds = Annotated[float, Field(ge=0, le=86_400_000)]
Shape = Annotated[list[Annotated[int, Field(ge=-1, le=1_000_000)]], Field(min_length=1, max_length=8)]
Dtype = Literal["uint8", "int8", "int16", "float16", "float32"]
OptionKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
OptionValue = Annotated[str, Field(max_length=200)] | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _DeviceFields(_Strict):
    manufacturer: OptionalText = None
    model: OptionalText = None
    soc_manufacturer: OptionalText = Field(None, description="ro.soc.manufacturer (API 31+)")
    soc_model: OptionalText = Field(None, description="ro.soc.model (API 31+), e.g. SM8350")
    board_platform: OptionalText = Field(None, description="ro.board.platform, e.g. lahaina")
    hardware: OptionalText = Field(None, description="ro.hardware")
    chipset_name: OptionalText = Field(None, description="Human name, e.g. Snapdragon 888, when known")
    android_release: OptionalText = None
    sdk_int: Annotated[int, Field(ge=1, le=1000)] | None = None
    abi: OptionalText = None
    cpu_model: OptionalText = Field(None, description="Host runs: the CPU's model name")
    cpu_count: Annotated[int, Field(ge=1, le=4096)] | None = None
    os: OptionalText = Field(None, description="Host runs: operating system and release")


class PhoneDevice(_DeviceFields):
    # Required keys whose value may still be null, as in the contract.
    kind: Literal["phone"]
    manufacturer: OptionalText
    model: OptionalText
    android_release: OptionalText
    sdk_int: Annotated[int, Field(ge=1, le=1000)] | None
    abi: OptionalText


class HostDevice(_DeviceFields):
    kind: Literal["host"]
    cpu_model: OptionalText = Field(description="Host runs: the CPU's model name")
    os: OptionalText = Field(description="Host runs: operating system and release")


Device = Annotated[PhoneDevice | HostDevice, Field(discriminator="kind")]


class Model(_Strict):
    file_name: Annotated[str, Field(min_length=1, max_length=255)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    size_bytes: Annotated[int, Field(ge=1, le=4_294_967_296)]
    input_shape: Shape
    input_dtype: Dtype
    output_shape: Shape
    output_dtype: Dtype


class App(_Strict):
    name: Text = Field(description="abpn-tool, abpn-android, or adb-test-phone")
    version: Text
    runtime: Text = Field(description="e.g. tflite, litert")
    runtime_version: Text


class Latency(_Strict):
    min: Milliseconds
    median: Milliseconds
    mean: Milliseconds
    p90: Milliseconds
    max: Milliseconds
    std: Milliseconds


class OutputCheck(_Strict):
    psnr_db: Annotated[float, Field(ge=0, le=1000)] | None = Field(
        description="null when the outputs are identical (infinite PSNR)")
    max_abs_diff: Annotated[float, Field(ge=0, le=1e12)]
    threshold_db: Annotated[float, Field(ge=0, le=1000)]
    passed: bool


class _ResultFields(_Strict):
    accelerator: Literal[ACCELERATORS]
    options: Annotated[dict[OptionKey, OptionValue], Field(
        max_length=32, description="Settings of the run: threads, precision, performance mode, backend, ...")]
    reason: LongText = None
    notes: LongText = None
    init_ms: Milliseconds = _optional()
    first_inference_ms: Milliseconds = _optional()
    warmup_runs: Annotated[int, Field(ge=0, le=100_000)] = _optional()
    runs: Annotated[int, Field(ge=1, le=100_000)] = _optional()
    latency_ms: Latency = _optional()
    samples_ms: Annotated[list[Milliseconds], Field(min_length=1, max_length=100_000)] = _optional()
    delegated_nodes: Annotated[int, Field(ge=0, le=100_000)] | None = None
    total_nodes: Annotated[int, Field(ge=0, le=100_000)] | None = None
    delegation_evidence: LongText = None
    output_check: OutputCheck = _optional()


class OkResult(_ResultFields):
    status: Literal["ok"]
    init_ms: Milliseconds
    first_inference_ms: Milliseconds
    warmup_runs: Annotated[int, Field(ge=0, le=100_000)]
    runs: Annotated[int, Field(ge=1, le=100_000)]
    latency_ms: Latency
    samples_ms: Annotated[list[Milliseconds], Field(min_length=1, max_length=100_000)]


class UnavailableResult(_ResultFields):
    status: Literal["unsupported", "failed"]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


AcceleratorResult = Annotated[OkResult | UnavailableResult, Field(discriminator="status")]


class Conditions(_Strict):
    temperature_before_c: Annotated[float, Field(ge=-50, le=200)] | None = None
    temperature_after_c: Annotated[float, Field(ge=-50, le=200)] | None = None
    temperature_source: OptionalText = None
    cooldown_s: Annotated[float, Field(ge=0, le=86400)] | None = None


# Narrower than the contract's pattern (which takes month 13): the collector refuses impossible times anyway.
_CREATED_AT_PATTERN = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                       r"(\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")


class ResultRecord(_Strict):
    """One benchmark run of one model on one device (schema_version 1)."""

    schema_version: Literal[1]
    run_id: Annotated[str, Field(pattern=UUID_PATTERN)]
    created_at: Annotated[str, Field(
        max_length=40,
        pattern=_CREATED_AT_PATTERN, description="UTC time the run finished, RFC 3339, e.g. 2026-11-24T15:04:05Z")]
    device: Device
    model: Model
    app: App
    results: Annotated[list[AcceleratorResult], Field(min_length=1, max_length=16)]
    conditions: Conditions


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
# Storage


def _utc_text(moment):
    """Fixed-width UTC text, so that SQLite's text order is time order."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _parse_created_at(value):
    try:
        moment = datetime.fromisoformat(value)
        return _utc_text(moment)
    except (ValueError, OverflowError, TypeError):
        return None


def chipset_of(device):
    """The report's row name: the chipset's human name for phones, the CPU model for hosts."""
    if device.get("kind") == "host":
        return device.get("cpu_model") or "unknown CPU"
    identifiers = (device.get("soc_model"), device.get("board_platform"), device.get("hardware"))
    named = chipset_name(*identifiers)
    from_table = named is not None and named not in {(i or "").strip() for i in identifiers}
    return (named if from_table else None) or device.get("chipset_name") or named or "unknown chipset"


def soc_identifier(device):
    if device.get("kind") == "host":
        return None
    return device.get("soc_model") or device.get("board_platform") or device.get("hardware")


def device_label(device):
    if device.get("kind") == "host":
        return " / ".join(v for v in (device.get("cpu_model"), device.get("os")) if v) or "host"
    return " ".join(v for v in (device.get("manufacturer"), device.get("model")) if v) or "phone"


_SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS records (
    run_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    received_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    chipset TEXT NOT NULL,
    soc_model TEXT,
    device TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    model_file TEXT NOT NULL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_created ON records (created_utc);
CREATE INDEX IF NOT EXISTS records_chipset ON records (chipset COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS records_model ON records (model_sha256);
CREATE TABLE IF NOT EXISTS record_results (
    run_id TEXT NOT NULL REFERENCES records (run_id),
    position INTEGER NOT NULL,
    accelerator TEXT NOT NULL,
    status TEXT NOT NULL,
    median_ms REAL,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX IF NOT EXISTS record_results_accelerator ON record_results (accelerator);
"""


class Store:
    """Result records in one SQLite file (WAL mode). Safe to use from several threads and processes:
    each call opens its own connection and every write is one committed transaction."""

    def __init__(self, path, create=True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise AbpnError(f"no collector database at {self.path}: start `abpn-tool serve --db {self.path}` "
                            "and post records to it, or check the path")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as con:
                version = con.execute("PRAGMA user_version").fetchone()[0]
                if not create and version < DB_SCHEMA_VERSION:
                    raise AbpnError(f"{self.path} is not a collector database (no records table); pass the "
                                    "file `abpn-tool serve --db` writes")
                if version == 0 and con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    # Never add our tables to somebody else's database.
                    raise AbpnError(f"{self.path} is an SQLite database of something else (it has tables but "
                                    "no collector version); pass a new file name")
                if version > DB_SCHEMA_VERSION:
                    raise AbpnError(f"{self.path} was written by a newer abpn-tool (database version {version}); "
                                    "upgrade abpn-tool to read it")
                mode = con.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise AbpnError(f"{self.path}: SQLite could not switch to WAL mode (got {mode}); "
                                    "put the database on a local disk")
                if version < DB_SCHEMA_VERSION:
                    con.execute("BEGIN IMMEDIATE")
                    for statement in _SCHEMA_SQL.split(";"):
                        con.execute(statement)
                    con.execute(f"PRAGMA user_version = {DB_SCHEMA_VERSION}")
                    con.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            raise AbpnError(f"{self.path} is not a usable collector database ({error}); "
                            "pass a new file name or the database `abpn-tool serve` wrote") from error

    @contextmanager
    def _connect(self):
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            # FULL: a commit is on disk before add() returns, so an acknowledged record survives a
            # power cut too, not only a killed process.
            con.execute("PRAGMA synchronous=FULL")
            con.execute("PRAGMA foreign_keys=ON")
            yield con
        finally:
            con.close()

    def add(self, record):
        """Stores `record` (validated against the contract). Returns "created", or "exists" when the
        same record is already stored; raises Conflict for a different record with the same run_id and
        InvalidRecord when it breaks the contract."""
        if not isinstance(record, dict):
            raise InvalidRecord([f"(record): expected a JSON object, got {type(record).__name__}"])
        problems = record_errors(record)
        if problems:
            raise InvalidRecord(problems)
        created_utc = _parse_created_at(record["created_at"])
        if created_utc is None:
            raise InvalidRecord([f"created_at: {record['created_at']!r} is not a real date and time"])
        try:
            canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                   allow_nan=False)
            canonical.encode("utf-8")
        except ValueError as error:  # NaN/Infinity, or text with an unpaired surrogate
            raise InvalidRecord([f"(record): not representable as standard JSON text ({error})"]) from None
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        run_id = record["run_id"].lower()
        device = record["device"]
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                row = con.execute("SELECT digest FROM records WHERE run_id = ?", (run_id,)).fetchone()
                if row is not None:
                    if row[0] == digest:
                        return "exists"
                    raise Conflict(f"run_id {run_id} is already stored with different content; "
                                   "a new run needs a new run_id")
                con.execute(
                    "INSERT INTO records (run_id, created_at, created_utc, received_at, kind, chipset, soc_model,"
                    " device, model_sha256, model_file, digest, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, record["created_at"], created_utc, _utc_text(datetime.now(timezone.utc)),
                     device["kind"], chipset_of(device), soc_identifier(device), device_label(device),
                     record["model"]["sha256"], record["model"]["file_name"], digest, canonical))
                con.executemany(
                    "INSERT INTO record_results (run_id, position, accelerator, status, median_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(run_id, i, r["accelerator"], r["status"], (r.get("latency_ms") or {}).get("median"))
                     for i, r in enumerate(record["results"])])
                con.execute("COMMIT")
                return "created"
            finally:
                if con.in_transaction:
                    con.execute("ROLLBACK")

    def get(self, run_id):
        """The stored record's JSON text, or None."""
        with self._connect() as con:
            row = con.execute("SELECT body FROM records WHERE run_id = ?", (run_id.lower(),)).fetchone()
        return row[0] if row else None

    def _where(self, chipset, accelerator, model_sha256, since, until):
        clauses, params = [], []
        if chipset:
            clauses.append("(chipset = ? COLLATE NOCASE OR soc_model = ? COLLATE NOCASE)")
            params += [chipset, chipset]
        if accelerator:
            clauses.append("run_id IN (SELECT run_id FROM record_results WHERE accelerator = ?)")
            params.append(accelerator)
        if model_sha256:
            clauses.append("model_sha256 = ?")
            params.append(model_sha256)
        if since:
            clauses.append("created_utc >= ?")
            params.append(_utc_text(since))
        if until:
            clauses.append("created_utc < ?")
            params.append(_utc_text(until))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def summaries(self, *, chipset=None, accelerator=None, model_sha256=None, since=None, until=None, limit=100):
        """Newest first. `since` is inclusive and `until` exclusive (aware datetimes)."""
        where, params = self._where(chipset, accelerator, model_sha256, since, until)
        with self._connect() as con:
            con.execute("BEGIN")  # one snapshot for both queries
            rows = con.execute(
                "SELECT run_id, created_at, received_at, kind, chipset, soc_model, device, model_sha256, model_file"
                f" FROM records{where} ORDER BY created_utc DESC, run_id LIMIT ?", (*params, limit)).fetchall()
            results = {}
            for run_id, accelerator_, status, median in con.execute(
                    "SELECT run_id, accelerator, status, median_ms FROM record_results WHERE run_id IN"
                    f" (SELECT run_id FROM records{where} ORDER BY created_utc DESC, run_id LIMIT ?)"
                    " ORDER BY run_id, position", (*params, limit)):
                results.setdefault(run_id, []).append(
                    {"accelerator": accelerator_, "status": status, "median_ms": median})
            con.execute("COMMIT")
        keys = ("run_id", "created_at", "received_at", "kind", "chipset", "soc_model", "device", "model_sha256",
                "model_file")
        return [dict(zip(keys, row), results=results.get(row[0], [])) for row in rows]

    def records(self, *, chipset=None, accelerator=None, model_sha256=None, since=None, until=None):
        """Every matching record (as dicts), oldest first, with the stored chipset name as `_chipset`."""
        where, params = self._where(chipset, accelerator, model_sha256, since, until)
        with self._connect() as con:
            rows = con.execute(f"SELECT chipset, body FROM records{where} ORDER BY created_utc, run_id",
                               params).fetchall()
        out = []
        for chipset_, body in rows:
            record = json.loads(body)
            record["_chipset"] = chipset_
            out.append(record)
        return out

    def count(self):
        with self._connect() as con:
            return con.execute("SELECT count(*) FROM records").fetchone()[0]


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
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        _utc_text(moment)
        return moment
    except (ValueError, OverflowError):
        raise HTTPException(422, [{"loc": ["query", name], "type": "value_error",
                                   "msg": f"{value!r} is neither a date (2026-11-24) nor an RFC 3339 "
                                          "date-time (2026-11-24T15:04:05Z)"}]) from None


_OPENAPI_DESCRIPTION = f"""Collects ABPN benchmark result records and reports them per chipset and accelerator.

- `POST /api/records` stores one record (the JSON Schema `result_record.schema.json`, mirrored here as
  `ResultRecord`). 201 when stored, 200 when the identical record was already stored, 409 when another
  record has the same `run_id`, 413 over {MAX_BODY_BYTES} bytes, 422 when it breaks the contract, 401 without
  the right bearer token when the server has one.
- Reads (records, report, dashboard) need no token.
"""


def create_app(store, token=None):
    """The ASGI app over `store` (a Store or a database path). With `token`, writes need it."""
    store = store if isinstance(store, Store) else Store(store)
    expected = token.encode("utf-8") if token else None
    app = FastAPI(title="abpn-tool collector", version=__version__, description=_OPENAPI_DESCRIPTION,
                  redoc_url=None)
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    bearer = HTTPBearer(auto_error=False, description="The token given to `abpn-tool serve --token`")

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
              responses={200: {"model": Stored, "description": "The identical record was already stored"},
                         401: {"model": Problem}, 409: {"model": Problem}, 413: {"model": Problem}})
    async def post_record(record: ResultRecord, request: Request, response: Response):
        # The raw JSON is what gets checked and stored, not the pydantic copy: the contract is
        # the JSON Schema, and pydantic's coercions (5 -> 5.0) must not change a stored record.
        raw = await request.json()
        try:
            outcome = await run_in_threadpool(store.add, raw)
        except Conflict as error:
            raise HTTPException(409, str(error)) from None
        except InvalidRecord as error:
            raise HTTPException(422, [_problem_detail(p) for p in error.problems]) from None
        if outcome == "exists":
            response.status_code = 200
        else:
            response.headers["Location"] = f"/api/records/{record.run_id.lower()}"
        return {"run_id": record.run_id.lower(), "status": outcome}

    @app.get("/api/records", response_model=RecordList)
    def list_records(
        chipset: Annotated[str | None, Query(max_length=200, description="Chipset name or SoC model")] = None,
        accelerator: Annotated[Literal[ACCELERATORS] | None, Query()] = None,
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

    @app.get("/api/records/{run_id}", response_model=ResultRecord, responses={404: {"model": Problem}})
    def get_record(run_id: Annotated[str, PathParam(pattern=UUID_PATTERN)]):
        body = store.get(run_id)
        if body is None:
            raise HTTPException(404, f"no record with run_id {run_id}")
        return Response(body, media_type="application/json")

    @app.get("/api/report")
    def get_report():
        """The per-chipset report as JSON (the dashboard's data, without raw samples)."""
        from abpn.collector import report

        return report.to_json(report.build_report(store.records()))

    @app.get("/", response_class=HTMLResponse)
    def dashboard():
        from abpn.collector import report

        page = report.render_html(report.build_report(store.records()), dashboard=True)
        return HTMLResponse(page, headers={"Content-Security-Policy": report.CONTENT_SECURITY_POLICY,
                                           "X-Content-Type-Options": "nosniff"})

    return app


def _problem_detail(problem):
    path, _, message = problem.partition(": ")
    location = ["body"] + ([] if path == "(record)" else path.split("/"))
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
    app = create_app(Store(db), token=token)
    print(f"Collector storing into {db}; dashboard at http://{host}:{port}/ , API docs at /docs"
          + (" (writes need the token)" if token else ""), flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, proxy_headers=False,
                timeout_keep_alive=5, limit_concurrency=100)
