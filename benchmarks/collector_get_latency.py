"""GET latency of the collector's unauthenticated pages against the number of stored records.

Issue #13: GET / and GET /api/report parsed every stored record and redrew the charts on each request,
so anyone could make the collector's cost grow with its database. Now the report is read from a few
columns per result (no stored record is parsed) and rebuilt only when a record was added since.

One SQLite file grows to 20, 2,000 and 20,000 records and is copied at each size; a collector per copy
(uvicorn on 127.0.0.1, configured as `abpn-tool serve`) runs side by side with the others. At each size:
- first: the first request after the collector started (the whole report is built, the charts drawn);
- repeat: the median of 100 further requests (what every other reader gets), interleaved across sizes;
- after a write: the first request after one more record was posted (only its rows are worked out
  again; the dashboard redraws its charts);
- rebuild before/after, in process: the report built the old way (parse every stored record) and the
  new way (Store.report_runs, columns only), without the charts.
Ratios are against the same measurement at 20 records, in this one run. Target: repeat GETs at
20,000 records within 3x of the time at 20.

Usage: PYTHONPATH=python python benchmarks/collector_get_latency.py > benchmarks/collector_get_latency.txt
"""
import contextlib
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from abpn.record.build import latency_stats
from abpn.collector import report
from abpn.collector.app import create_app, server_config
from abpn.collector.store import Store

SIZES = tuple(int(n) for n in os.environ.get("SIZES", "20,2000,20000").split(","))
REPEATS = 100
SOCS = [("SM8350", "lahaina"), ("SM8450", "taro"), ("SM8550", "kalama"), ("SM8650", "pineapple"),
        ("SM7450", "parrot"), ("MT6983", "mt6983"), ("s5e9925", "s5e9925"), ("GS201", "gs201"),
        ("SM6375", "holi"), ("MT6877", "mt6877"), ("SM8250", "kona"), ("SM7325", "taro")]
MEDIANS_MS = {"cpu": 800.0, "gpu": 200.0, "nnapi": 60.0, "qnn_htp": 25.0}
MODEL_SHAS = ["a1" * 32, "b2" * 32]


def _result(accelerator, rng, runs=20):
    samples = [round(float(v), 3) for v in MEDIANS_MS[accelerator] * (1 + 0.03 * rng.standard_normal(runs)).clip(0.8, 1.5)]
    return {"accelerator": accelerator, "options": {"threads": 4}, "status": "ok", "reason": None, "init_ms": 35.0,
            "first_inference_ms": 1.5 * samples[0], "warmup_runs": 3, "runs": runs,
            "latency_ms": latency_stats(samples), "samples_ms": samples, "delegated_nodes": 12, "total_nodes": 12,
            "output_check": {"psnr_db": 48.0, "max_abs_diff": 1.0, "threshold_db": 30.0, "passed": True}}


def _templates():
    """A few hundred valid, consistent records; the fill copies them with new run_ids."""
    rng = np.random.default_rng(0)
    templates = []
    for n in range(240):
        soc, platform_ = SOCS[n % len(SOCS)]
        results = [_result(a, rng) for a in MEDIANS_MS]
        results[3] = {"accelerator": "qnn_htp", "options": {}, "status": "unsupported",
                      "reason": "no such delegate on this phone"} if n % 3 else results[3]
        templates.append({
            "schema_version": 1, "run_id": "", "created_at": f"2026-11-{1 + n % 28:02d}T12:{n % 60:02d}:00Z",
            "device": {"kind": "phone", "manufacturer": "Vendor", "model": f"Phone {n % 30}", "soc_manufacturer": "X",
                       "soc_model": soc, "board_platform": platform_, "hardware": "hw", "android_release": "14",
                       "sdk_int": 34, "abi": "arm64-v8a"},
            "model": {"file_name": "abpn_x3_int8.tflite", "sha256": MODEL_SHAS[n % 2], "size_bytes": 61_234,
                      "input_shape": [1, 360, 640, 3], "input_dtype": "uint8", "output_shape": [1, 1080, 1920, 3],
                      "output_dtype": "uint8"},
            "app": {"name": "abpn-android", "version": "0.1.0", "runtime": "litert", "runtime_version": "1.2.0"},
            "results": results, "conditions": {}})
    return templates


class _Filler(Store):
    """Adds through Store.add (every check) but on one connection without fsync, to fill 20,000 records
    in a minute rather than fifteen. The collector being measured opens the file with a plain Store."""

    def __init__(self, path):
        import sqlite3

        Store(path)  # creates the file as the collector does
        self._connection = sqlite3.connect(path, isolation_level=None)
        self._connection.execute("PRAGMA synchronous=OFF")
        super().__init__(path)

    @contextmanager
    def _connect(self):
        yield self._connection


@contextmanager
def _collector(db):
    config = server_config(create_app(db), "127.0.0.1", 0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()


def _timed(client, path):
    begin = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - begin
    response.raise_for_status()
    return elapsed * 1000


def _old_rebuild_ms(store):
    """The report as the previous release built it on each request: parse every stored record."""
    import sqlite3

    begin = time.perf_counter()
    with sqlite3.connect(store.path) as con:
        bodies = [row[0] for row in con.execute("SELECT body FROM records ORDER BY created_utc, run_id")]
    report.build_report(json.loads(body) for body in bodies)
    return (time.perf_counter() - begin) * 1000


def _new_rebuild_ms(store):
    begin = time.perf_counter()
    report.store_report(store)
    return (time.perf_counter() - begin) * 1000


def _fill(db, templates, sizes):
    """One file grown through the sizes, copied at each: the collectors then run side by side."""
    import shutil

    filler, stored, copies = _Filler(db), 0, {}
    for size in sizes:
        begin = time.perf_counter()
        while stored < size:
            record = copy.deepcopy(templates[stored % len(templates)])
            record["run_id"] = str(uuid.uuid4())
            filler.add(record)
            stored += 1
        filler._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        copies[size] = db.with_name(f"results-{size}.db")
        shutil.copyfile(db, copies[size])
        print(f"# {size} records stored ({time.perf_counter() - begin:.0f} s to fill)", file=sys.stderr, flush=True)
    return copies


def main():
    templates = _templates()
    # Import and warm matplotlib once, so that no size is charged for it.
    report.render_html(report.build_report([dict(templates[0], run_id=str(uuid.uuid4()))]))
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        copies = _fill(Path(folder) / "results.db", templates, SIZES)
        clients = {size: stack.enter_context(httpx.Client(base_url=stack.enter_context(_collector(db)), timeout=600))
                   for size, db in copies.items()}
        measured = {size: {} for size in SIZES}
        for name, path in (("report", "/api/report"), ("dashboard", "/")):
            for size in SIZES:
                measured[size][f"{name}_first"] = _timed(clients[size], path)
            # Interleaved rounds: the machine's other load falls on every size alike.
            times = {size: [] for size in SIZES}
            for _ in range(REPEATS):
                for size in SIZES:
                    times[size].append(_timed(clients[size], path))
            for size in SIZES:
                measured[size][f"{name}_repeat"] = statistics.median(times[size])
        # One more record, posted while the collector runs: the next GET works out only what it changed.
        for name, path in (("report", "/api/report"), ("dashboard", "/")):
            for size in SIZES:
                record = copy.deepcopy(templates[size % len(templates)])
                record["run_id"] = str(uuid.uuid4())
                assert clients[size].post("/api/records", json=record).status_code == 201
                measured[size][f"{name}_after_write"] = _timed(clients[size], path)
        for size, db in copies.items():
            plain = Store(db)
            measured[size]["old_rebuild"] = _old_rebuild_ms(plain)
            measured[size]["new_rebuild"] = _new_rebuild_ms(plain)

    print(f"collector GET latency, ms (repeats: median of {REPEATS}, interleaved across sizes); python "
          f"{platform.python_version()}, {os.cpu_count()} cores shared with other jobs (load average "
          f"{os.getloadavg()[0]:.1f} at the end)")
    print("# " + __doc__.split("Usage:")[0].strip().replace("\n", "\n# "))
    print()
    base = measured[SIZES[0]]
    columns = [("report_first", "GET /api/report first"), ("report_repeat", "GET /api/report repeat"),
               ("report_after_write", "GET /api/report after a write"),
               ("dashboard_first", "GET / first"), ("dashboard_repeat", "GET / repeat"),
               ("dashboard_after_write", "GET / after a write"),
               ("old_rebuild", "rebuild, old way"), ("new_rebuild", "rebuild, columns")]
    from abpn.core.table import format_table

    rows = [[label] + [f"{measured[size][key]:.1f} ({measured[size][key] / base[key]:.2f}x)" for size in SIZES]
            for key, label in columns]
    print(format_table(["ms (ratio to 20 records)"] + [f"{size:,} records" for size in SIZES], rows,
                       align="<" + ">" * len(SIZES)))
    largest = measured[SIZES[-1]]
    worst = max(largest[k] / base[k] for k in ("report_repeat", "dashboard_repeat"))
    after_write = largest["report_after_write"] / base["report_after_write"]
    print()
    print(f"repeat GETs at {SIZES[-1]:,} records: {worst:.2f}x the time at {SIZES[0]} (target: within 3x) -> "
          f"{'met' if worst <= 3 else 'NOT met'}")
    print(f"GET /api/report after a write at {SIZES[-1]:,} records: {after_write:.2f}x the time at {SIZES[0]}")
    print(f"rebuild at {SIZES[-1]:,} records: {largest['old_rebuild'] / largest['new_rebuild']:.1f}x faster "
          "from columns than from parsed records")


if __name__ == "__main__":
    main()
