"""Ordinary clients of the collector while one attacking address holds many connections.

Issue 18, point 10: a hundred sockets that each send one request line (and never the rest of the
headers) filled uvicorn's `limit_concurrency` (100, which counts open connections), so every other
client got 503 until the header deadline (10 s) closed them, and the attacker could simply reconnect.
A socket that sends whole headers and then trickles its body is not waiting for headers, so making
room does not close it; the limit per client address is what keeps such an attacker to its share.

Bounded loopback test: a collector configured as `abpn-tool serve` configures it (uvicorn on
127.0.0.1, default deadlines) with one stored record. ATTACKERS sockets from 127.0.0.1 each send
either a request line and nothing more (ATTACK=half-open) or a POST's headers and 2 of its 100 body
bytes (ATTACK=slow-body); whenever the server closes one, the attacker opens it again at once.
Meanwhile one ordinary client, from 127.0.0.2 (loopback is a /8 on Linux), sends GET
/api/records?limit=1 on a fresh connection, one after the other, for DURATION_S seconds. Printed: how
many of its requests got 200, 503, or no answer (connection error/timeout), and its latency.
PER_CLIENT: the collector's `--connections-per-client` (100 turns the limit off).

Usage: PYTHONPATH=python python benchmarks/collector_half_open.py >> benchmarks/collector_half_open.txt
"""
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from collector_helpers import live_server  # noqa: E402
from record_samples import phone_record  # noqa: E402

from abpn.collector.store import Store  # noqa: E402

ATTACKERS = int(os.environ.get("ATTACKERS", "100"))
ATTACK = os.environ.get("ATTACK", "half-open")
PER_CLIENT = int(os.environ.get("PER_CLIENT", "20"))
DURATION_S = float(os.environ.get("DURATION_S", "15"))
CLIENT_TIMEOUT_S = 5.0
CLIENT_ADDRESS = "127.0.0.2"


def opening(host, port):
    if ATTACK == "half-open":
        return b"GET / HTTP/1.1\r\n"
    return (f"POST /api/records HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n{}").encode()


def attacker(address, stop, opened):
    """Keeps one connection open after its opening bytes; reconnects when closed."""
    while not stop.is_set():
        try:
            with socket.create_connection(address, timeout=1) as connection:
                connection.sendall(opening(*address))
                opened[0] += 1
                while not stop.is_set():
                    try:
                        if connection.recv(4096) == b"":
                            break  # closed by the server: come back at once
                    except socket.timeout:
                        continue
        except OSError:
            time.sleep(0.01)


def main():
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "results.db"
        Store(db).add(phone_record())
        with live_server(db, connections_per_client=PER_CLIENT) as url:
            host, port = url.removeprefix("http://").split(":")
            stop, opened = threading.Event(), [0]
            threads = [threading.Thread(target=attacker, args=((host, int(port)), stop, opened), daemon=True)
                       for _ in range(ATTACKERS)]
            for thread in threads:
                thread.start()
            time.sleep(1.0)  # every attacker connected and sent its line
            outcomes, latencies, first_ok = Counter(), [], None
            start = time.monotonic()
            while time.monotonic() - start < DURATION_S:
                began = time.monotonic()
                try:
                    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
                    with httpx.Client(transport=transport, timeout=CLIENT_TIMEOUT_S) as client:  # a fresh connection each time
                        status = client.get(f"{url}/api/records?limit=1").status_code
                    outcomes[str(status)] += 1
                    if status == 200:
                        latencies.append((time.monotonic() - began) * 1000)
                        first_ok = first_ok if first_ok is not None else began - start
                except httpx.TransportError as error:
                    outcomes[type(error).__name__] += 1
                time.sleep(0.05)
            stop.set()
            for thread in threads:
                thread.join(timeout=5)
    total = sum(outcomes.values())
    print(f"collector under {ATTACKERS} {ATTACK} connections from one address for {DURATION_S:g} s, "
          f"{PER_CLIENT} connections per client address; python "
          f"{platform.python_version()}, {os.cpu_count()} cores shared with other jobs "
          f"(load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"attacker connections opened (reconnects included): {opened[0]}")
    print(f"ordinary client requests: {total}; " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
    print(f"share answered 200: {outcomes['200'] / max(total, 1):.0%}")
    if latencies:
        print(f"latency of the 200s, ms: median {statistics.median(latencies):.1f}, max {max(latencies):.1f}")
        print(f"first 200 after {first_ok:.2f} s")


if __name__ == "__main__":
    main()
