"""The collector as an attacker sees it (issue 18, points 7-13): each point on a real uvicorn over
loopback sockets, and the client (CollectorSink) against real HTTP servers on loopback."""
import contextlib
import http.server
import json
import socket
import threading
import time
import uuid

import httpx
import pytest

from abpn.collector import app as collector, body as body_parser
from abpn.collector.sinks import CollectorSink
from abpn.errors import AbpnError
from collector_helpers import free_port, live_server, start_serve_process
from record_samples import phone_record

TOKEN = "attack-test-token-0123456789"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def url(tmp_path):
    with live_server(tmp_path / "results.db") as base:
        yield base


@pytest.fixture
def token_url(tmp_path):
    with live_server(tmp_path / "results.db", token=TOKEN) as base:
        yield base


def _post(url, body, headers=JSON, **options):
    return httpx.post(f"{url}/api/records", content=body, headers=headers, timeout=30, **options)


def _count(url):
    return httpx.get(f"{url}/api/records", timeout=30).json()["count"]


# ----------------------------------------------------------------------------------------------- 7: names


def test_control_characters_in_names_are_refused_with_the_place(url):
    record = phone_record()
    record["device"]["model"] = "Pixel 8\n| forged | row |"
    response = _post(url, json.dumps(record))
    assert response.status_code == 422
    assert any(d["loc"] == ["body", "device", "model"] for d in response.json()["detail"]), response.text
    assert _count(url) == 0


# ----------------------------------------------------------------------------------------------- 8: 500s


def test_deep_nesting_gets_a_422_that_says_why(url):
    record = phone_record()
    record["results"][0]["options"]["extra"] = "DEEP"
    body = json.dumps(record).replace('"DEEP"', "[" * 300 + "]" * 300)
    response = _post(url, body)
    assert response.status_code == 422, response.text
    assert "nest more than 32 deep" in response.json()["detail"][0]["msg"]


def test_an_integer_beyond_pythons_digit_limit_gets_a_422_that_says_why(url):
    record = phone_record()
    body = json.dumps(record).replace('"cooldown_s": 10', '"cooldown_s": ' + "9" * 5000)
    response = _post(url, body)
    assert response.status_code == 422, response.text
    assert "an integer of 5000 digits" in response.json()["detail"][0]["msg"]


def test_a_number_beyond_a_double_gets_a_422(url):
    body = json.dumps(phone_record()).replace('"cooldown_s": 10', '"cooldown_s": 1e999')
    response = _post(url, body)
    assert response.status_code == 422 and "beyond what a double holds" in response.text


# ----------------------------------------------------------------------------------------------- 9: parsing


def test_a_get_completes_while_a_large_post_is_being_parsed(url, monkeypatch):
    """The parse is held until the GET has its answer: on the event loop, the GET could never get one."""
    parsing, get_done = threading.Event(), threading.Event()
    real_parse = collector.parse_body

    def held_parse(body):
        parsing.set()
        get_done.wait(timeout=30)
        return real_parse(body)

    monkeypatch.setattr(collector, "parse_body", held_parse)  # the name the POST handler calls
    keys = ", ".join(f'"k{i}": {i}' for i in [*range(20_000), 19_999])  # 20,000 keys, the last one twice
    body = json.dumps(phone_record()).replace('"threads": 4', keys)
    posted = {}
    poster = threading.Thread(target=lambda: posted.update(response=_post(url, body)))
    poster.start()
    assert parsing.wait(timeout=30)
    try:
        got = httpx.get(f"{url}/api/records?limit=1", timeout=10)
    finally:
        get_done.set()
        poster.join(timeout=60)
    assert got.status_code == 200
    response = posted["response"]
    assert response.status_code == 422 and "the key 'k19999' appears twice" in response.text


def test_duplicate_keys_are_found_in_any_position():
    for pairs in ([("a", 1), ("b", 2), ("a", 3)], [("x", 1), ("x", 2)]):
        with pytest.raises(body_parser._UnreadableBody, match="appears twice"):
            body_parser._no_duplicate_keys(pairs)
    assert body_parser._no_duplicate_keys([("a", 1), ("b", 2)]) == {"a": 1, "b": 2}


# ----------------------------------------------------------------------------------------------- 10: half-open


@contextlib.contextmanager
def _connections(base, count, opening, source="127.0.0.1"):
    """`count` sockets to the collector at `base`, from address `source`, each after sending `opening`;
    closed on leaving."""
    host, port = base.removeprefix("http://").split(":")
    sockets = []
    try:
        for _ in range(count):
            sockets.append(socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0)))
            sockets[-1].sendall(opening)
        time.sleep(0.5)  # settling, not a measurement: every socket accepted and its bytes read
        yield sockets
    finally:
        for connection in sockets:
            connection.close()


def _get_from(address, url):
    with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10) as client:
        return client.get(url)


def test_half_open_connections_cannot_shut_ordinary_clients_out(tmp_path):
    limit = 5
    with live_server(tmp_path / "results.db", limit_concurrency=limit) as base:
        # The next connection fills the server; each attacker sends a request line, and then nothing.
        with _connections(base, limit - 1, b"GET / HTTP/1.1\r\n") as attackers:
            for _ in range(3):
                assert httpx.get(f"{base}/api/records", timeout=10).status_code == 200
            # The ones that waited longest were told why and closed.
            answers = []
            for attacker in attackers:
                attacker.settimeout(0.5)
                try:
                    answers.append(attacker.recv(65536))
                except TimeoutError:
                    answers.append(None)
            told = [a for a in answers if a is not None]
            assert told and all(a.startswith(b"HTTP/1.1 503 ") and b"connection limit" in a for a in told)


def test_one_address_cannot_take_every_connection(tmp_path):
    """Loopback is a whole /8 on Linux: 127.0.0.2 and 127.0.0.3 are two clients to the server."""
    per_client = 3
    with live_server(tmp_path / "results.db", connections_per_client=per_client) as base:
        host = base.removeprefix("http://")
        # Whole headers, then a body that never comes: admitted and held.
        held_post = (f"POST /api/records HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     "Content-Length: 100\r\n\r\n{}").encode()
        with _connections(base, per_client, held_post, source="127.0.0.2") as holders:
            refused = _get_from("127.0.0.2", f"{base}/api/records")
            assert refused.status_code == 429
            assert refused.headers["connection"] == "close" and refused.headers["retry-after"]
            assert f"127.0.0.2 already holds {per_client} open connections" in refused.json()["detail"]
            assert _get_from("127.0.0.3", f"{base}/api/records").status_code == 200
            holders.pop().close()  # one slot of 127.0.0.2's back
            time.sleep(0.5)
            assert _get_from("127.0.0.2", f"{base}/api/records").status_code == 200


def test_serve_takes_the_limit_per_address(tmp_path):
    port = free_port()
    process = start_serve_process(tmp_path / "results.db", port, tmp_path / "serve.log", "--connections-per-client", "1")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as holder:
            holder.sendall(b"GET /api/records HTTP/1.1\r\n")  # a request under way: this address's one connection
            time.sleep(0.5)  # settling, not a measurement
            refused = httpx.get(f"http://127.0.0.1:{port}/api/records", timeout=10)
        assert refused.status_code == 429 and "its limit per client address" in refused.json()["detail"]
    finally:
        process.terminate()
        process.wait(timeout=30)


# ----------------------------------------------------------------------------------------------- 11: web pages


def test_a_web_page_cannot_write_records(url):
    record = json.dumps(phone_record())
    plain = _post(url, record, headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and "application/json" in plain.json()["detail"]
    form = _post(url, record, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    foreign = _post(url, record, headers={**JSON, "Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "evil.example" in foreign.json()["detail"]
    null = _post(url, record, headers={**JSON, "Origin": "null"})
    assert null.status_code == 403
    assert _count(url) == 0
    own = _post(url, record, headers={**JSON, "Origin": url})  # the dashboard's own origin
    assert own.status_code == 201


def test_json_with_a_charset_is_json(url):
    response = _post(url, json.dumps(phone_record()), headers={"Content-Type": "application/json; charset=UTF-8"})
    assert response.status_code == 201


def test_requests_under_another_host_name_are_refused(url):
    port = url.rsplit(":", 1)[1]
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{int(port) + 1}", "127.0.0.2:" + port):
        for method, path in (("GET", "/"), ("GET", "/api/report"), ("POST", "/api/records")):
            response = httpx.request(method, url + path, headers={**JSON, "Host": host}, content=b"{}", timeout=30)
            assert response.status_code == 421, (host, method, path)
            assert f"http://127.0.0.1:{port}" in response.json()["detail"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"LOCALHOST.:{port}"):
        assert httpx.get(url + "/api/report", headers={"Host": host}, timeout=30).status_code == 200, host


# ----------------------------------------------------------------------------------------------- 13: access


def test_write_access_is_checked_without_storing_anything(token_url, url):
    check = f"{token_url}/api/write-access"
    assert httpx.post(check, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).status_code == 204
    assert httpx.post(check, headers={"Authorization": "Bearer wrong-token-0123456789"}, timeout=30).status_code == 401
    assert httpx.post(check, timeout=30).status_code == 401
    assert httpx.post(f"{url}/api/write-access", timeout=30).status_code == 204  # no token configured
    assert httpx.post(f"{url}/api/write-access", headers={"Origin": "http://evil.example"},
                      timeout=30).status_code == 403
    assert _count(token_url) == 0


def test_the_client_finds_a_wrong_token_before_any_phone(token_url):
    CollectorSink(token_url, TOKEN).check()
    with pytest.raises(AbpnError, match="refuses writes with this token .401.*No phone was touched"):
        CollectorSink(token_url, "wrong-token-0123456789").check()
    with pytest.raises(AbpnError, match="refuses writes with this token"):
        CollectorSink(token_url).check()


# ----------------------------------------------------------------------------------------------- 12: redirects


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every request with the class's `answer` (status, headers, body) and keeps what it got."""

    answer = (404, {}, b"")
    received = None

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        type(self).received.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
        status, headers, body = self.answer
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """Starts plain HTTP servers on loopback with a given answer; yields a function returning
    (base URL, list of requests received)."""
    servers = []

    def start(status, headers=None, body=b""):
        handler = type("Handler", (_Recorder,), {"answer": (status, headers or {}, body), "received": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler.received

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_client_never_follows_a_redirect_on_a_write(tmp_path, http_server, status):
    with live_server(tmp_path / "results.db", token=TOKEN) as real:
        elsewhere, elsewhere_got = http_server(200, {"Content-Type": "application/json"},
                                               b'{"run_id": "x", "status": "exists"}')
        redirect, _ = http_server(status, {"Location": f"{elsewhere}/api/records"})
        sink = CollectorSink(redirect, TOKEN)
        with pytest.raises(AbpnError, match=f"answered {status}, a redirect to .*not posted there"):
            sink.store(phone_record())
        with pytest.raises(AbpnError, match="redirects to .*No phone was touched"):
            sink.check()
        assert elsewhere_got == []  # neither the record nor the token went to the redirect's host
        assert _count(real) == 0


@pytest.mark.parametrize("status, body, message", [
    (202, b'{"run_id": "RUN", "status": "created"}', "answered 202"),
    (204, b"", "answered 204"),
    (200, b"<html>welcome</html>", "without saying what it stored"),
    (200, b'{"run_id": "RUN", "status": "created"}', "not that run"),  # 200 means exists
    (201, b'{"run_id": "00000000-0000-4000-8000-000000000000", "status": "created"}', "not that run"),
])
def test_the_client_counts_a_record_stored_only_when_the_collector_says_so(http_server, status, body, message):
    record = phone_record()
    base, _ = http_server(status, {"Content-Type": "application/json"}, body.replace(b"RUN", record["run_id"].encode()))
    with pytest.raises(AbpnError, match=message):
        CollectorSink(base).store(record)


def test_the_client_stores_through_the_real_collector(token_url):
    sink = CollectorSink(token_url, TOKEN)
    record = phone_record()
    assert sink.store(record) == "created"
    assert sink.store(record) == "exists"
    record["run_id"] = str(uuid.uuid4()).upper()
    assert sink.store(record) == "created"


@pytest.mark.parametrize("host, url", [
    ("127.0.0.1", "http://127.0.0.1:8765/"), ("::1", "http://[::1]:8765/"), ("localhost", "http://localhost:8765/"),
    ("0.0.0.0", "http://127.0.0.1:8765/ (phones: http://<this computer's IP address>:8765)"),
    ("::", "http://127.0.0.1:8765/ (phones: http://<this computer's IP address>:8765)"),
])
def test_serve_prints_a_dashboard_address_that_passes_the_host_check(host, url):
    assert collector.dashboard_url(host, 8765) == url
