"""The test phone itself: Google's adb client and adb-shell both work against it, its shell parses
like sh (so missing quotes show) and keeps exit statuses, its Android tools print what Android's do,
and its app writes real result records."""
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from adb_phone import LAST_STATUS, TestPhone, split_command_line
from collector_helpers import free_port

HOSTILE = "/data/local/tmp/abpn/a b;touch pwned'$(x)`y`\"z\""


@pytest.fixture(scope="session")
def adb_key(tmp_path_factory):
    from abpn.bench.device import load_signer

    home = tmp_path_factory.mktemp("adb-home")
    path = home / ".android" / "adbkey"
    return load_signer(path), path


def _start_benchmark(device, run_id, *flags):
    """`am start` of the benchmark with BENCH_EXTRAS, as the host sends it ("-S" to force-stop first)."""
    return device.shell("am", "start", *flags, "-W", "-n", "org.abpn.app/.BenchmarkActivity", "--es", "run_id", run_id,
                        *BENCH_EXTRAS)


def _connect(phone, signer, **kwargs):
    from abpn.bench.device import Phone

    return Phone(phone.serial, signer, transport_timeout_s=5, read_timeout_s=10, **kwargs).connect()


def test_adb_client_against_the_standalone_test_phone(tmp_path):
    """Google's `adb` (Debian's build) with its own server on a private port, against
    `python tests/adb_phone.py --port PORT` started as a program of its own."""
    adb = shutil.which("adb")
    if adb is None:
        pytest.skip("the Debian package `adb` is not installed (scripts/apt-packages.txt)")
    home, sandbox = tmp_path / "home", tmp_path / "sandbox"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "ANDROID_ADB_SERVER_PORT": str(free_port())}
    env.pop("ANDROID_SERIAL", None)
    phone_port = free_port()
    serial = f"127.0.0.1:{phone_port}"

    def adb_run(*args, timeout=30):
        return subprocess.run([adb, *args], env=env, capture_output=True, text=True, timeout=timeout)

    payload = tmp_path / "payload with space.bin"
    payload.write_bytes(os.urandom(300_000))  # several 64K sync chunks and WRTE packets
    phone = subprocess.Popen([sys.executable, str(Path(__file__).with_name("adb_phone.py")), "--port", str(phone_port),
                              "--sandbox", str(sandbox), "--prop", "ro.product.model=Pixel Test"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert "listening on" in phone.stdout.readline()
        adb_run("connect", serial)
        adb_run("-s", serial, "wait-for-device")
        assert f"{serial}\tdevice" in adb_run("devices").stdout
        assert adb_run("-s", serial, "shell", "getprop", "ro.product.model").stdout.strip() == "Pixel Test"
        pushed = adb_run("-s", serial, "push", str(payload), "/data/local/tmp/in.bin")
        assert pushed.returncode == 0, pushed.stderr
        assert (sandbox / "data/local/tmp/in.bin").read_bytes() == payload.read_bytes()
        back = tmp_path / "back.bin"
        pulled = adb_run("-s", serial, "pull", "/data/local/tmp/in.bin", str(back))
        assert pulled.returncode == 0, pulled.stderr
        assert back.read_bytes() == payload.read_bytes()
        assert adb_run("-s", serial, "pull", "/data/local/tmp/nothing", str(tmp_path / "x")).returncode != 0
    finally:
        adb_run("kill-server", timeout=15)
        phone.terminate()
        phone.wait(timeout=15)


def test_shell_parses_like_sh():
    assert split_command_line("ls -l '/a b' \"c d\" e\\ f") == (["ls", "-l", "/a b", "c d", "e f"], [])
    tokens, expansions = split_command_line("echo a;touch pwned && rm x")
    assert tokens == ["echo", "a", (";",), "touch", "pwned", ("&&",), "rm", "x"]
    assert split_command_line("echo $(id) \"$HOME\" '$(safe)'")[1] == ["$(id) \"$HOME\" '$(safe)'", "$HOME\" '$(safe)'"]
    assert split_command_line(shlex.join(["cat", HOSTILE])) == (["cat", HOSTILE], [])
    # `$?` is the one expansion the test phone does: the exit status the host reads back.
    assert split_command_line('ls; echo "\nX$?"') == (["ls", (";",), "echo", f"\nX{LAST_STATUS}"], [])


def test_exit_statuses_follow_sh(adb_key):
    """`;` runs on, `&&` stops at a failure, `$?` is the last command's status; adb-shell's Phone.shell
    reads it back through its marker."""
    signer, _ = adb_key
    with TestPhone() as phone:
        assert phone.run_shell("ls /nothing; echo $?") == "ls: /nothing: No such file or directory\n1\n"
        assert phone.run_shell("ls /nothing && echo reached; echo $?") == (
            "ls: /nothing: No such file or directory\n1\n")
        assert phone.run_shell("nosuchtool; echo $?").endswith("inaccessible or not found\n127\n")
        with _connect(phone, signer) as device:
            missing = device.shell("ls", "/data/local/tmp/none")
            assert (missing.output, missing.exit_code) == ("ls: /data/local/tmp/none: No such file or directory\n", 1)
            phone.local("/data/local/tmp/plain").write_text("no newline at the end")
            assert device.shell("cat", "/data/local/tmp/plain").output == "no newline at the end"
            assert device.pidof("org.abpn.app") == []  # pidof exits 1 with no app process


def test_unquoted_paths_run_commands_on_the_test_phone_as_on_a_real_one():
    """The check the quoting tests rely on: without quotes, `;` runs a command and `$(...)` is caught."""
    with TestPhone() as phone:
        phone.run_shell("touch /data/local/tmp/a b;touch /data/local/tmp/pwned")
        assert phone.local("/data/local/tmp/pwned").is_file()
        phone.run_shell("cat /data/local/tmp/$(id)")
        assert phone.expansions == ["$(id)"]
        phone.expansions.clear()
        phone.run_shell(shlex.join(["touch", HOSTILE]))
        assert phone.local(HOSTILE).is_file()
        assert not phone.expansions and not phone.local("/pwned").exists()


def test_adb_shell_trusted_key_connects_without_prompt(adb_key):
    signer, path = adb_key
    with TestPhone(trusted_keys=[path.with_name("adbkey.pub").read_text()]) as phone:
        with _connect(phone, signer) as device:
            assert device.getprops()["ro.soc.model"] == "SM8350"
        assert phone.auth_prompts == 0


def test_sync_service_with_adb_shell(adb_key, tmp_path):
    signer, _ = adb_key
    local = tmp_path / "model;$(rm -rf).bin"
    local.write_bytes(os.urandom(200_000))
    with TestPhone() as phone, _connect(phone, signer) as device:
        device.push(local, HOSTILE)
        assert phone.local(HOSTILE).read_bytes() == local.read_bytes()
        assert device.device.stat(HOSTILE)[:2] == (0o100644, 200_000)
        assert device.device.stat("/data/local/tmp/none") == (0, 0, 0)
        pulled = io.BytesIO()
        device.device.pull(HOSTILE, pulled)
        assert pulled.getvalue() == local.read_bytes()
        names = [f.filename.decode() for f in device.device.list("/data/local/tmp/abpn")]
        assert HOSTILE.rsplit("/", 1)[1] in names
        assert device.sha256(HOSTILE) == __import__("hashlib").sha256(local.read_bytes()).hexdigest()
        assert not phone.expansions and not phone.local("/pwned").exists()


def test_full_disk_fails_a_push_and_df_says_so(adb_key, tmp_path):
    from abpn.errors import AbpnError

    signer, _ = adb_key
    local = tmp_path / "big.bin"
    local.write_bytes(b"x" * 100_000)
    with TestPhone(disk_free_bytes=50_000) as phone, _connect(phone, signer) as device:
        assert device.free_bytes("/data/local/tmp") == 48 * 1024  # df -k rounds down to whole KiB
        with pytest.raises(AbpnError, match="not enough space on the phone"):
            device.push(local, "/data/local/tmp/big.bin")
        assert not phone.local("/data/local/tmp/big.bin").exists()


def _stage_model(phone, float_tflite_fixed):
    import numpy as np

    from abpn.model.modelfile import TFLiteRunner

    upscaler = TFLiteRunner(float_tflite_fixed)
    x = upscaler.encode_input(np.random.default_rng(0).integers(0, 256, (36, 64, 3), dtype=np.uint8))
    for name, content in (("m.tflite", float_tflite_fixed.read_bytes()), ("in.bin", x.tobytes()),
                          ("exp.bin", upscaler.invoke_raw(x).tobytes())):
        target = phone.local(f"/data/local/tmp/abpn/{name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


BENCH_EXTRAS = ["--es", "model", "/data/local/tmp/abpn/m.tflite", "--es", "accelerators", "cpu,gpu",
                "--ei", "runs", "3", "--ei", "warmup", "1", "--ei", "warmup_min_ms", "0", "--ei", "run_min_ms", "0",
                "--es", "input", "/data/local/tmp/abpn/in.bin", "--es", "expected", "/data/local/tmp/abpn/exp.bin"]
URI = "content://org.abpn.app.results/runs/"


def test_app_benchmark_writes_a_valid_record(adb_key, float_tflite_fixed):
    """am start runs the protocol's benchmark with the real TFLite runtime on the phone side; the results
    provider serves it as AOSP's `content` tool prints rows and files."""
    from abpn.record.build import record_errors

    signer, _ = adb_key
    with TestPhone(preinstall=True) as phone:
        _stage_model(phone, float_tflite_fixed)
        run_id, bad_id = str(uuid.uuid4()), str(uuid.uuid4())
        with _connect(phone, signer) as device:
            assert device.content_query(URI + run_id).output == "No result found.\n"
            started = _start_benchmark(device, run_id, "-S").output
            assert started.startswith("Stopping: org.abpn.app\nStarting: Intent {") and "Status: ok" in started
            phone.wait_idle()
            row = device.content_query(URI + run_id).output
            pid = device.pidof("org.abpn.app")[0]
            assert row.startswith(f"Row: 0 run_id={run_id}, state=done, pid={pid}, progress=done, updated_ms=")
            record = json.loads(device.content_read(URI + run_id + ".json").output)
            device.shell("am", "start", "-S", "-W", "-n", "org.abpn.app/.BenchmarkActivity", "--es", "model",
                         "/data/local/tmp/abpn/missing.tflite", "--es", "run_id", bad_id)
            phone.wait_idle()
            assert f"state=error, pid={device.pidof('org.abpn.app')[0]}" in device.content_query(URI + bad_id).output
            error = json.loads(device.content_read(URI + bad_id + ".error.json").output)
            missing = device.content_read(URI + str(uuid.uuid4()) + ".json")
            # Internal storage: the shell sees nothing there, only the provider does.
            assert device.device.stat(f"/data/data/org.abpn.app/files/results/{run_id}.json") == (0, 0, 0)
    assert missing.ok and missing.output.startswith("Error while accessing provider:org.abpn.app.results\n"
                                                    "java.io.FileNotFoundException: ")
    assert record_errors(record) == []
    assert record["run_id"] == run_id and record["app"]["name"] == "adb-test-phone"
    cpu, gpu = record["results"]
    assert cpu["status"] == "ok" and cpu["runs"] == 3 and cpu["output_check"]["passed"]
    assert len(cpu["timing"]["wall_samples_ms"]) == 3 and cpu["delegation"]["delegated_nodes"] > 0
    assert cpu["conditions"]["before"]["screen_on"] is True and cpu["conditions"]["cooldown_waited_s"] == 0
    assert {k: gpu[k] for k in ("status", "reason")} == {"status": "unsupported", "reason": "test phone has no GPU"}
    assert "missing.tflite" in error["error"]


def test_am_start_without_stop_on_a_live_task_starts_nothing(adb_key, float_tflite_fixed):
    """Android's answer when the app's task is alive, with ActivityManagerShellCommand's wording; -S
    force-stops the app and starts a real run."""
    signer, _ = adb_key
    with TestPhone(preinstall=True, reuse_task=True) as phone:
        _stage_model(phone, float_tflite_fixed)
        with _connect(phone, signer) as device:
            ids = [str(uuid.uuid4()) for _ in range(3)]
            _start_benchmark(device, ids[0])
            phone.wait_idle()
            again = _start_benchmark(device, ids[1])
            assert again.ok and again.output.splitlines()[1:3] == [
                "Warning: Activity not started, its current task has been brought to the front", "Status: ok"]
            assert device.content_query(URI + ids[1]).output == "No result found.\n"
            _start_benchmark(device, ids[2], "-S")
            phone.wait_idle()
            assert "state=done" in device.content_query(URI + ids[2]).output
    assert phone.runs_started == [ids[0], ids[2]]


def test_a_crashing_accelerator_process_leaves_the_others(adb_key, float_tflite_fixed):
    """The gpu's own process dies of SIGSEGV with debuggerd's lines in the crash buffer; the main process
    keeps the crash as gpu's row and runs the CPU."""
    signer, _ = adb_key
    with TestPhone(preinstall=True, crash_accelerator="gpu") as phone:
        _stage_model(phone, float_tflite_fixed)
        run_id = str(uuid.uuid4())
        with _connect(phone, signer) as device:
            _start_benchmark(device, run_id, "-S")
            phone.wait_idle()
            record = json.loads(device.content_read(URI + run_id + ".json").output)
            crash_log = device.logcat(50, buffer="crash")
    cpu, gpu = record["results"]
    assert cpu["status"] == "ok"
    assert gpu["status"] == "failed" and gpu["crash"]["signal_name"] == "SIGSEGV"
    assert gpu["crash"]["log"][0].startswith("Fatal signal 11 (SIGSEGV), code 1 (SEGV_MAPERR), fault addr 0x0 in tid")
    assert any(" F libc: Fatal signal 11 (SIGSEGV)" in line for line in crash_log)
    assert any(line.endswith(" F DEBUG: *** *** *** *** *** *** *** *** *** *** *** *** *** *** *** ***")
               for line in crash_log)


def test_android_tools_speak_as_android(adb_key):
    """Screen, keyguard, package manager and provider answers, in AOSP's wording."""
    signer, _ = adb_key
    with TestPhone(preinstall=True, screen_off=True, locked=True, signature_mismatch=True,
                   hide_android_data=True) as phone, _connect(phone, signer) as device:
        state = device.screen_state()
        assert (state.screen_on, state.keyguard_locked, state.wakefulness) == (False, True, "Asleep")
        device.wake_screen()
        assert device.screen_state().screen_on is True and device.screen_state().keyguard_locked is True
        device.shell("touch", "/data/local/tmp/new.apk")
        install = device.install_apk("/data/local/tmp/new.apk", 30)
        assert (install.output, install.exit_code) == (
            "Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE: Existing package org.abpn.app signatures do not match "
            "newer version; ignoring!]\n", 1)
        phone.local("/sdcard/Android/data/org.abpn.app/files/r.json").parent.mkdir(parents=True)
        phone.local("/sdcard/Android/data/org.abpn.app/files/r.json").write_text("{}")
        assert device.device.stat("/sdcard/Android/data/org.abpn.app/files/r.json") == (0, 0, 0)  # looks missing
        with pytest.raises(Exception, match="open failed: Permission denied"):
            device.device.pull("/sdcard/Android/data/org.abpn.app/files/r.json", io.BytesIO())
        assert device.shell("ls", "/sdcard/Android/data/org.abpn.app").exit_code == 1
        # toybox getconf (toys/posix/getconf.c): the value, or "bad 'NAME'" with exit status 1.
        assert device.page_size() == 4096
        unknown = device.shell("getconf", "PAGE_SIZES")
        assert (unknown.output, unknown.exit_code) == ("getconf: bad 'PAGE_SIZES'\n", 1)
    with TestPhone(page_size=16384) as phone, _connect(phone, signer) as device:
        assert device.page_size() == 16384
    with TestPhone(preinstall=True, results_provider=False) as phone, _connect(phone, signer) as device:
        answer = device.content_query(URI + str(uuid.uuid4()))
    assert answer.ok and answer.output.splitlines()[:2] == [
        "Error while accessing provider:org.abpn.app.results",
        "java.lang.IllegalStateException: Could not find provider: org.abpn.app.results"]


def test_refused_auth_closes_and_dropped_phone_stays_gone(adb_key, tmp_path):
    from abpn.errors import AbpnError

    signer, _ = adb_key
    with TestPhone(refuse_auth=True) as phone:
        with pytest.raises(AbpnError, match="did not authorize"):
            _connect(phone, signer, auth_timeout_s=5)
    local = tmp_path / "f.bin"
    local.write_bytes(b"y" * 150_000)
    with TestPhone(drop_after_bytes=70_000) as phone:
        device = _connect(phone, signer)
        started = time.monotonic()
        with pytest.raises(AbpnError, match="disconnected while pushing f.bin"):
            device.push(local, "/data/local/tmp/f.bin")
        assert time.monotonic() - started < 5  # a dead link is noticed, not waited out
        with pytest.raises(AbpnError, match="cannot reach the phone"):
            _connect(phone, signer)


def _row(device, run_id):
    from abpn.bench.provider import ResultsProvider

    return ResultsProvider(device, "test", run_id).query()


def test_provider_rows_partial_records_and_the_call_count_follow_protocol_v3(adb_key, float_tflite_fixed):
    """A hung gpu: while it hangs, the row says 1 of 2 rows done, `content read` gives the partial record,
    and every provider call made meanwhile is counted in the final record, whose gpu row timed out."""
    signer, _ = adb_key
    with TestPhone(preinstall=True, hang_accelerator="gpu") as phone:
        _stage_model(phone, float_tflite_fixed)
        run_id = str(uuid.uuid4())
        with _connect(phone, signer) as device:
            _start_benchmark(device, run_id, "-S", "--ei", "accelerator_timeout_s", "3")
            first = _row(device, run_id)
            deadline = time.monotonic() + 60
            while (row := _row(device, run_id)).rows_done < 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            partial = json.loads(device.content_read(URI + run_id + ".json").output)
            assert device.process_alive(row.pid) and not device.process_alive(99999)
            time.sleep(1)  # the gpu's service is bound by now, and hangs
            hanging = [_row(device, run_id) for _ in range(2)]
            phone.wait_idle()
            record = json.loads(device.content_read(URI + run_id + ".json").output)
            done = _row(device, run_id)
    assert first.state == "running" and first.pid == first.provider_pid and first.rows_total == 2
    assert first.quiet_until_ms > first.now_ms and first.started_ms <= first.now_ms
    assert row.state == "running" and row.rows_done == 1 and row.progress in ("cpu: done", "gpu: starting")
    assert partial["complete"] is False
    assert partial["incomplete_reason"] == "1 of 2 accelerators measured; the run is still going"
    assert [r["accelerator"] for r in partial["results"]] == ["cpu"]
    assert done.state == "done" and done.quiet_until_ms is None and done.rows_done == 2
    assert "complete" not in record and record["results"][1]["reason"] == (
        "timed out after 3 s (the accelerator's process was killed)")
    assert record["conditions"]["host_commands_during_runs"] == 2  # the two queries while the gpu hung
    assert all(r.progress == "gpu: starting" for r in hanging)
    assert record["results"][0]["memory"]["source"] == "/proc/self/status"


def test_a_dead_app_forgets_its_memory_and_a_provider_call_starts_a_new_one(adb_key, float_tflite_fixed):
    """--crash-app: the main process dies; its run's persisted entry survives, its quiet time (memory) does
    not, and the provider call itself starts the app again with a new pid, as Android does."""
    signer, _ = adb_key
    with TestPhone(preinstall=True, crash_app=True) as phone:
        _stage_model(phone, float_tflite_fixed)
        run_id = str(uuid.uuid4())
        with _connect(phone, signer) as device:
            _start_benchmark(device, run_id, "-S")
            phone.wait_idle()
            assert device.pidof("org.abpn.app") == []
            row = _row(device, run_id)
            assert device.pidof("org.abpn.app") == [row.provider_pid]
            assert not device.process_alive(row.pid) and device.process_alive(row.provider_pid)
    assert row.state == "running" and row.restarted and row.provider_pid != row.pid
    assert row.quiet_until_ms is None and row.rows_done == 0
