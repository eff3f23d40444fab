"""The collector's SQLite store: the only code that touches the database.

`abpn-tool serve`, `push-and-bench --db` and `abpn-tool report` all go through `Store`.

What it promises:
- a record is acknowledged ("created"/"exists") only after its transaction is committed, in WAL mode
  with synchronous=FULL on every connection, so it survives a killed process and a power cut;
- `run_id` is the idempotency key: the same record again is stored once, a different record with a
  known `run_id` is refused (Conflict);
- every record matches the JSON Schema of its `schema_version` (see schemas.py) and is internally
  consistent (see checks.py), or is refused with every reason (InvalidRecord);
- the record is kept byte for byte as posted; beside it go the few numbers the report needs, so
  reading the report never parses stored records;
- values from records only ever reach SQLite as bound parameters, never SQL text or file paths.
"""
import hashlib
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from abpn.record import chipsets
from abpn.collector.checks import inconsistencies
from abpn.record.schemas import default_schemas
from abpn.errors import AbpnError

DB_SCHEMA_VERSION = 3
# Phones' clocks drift, but a record from the far future would stay "newest" for ever.
MAX_CLOCK_AHEAD = timedelta(days=1)


class Conflict(AbpnError):
    """A different record with this run_id is already stored."""


class InvalidRecord(AbpnError):
    def __init__(self, problems):
        self.problems = problems
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"result record refused: {shown}{more}")


def utc_text(moment):
    """Fixed-width UTC text, so that SQLite's text order is time order."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text):
    """An RFC 3339 date-time; Python 3.10's fromisoformat does not take the "Z" suffix."""
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)


def chipset_of(device):
    """The report's row name: one name per chipset however the phone spelled it (record/chipsets.py),
    the CPU model for hosts."""
    if device.get("kind") == "host":
        return device.get("cpu_model") or "unknown CPU"
    return chipsets.chipset_name(device.get("soc_model"), device.get("board_platform"), device.get("hardware"),
                                 reported=device.get("chipset_name")) or "unknown chipset"


def source_of(record):
    """Who measured: the record's source.kind; a record without one came from this project's own runner
    (bench-host on a host, the app over push-and-bench on a phone)."""
    source = record.get("source") or {}
    return source.get("kind") or ("bench-host" if record["device"]["kind"] == "host" else "push-and-bench")


def soc_identifier(device):
    if device.get("kind") == "host":
        return None
    return device.get("soc_model") or device.get("board_platform") or device.get("hardware")


def device_label(device):
    if device.get("kind") == "host":
        return " / ".join(v for v in (device.get("cpu_model"), device.get("os")) if v) or "host"
    return " ".join(v for v in (device.get("manufacturer"), device.get("model")) if v) or "phone"


MODEL_KEYS = ("sha256", "file_name", "size_bytes", "input_shape", "input_dtype", "output_shape", "output_dtype")


def model_description(record):
    return {key: record["model"][key] for key in MODEL_KEYS}


def result_summary(result):
    """The numbers of one accelerator's result that the report uses. An `invalid` result was timed
    under conditions that make its numbers meaningless: it keeps its status and reason, not its numbers."""
    measured = result["status"] != "invalid"
    latency = (result.get("latency_ms") or {}) if measured else {}
    check = result.get("output_check") if measured else None
    low, high = peak_memory(result.get("memory")) if measured else (None, None)
    return {"accelerator": result["accelerator"], "status": result["status"], "reason": result.get("reason"),
            "median_ms": latency.get("median"), "p90_ms": latency.get("p90"),
            "init_ms": result.get("init_ms") if measured else None,
            "check_passed": None if check is None else check["passed"],
            "psnr_db": None if check is None else check["psnr_db"],
            "memory_low_bytes": low, "memory_high_bytes": high}


def peak_memory(memory):
    """(low, high) bytes of the measuring process's peak memory: the app's and bench-host's peak RSS
    (low == high), or AI Hub's range for inference; (None, None) when not reported."""
    memory = memory or {}
    if memory.get("peak_rss_bytes") is not None:
        return memory["peak_rss_bytes"], memory["peak_rss_bytes"]
    span = memory.get("inference_peak_range_bytes")
    return (min(span), max(span)) if span else (None, None)


def run_summary(record, chipset=None):
    """One record as the report sees it (what Store.report_runs() yields for stored records)."""
    device = record["device"]
    return {"model_sha256": record["model"]["sha256"], "model_json": _canonical_json(model_description(record)),
            "kind": device["kind"], "source": source_of(record),
            "chipset": chipset or chipset_of(device), "soc_model": soc_identifier(device),
            "device": device_label(device), "results": [result_summary(r) for r in record["results"]]}


def _canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_SCHEMA_V1 = """
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
# Version 2: what the report needs sits in columns, so it is read without parsing any stored record.
_UPGRADE_TO_V2 = """
ALTER TABLE records ADD COLUMN model_json TEXT;
ALTER TABLE record_results ADD COLUMN reason TEXT;
ALTER TABLE record_results ADD COLUMN p90_ms REAL;
ALTER TABLE record_results ADD COLUMN init_ms REAL;
ALTER TABLE record_results ADD COLUMN check_passed INTEGER;
ALTER TABLE record_results ADD COLUMN psnr_db REAL
"""
# Version 3: who measured (source), the device section (the chipset's name is worked out again from it
# when record/chipsets.py learns a spelling), peak memory per result.
_UPGRADE_TO_V3 = """
ALTER TABLE records ADD COLUMN source TEXT;
ALTER TABLE records ADD COLUMN device_json TEXT;
ALTER TABLE record_results ADD COLUMN memory_low_bytes INTEGER;
ALTER TABLE record_results ADD COLUMN memory_high_bytes INTEGER;
CREATE TABLE IF NOT EXISTS collector_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)
"""
_RESULT_COLUMNS = ("accelerator", "status", "reason", "median_ms", "p90_ms", "init_ms", "check_passed", "psnr_db",
                   "memory_low_bytes", "memory_high_bytes")


def _statements(script):
    return [s for s in script.split(";") if s.strip()]


class Store:
    """Result records in one SQLite file (WAL mode). Safe to use from several threads and processes:
    each call opens its own connection and every write is one committed transaction."""

    def __init__(self, path, create=True, schemas=None):
        self.path = Path(path)
        self.schemas = schemas or default_schemas()
        self._version_lock = threading.Lock()
        self._version_connection = None
        if not create and not self.path.is_file():
            raise AbpnError(f"no collector database at {self.path}: start `abpn-tool serve --db {self.path}` "
                            "and post records to it, or check the path")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as con:
                version = con.execute("PRAGMA user_version").fetchone()[0]
                if not create and version == 0:
                    raise AbpnError(f"{self.path} is not a collector database (SQLite, but not written by "
                                    "abpn-tool); pass the file `abpn-tool serve --db` writes")
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
                    self._upgrade(con, version)
            self._rename_chipsets()
        except sqlite3.DatabaseError as error:
            raise AbpnError(f"{self.path} is not a usable collector database ({error}); "
                            "pass a new file name or the database `abpn-tool serve` wrote") from error

    def _upgrade(self, con, version):
        con.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have upgraded it while this one waited for the lock.
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version < 1:
                for statement in _statements(_SCHEMA_V1):
                    con.execute(statement)
            if version < 2:
                for statement in _statements(_UPGRADE_TO_V2):
                    con.execute(statement)
            if version < 3:
                for statement in _statements(_UPGRADE_TO_V3):
                    con.execute(statement)
                self._fill_columns(con)
            con.execute(f"PRAGMA user_version = {DB_SCHEMA_VERSION}")
            con.execute("COMMIT")
        finally:
            if con.in_transaction:
                con.execute("ROLLBACK")

    def _fill_columns(self, con):
        """Every column the report reads, worked out again from the stored records (once, on upgrade)."""
        assignments = ", ".join(f"{c} = ?" for c in _RESULT_COLUMNS)
        for run_id, body in con.execute("SELECT run_id, body FROM records").fetchall():
            record = json.loads(body)
            con.execute("UPDATE records SET model_json = ?, device_json = ?, source = ?, chipset = ?, soc_model = ?"
                        " WHERE run_id = ?",
                        (_canonical_json(model_description(record)), _canonical_json(record["device"]),
                         source_of(record), chipset_of(record["device"]), soc_identifier(record["device"]), run_id))
            for position, result in enumerate(record["results"]):
                summary = result_summary(result)
                con.execute(f"UPDATE record_results SET {assignments} WHERE run_id = ? AND position = ?",
                            (*(summary[c] for c in _RESULT_COLUMNS), run_id, position))

    def _rename_chipsets(self):
        """Names every stored chipset as record/chipsets.py does now: a spelling it learned since a
        record was stored must not leave that chipset in two rows."""
        with self._connect() as con:
            stored = con.execute("SELECT value FROM collector_meta WHERE key = 'chipsets'").fetchone()
            if stored and stored[0] == chipsets.FINGERPRINT:
                return
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                if self.path.exists() and not os.access(self.path, os.W_OK):
                    return  # a read-only copy: reported under the names it was stored with
                raise
            try:
                for run_id, device_json in con.execute("SELECT run_id, device_json FROM records").fetchall():
                    con.execute("UPDATE records SET chipset = ? WHERE run_id = ?",
                                (chipset_of(json.loads(device_json)), run_id))
                con.execute("INSERT OR REPLACE INTO collector_meta (key, value) VALUES ('chipsets', ?)",
                            (chipsets.FINGERPRINT,))
                con.execute("COMMIT")
            finally:
                if con.in_transaction:
                    con.execute("ROLLBACK")

    def _open(self, **options):
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None, **options)
        # FULL: a commit is on disk before add() returns, so an acknowledged record survives a
        # power cut too, not only a killed process. It is per connection, hence set on each.
        con.execute("PRAGMA synchronous=FULL")
        con.execute("PRAGMA foreign_keys=ON")
        return con

    @contextmanager
    def _connect(self):
        con = self._open()
        try:
            yield con
        finally:
            con.close()

    def check(self, record):
        """Every reason to refuse `record` (empty when it may be stored)."""
        problems = self.schemas.errors(record)
        if problems:
            return problems
        problems = inconsistencies(record)
        try:
            created = parse_time(record["created_at"])
            utc_text(created)
        except (ValueError, OverflowError):
            return problems + [f"created_at: {record['created_at']!r} is not a real date and time"]
        if created - datetime.now(timezone.utc) > MAX_CLOCK_AHEAD:
            problems.append(f"created_at: {record['created_at']} is more than {MAX_CLOCK_AHEAD.days} day ahead "
                            "of the collector's clock; check the device's date")
        return problems

    def add(self, record, body=None):
        """Stores `record` and returns "created", or "exists" when the same record is already stored.
        `body` is the record's JSON text as received (kept as it is); without it, the record is
        serialised. Raises Conflict for a different record with the same run_id and InvalidRecord
        with every reason it is refused."""
        problems = self.check(record)
        if problems:
            raise InvalidRecord(problems)
        try:
            canonical = _canonical_json(record).encode("utf-8")
            body = json.dumps(record, ensure_ascii=False, allow_nan=False) if body is None else body
            body.encode("utf-8")
        except ValueError as error:  # NaN/Infinity, or text with an unpaired surrogate
            raise InvalidRecord([f"(record): not representable as standard JSON text ({error})"]) from None
        # The content, not the bytes, decides "the same record": a resend may be formatted differently.
        digest = hashlib.sha256(canonical).hexdigest()
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
                    " device, model_sha256, model_file, model_json, digest, body, source, device_json)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, record["created_at"], utc_text(parse_time(record["created_at"])),
                     utc_text(datetime.now(timezone.utc)), device["kind"], chipset_of(device), soc_identifier(device),
                     device_label(device), record["model"]["sha256"], record["model"]["file_name"],
                     _canonical_json(model_description(record)), digest, body, source_of(record),
                     _canonical_json(device)))
                con.executemany(
                    f"INSERT INTO record_results (run_id, position, {', '.join(_RESULT_COLUMNS)})"
                    f" VALUES (?, ?, {', '.join('?' * len(_RESULT_COLUMNS))})",
                    [(run_id, i, *(result_summary(r)[c] for c in _RESULT_COLUMNS))
                     for i, r in enumerate(record["results"])])
                con.execute("COMMIT")
                return "created"
            finally:
                if con.in_transaction:
                    con.execute("ROLLBACK")

    def get(self, run_id):
        """The stored record's JSON text as it was posted, or None."""
        with self._connect() as con:
            row = con.execute("SELECT body FROM records WHERE run_id = ?", (run_id.lower(),)).fetchone()
        return row[0] if row else None

    def data_version(self):
        """Changes whenever a record is added (by any process); records are never changed or removed,
        so the newest rowid is enough, and costs one index lookup. Asked on every read of the report,
        so on one kept connection: opening one costs more than the question."""
        with self._version_lock:
            if self._version_connection is None:
                self._version_connection = self._open(check_same_thread=False)
            return self._version_connection.execute("SELECT max(rowid) FROM records").fetchone()[0] or 0

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
            params.append(utc_text(since))
        if until:
            clauses.append("created_utc < ?")
            params.append(utc_text(until))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def summaries(self, *, chipset=None, accelerator=None, model_sha256=None, since=None, until=None, limit=100):
        """Newest first. `since` is inclusive and `until` exclusive (aware datetimes)."""
        where, params = self._where(chipset, accelerator, model_sha256, since, until)
        with self._connect() as con:
            con.execute("BEGIN")  # one snapshot for both queries
            rows = con.execute(
                "SELECT run_id, created_at, received_at, kind, source, chipset, soc_model, device, model_sha256,"
                f" model_file FROM records{where} ORDER BY created_utc DESC, run_id LIMIT ?",
                (*params, limit)).fetchall()
            results = {}
            for run_id, accelerator_, status, median in con.execute(
                    "SELECT run_id, accelerator, status, median_ms FROM record_results WHERE run_id IN"
                    f" (SELECT run_id FROM records{where} ORDER BY created_utc DESC, run_id LIMIT ?)"
                    " ORDER BY run_id, position", (*params, limit)):
                results.setdefault(run_id, []).append(
                    {"accelerator": accelerator_, "status": status, "median_ms": median})
            con.execute("COMMIT")
        keys = ("run_id", "created_at", "received_at", "kind", "source", "chipset", "soc_model", "device",
                "model_sha256", "model_file")
        return [dict(zip(keys, row), results=results.get(row[0], [])) for row in rows]

    def report_runs(self, after=0):
        """(runs, version): the records added after data version `after` (all by default) as
        run_summary() makes them, oldest first, and the data_version they bring the report to. Reads the
        few columns the report needs, never a stored record."""
        with self._connect() as con:
            con.execute("BEGIN")  # one snapshot for both queries
            runs, results_of = [], {}
            for run_id, *values in con.execute(
                    "SELECT run_id, model_sha256, model_json, kind, source, chipset, soc_model, device FROM records"
                    " WHERE rowid > ? ORDER BY rowid", (after,)):
                run = dict(zip(("model_sha256", "model_json", "kind", "source", "chipset", "soc_model", "device"),
                               values), results=[])
                runs.append(run)
                results_of[run_id] = run["results"]
            for run_id, *values in con.execute(
                    f"SELECT run_id, {', '.join(_RESULT_COLUMNS)} FROM record_results"
                    " WHERE run_id IN (SELECT run_id FROM records WHERE rowid > ?) ORDER BY run_id, position",
                    (after,)):
                summary = dict(zip(_RESULT_COLUMNS, values))
                if summary["check_passed"] is not None:
                    summary["check_passed"] = bool(summary["check_passed"])
                results_of[run_id].append(summary)
            version = con.execute("SELECT max(rowid) FROM records").fetchone()[0] or 0
            con.execute("COMMIT")
        return runs, version

    def close(self):
        """Closes the connection kept for data_version(); every other one closes after its call."""
        with self._version_lock:
            if self._version_connection is not None:
                self._version_connection.close()
                self._version_connection = None

    def count(self):
        with self._connect() as con:
            return con.execute("SELECT count(*) FROM records").fetchone()[0]
