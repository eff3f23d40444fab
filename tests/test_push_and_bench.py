"""push-and-bench against test phones (tests/adb_phone.py): real ADB protocol, real TFLite on the
phone side, real SQLite; one test per failure the issue lists."""
import json
import os
import sqlite3
import stat
from contextlib import closing

import pytest
from click.testing import CliRunner

from abpn.cli import main
from adb_phone import TestPhone

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
    (tmp_path / "app.apk").write_bytes(b"PK\x03\x04 stand-in APK for the test phone")
    return tmp_path


def bench(*devices, model, extra=(), apk="app.apk"):
    args = ["push-and-bench", "--model", str(model), "--runs", "3", "--warmup", "1", "--accelerators", "cpu,gpu,nnapi",
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
    ("fe80::1:5555", "write an IPv6 address in brackets, as [ADDRESS]:PORT"),
    ("192.168.1.20:70000", "the port after ':' must be a number from 1 to 65535"),
    ("[]:5555", "no host before the port"),
])
def test_a_malformed_target_is_refused_before_any_phone(workdir, float_tflite_fixed, target, message):
    with TestPhone() as phone:
        result = bench(phone.serial, target, model=float_tflite_fixed)
        assert not phone.shell_log
    assert result.exit_code != 0 and f"{target}: {message}" in result.output
    assert stored_rows() == []


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
    assert f"{serial}: cannot reach the phone" in result.output and "wireless debugging" in result.output


@pytest.mark.parametrize("fault", ["refuse_auth", "pending_auth"])
def test_authorization_refused_or_pending(workdir, float_tflite_fixed, fault):
    with TestPhone(**{fault: True}) as phone:
        result = bench(phone.serial, model=float_tflite_fixed)
    assert result.exit_code == 1
    assert "accept the 'Allow USB debugging?' prompt" in result.output
    assert phone.auth_prompts == 1 and not phone.shell_log


def test_app_crash_times_out_with_logcat(workdir, float_tflite_fixed):
    with TestPhone(crash_app=True) as phone:
        phone.log("I", "WifiService", "scan done")
        result = bench(phone.serial, model=float_tflite_fixed, extra=["--timeout", "2"])
    assert result.exit_code == 1
    assert "no result after 2 s: the app crashed or never wrote its result" in result.output
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
    assert bad.exit_code == 1 and "is not a TFLite model" in bad.output
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
    assert refused.exit_code == 1 and "answered 401 (check --token)" in refused.output
    kept = refused.output.split("the result is kept as ")[1].split()[0]
    assert json.loads(open(kept).read())["device"]["model"] == "Test Phone"  # nothing collected is lost


def test_a_collector_address_without_scheme_is_refused_before_any_phone(workdir, float_tflite_fixed):
    with TestPhone(preinstall=True) as phone:
        result = bench(phone.serial, model=float_tflite_fixed, apk=None, extra=["--collector", "127.0.0.1:8765"])
        assert result.exit_code != 0 and "http://" in result.output and "Traceback" not in result.output
        assert phone.shell_log == []


def test_cpu_is_measured_first_so_fallbacks_can_be_compared_with_it():
    from abpn.bench.phone import parse_accelerators

    assert parse_accelerators("gpu,qnn_htp,cpu,gpu") == ["cpu", "gpu", "qnn_htp"]
