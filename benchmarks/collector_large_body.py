"""A GET while the collector parses a large POST body.

Issue 18, point 9: duplicate keys were found with list.count per key (quadratic), on the event loop:
a body with one 20,000-key object took 4.3 s to parse, and a GET sent meanwhile waited 3.8 s.

Bounded loopback test: a collector configured as `abpn-tool serve` configures it (uvicorn on
127.0.0.1). A client posts a record whose `options` hold KEYS distinct keys and then its last key
once more (under 1 MiB; refused for the repeated key, after parsing); GET_DELAY_S after the POST
started, a second client sends GET /api/records?limit=1. Printed: both latencies, median of REPEATS.

Usage: PYTHONPATH=python python benchmarks/collector_large_body.py > benchmarks/collector_large_body.txt
"""
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from collector_helpers import live_server  # noqa: E402
from record_samples import phone_record  # noqa: E402

KEYS = int(os.environ.get("KEYS", "20000"))
REPEATS = int(os.environ.get("REPEATS", "3"))
GET_DELAY_S = 0.1


def body():
    record = phone_record()
    record["results"][0]["options"] = {"MARK": 0}
    keys = ", ".join(f'"k{i}": {i}' for i in [*range(KEYS), KEYS - 1])  # the last key twice
    return json.dumps(record).replace('{"MARK": 0}', "{" + keys + "}").encode()


def main():
    payload = body()
    posts, gets, statuses = [], [], set()
    with tempfile.TemporaryDirectory() as folder, live_server(Path(folder) / "results.db") as url:
        for _ in range(REPEATS):
            result = {}

            def post():
                began = time.monotonic()
                with httpx.Client(timeout=60) as client:
                    result["status"] = client.post(f"{url}/api/records", content=payload,
                                                   headers={"Content-Type": "application/json"}).status_code
                result["post_s"] = time.monotonic() - began

            thread = threading.Thread(target=post)
            thread.start()
            time.sleep(GET_DELAY_S)
            began = time.monotonic()
            with httpx.Client(timeout=60) as client:
                client.get(f"{url}/api/records?limit=1").raise_for_status()
            gets.append(time.monotonic() - began)
            thread.join()
            posts.append(result["post_s"])
            statuses.add(result["status"])
    print(f"collector: a {len(payload):,}-byte POST with a {KEYS:,}-key object, and a GET {GET_DELAY_S} s after it; "
          f"median of {REPEATS}; python {platform.python_version()}, {os.cpu_count()} cores shared with other jobs "
          f"(load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"POST answered {sorted(statuses)} in {statistics.median(posts):.3f} s")
    print(f"GET answered in {statistics.median(gets):.3f} s")


if __name__ == "__main__":
    main()
