"""A real collector on a loopback port for tests: uvicorn in a thread, or `abpn-tool serve` as a process."""
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvicorn

from abpn.collector.app import create_app
from abpn.collector.connections import server_config

STARTUP_TIMEOUT_S = 30


@contextlib.contextmanager
def live_server(db, token=None, **timeouts):
    """Yields the base URL of a collector on 127.0.0.1 (port chosen by the OS) storing into `db` (a path
    or a Store), configured as `abpn-tool serve` configures it; `timeouts` overrides its request deadlines."""
    config = server_config(create_app(db, token=token), "127.0.0.1", 0, log_level="warning", lifespan="off",
                           **timeouts)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the collector did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_serve_process(db, port, log_path, *extra):
    """`abpn-tool serve` as a child process (its log in `log_path`); returns it once /openapi.json answers."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "abpn", "serve", "--db", str(db), "--port", str(port),
                                    *extra], stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"abpn-tool serve exited: {open(log_path, errors='replace').read()}")
        try:
            if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("abpn-tool serve did not answer in time")


V1_RECORD = Path(__file__).parent / "fixtures" / "result_record_v1.json"


def v1_record(results=None):
    """A schema_version 1 record as phones running the first app post it, whatever version the current
    record samples are at: a fresh run_id, and `results` (v1-shaped) if given."""
    record = json.loads(V1_RECORD.read_text())
    record["run_id"] = str(uuid.uuid4())
    if results is not None:
        record["results"] = results
    return record


def v1_result(accelerator):
    """The fixture's first (ok, v1) result, as if run on `accelerator`."""
    return dict(json.loads(V1_RECORD.read_text())["results"][0], accelerator=accelerator)
