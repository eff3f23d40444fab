"""The collector: SQLite store, HTTP API (real uvicorn on loopback), tokens, limits, durability, fuzzing."""
import copy
import json
import signal
import sqlite3
import threading
import uuid
from contextlib import closing

import httpx
import pytest
import schemathesis
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from abpn.cli import main
from abpn.collector import app as collector
from abpn.collector.app import MAX_BODY_BYTES
from abpn.collector.store import Conflict, InvalidRecord, Store
from abpn.errors import AbpnError
from collector_helpers import free_port, live_server, start_serve_process, v1_record, v1_result
from record_samples import MODEL_SHA, OTHER_MODEL_SHA, host_record, ok_result, phone_record

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "results.db")


@pytest.fixture
def server(tmp_path):
    with live_server(tmp_path / "results.db") as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client


@pytest.fixture
def token_server(tmp_path):
    with live_server(tmp_path / "results.db", token=TOKEN) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client


# ----------------------------------------------------------------------------------------------- chipsets


def test_report_rows_group_phones_by_the_chip_they_report():
    from abpn.collector import report

    records = [
        phone_record("SM8350"), phone_record("sm8350", model="Other"),  # one chip, however the case
        phone_record("MT6983Z/CZA", board_platform="mt6983"),  # a part number with a suffix
        phone_record(None, board_platform="kona"),  # before API 31: only the platform family is known
        phone_record("SM9999", board_platform="pineapple"),  # an unknown exact part beats a known family
        phone_record(None, board_platform="mystery", model="Mystery"),
    ]
    rows = {r["chipset"]: r for r in report.build_report(records)["sections"][0]["rows"]}
    assert set(rows) == {"Snapdragon 888", "Dimensity 9000", "Snapdragon 865 / 865+ / 870", "SM9999", "mystery"}
    assert (rows["Snapdragon 888"]["runs"], rows["Snapdragon 888"]["devices"]) == (2, 2)


# ----------------------------------------------------------------------------------------------- store


def test_every_accelerator_the_schema_allows_is_stored_filtered_and_reported(server):
    from abpn.record.build import schema_version
    from abpn.record.schemas import default_schemas

    # One sample record per version this collector knows: the frozen v1 and v2 and the current one
    # (a v2 record is a current one without the fields v3 added).
    samples = {1: (v1_record, v1_result),
               2: (lambda results: {**phone_record(results=results), "schema_version": 2}, lambda a: ok_result(a, 100.0)),
               schema_version(): (lambda results: phone_record(results=results), lambda a: ok_result(a, 100.0))}
    assert set(samples) == set(default_schemas().versions)
    allowed = set()
    for version, (make_record, make_result) in samples.items():
        for accelerator in default_schemas().schema(version)["$defs"]["result"]["properties"]["accelerator"]["enum"]:
            allowed.add(accelerator)
            record = make_record([make_result(accelerator)])
            assert server.post("/api/records", json=record).status_code == 201, (version, accelerator)
            listed = server.get("/api/records", params={"accelerator": accelerator})
            assert listed.status_code == 200 and record["run_id"] in {r["run_id"] for r in listed.json()["records"]}
    report = server.get("/api/report").json()
    assert {a for s in report["sections"] for a in s["accelerators"]} == allowed
    assert server.get("/").status_code == 200


def test_an_accelerator_and_fields_newer_than_the_report_still_render():
    from abpn.collector import report

    run = {"model_sha256": MODEL_SHA, "kind": "phone", "chipset": "Future SoC", "soc_model": "X1", "device": "P",
           "source": "some-new-service",
           "results": [{"accelerator": "tpu_v9", "status": "ok", "reason": None, "median_ms": 5.0, "p90_ms": None,
                        "init_ms": None, "check_passed": True, "psnr_db": 50.0}]}  # what v1 requires, left out
    run["model_json"] = json.dumps(phone_record()["model"])
    built = report.aggregate([run])
    assert "tpu_v9" in report.render_table(built) and "tpu_v9" in report.render_html(built)
    assert "some-new-service" in report.render_table(built)


def test_store_is_idempotent_on_run_id(store):
    record = phone_record()
    assert store.add(record) == "created"
    assert store.add(copy.deepcopy(record)) == "exists"
    changed = copy.deepcopy(record)
    changed["results"][0]["init_ms"] = 99.0
    with pytest.raises(Conflict, match=record["run_id"]):
        store.add(changed)
    assert store.count() == 1
    assert json.loads(store.get(record["run_id"].upper())) == record


def test_store_refuses_records_breaking_the_contract(store):
    record = phone_record()
    del record["device"]["manufacturer"]
    record["results"][0]["status"] = "fast"
    with pytest.raises(InvalidRecord) as refused:
        store.add(record)
    assert any(p.startswith("device:") and "manufacturer" in p for p in refused.value.problems)
    assert any(p.startswith("results/0/status:") for p in refused.value.problems)
    assert store.count() == 0


@pytest.mark.parametrize("created_at", ["2026-13-45T99:99:99Z", "0000-01-01T00:00:00Z", "2026-01-01T00:00:00+99:00"])
def test_store_refuses_impossible_times(store, created_at):
    with pytest.raises(InvalidRecord, match="not a real date"):
        store.add(phone_record(created_at=created_at))


def test_store_refuses_non_json_numbers(store):
    record = phone_record()
    record["results"][0]["options"]["threads"] = float("nan")
    with pytest.raises(InvalidRecord):
        store.add(record)


def test_store_opens_only_collector_databases(tmp_path):
    with pytest.raises(AbpnError, match="no collector database"):
        Store(tmp_path / "missing.db", create=False)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(AbpnError, match="not a usable collector database"):
        Store(junk)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(AbpnError, match="not a collector database"):
        Store(other, create=False)


def test_store_uses_wal_and_survives_reopening(tmp_path):
    path = tmp_path / "results.db"
    record = host_record()
    Store(path).add(record)
    with closing(sqlite3.connect(path)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert Store(path, create=False).add(record) == "exists"


# ----------------------------------------------------------------------------------------------- HTTP API


def test_post_get_and_idempotency_over_http(server):
    record = phone_record()
    created = server.post("/api/records", json=record)
    assert created.status_code == 201, created.text
    assert created.json() == {"run_id": record["run_id"], "status": "created"}
    assert created.headers["location"] == f"/api/records/{record['run_id']}"
    again = server.post("/api/records", json=record)
    assert (again.status_code, again.json()["status"]) == (200, "exists")
    changed = copy.deepcopy(record)
    changed["device"]["model"] = "Another Phone"
    conflict = server.post("/api/records", json=changed)
    assert conflict.status_code == 409
    assert "already stored" in conflict.json()["detail"]
    fetched = server.get(f"/api/records/{record['run_id']}")
    assert fetched.status_code == 200 and fetched.json() == record
    assert server.get(f"/api/records/{uuid.uuid4()}").status_code == 404
    assert server.get("/api/records/not-a-uuid").status_code == 422


def test_stored_record_is_the_posted_json_not_a_coerced_copy(server):
    record = phone_record()
    record["results"][0]["init_ms"] = 35  # an integer where pydantic would make 35.0
    assert server.post("/api/records", json=record).status_code == 201
    assert '"init_ms":35,' in server.get(f"/api/records/{record['run_id']}").text.replace(" ", "")


def test_bad_requests_get_precise_4xx(server):
    malformed = server.post("/api/records", content=b'{"schema_version": 1,', headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and malformed.json()["detail"][0]["type"] == "json_invalid"

    record = phone_record()
    record["results"][0]["runs"] = "many"
    wrong_type = server.post("/api/records", json=record)
    assert wrong_type.status_code == 422
    assert ["body", "results", 0, "runs"] in [d["loc"] for d in wrong_type.json()["detail"]]

    record = phone_record()
    record["device"]["colour"] = "blue"
    unknown_field = server.post("/api/records", json=record)
    assert unknown_field.status_code == 422
    assert {"loc": ["body", "device"], "type": "schema",
            "msg": "Additional properties are not allowed ('colour' was unexpected)"} in unknown_field.json()["detail"]

    # The contract's conditional rules: an ok result carries its samples, a phone its identity.
    record = phone_record()
    del record["results"][0]["samples_ms"]
    del record["device"]["abi"]
    conditional = server.post("/api/records", json=record)
    assert conditional.status_code == 422
    problems = {(tuple(d["loc"]), d["msg"]) for d in conditional.json()["detail"]}
    assert {(("body", "results", 0), '"samples_ms" is a required property'),
            (("body", "device"), '"abi" is a required property')} <= problems

    impossible = server.post("/api/records", json=phone_record(created_at="2026-02-30T10:00:00Z"))
    assert impossible.status_code == 422 and "not a real date" in impossible.text

    nan = json.dumps(phone_record()).replace('"cooldown_s": 10', '"cooldown_s": NaN')
    assert server.post("/api/records", content=nan, headers={"content-type": "application/json"}).status_code == 422

    not_json = server.post("/api/records", content=b"hello", headers={"content-type": "application/json"})
    assert not_json.status_code == 422
    assert server.get("/api/records").json()["count"] == 0


def test_bodies_over_the_limit_are_refused_before_reading(server):
    big = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    declared = server.post("/api/records", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and str(MAX_BODY_BYTES) in declared.json()["detail"]

    def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(3):
            yield b"x" * (MAX_BODY_BYTES // 2)

    streamed = server.post("/api/records", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in streamed.request.headers  # really sent chunked
    assert streamed.status_code == 413


def test_list_filters(server):
    records = [
        phone_record("SM8350", created_at="2026-11-20T10:00:00Z"),
        phone_record("SM8650", board_platform="pineapple", created_at="2026-11-22T10:00:00+02:00",
                     results=[ok_result("cpu", 500.0), ok_result("qnn_htp", 20.0)]),
        host_record(created_at="2026-11-24T23:59:59Z", sha256=OTHER_MODEL_SHA),
    ]
    for record in records:
        assert server.post("/api/records", json=record).status_code == 201

    def run_ids(**params):
        response = server.get("/api/records", params=params)
        assert response.status_code == 200, response.text
        return [r["run_id"] for r in response.json()["records"]]

    ids = [r["run_id"] for r in records]
    assert run_ids() == [ids[2], ids[1], ids[0]]  # newest first
    assert run_ids(chipset="snapdragon 888") == [ids[0]]
    assert run_ids(chipset="SM8650") == [ids[1]]
    assert run_ids(accelerator="gpu") == [ids[0]]
    assert run_ids(accelerator="qnn_htp") == [ids[1], ids[0]]  # tried, whatever the outcome
    assert run_ids(model_sha256=OTHER_MODEL_SHA) == [ids[2]]
    assert run_ids(model_sha256=MODEL_SHA, limit=1) == [ids[1]]
    assert run_ids(since="2026-11-21", until="2026-11-23") == [ids[1]]
    assert run_ids(until="2026-11-24") == [ids[2], ids[1], ids[0]]  # a date as `until` takes the whole day
    assert run_ids(since="2026-11-22T08:00:01Z") == [ids[2]]  # the +02:00 record is 08:00Z
    summary = server.get("/api/records", params={"chipset": "SM8350"}).json()["records"][0]
    assert summary["chipset"] == "Snapdragon 888" and summary["device"] == "Google Pixel Test"
    assert [r["accelerator"] for r in summary["results"]] == ["cpu", "gpu", "nnapi", "qnn_htp"]
    bad = server.get("/api/records", params={"since": "last tuesday"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "since"]
    assert server.get("/api/records", params={"accelerator": "tpu"}).status_code == 422
    assert server.get("/api/records", params={"limit": 0}).status_code == 422


def test_report_endpoint_and_dashboard(server):
    server.post("/api/records", json=phone_record())
    server.post("/api/records", json=host_record())
    report = server.get("/api/report").json()
    rows = report["sections"][0]["rows"]
    assert [r["chipset"] for r in rows] == ["Snapdragon 888", "Test CPU 9000 @ 3.0GHz"]
    assert rows[0]["best"]["accelerator"] == "nnapi"
    page = server.get("/")
    assert page.status_code == 200 and "Snapdragon 888" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # no scripts allowed at all


def test_openapi_describes_the_record_and_the_limit(server):
    document = server.get("/openapi.json").json()
    body = document["paths"]["/api/records"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/ResultRecord")
    assert str(MAX_BODY_BYTES) in document["info"]["description"]
    assert "HTTPBearer" in document["components"]["securitySchemes"]


# ----------------------------------------------------------------------------------------------- tokens


def test_token_guards_writes(token_server):
    record = phone_record()
    missing = token_server.post("/api/records", json=record)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    wrong = token_server.post("/api/records", json=record, headers={"Authorization": f"Bearer {TOKEN[:-1]}x"})
    assert wrong.status_code == 401
    basic = token_server.post("/api/records", json=record, headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    right = token_server.post("/api/records", json=record, headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 201
    assert token_server.get("/api/records").json()["count"] == 1  # reads stay open


@pytest.mark.parametrize("args, message", [
    (["--host", "0.0.0.0"], "without a token"),
    (["--host", "192.168.1.10"], "without a token"),
    (["--token", "short"], "at least 16"),
    (["--host", "0.0.0.0", "--token", "has a space in it 12345"], "without spaces"),
])
def test_serve_refuses_unsafe_options(tmp_path, args, message):
    result = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "r.db"), "--port", "1", *args],
                                env={"ABPN_COLLECTOR_TOKEN": None})
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("127.5.5.5", True), ("0.0.0.0", False), ("::", False),
                                            ("example.org", False)])
def test_loopback_detection(host, loopback):
    assert collector.is_loopback(host) is loopback


# ----------------------------------------------------------------------------------------------- durability


def test_every_acknowledged_record_survives_sigkill(tmp_path):
    db = tmp_path / "results.db"
    port = free_port()
    process = start_serve_process(db, port, tmp_path / "serve.log")
    url = f"http://127.0.0.1:{port}"
    acknowledged, lock = {}, threading.Lock()
    enough = threading.Event()

    def poster(worker):
        with httpx.Client(base_url=url, timeout=10) as client:
            for n in range(400):
                record = phone_record(f"SM8{worker}50", created_at=f"2026-11-24T10:{n // 60:02d}:{n % 60:02d}Z")
                try:
                    response = client.post("/api/records", json=record)
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code in (200, 201):
                    with lock:
                        acknowledged[record["run_id"]] = record
                        if len(acknowledged) >= 40:
                            enough.set()

    threads = [threading.Thread(target=poster, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    enough.wait(timeout=120)
    process.send_signal(signal.SIGKILL)  # mid-load: the posters are still sending
    process.wait(timeout=30)
    for thread in threads:
        thread.join(timeout=60)
    assert len(acknowledged) >= 40

    restarted = start_serve_process(db, port, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            for run_id, record in acknowledged.items():
                response = client.get(f"/api/records/{run_id}")
                assert response.status_code == 200, run_id
                assert response.json() == record
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
    with closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = con.execute("SELECT count(*) FROM records").fetchone()[0]
        dangling = con.execute("SELECT count(*) FROM record_results WHERE run_id NOT IN"
                               " (SELECT run_id FROM records)").fetchone()[0]
    assert stored >= len(acknowledged) and dangling == 0


# ----------------------------------------------------------------------------------------------- fuzzing
# schemathesis with every check it has (what `--checks all` runs), bounded and derandomized so that CI
# runs the same examples every time, against a real uvicorn on loopback. Schema-generated records
# almost never add up (statistics that summarise their samples), so a second strategy builds valid
# records with the record builders: those must be stored, and the checks then see the 201/200 path.


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    """A live collector (with a token and one stored record) and its own OpenAPI schema."""
    db = tmp_path_factory.mktemp("fuzz") / "results.db"
    Store(db).add(phone_record())
    with live_server(db, token=TOKEN) as url:
        yield url, schemathesis.openapi.from_url(f"{url}/openapi.json")


def _all_checks():
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    return CHECKS.get_all()


def _operations(schema):
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{o.method.upper()} {o.path}" for o in operations} >= {
        "POST /api/records", "POST /api/write-access", "GET /api/records", "GET /api/records/{run_id}",
        "GET /api/report"}
    return operations


FUZZ_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))


@pytest.mark.filterwarnings("ignore:Glyph")  # fuzzed names in scripts the plot font lacks
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_schemathesis_with_every_check_finds_nothing(fuzz_target, mode):
    """Requests generated from the service's own OpenAPI document (valid ones, then ones that break it)."""
    from schemathesis.checks import positive_data_acceptance

    url, schema = fuzz_target
    for operation in _operations(schema):
        has_input = bool(list(operation.iter_parameters()) or len(operation.body))
        if not has_input and (mode == GenerationMode.NEGATIVE or operation.path == "/"):
            continue  # nothing to break; the dashboard's page is checked in test_report_endpoint_and_dashboard
        excluded = []
        if operation.path == "/api/records" and operation.method.upper() == "POST":
            # A schema-valid record whose numbers contradict each other is refused (422, documented):
            # the JSON Schema cannot say that statistics summarise samples. Valid records are the next test's.
            excluded = [positive_data_acceptance]

        @given(case=operation.as_strategy(generation_mode=mode))
        @FUZZ_SETTINGS
        def run(case):
            case.call_and_validate(base_url=url, checks=_all_checks(), excluded_checks=excluded,
                                   headers={"Authorization": f"Bearer {TOKEN}"})

        run()
    # Whatever the fuzzer managed to store, the report and the dashboard still render it.
    for page in ("/api/report", "/"):
        assert httpx.get(url + page, timeout=60).status_code == 200, page


@pytest.mark.filterwarnings("ignore:Glyph")
def test_schemathesis_with_every_check_on_valid_records(fuzz_target):
    """Valid records of every shape the builders make: each must be stored (201, then 200 when sent
    again), and every check holds on the answers, the 2xx ones included."""
    from record_samples import valid_records

    url, schema = fuzz_target
    operation = next(o for o in _operations(schema) if o.path == "/api/records" and o.method.upper() == "POST")
    stored = []

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE), record=valid_records())
    @FUZZ_SETTINGS
    def run(case, record):
        case.body = record
        for expected in (201, 200):
            response = case.call_and_validate(base_url=url, checks=_all_checks(),
                                              headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == expected, response.text
        stored.append(record["run_id"])

    run()
    assert len(stored) >= 10
    assert httpx.get(url + "/", timeout=60).status_code == 200


def test_a_foreign_sqlite_database_is_left_alone(tmp_path):
    import sqlite3
    from contextlib import closing

    from abpn.collector.app import Store
    from abpn.errors import AbpnError

    path = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(path)) as con:
        con.execute("CREATE TABLE notes (text TEXT)")
        con.commit()
    with pytest.raises(AbpnError, match="something else"):
        Store(path)
    with closing(sqlite3.connect(path)) as con:
        assert [row[0] for row in con.execute("SELECT name FROM sqlite_master")] == ["notes"]


# ----------------------------------------------------------------------------------------------- durability settings


def test_every_store_connection_commits_with_synchronous_full(tmp_path, monkeypatch):
    """synchronous is a per-connection setting: a connection opened without it commits without fsync."""
    from abpn.collector import store as store_module

    seen = []

    class Recorded(sqlite3.Connection):
        def close(self):
            seen.append(self.execute("PRAGMA synchronous").fetchone()[0])
            super().close()

    connect = sqlite3.connect
    monkeypatch.setattr(store_module.sqlite3, "connect", lambda *a, **k: connect(*a, factory=Recorded, **k))
    store = Store(tmp_path / "results.db")
    record = phone_record()
    store.add(record)
    store.add(record)
    store.get(record["run_id"])
    store.summaries()
    store.report_runs()
    store.data_version()
    store.count()
    store.close()  # the connection data_version() keeps
    FULL = 2
    assert len(seen) >= 8 and set(seen) == {FULL}


# ----------------------------------------------------------------------------------------------- as posted


def test_a_record_comes_back_byte_for_byte_as_posted(server):
    record = phone_record()
    record["device"]["model"] = "Pixel Tést"
    # Indented, keys in another order, an escaped é, an integer where a float could be.
    posted = json.dumps(dict(reversed(list(record.items()))), indent=3, ensure_ascii=True).encode("utf-8")
    assert server.post("/api/records", content=posted, headers={"content-type": "application/json"}).status_code == 201
    fetched = server.get(f"/api/records/{record['run_id']}")
    assert fetched.content == posted
    # The same record formatted otherwise is the same record, not a conflict.
    again = server.post("/api/records", json=record)
    assert (again.status_code, again.json()["status"]) == (200, "exists")
    assert server.get(f"/api/records/{record['run_id']}").content == posted


@pytest.mark.parametrize("body, reason", [
    (b'{"schema_version": 1, "schema_version": 1}', "appears twice"),
    (b'{"cooldown_s": NaN}', "not a JSON number"),
    ('{"device": "Pixel"}'.encode("utf-16"), "not UTF-8"),
    (b"[" * 100_000, "nest more than 32 deep"),
])
def test_bodies_that_readers_could_disagree_on_are_refused(server, body, reason):
    response = server.post("/api/records", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and reason in response.json()["detail"][0]["msg"]


# ----------------------------------------------------------------------------------------------- consistency


def _result(record, index=0):
    return record["results"][index]


def _restat(result):
    from abpn.record.build import latency_stats

    result["latency_ms"] = latency_stats(result["samples_ms"])
    result["runs"] = len(result["samples_ms"])


def _flood(record):
    _result(record)["samples_ms"] = [1.0] * 8000  # runs stays 20


def _min_above_max(record):
    _result(record)["latency_ms"]["min"] = _result(record)["latency_ms"]["max"] + 1


def _stats_not_from_samples(record):
    _result(record)["latency_ms"].update(min=1.0, median=1.0, mean=1.0, p90=1.0, max=1.0, std=0.0)


def _passed_below_threshold(record):
    _result(record)["output_check"].update(psnr_db=12.0, passed=True)


def _failed_above_threshold(record):
    _result(record)["output_check"].update(psnr_db=48.0, passed=False)


def _identical_with_difference(record):
    _result(record)["output_check"].update(psnr_db=None, max_abs_diff=3.0)


def _twice_the_same_accelerator(record):
    record["results"].append(copy.deepcopy(_result(record)))


def _more_delegated_than_nodes(record):
    result = _result(record, 1)
    (result["delegation"] if "delegation" in result else result)["delegated_nodes"] = 13  # v2 : v1


def _from_the_future(record):
    record["created_at"] = "2099-01-01T00:00:00Z"


@pytest.mark.parametrize("break_it, reason", [
    (_flood, "8000 samples for runs=20"),
    (_min_above_max, "outside min"),
    (_stats_not_from_samples, "does not summarise samples_ms"),
    (_passed_below_threshold, "passed: true contradicts psnr_db 12.0 against threshold_db 30.0"),
    (_failed_above_threshold, "passed: false contradicts"),
    (_identical_with_difference, "null means identical outputs"),
    (_twice_the_same_accelerator, "one result per accelerator"),
    (_more_delegated_than_nodes, "more than total_nodes"),
    (_from_the_future, "ahead of the collector's clock"),
], ids=lambda v: v.__name__.strip("_") if callable(v) else None)
def test_self_contradicting_records_are_refused_with_the_reason(store, break_it, reason):
    record = phone_record()
    break_it(record)
    with pytest.raises(InvalidRecord) as refused:
        store.add(record)
    assert any(reason in problem for problem in refused.value.problems), refused.value.problems
    assert store.count() == 0


def test_consistent_edge_cases_are_accepted(store):
    record = phone_record(results=[ok_result("cpu", 100.0, runs=1), ok_result("gpu", 50.0)])
    _result(record, 1)["output_check"].update(psnr_db=None, max_abs_diff=0.0, passed=True)  # identical outputs
    _result(record, 1)["samples_ms"] = [50.0] * 20
    _restat(_result(record, 1))
    # The app rounds psnr_db to 4 decimals after deciding: 29.99996 dB failed, and is written as 30.0.
    _result(record)["output_check"].update(psnr_db=30.0, passed=False)
    assert store.add(record) == "created"


def test_a_refused_record_over_http_says_why_and_loses_nothing(server):
    kept = phone_record()
    assert server.post("/api/records", json=kept).status_code == 201
    hostile = phone_record(run_id=kept["run_id"])  # even with a known run_id
    _flood(hostile)
    refused = server.post("/api/records", json=hostile)
    assert refused.status_code == 422
    assert {"loc": ["body", "results", 0, "samples_ms"], "type": "schema",
            "msg": "8000 samples for runs=20; a record carries one sample per timed run"} in refused.json()["detail"]
    assert server.get(f"/api/records/{kept['run_id']}").json() == kept
    assert server.get("/api/records").json()["count"] == 1


# ----------------------------------------------------------------------------------------------- schema versions


def _synthetic_v2(v1):
    """A stand-in for the next contract: a new status that still carries timings, a new condition."""
    v2 = copy.deepcopy(v1)
    v2["$id"] = v2["$id"].replace("/1", "/2")
    v2["properties"]["schema_version"] = {"const": 2}
    result = v2["$defs"]["result"]
    result["properties"]["status"]["enum"].append("not_delegated")
    result["properties"]["accelerator"]["enum"].append("edge_tpu")
    result["allOf"][0]["if"]["properties"]["status"] = {"enum": ["ok", "not_delegated"]}
    v2["$defs"]["conditions"]["properties"]["thermal_status"] = {"type": ["integer", "null"], "minimum": 0}
    return v2


@pytest.fixture
def schema_dir(tmp_path):
    """v1 frozen as shipped, plus a synthetic v2 as the current file, as the contract will look after
    the next version lands."""
    from abpn.record.schemas import SCHEMA_DIR

    folder = tmp_path / "schema"
    folder.mkdir()
    v1_text = (SCHEMA_DIR / "result_record.v1.schema.json").read_text()
    (folder / "result_record.v1.schema.json").write_text(v1_text)
    (folder / "result_record.schema.json").write_text(json.dumps(_synthetic_v2(json.loads(v1_text))))
    return folder


def _v2_record():
    """A record of the synthetic v2: the v1 fixture with what v2 adds."""
    record = v1_record(results=[v1_result("cpu"), v1_result("gpu")])
    record["schema_version"] = 2
    record["results"][1]["status"] = "not_delegated"
    record["conditions"]["thermal_status"] = 1
    return record


def test_the_shipped_v1_schema_is_frozen_and_current_records_are_known():
    from abpn.record.build import schema_version
    from abpn.record.schemas import SCHEMA_DIR, Schemas

    schemas = Schemas()
    assert 1 in schemas.versions and schema_version() in schemas.versions
    assert schemas.schema(schema_version()) == json.loads((SCHEMA_DIR / "result_record.schema.json").read_text())
    assert schemas.errors(phone_record()) == []


def test_each_record_is_checked_against_the_schema_of_its_version(tmp_path, schema_dir):
    from abpn.record.schemas import Schemas

    store = Store(tmp_path / "results.db", schemas=Schemas(schema_dir))
    assert Schemas(schema_dir).versions == [1, 2]
    assert store.add(v1_record()) == "created"  # from phones running an older app
    assert store.add(_v2_record()) == "created"
    v1_with_v2_field = v1_record()
    v1_with_v2_field["conditions"]["thermal_status"] = 1
    with pytest.raises(InvalidRecord, match="thermal_status"):
        store.add(v1_with_v2_field)
    v1_with_v2_status = v1_record(results=[v1_result("cpu")])
    v1_with_v2_status["results"][0]["status"] = "not_delegated"
    with pytest.raises(InvalidRecord, match="not_delegated"):
        store.add(v1_with_v2_status)
    unknown = v1_record()
    unknown["schema_version"] = 3
    with pytest.raises(InvalidRecord, match=r"3 is not a version this collector knows \(1, 2\)"):
        store.add(unknown)
    assert store.count() == 2


def test_old_and_new_records_share_the_report_and_the_api(tmp_path, schema_dir):
    from abpn.collector import report
    from abpn.record.schemas import Schemas

    store = Store(tmp_path / "results.db", schemas=Schemas(schema_dir))
    with live_server(store) as url, httpx.Client(base_url=url, timeout=30) as client:
        old, new = v1_record(), _v2_record()
        assert client.post("/api/records", json=old).status_code == 201
        assert client.post("/api/records", json=new).status_code == 201
        document = client.get("/openapi.json").json()
        rows = client.get("/api/report").json()["sections"][0]["rows"]
        page = client.get("/").text
    schemas = document["components"]["schemas"]
    assert {"ResultRecordV1", "ResultRecordV2"} <= set(schemas)
    assert "not_delegated" in schemas["ResultRecordV2_result"]["properties"]["status"]["enum"]
    assert "not_delegated" not in schemas["ResultRecordV1_result"]["properties"]["status"]["enum"]
    cells = rows[0]["cells"]
    assert rows[0]["runs"] == 2 and cells["cpu"]["runs"] == 2
    assert cells["gpu"]["runs"] == 1 and cells["gpu"]["attempts"] == 2  # the not_delegated run is no GPU timing
    assert "2 records" in page and "Snapdragon 888" in page
    tpu = _v2_record()
    tpu["results"] = [v1_result("edge_tpu")]
    with live_server(store) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("/api/records", json=tpu).status_code == 201
        listed = client.get("/api/records", params={"accelerator": "edge_tpu"}).json()["records"]
        assert [r["run_id"] for r in listed] == [tpu["run_id"]]
        assert "edge_tpu" in client.get("/").text
    v2_only = _v2_record()
    v2_only["results"] = [v2_only["results"][1]]
    store.add(v2_only)
    assert "not_delegated" in report.render_table(report.build_report([v2_only]))


def test_two_schema_files_disagreeing_on_one_version_are_refused(schema_dir):
    from abpn.record.schemas import Schemas

    v2 = json.loads((schema_dir / "result_record.schema.json").read_text())
    v2["description"] = "a different contract under the same version"
    (schema_dir / "result_record.v2.schema.json").write_text(json.dumps(v2))
    with pytest.raises(AbpnError, match="both define schema_version 2"):
        Schemas(schema_dir)


# ----------------------------------------------------------------------------------------------- slow clients


HEADERS_TIMEOUT_S, REQUEST_TIMEOUT_S = 0.5, 1.5


@pytest.fixture
def strict_server(tmp_path):
    with live_server(tmp_path / "results.db", headers_timeout_s=HEADERS_TIMEOUT_S,
                     request_timeout_s=REQUEST_TIMEOUT_S) as url:
        yield url


def _open(url):
    import socket
    import time

    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)  # the test's own bound
    return connection, time.monotonic()


def _read_until_closed(connection):
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_a_body_shorter_than_its_content_length_gets_408(strict_server):
    import time

    connection, start = _open(strict_server)
    with connection:
        connection.sendall(b"POST /api/records HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 100\r\n\r\n{}" % strict_server.removeprefix("http://").encode())
        answer = _read_until_closed(connection)
        waited = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 ") and b"request body not received within 1.5 s" in answer
    assert REQUEST_TIMEOUT_S <= waited < REQUEST_TIMEOUT_S + 5


def test_stalled_headers_get_408(strict_server):
    connection, _ = _open(strict_server)
    with connection:
        connection.sendall(b"GET /api/records HTTP/1.1\r\nHost: coll")
        answer = _read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"request headers not received within 0.5 s" in answer


def test_trickling_headers_does_not_extend_the_deadline(strict_server):
    import time

    connection, start = _open(strict_server)
    with connection:
        try:
            for byte in b"GET /api/records HTTP/1.1\r\nX-Slow: " + b"a" * 40:  # a byte every 0.1 s: 6 s in all
                connection.sendall(bytes([byte]))
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        else:
            pytest.fail("the server kept the connection open while the headers trickled in")
    assert time.monotonic() - start < 6


def test_a_silent_connection_is_closed_and_ordinary_clients_are_unaffected(strict_server):
    connection, _ = _open(strict_server)
    with connection:
        assert _read_until_closed(connection) == b""  # closed, with no answer to a question never asked
    record = phone_record()
    with httpx.Client(base_url=strict_server, timeout=10) as client:
        assert client.post("/api/records", json=record).status_code == 201
        assert client.get(f"/api/records/{record['run_id']}").json() == record  # kept alive, reused


# ----------------------------------------------------------------------------------------------- report cache


def test_report_and_dashboard_follow_records_added_by_any_writer(tmp_path):
    db = tmp_path / "results.db"
    with live_server(db) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("/api/report").json()["records"] == 0
        assert "No records" in client.get("/").text
        assert client.post("/api/records", json=phone_record()).status_code == 201
        assert client.get("/api/report").json()["records"] == 1
        Store(db).add(host_record())  # another process's Store, e.g. push-and-bench --db
        assert client.get("/api/report").json()["records"] == 2
        assert "Test CPU 9000" in client.get("/").text


def test_report_reads_no_stored_record(tmp_path, monkeypatch):
    """What the report needs is kept in columns: a GET must not cost a parse of every stored record."""
    from abpn.collector import store as store_module

    store = Store(tmp_path / "results.db")
    for n in range(3):
        store.add(phone_record(f"SM8{n}50"))
    parsed, loads = [], json.loads
    monkeypatch.setattr(store_module.json, "loads", lambda text, **k: parsed.append(text) or loads(text, **k))
    runs, _ = store.report_runs()
    assert len(runs) == 3 and not parsed


def test_after_a_write_the_report_reads_only_the_new_records_and_matches_a_fresh_build(tmp_path):
    from abpn.collector import report

    store = Store(tmp_path / "results.db")
    first = [phone_record("SM8350"), phone_record("SM8650"), host_record()]
    later = [phone_record("SM8350", results=[ok_result("cpu", 300.0), ok_result("gpu", 90.0, psnr_db=10.0,
                                                                                 passed=False)]),
             phone_record("SM8450")]
    for record in first:
        store.add(record)
    runs, version = store.report_runs()
    accumulated = report.Aggregate().add(runs)
    accumulated.report()
    for record in later:
        store.add(record)
    new_runs, newer = store.report_runs(after=version)
    assert len(new_runs) == 2 and newer > version
    assert store.report_runs(after=newer) == ([], newer)
    assert report.to_json(accumulated.add(new_runs).report()) == report.to_json(report.build_report(first + later))


# ----------------------------------------------------------------------------------------------- upgrades


_V1_TABLES = """
CREATE TABLE records (run_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, created_utc TEXT NOT NULL,
    received_at TEXT NOT NULL, kind TEXT NOT NULL, chipset TEXT NOT NULL, soc_model TEXT, device TEXT NOT NULL,
    model_sha256 TEXT NOT NULL, model_file TEXT NOT NULL, digest TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE record_results (run_id TEXT NOT NULL REFERENCES records (run_id), position INTEGER NOT NULL,
    accelerator TEXT NOT NULL, status TEXT NOT NULL, median_ms REAL, PRIMARY KEY (run_id, position));
PRAGMA user_version = 1;
"""


def test_a_database_from_the_previous_release_is_upgraded_in_place(tmp_path):
    """Version 1 files (written before the report's columns existed) open, keep their records, and report."""
    from abpn.collector import report
    from abpn.collector.store import run_summary

    path = tmp_path / "old.db"
    old = [phone_record(), host_record()]
    with closing(sqlite3.connect(path)) as con:
        con.executescript(_V1_TABLES)
        for record in old:
            summary = run_summary(record)
            body = json.dumps(record, sort_keys=True, separators=(",", ":"))
            con.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (record["run_id"], record["created_at"], record["created_at"], record["created_at"],
                         summary["kind"], summary["chipset"], summary["soc_model"], summary["device"],
                         record["model"]["sha256"], record["model"]["file_name"], "digest", body))
            con.executemany("INSERT INTO record_results VALUES (?, ?, ?, ?, ?)",
                            [(record["run_id"], i, r["accelerator"], r["status"], (r.get("latency_ms") or {}).get("median"))
                             for i, r in enumerate(record["results"])])
        con.commit()
    store = Store(path, create=False)
    assert report.to_json(report.store_report(store)) == report.to_json(report.build_report(old))
    assert json.loads(store.get(old[0]["run_id"])) == old[0]
    assert store.add(phone_record("SM8650")) == "created"
