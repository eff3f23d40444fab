"""hub-bench against a fake AI Hub (tests/fake_ai_hub.py): the real qai-hub client over real HTTP on loopback,
real TFLite on both sides, a real SQLite file. One test per failure the issue lists, each failing without its
handling; no qai_hub function is replaced."""
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from abpn.cli import main
from abpn.record.build import record_errors
from fake_ai_hub import FakeAIHub, make_server, write_client_ini

REPO = Path(__file__).resolve().parents[1]
S23, S24 = "Samsung Galaxy S23 (Family)", "Samsung Galaxy S24 (Family)"


@contextmanager
def running(hub):
    server = make_server(hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def fake_hub(workdir, monkeypatch):
    """Starts a fake AI Hub with the given options and points the client at it; yields (hub, url)."""
    stack = []

    def start(token="test-token", **options):
        hub = FakeAIHub(state_seconds=0.05, **options)
        context = running(hub)
        url = context.__enter__()
        stack.append(context)
        ini = write_client_ini(workdir / "client.ini", url, token=token)
        monkeypatch.setenv("QAIHUB_CLIENT_INI", str(ini))
        return hub, url

    yield start
    for context in stack:
        context.__exit__(None, None, None)


def hub_bench(model, *devices, extra=()):
    args = ["hub-bench", str(model), "--db", "results.sqlite", "--out", "out", "--timeout", "60"]
    for device in devices:
        args += ["--hub-device", device]
    return CliRunner().invoke(main, args + list(extra))


def stored_records(path="results.sqlite"):
    """The raw records the database holds, by device name."""
    if not os.path.exists(path):
        return {}
    with closing(sqlite3.connect(path)) as con:
        run_ids = [row[0] for row in con.execute("SELECT run_id FROM records")]
    records = [json.loads(Path("out/raw", f"{run_id}.json").read_text()) for run_id in run_ids]
    return {record["device"]["model"]: record for record in records}


def rows(record):
    return {row["accelerator"]: row for row in record["results"]}


def test_two_devices_give_two_records_with_cpu_gpu_and_npu_rows(fake_hub):
    """The issue's "done when", with the shipped deployment model: two valid records, each with a cpu, a gpu
    and a qnn_htp row, the report showing both chipsets."""
    hub, url = fake_hub()
    model = REPO / "models" / "abpn_x3_int8.tflite"
    result = hub_bench(model, S23, S24)
    assert result.exit_code == 0, result.output
    records = stored_records()
    assert set(records) == {S23, S24}
    for name, soc, chipset, android in ((S23, "SM8550", "Snapdragon 8 Gen 2", "14"),
                                        (S24, "SM8650", "Snapdragon 8 Gen 3", "14")):
        record = records[name]
        assert record_errors(record) == []
        assert (record["device"]["manufacturer"], record["device"]["soc_model"], record["device"]["chipset_name"],
                record["device"]["android_release"], record["device"]["sdk_int"]) == (
            "Samsung", soc, chipset, android, 34)
        assert record["source"]["kind"] == "ai-hub"
        jobs = record["source"]["jobs"]
        assert [j["accelerator"] for j in jobs] == ["cpu", "gpu", "qnn_htp"]
        assert all(j["state"] == "SUCCESS" and j["url"] == f"{url}/jobs/{j['job_id']}/" for j in jobs)
        assert (record["app"]["name"], record["app"]["version"]) == ("AI Hub TFLite runner", "fake-0.56")
        by_accelerator = rows(record)
        assert set(by_accelerator) == {"cpu", "gpu", "qnn_htp"}
        for accelerator, row in by_accelerator.items():
            assert row["status"] == "ok", row
            assert row["runs"] == len(row["samples_ms"]) == 100  # every inference AI Hub timed
            assert row["init_ms"] > row["warm_init_ms"] > 0
            assert row["delegation"]["delegated_nodes"] == row["delegation"]["total_nodes"] > 0
            assert row["delegation"]["fallback"] is None
            assert len(row["profile"]["layers"]) == row["delegation"]["total_nodes"]
            unit = {"cpu": "CPU", "gpu": "GPU", "qnn_htp": "NPU"}[accelerator]
            assert {layer["compute_unit"] for layer in row["profile"]["layers"]} == {unit}
            low, high = row["memory"]["inference_peak_range_bytes"]
            assert 0 < low < high
            # The fake ran the same TFLite model on the same input: the output equals the host's reference.
            assert row["output_check"]["passed"] and row["output_check"]["psnr_db"] is None
    # One model upload and one dataset for all six jobs; each job pins its compute unit and profiles.
    assert sum(r["method"] == "POST" and r["path"] == "/api/v1/models/" for r in hub.requests) == 1
    assert sum(r["method"] == "POST" and r["path"] == "/api/v1/datasets/" for r in hub.requests) == 1
    jobs = [job["pb"].inference_job for job in hub.jobs.values()]
    assert sorted(j.options for j in jobs) == sorted(["--compute_unit cpu", "--compute_unit gpu",
                                                      "--compute_unit npu"] * 2)
    assert all(j.is_profiling_on for j in jobs)
    # The input AI Hub ran is push-and-bench's real-photo reference input.
    (dataset,) = [d for d in hub.datasets.values() if d["pb"].name.endswith("reference-input")]
    sent = next(iter(dataset["entries"].values()))[0]
    (reference,) = Path("out/reference").glob("*.input.bin")
    assert np.array_equal(sent.ravel(), np.fromfile(reference, dtype=np.uint8))
    report = CliRunner().invoke(main, ["report", "--db", "results.sqlite"])
    assert report.exit_code == 0, report.output
    assert "Snapdragon 8 Gen 2" in report.output and "Snapdragon 8 Gen 3" in report.output


def test_without_a_token_the_message_names_the_command_and_nothing_is_sent(fake_hub, workdir, monkeypatch,
                                                                            float_tflite_fixed):
    hub, _ = fake_hub()
    monkeypatch.setenv("QAIHUB_CLIENT_INI", str(workdir / "never-configured.ini"))
    result = hub_bench(float_tflite_fixed, S23)
    assert result.exit_code != 0
    assert "qai-hub configure --api_token" in result.output
    assert "Nothing was uploaded" in result.output
    assert hub.requests == []
    assert not Path("out").exists()  # refused before the reference run writes anything


def test_a_rejected_token_says_so_in_ai_hubs_words_and_stores_nothing(fake_hub, float_tflite_fixed):
    hub, _ = fake_hub(token="expired-token")
    result = hub_bench(float_tflite_fixed, S23)
    assert result.exit_code != 0
    # qai_hub.client._raise_if_hub_user_error's wording for a 401.
    assert "Failed to authenticate" in result.output
    assert "bad or expired API token" in result.output
    assert "Nothing was uploaded or stored" in result.output and "qai-hub configure --api_token" in result.output
    assert not [r for r in hub.requests if r["method"] != "GET"]
    assert stored_records() == {}
    assert not list(Path("out").glob("raw/*.json"))


def test_an_unknown_device_gets_the_closest_names(fake_hub, float_tflite_fixed):
    hub, _ = fake_hub()
    result = hub_bench(float_tflite_fixed, "Samsung Galaxy S24 (Famly)")
    assert result.exit_code != 0
    assert "'Samsung Galaxy S24 (Family)'" in result.output
    assert not [r for r in hub.requests if r["method"] != "GET"]
    assert not Path("out").exists()


def test_a_chipset_attribute_picks_a_device_of_that_chipset(fake_hub, float_tflite_fixed):
    hub, _ = fake_hub()
    result = hub_bench(float_tflite_fixed, "chipset:qualcomm-snapdragon-8-elite", extra=["--accelerators", "qnn_htp"])
    assert result.exit_code == 0, result.output
    (record,) = stored_records().values()
    assert record["device"]["chipset_name"] == "Snapdragon 8 Elite"
    assert record["device"]["model"] in ("Samsung Galaxy S25 (Family)", "Snapdragon 8 Elite QRD")


def test_a_failed_job_costs_its_row_only(fake_hub, float_tflite_fixed):
    hub, _ = fake_hub(fail=[f"{S24}/gpu"], failure_reason="Op DEPTH_TO_SPACE is not supported by the GPU.")
    result = hub_bench(float_tflite_fixed, S23, S24)
    assert result.exit_code == 0, result.output
    records = stored_records()
    s24 = rows(records[S24])
    assert s24["gpu"]["status"] == "failed"
    assert s24["gpu"]["reason"] == "AI Hub: Op DEPTH_TO_SPACE is not supported by the GPU."
    assert s24["cpu"]["status"] == s24["qnn_htp"]["status"] == "ok"
    assert {row["status"] for row in records[S23]["results"]} == {"ok"}
    assert [j["state"] for j in records[S24]["source"]["jobs"]] == ["SUCCESS", "FAILED", "SUCCESS"]


def test_a_job_still_running_at_the_timeout_keeps_its_url(fake_hub, float_tflite_fixed):
    hub, url = fake_hub(hang=[f"{S23}/npu"])
    result = hub_bench(float_tflite_fixed, S23, extra=["--timeout", "3"])
    assert result.exit_code == 0, result.output
    (record,) = stored_records().values()
    late = rows(record)["qnn_htp"]
    job = next(j for j in record["source"]["jobs"] if j["accelerator"] == "qnn_htp")
    assert late["status"] == "failed"
    assert "still MEASURING_PERFORMANCE" in late["reason"] and f"{url}/jobs/{job['job_id']}/" in late["reason"]
    assert job["state"] == "MEASURING_PERFORMANCE"
    assert record["complete"] is False and "qnn_htp" in record["incomplete_reason"]
    assert rows(record)["cpu"]["status"] == rows(record)["gpu"]["status"] == "ok"


def test_no_network_is_a_clear_error_and_writes_no_record(workdir, monkeypatch, float_tflite_fixed):
    with socket.socket() as probe:  # a port nothing listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("QAIHUB_CLIENT_INI", str(write_client_ini(workdir / "client.ini", dead)))
    started = time.monotonic()
    result = hub_bench(float_tflite_fixed, S23)
    assert result.exit_code != 0
    assert "cannot reach Qualcomm AI Hub" in result.output and "no record was written" in result.output
    assert time.monotonic() - started < 30  # not the client's minute of retries
    assert stored_records() == {}
    assert not list(Path("out").glob("raw/*.json"))


def test_a_model_too_large_is_refused_in_ai_hubs_words(fake_hub, float_tflite_fixed):
    hub, _ = fake_hub(max_model_bytes=1000)
    result = hub_bench(float_tflite_fixed, S23)
    assert result.exit_code != 0
    # The client's own text for a 413 (public_rest_api.APIException).
    assert "The uploaded asset is too large" in result.output
    assert hub.jobs == {} and stored_records() == {}


def test_layers_left_to_the_cpu_show_as_a_named_fallback(fake_hub, float_tflite_fixed):
    hub, _ = fake_hub(cpu_layers_on_gpu={"DEPTH_TO_SPACE"})
    result = hub_bench(float_tflite_fixed, S23, extra=["--accelerators", "gpu"])
    assert result.exit_code == 0, result.output
    (record,) = stored_records().values()
    delegation = rows(record)["gpu"]["delegation"]
    assert delegation["fallback"] == "CPU"
    assert delegation["delegated_nodes"] == delegation["total_nodes"] - 1
    assert "1 CPU" in delegation["evidence"]


def test_accelerators_ai_hub_does_not_offer_are_refused(fake_hub, float_tflite_fixed):
    hub, _ = fake_hub()
    result = hub_bench(float_tflite_fixed, S23, extra=["--accelerators", "cpu,nnapi"])
    assert result.exit_code != 0 and "AI Hub cannot run nnapi" in result.output
    assert hub.requests == []


def test_list_devices_from_the_fake_started_as_a_program(workdir, monkeypatch):
    """`python tests/fake_ai_hub.py --port N`, as the issue asks, and --list-devices against it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fake_ai_hub.py")), "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "fake AI Hub on" in fake.stdout.readline()
        ini = write_client_ini(workdir / "client.ini", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("QAIHUB_CLIENT_INI", str(ini))
        result = CliRunner().invoke(main, ["hub-bench", "--list-devices"])
    finally:
        fake.terminate()
        fake.wait(timeout=30)
    assert result.exit_code == 0, result.output
    assert S23 in result.output and S24 in result.output and "chipset:sm8650" in result.output
    assert "Snapdragon 8 Gen 3" in result.output
    assert "Snapdragon X Elite CRD" not in result.output  # a Windows laptop, not an Android phone


@pytest.mark.slow
def test_contact_lost_while_waiting_writes_no_record_and_lists_the_jobs(workdir, monkeypatch, float_tflite_fixed):
    """The network goes after the jobs were submitted: the client gives up after its retries (about 45 s of
    back-off, util/session.py), and no half-made record is written."""
    hub = FakeAIHub(state_seconds=0.05, hang=[f"{S23}/npu"])
    server = make_server(hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("QAIHUB_CLIENT_INI", str(write_client_ini(workdir / "client.ini", url)))

    def cut_when_submitted():
        while len(hub.jobs) < 3:
            time.sleep(0.05)
        server.shutdown()
        server.server_close()

    cutter = threading.Thread(target=cut_when_submitted, daemon=True)
    cutter.start()
    result = hub_bench(float_tflite_fixed, S23)
    cutter.join(timeout=5)
    assert result.exit_code != 0
    assert "lost contact with Qualcomm AI Hub" in result.output and "No record was written" in result.output
    assert all(f"{url}/jobs/{job_id}/" in result.output for job_id in hub.jobs)
    assert stored_records() == {}
    assert not list(Path("out").glob("raw/*.json"))


def test_records_can_go_to_a_collector_instead(fake_hub, workdir, float_tflite_fixed):
    """The collector validates what it is sent (schema and consistency checks) and keeps AI Hub's records."""
    from collector_helpers import live_server

    fake_hub()
    token = "hub-bench-test-token-0123456"
    with live_server(workdir / "collector.sqlite", token=token) as url:
        result = hub_bench(float_tflite_fixed, S23, S24, extra=["--collector", url, "--token", token])
    assert result.exit_code == 0, result.output
    assert result.output.count(f"stored in {url} (created)") == 2
    assert set(stored_records("collector.sqlite")) == {S23, S24} and not os.path.exists("results.sqlite")


def test_behind_a_proxy_the_proxy_is_what_must_answer(fake_hub, monkeypatch, float_tflite_fixed):
    """requests sends AI Hub's calls through $HTTP_PROXY: the network check asks the proxy, not AI Hub."""
    hub, _ = fake_hub()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", dead_proxy)
    monkeypatch.setenv("http_proxy", dead_proxy)
    result = hub_bench(float_tflite_fixed, S23)
    assert result.exit_code != 0
    assert f"through the proxy {dead_proxy}" in result.output and "no record was written" in result.output
    assert hub.requests == []
