"""push-and-bench against test phones (tests/adb_phone.py): real ADB protocol, real TFLite on the
phone side, real SQLite; one test per failure the issues list, each failing without its fix."""
import json
import os
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from abpn.cli import main
from adb_phone import TestPhone
from apk_helpers import write_apk
from collector_helpers import free_port

HOSTILE_NAME = "a b;touch pwned'$(x)`y`\"z\".tflite"


@pytest.fixture(scope="session")
def adb_home(tmp_path_factory):
    """One HOME with an ADB key for the whole session: generating RSA keys is slow."""
    from abpn.bench.device import load_signer

    home = tmp_path_factory.mktemp("home")
    load_signer(home / ".android" / "adbkey")
    return home


@pytest.fixture
def workdir(tmp_path, monkeypatch, adb_home):
    monkeypatch.setenv("HOME", str(adb_home))
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    monkeypatch.chdir(tmp_path)
    write_apk(tmp_path / "app.apk")  # a zip with the app's binary manifest: push-and-bench checks both
    return tmp_path


def bench(*devices, model, extra=(), apk="app.apk"):
    args = ["push-and-bench", "--model", str(model), "--runs", "3", "--warmup", "1", "--accelerators", "cpu,gpu,nnapi",
            "--warmup-min-ms", "0", "--run-min-ms", "0",
            "--db", "results.sqlite", "--out", "out", "--timeout", "30", "--auth-timeout", "2"]
    for device in devices:
        args += ["--device", device]
    if apk:
        args += ["--apk", apk]
    return CliRunner().invoke(main, args + list(extra))


def stored_rows(path="results.sqlite"):
    if not os.path.exists(path):
        return []
    # closing(): a sqlite3 connection's own context manager commits but leaves the file open.
    with closing(sqlite3.connect(path)) as con:
        return con.execute("SELECT run_id, chipset, device FROM records ORDER BY chipset").fetchall()


def stored_record(workdir):
    """The raw record of the one run stored."""
    (run_id, _, _), = stored_rows()
    return json.loads((workdir / "out" / "raw" / f"{run_id}.json").read_text())


def test_one_phone_installs_benchmarks_stores_and_prints(workdir, float_tflite_fixed):
    with TestPhone() as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
        assert result.exit_code == 0, result.output
        assert phone.installed_apk().read_bytes() == (workdir / "app.apk").read_bytes()
        again = bench(phone.serial, model=float_tflite_fixed)
    assert again.exit_code == 0, again.output
    out = result.output
    assert "ABPN Test Phone, Snapdragon 888, Android 14 (SDK 34), arm64-v8a" in out
    assert "app missing, will install" in out and "app up to date" in again.output
    assert "the model abpn_float_36x64.tflite already on the phone" in again.output  # sha256 matched
    assert "the reference input already on the phone" in again.output
    cpu_row = next(line for line in out.splitlines() if line.startswith("cpu "))
    assert " ok " in cpu_row and "passed" in cpu_row
    assert "KB pages" not in out  # 4 KB pages: no page-size warning
    assert any(line.startswith("gpu ") and "test phone has no GPU" in line for line in out.splitlines())
    rows = stored_rows()
    assert len(rows) == 2 and {r[1] for r in rows} == {"Snapdragon 888"}
    raw = json.loads((workdir / "out" / "raw" / f"{rows[0][0]}.json").read_text())
    assert raw["model"]["file_name"] == "abpn_float_36x64.tflite"


def test_two_phones_run_concurrently(workdir, float_tflite_fixed):
    with TestPhone() as first, TestPhone(props={"ro.soc.model": "SM8650", "ro.product.model": "Second"}) as second:
        result = bench(first.serial, second.serial, model=float_tflite_fixed)
    assert result.exit_code == 0, result.output
    assert [r[1] for r in stored_rows()] == ["Snapdragon 8 Gen 3", "Snapdragon 888"]
    summary = result.output.split("summary:")[1]
    assert f"{first.serial}  Snapdragon 888 " in summary and "Snapdragon 8 Gen 3" in summary
    assert summary.count(" ok") == 2


def test_one_phone_spelled_two_ways_is_benchmarked_once(workdir, float_tflite_fixed):
    with TestPhone() as phone:
        result = bench(phone.serial, f" {phone.host}:0{phone.port}", model=float_tflite_fixed)
    assert result.exit_code == 0, result.output
    assert len(stored_rows()) == 1 and "1 phone(s)" in result.output


def _ipv6_loopback():
    import socket

    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
        return True
    except OSError:
        return False


@pytest.mark.may_skip_in_ci
@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_a_phone_at_an_ipv6_address(workdir, float_tflite_fixed):
    with TestPhone(host="::1") as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
    assert phone.serial.startswith("[::1]:")
    assert result.exit_code == 0, result.output
    assert len(stored_rows()) == 1


@pytest.mark.parametrize("target, message", [
    ("fe80::1:5555", "fe80::1:5555: write an IPv6 address in brackets, as [ADDRESS]:PORT"),
    ("192.168.1.20:70000", "192.168.1.20:70000: the port after ':' must be a number from 1 to 65535"),
    ("host:port:x", "host:port:x: the port after ':' must be a number"),
    ("localhost:0", "localhost:0: the port after ':' must be a number"),
    ("[]:5555", "[]:5555: no host before the port"),
    ("Pixel 7", "'Pixel 7': a serial or HOST:PORT has no spaces or control characters"),
    ("R58M\x1b[2J", "'R58M\\x1b[2J': a serial or HOST:PORT has no spaces"),
    ("", "no phone given"),
])
def test_a_malformed_target_is_a_usage_error_before_any_work(workdir, float_tflite_fixed, target, message):
    with TestPhone() as phone:
        result = bench(phone.serial, target, model=float_tflite_fixed)
        assert not phone.shell_log
    assert result.exit_code == 2 and "Invalid value for '--device'" in result.output
    assert message in result.output, result.output
    assert stored_rows() == [] and not (workdir / "out").exists()  # refused before the model's reference run


def test_a_malformed_android_serial_is_refused_before_any_work(workdir, float_tflite_fixed, monkeypatch):
    monkeypatch.setenv("ANDROID_SERIAL", "emulator 5554")
    result = bench(model=float_tflite_fixed)
    assert result.exit_code == 1 and "'emulator 5554': a serial or HOST:PORT has no spaces" in result.output
    assert not (workdir / "out").exists()


def test_hostile_model_path_is_quoted(workdir, float_tflite_fixed):
    model = workdir / HOSTILE_NAME
    model.write_bytes(float_tflite_fixed.read_bytes())
    with TestPhone() as phone:
        result = bench(phone.serial, model=model)
        assert result.exit_code == 0, result.output
        assert phone.local(f"/data/local/tmp/abpn/{HOSTILE_NAME}").read_bytes() == model.read_bytes()
        assert not phone.expansions  # nothing a shell would have expanded
        assert not list(phone.root.rglob("pwned*"))  # `;touch pwned` never ran
        assert any(line.startswith("am start") and "tflite" in line for line in phone.shell_log)
    assert json.loads(open(next((workdir / "out" / "raw").glob("*.json"))).read())["model"]["file_name"] == HOSTILE_NAME


def test_unreachable_phone(workdir, float_tflite_fixed):
    with TestPhone() as phone:
        serial = phone.serial
    result = bench(serial, model=float_tflite_fixed)
    assert result.exit_code == 1
    assert f"{serial}: cannot reach the phone" in result.output and "`adb tcpip 5555`" in result.output
    assert "wireless debugging" not in result.output.lower()  # its ports need TLS pairing adb-shell cannot do


@pytest.mark.parametrize("fault", ["refuse_auth", "pending_auth"])
def test_authorization_refused_or_pending(workdir, float_tflite_fixed, fault):
    with TestPhone(**{fault: True}) as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
    assert result.exit_code == 1
    assert "accept the 'Allow USB debugging?' prompt" in result.output
    assert phone.auth_prompts == 1 and not phone.shell_log


def test_an_app_restart_is_said_at_once_with_its_crash(workdir, float_tflite_fixed):
    """The main process dies mid-run and the host's next provider call starts a new one (a new pid), which
    loads the run's persisted state: "the app restarted (pid X → Y)", not a run that never registered,
    found without waiting out the timeout."""
    import time

    with TestPhone(crash_app=True) as phone:
        phone.log("I", "WifiService", "scan done")
        started = time.monotonic()
        result = bench(phone.serial, model=float_tflite_fixed, extra=["--timeout", "60"])
        first, second = [int(line.split("Start proc ")[1].split(":")[0]) for _, line in phone._log_lines
                         if "Start proc " in line and ":org.abpn.app/" in line]
    assert time.monotonic() - started < 30
    assert result.exit_code == 1
    assert f"the app restarted during the run (pid {first} → {second})" in result.output
    assert "never" not in result.output
    assert "E AndroidRuntime: FATAL EXCEPTION: main" in result.output
    assert "WifiService" not in result.output  # only the app's lines
    assert stored_rows() == []


def test_disconnect_mid_run_keeps_the_other_phone(workdir, float_tflite_fixed):
    with TestPhone() as healthy, TestPhone(drop_after_bytes=20_000) as flaky:
        result = bench(healthy.serial, flaky.serial, model=float_tflite_fixed)
    assert result.exit_code == 1
    assert f"{flaky.serial}: the phone disconnected while pushing" in result.output
    assert "results already pulled are kept" in result.output
    assert f"1 of 2 phone(s) failed: {flaky.serial}" in result.output
    rows = stored_rows()
    assert len(rows) == 1 and rows[0][2] == "ABPN Test Phone"
    assert (workdir / "out" / "raw" / f"{rows[0][0]}.json").is_file()


def test_phone_unplugged_while_the_benchmark_runs(workdir, float_tflite_fixed):
    with TestPhone() as healthy, TestPhone(drop_during_run=True) as flaky:
        result = bench(healthy.serial, flaky.serial, model=float_tflite_fixed)
    assert result.exit_code == 1
    assert f"{flaky.serial}: the phone disconnected while waiting for the result" in result.output
    assert len(stored_rows()) == 1


def test_not_enough_space(workdir, float_tflite_fixed):
    with TestPhone(disk_free_bytes=3 * 1024 * 1024) as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
        assert not phone.local("/data/local/tmp/abpn").exists()  # refused before pushing anything
    assert result.exit_code == 1
    assert "not enough space on the phone: this run needs" in result.output and "3.1 MB free" in result.output


def test_model_that_is_not_x3_is_refused_before_anything_is_pushed(workdir, float_tflite_dynamic):
    not_a_model = workdir / "notes.tflite"
    not_a_model.write_bytes(b"this is not a flatbuffer")
    with TestPhone() as phone:
        bad = bench(phone.serial, model=not_a_model)
        dynamic = bench(phone.serial, model=float_tflite_dynamic)
        assert not phone.shell_log
    assert bad.exit_code == 2 and "is not a TFLite model" in bad.output  # a usage error, before any work
    assert dynamic.exit_code == 1 and "needs a fixed-shape model" in dynamic.output


def test_missing_app_without_apk(workdir, float_tflite_fixed):
    with TestPhone() as phone:
        result = bench(phone.serial, model=float_tflite_fixed, apk=None)
    assert result.exit_code == 1 and "is not installed; pass --apk" in result.output


def test_android_serial_is_the_default_device(workdir, float_tflite_fixed, monkeypatch):
    assert "set ANDROID_SERIAL" in bench(model=float_tflite_fixed).output
    with TestPhone(preinstall=True) as phone:
        monkeypatch.setenv("ANDROID_SERIAL", phone.serial)
        result = bench(model=float_tflite_fixed, apk=None)
    assert result.exit_code == 0, result.output
    assert len(stored_rows()) == 1


def test_usb_device_held_by_an_adb_server(workdir, float_tflite_fixed, monkeypatch):
    """USB cannot be emulated over TCP. When an adb server holds the phone, libusb's claimInterface
    fails with LIBUSB_ERROR_BUSY inside adb-shell's connect(); that exception is raised here."""
    import adb_shell.adb_device
    import usb1

    class HeldByAdbServer:
        def __init__(self, serial=None, **_):
            self.serial = serial

        def connect(self, **_):
            raise usb1.USBErrorBusy(usb1.libusb1.LIBUSB_ERROR_BUSY)

        def close(self):
            pass

    monkeypatch.setattr(adb_shell.adb_device, "AdbDeviceUsb", HeldByAdbServer)
    result = bench("R58M123ABC", model=float_tflite_fixed)
    assert result.exit_code == 1
    assert "R58M123ABC: another adb server holds the USB device: run `adb kill-server` and try again" in result.output


def test_key_is_created_private_and_then_reused(tmp_path):
    from abpn.bench.device import load_signer

    path = tmp_path / ".android" / "adbkey"
    first = load_signer(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signer(path).GetPublicKey() == first.GetPublicKey()


def test_records_can_go_to_a_collector_instead(workdir, float_tflite_fixed):
    from collector_helpers import live_server

    token = "push-and-bench-test-token-0123"
    with live_server(workdir / "collector.sqlite", token=token) as url, TestPhone(preinstall=True) as phone:
        posted = bench(phone.serial, model=float_tflite_fixed, apk=None, extra=["--collector", url, "--token", token])
        refused = bench(phone.serial, model=float_tflite_fixed, apk=None,
                        extra=["--collector", url, "--token", "wrong-token-wrong-token-00"])
    assert posted.exit_code == 0, posted.output
    assert f"stored in {url} (created)" in posted.output
    assert len(stored_rows("collector.sqlite")) == 1 and not os.path.exists("results.sqlite")
    # A wrong token is found before the phone runs (POST /api/write-access), not after.
    assert refused.exit_code != 0 and "refuses writes with this token (401)" in refused.output
    assert "No phone was touched" in refused.output and "Traceback" not in refused.output


def test_a_collector_address_without_scheme_is_refused_before_any_phone(workdir, float_tflite_fixed):
    with TestPhone(preinstall=True) as phone:
        result = bench(phone.serial, model=float_tflite_fixed, apk=None, extra=["--collector", "127.0.0.1:8765"])
        assert result.exit_code != 0 and "http://" in result.output and "Traceback" not in result.output
        assert phone.shell_log == []


def test_the_am_start_command_is_the_fixture_the_app_is_tested_with():
    """tests/fixtures/am_start_benchmark.txt is what the Android app's own test parses: one source of truth."""
    from abpn.bench.am_start import am_start_command
    from abpn.bench.plan import BenchmarkRequest

    request = BenchmarkRequest(
        run_id="0f8c2f4e-6a1b-4c3d-9e8f-7a6b5c4d3e2f", model="/data/local/tmp/abpn/abpn_x3_int8.tflite",
        input="/data/local/tmp/abpn/" + "ab" * 32 + ".input.bin",
        expected="/data/local/tmp/abpn/" + "ab" * 32 + ".expected.bin",
        accelerators=("cpu", "gpu", "nnapi", "qnn_htp"), threads=4, warmup=3, runs=20, cooldown_s=10,
        cooldown_max_s=60, require_full_delegation=True, nnapi_accelerator="qti-htp")
    fixture = Path(__file__).with_name("fixtures") / "am_start_benchmark.txt"
    assert am_start_command(request) + "\n" == fixture.read_text()
    assert am_start_command(request).startswith("am start -S -W -n org.abpn.app/.BenchmarkActivity ")


def test_without_threads_the_app_chooses_as_benchmark_model_does():
    """benchmark_model's num_threads defaults to -1 (TFLite chooses): without --threads the host sends no
    threads extra, and the app's own default (-1) applies."""
    from abpn.bench.am_start import am_start_argv
    from abpn.bench.plan import BenchmarkRequest

    request = BenchmarkRequest(run_id="0f8c2f4e-6a1b-4c3d-9e8f-7a6b5c4d3e2f", model="/m.tflite", input="/i.bin",
                               expected=None, accelerators=("cpu",))
    assert "threads" not in am_start_argv(request)
    assert am_start_argv(BenchmarkRequest(**{**request.__dict__, "threads": 2})).count("threads") == 1


def bench_twice(model, **mode):
    """push-and-bench twice in a row on one test phone in `mode` (the second run installs nothing)."""
    with TestPhone(**mode) as phone:
        first = bench(phone.serial, model=model)
        second = bench(phone.serial, model=model, apk=None)
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    return phone


def test_two_runs_in_a_row_on_a_live_task(workdir, float_tflite_fixed):
    """The app's task stays alive after the first run: without -S the second am start starts nothing."""
    phone = bench_twice(float_tflite_fixed, reuse_task=True)
    rows = stored_rows()
    assert len(rows) == 2 and rows[0][0] != rows[1][0]
    assert sorted(phone.runs_started) == sorted(r[0] for r in rows)  # each record is a run the app really made


def test_the_brought_to_front_warning_is_an_error_that_says_so():
    from abpn.bench.device import ShellResult
    from abpn.bench.am_start import am_start_problem

    answer = ShellResult("Starting: Intent { cmp=org.abpn.app/.BenchmarkActivity (has extras) }\n"
                         "Warning: Activity not started, its current task has been brought to the front\n"
                         "Status: ok\nLaunchState: HOT\nActivity: org.abpn.app/.BenchmarkActivity\nWaitTime: 5\n"
                         "Complete\n", 0)
    problem = am_start_problem(answer)
    assert problem.startswith("Android did not start the benchmark: the app's task was still open, so Android "
                              "only brought it to the front")
    assert am_start_problem(ShellResult(answer.output.replace(answer.output.splitlines()[1] + "\n", ""), 0)) is None
    missing = am_start_problem(ShellResult("Starting: Intent { cmp=org.abpn.app/.BenchmarkActivity }\nError type 3\n"
                                           "Error: Activity class {org.abpn.app/org.abpn.app.BenchmarkActivity} does "
                                           "not exist.\n", 0))
    assert "install the current APK with --apk" in missing


def test_two_runs_when_the_shell_cannot_read_android_data(workdir, float_tflite_fixed):
    bench_twice(float_tflite_fixed, hide_android_data=True)
    assert len({r[0] for r in stored_rows()}) == 2


def test_an_old_app_without_the_results_provider_cannot_be_read(workdir, float_tflite_fixed):
    with TestPhone(preinstall=True, results_provider=False) as phone:
        result = bench(phone.serial, model=float_tflite_fixed, apk=None, extra=["--timeout", "60"])
    assert result.exit_code == 1
    assert "cannot read the result from the phone" in result.output
    assert "Could not find provider: org.abpn.app.results" in result.output
    assert "This is not a missing result: the installed app has no results provider" in result.output


def test_a_crashing_accelerator_costs_only_its_row(workdir, float_tflite_fixed):
    with TestPhone(crash_accelerator="gpu") as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
    assert result.exit_code == 0, result.output
    record = stored_record(workdir)
    cpu, gpu, nnapi = record["results"]
    assert cpu["status"] == "ok" and len(cpu["samples_ms"]) == 3 and nnapi["status"] == "unsupported"
    assert gpu["status"] == "failed" and gpu["crash"]["signal"] == 11
    assert "gpu crashed (SIGSEGV); the other accelerators ran in processes of their own:" in result.output
    assert "Fatal signal 11 (SIGSEGV), code 1 (SEGV_MAPERR)" in result.output


def test_a_phone_with_16_kb_pages_is_warned_about_and_its_rows_say_why(workdir, float_tflite_fixed):
    with TestPhone(page_size=16384) as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
    assert result.exit_code == 0, result.output
    assert "this phone's kernel uses 16 KB pages" in result.output and "Gradle build (LiteRT" in result.output
    record = stored_record(workdir)
    assert [r["status"] for r in record["results"]] == ["unsupported"] * 3
    assert all("uses 16 KB pages (16384 bytes) and this APK's libtensorflowlite_jni.so (LOAD alignment 4096)"
               in r["reason"] for r in record["results"])


def test_a_phone_without_getconf_gets_no_page_warning(workdir, float_tflite_fixed):
    with TestPhone() as phone:
        phone._sh_getconf = None  # a toybox without getconf: "/system/bin/sh: getconf: inaccessible or not found", 127
        result = bench(phone.serial, model=float_tflite_fixed)
    assert result.exit_code == 0, result.output
    assert "KB pages" not in result.output
    record = stored_record(workdir)
    assert record["results"][0]["status"] == "ok"


def test_a_locked_phone_is_refused_with_how_to_unlock_it(workdir, float_tflite_fixed):
    with TestPhone(locked=True) as phone:
        refused = bench(phone.serial, model=float_tflite_fixed)
        assert not phone.local("/data/local/tmp/abpn").exists() and phone.runs_started == []
        allowed = bench(phone.serial, model=float_tflite_fixed, extra=["--allow-locked"])
    assert refused.exit_code == 1
    assert "the phone is locked (its lock screen is showing)" in refused.output
    assert "Unlock the phone and run again" in refused.output and "Screen lock to None" in refused.output
    assert allowed.exit_code == 0, allowed.output
    record = stored_record(workdir)
    assert record["results"][0]["conditions"]["before"]["keyguard_locked"] is True


def test_a_sleeping_phone_is_woken_before_the_run(workdir, float_tflite_fixed):
    with TestPhone(screen_off=True) as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
        woke = phone.shell_log.index(next(line for line in phone.shell_log if "KEYCODE_WAKEUP" in line))
        start = phone.shell_log.index(next(line for line in phone.shell_log if line.startswith("am start")))
    assert result.exit_code == 0, result.output
    assert woke < start and "the screen was asleep: woke it (awake now)" in result.output
    record = stored_record(workdir)
    assert all(r["conditions"]["before"]["screen_on"] for r in record["results"])


def test_cooldown_waits_for_thermal_status_none_capped(workdir, float_tflite_fixed):
    with TestPhone(thermal_status=2) as phone:
        result = bench(phone.serial, model=float_tflite_fixed, extra=["--accelerators", "cpu,gpu",
                                                                      "--cooldown-max", "1"])
    assert result.exit_code == 0, result.output
    cpu, gpu = stored_record(workdir)["results"]
    assert cpu["conditions"]["cooldown_waited_s"] == 0 and cpu["conditions"]["after"]["thermal_status"] == 2
    assert 1 <= gpu["conditions"]["cooldown_waited_s"] < 3  # capped by --cooldown-max
    assert "cool-down s" in result.output


def test_an_app_signed_with_another_key_is_never_uninstalled(workdir, float_tflite_fixed):
    with TestPhone(preinstall=True, signature_mismatch=True) as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
        assert phone.installed_apk().read_bytes() == b"preinstalled test APK"
        assert not any("uninstall" in line for line in phone.shell_log)
        assert not phone.local("/data/local/tmp/abpn/abpn-app.apk").exists()  # the pushed APK is removed
    assert result.exit_code == 1
    assert "the org.abpn.app installed on the phone is signed with another key than app.apk" in result.output
    assert "INSTALL_FAILED_UPDATE_INCOMPATIBLE: Existing package org.abpn.app signatures do not match" in result.output
    assert f"`adb -s {phone.serial} uninstall org.abpn.app` yourself" in result.output
    assert "deletes the results it keeps on the phone" in result.output


def test_a_collector_that_is_not_there_is_found_before_any_phone(workdir, float_tflite_fixed):
    port = free_port()  # nothing listens once closed
    with TestPhone(preinstall=True) as phone:
        result = bench(phone.serial, model=float_tflite_fixed, apk=None,
                       extra=["--collector", f"http://127.0.0.1:{port}"])
        assert phone.shell_log == []
    assert result.exit_code == 1
    assert f"cannot reach the collector at http://127.0.0.1:{port}" in result.output
    assert "no phone was touched" in result.output


def test_a_partial_delegation_is_not_reported_as_the_accelerator(workdir, float_tflite_fixed):
    """The GPU delegate takes 3 nodes and the rest runs on XNNPACK; NNAPI takes none: the table says so,
    and --require-full-delegation makes the partial one a failure."""
    with TestPhone(delegates={"gpu": 3, "nnapi": 0}) as phone:
        shown = bench(phone.serial, model=float_tflite_fixed, extra=["--nnapi-accelerator", "qti-htp"])
        strict = bench(phone.serial, model=float_tflite_fixed, apk=None, extra=["--require-full-delegation"])
    assert shown.exit_code == 0, shown.output
    assert strict.exit_code == 0, strict.output
    rows = {line.split()[0]: line for line in shown.output.splitlines() if line.split()[:1] in (["gpu"], ["nnapi"])}
    total = json.loads(next((workdir / "out" / "raw").glob("*.json")).read_text())["results"][0]["delegation"][
        "total_nodes"]
    assert f" 3/{total} ({100 * 3 / total:.0f}%) " in rows["gpu"] and " ok " in rows["gpu"]
    assert " not_delegated " in rows["nnapi"] and "took 0 of" in rows["nnapi"]
    gpu_strict = next(line for line in strict.output.splitlines() if line.startswith("gpu "))
    assert " failed " in gpu_strict and f"delegated 3 of {total} nodes (require_full_delegation)" in gpu_strict
    records = [json.loads(raw.read_text()) for raw in (workdir / "out" / "raw").glob("*.json")]
    first = next(r for r in records if r["results"][1]["status"] == "ok")
    assert first["results"][2]["options"] == {"nnapi_accelerator": "qti-htp"}  # passed on as an extra
    assert first["results"][1]["options"] == {"gpu_backend": "opencl"}


def test_the_table_shows_the_delegated_share():
    from record_samples import ok_result, phone_record

    from abpn.bench.console import results_table

    partial = ok_result("gpu", 200.0, seed=2)
    partial["delegation"] = {"delegated_nodes": 7, "total_nodes": 12, "fallback": "xnnpack", "evidence": None}
    table = results_table(phone_record(results=[ok_result("cpu", 800.0, seed=1), partial]))
    gpu_row = next(line for line in table.splitlines() if line.startswith("gpu "))
    assert "7/12 (58%)" in gpu_row


def test_cpu_is_measured_first_so_fallbacks_can_be_compared_with_it():
    from abpn.bench.plan import parse_accelerators

    assert parse_accelerators("gpu,qnn_htp,cpu,gpu") == ["cpu", "gpu", "qnn_htp"]


def test_the_host_runs_nothing_on_the_phone_while_it_measures(workdir, float_tflite_fixed):
    """Each accelerator measures for over a second; the host waits out the app's quiet time (its only
    liveness check meanwhile is a sync STAT, no process on the phone) and the app counts 0 host calls."""
    with TestPhone() as phone:
        result = bench(phone.serial, model=float_tflite_fixed,
                       extra=["--accelerators", "cpu,gpu", "--warmup-min-ms", "300", "--run-min-ms", "1200"])
        assert phone.commands_while_measuring == []
    assert result.exit_code == 0, result.output
    record = stored_record(workdir)
    assert record["conditions"]["host_commands_during_runs"] == 0
    cpu = record["results"][0]
    assert cpu["status"] == "ok" and cpu["process"]["cpuset"] == "/top-app" and cpu["memory"]["peak_rss_bytes"] > 0
    assert "complete" not in record or record["complete"] is True


def test_a_hung_accelerator_costs_one_row(workdir, float_tflite_fixed):
    with TestPhone(hang_accelerator="gpu") as phone:
        result = bench(phone.serial, model=float_tflite_fixed, extra=["--accelerator-timeout", "2"])
        assert any("--ei accelerator_timeout_s 2 " in line for line in phone.shell_log)
    assert result.exit_code == 0, result.output
    record = stored_record(workdir)
    cpu, gpu, nnapi = record["results"]
    assert cpu["status"] == "ok" and nnapi["status"] == "unsupported"
    assert gpu["status"] == "failed" and gpu["reason"] == "timed out after 2 s (the accelerator's process was killed)"
    assert record.get("complete", True) is True


def test_a_host_that_gives_up_stores_the_partial_record(workdir, float_tflite_fixed):
    """The gpu hangs longer than the host waits: the host reads the record the app wrote after the cpu row
    and stores it as it is (complete: false), then says it timed out."""
    with TestPhone(hang_accelerator="gpu") as phone:
        result = bench(phone.serial, model=float_tflite_fixed, extra=["--timeout", "8"])
        assert any("--ei accelerator_timeout_s 30 " in line for line in phone.shell_log)  # 8 s / 3, at least 30
    assert result.exit_code == 1
    assert "no complete result after 8 s: the app is still running at 'gpu: starting' (1 of 3 accelerators " \
           "measured)" in result.output
    assert "The partial record (1 accelerator row(s)) is stored as out/raw/" in result.output
    record = stored_record(workdir)
    assert record["complete"] is False and record["incomplete_reason"].startswith("1 of 3 accelerators measured")
    assert [r["accelerator"] for r in record["results"]] == ["cpu"] and record["results"][0]["status"] == "ok"


def test_a_wireless_debugging_port_is_explained(workdir, float_tflite_fixed):
    with TestPhone(wireless_debugging=True) as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
        assert phone.shell_log == []
    assert result.exit_code == 1
    assert f"{phone.serial}: the phone asked for TLS (it answered ADB's CONNECT with STLS)" in result.output
    assert "adb-shell" in result.output and "`adb tcpip 5555`" in result.output and "`adb pair" in result.output


def test_xiaomi_refusing_installs_over_usb_says_which_setting(workdir, float_tflite_fixed):
    with TestPhone(install_restriction="xiaomi") as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
        assert not phone.local("/data/local/tmp/abpn/abpn-app.apk").exists()
    assert result.exit_code == 1
    assert "Failure [INSTALL_FAILED_USER_RESTRICTED: Install canceled by user]" in result.output
    assert "Developer options > 'Install via USB'" in result.output


def test_xiaomi_refusing_input_events_says_which_setting(workdir, float_tflite_fixed):
    with TestPhone(install_restriction="xiaomi", preinstall=True, screen_off=True) as phone:
        asleep = bench(phone.serial, model=float_tflite_fixed, apk=None)
        phone.screen_on = True
        awake = bench(phone.serial, model=float_tflite_fixed, apk=None)
    assert asleep.exit_code == 1
    assert "the screen is asleep and cannot be woken" in asleep.output
    assert "Developer options > 'USB debugging (Security settings)'" in asleep.output
    assert awake.exit_code == 0, awake.output  # awake already: said, and the run goes on
    assert "could not wake the screen before the run" in awake.output


def test_an_install_held_by_play_protect_times_out_with_advice(workdir, float_tflite_fixed, monkeypatch):
    import time

    from abpn.bench import install

    monkeypatch.setattr(install, "INSTALL_TIMEOUT_S", 2.0)
    with TestPhone(install_restriction="play-protect") as phone:
        started = time.monotonic()
        result = bench(phone.serial, model=float_tflite_fixed)
        took = time.monotonic() - started
        assert phone.runs_started == []
    assert result.exit_code == 1 and took < 25
    assert "installing the app gave no answer within 2 s" in result.output
    assert "'Verify apps over USB'" in result.output and "Play Protect" in result.output



def test_a_death_during_the_quiet_time_is_found_by_stat_not_by_asking(workdir, float_tflite_fixed):
    """The app dies 2 s into a 20 s quiet time: the sync STAT of /proc/<pid> (no process on the phone)
    ends the wait; the host does not sit out the quiet time or the timeout."""
    import threading
    import time

    def crash_two_seconds_into_the_cpu():
        if phone.wait_measuring():
            time.sleep(2)
            phone.crash_main_process("java.lang.OutOfMemoryError: Failed to allocate")

    with TestPhone(hang_accelerator="cpu") as phone:
        threading.Thread(target=crash_two_seconds_into_the_cpu, daemon=True).start()
        started = time.monotonic()
        result = bench(phone.serial, model=float_tflite_fixed,
                       extra=["--accelerators", "cpu", "--run-min-ms", "20000", "--timeout", "60"])
        took = time.monotonic() - started
        assert phone.commands_while_measuring == []
    assert result.exit_code == 1
    assert "the app restarted during the run (pid " in result.output
    assert "java.lang.OutOfMemoryError: Failed to allocate" in result.output
    assert "followed the run with 2 provider call(s) and 1 process check(s)" in result.output
    assert took < 20


def test_a_run_that_never_started_is_not_called_a_restart(adb_home, monkeypatch, float_tflite_fixed):
    """am start returned, but the app has no such run: "never started", not "restarted"."""
    from abpn.bench.device import Phone, load_signer
    from abpn.bench.follow import RunFollower
    from abpn.bench.provider import ResultsProvider

    monkeypatch.setenv("HOME", str(adb_home))
    said = []
    with TestPhone(preinstall=True) as phone, Phone(phone.serial, load_signer()) as device:
        provider = ResultsProvider(device, phone.serial, "0f8c2f4e-6a1b-4c3d-9e8f-7a6b5c4d3e2f")
        followed = RunFollower(device, provider, 30, said.append).follow()
    assert followed.problem == ("the app never started run 0f8c2f4e-6a1b-4c3d-9e8f-7a6b5c4d3e2f: am start returned, "
                                "but the app has no record of it")
    assert followed.record is None and followed.asks == 1
