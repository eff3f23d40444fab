"""A phone for the tests: an ADB-protocol server (what adbd speaks over TCP) over a sandbox folder.

It speaks the real protocol, so Google's `adb` client works against it as well as `adb-shell`:
CNXN and RSA AUTH (a key is trusted when its signature of the 20-byte token verifies, or when the
simulated user taps "allow" for a new key), OPEN/OKAY/WRTE/CLSE streams with one unacknowledged
WRTE at a time, `shell:` commands and the sync service (STAT, LIST, SEND, RECV, DATA, DONE, QUIT).

The shell never runs a real shell. It splits command lines the way POSIX sh does (quotes,
backslashes, `;` and `&&`) and implements the commands abpn-tool uses, so a host that forgets to
quote a path sees what a phone would do with it: `a;touch pwned` runs `touch pwned`, and any `$(...)`,
backtick or `$VAR` that a real shell would expand is refused and remembered in `phone.expansions`.

The "app" behind `am start -n org.abpn.app/.BenchmarkActivity` follows docs/phone-protocol.md:
CPU through the real TFLite runtime, a real result record, `unsupported` for the other accelerators.

Faults for the failure tests: refuse_auth, pending_auth, drop_after_bytes (unplugged mid-transfer),
drop_during_run (unplugged while the app runs), crash_app, disk_free_bytes.

    python tests/adb_phone.py --port 5555 [--sandbox DIR] [--preinstall] [--prop KEY=VALUE ...]
"""
import argparse
import base64
import hashlib
import json
import os
import queue
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path, PurePosixPath


def _cmd(name):
    return int.from_bytes(name, "little")


A_SYNC, A_CNXN, A_AUTH, A_OPEN = _cmd(b"SYNC"), _cmd(b"CNXN"), _cmd(b"AUTH"), _cmd(b"OPEN")
A_OKAY, A_CLSE, A_WRTE = _cmd(b"OKAY"), _cmd(b"CLSE"), _cmd(b"WRTE")
AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3
# 0x01000001 lets a peer skip checksums; older peers (adb-shell sends 0x01000000) verify them, so
# this side always sends real ones and never insists on receiving them.
A_VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024
SYNC_DATA_MAX = 64 * 1024
# Stat mode bits the sync protocol reports (S_IFREG/S_IFDIR | permissions).
S_IFDIR, S_IFREG = 0o040000, 0o100000

PACKAGE = "org.abpn.app"
ACTIVITY = f"{PACKAGE}/.BenchmarkActivity"
ACTIVITY_FULL = f"{PACKAGE}/{PACKAGE}.BenchmarkActivity"
RESULTS_DIR = f"/sdcard/Android/data/{PACKAGE}/files/results"
ACCELERATORS = ("cpu", "gpu", "nnapi", "qnn_htp", "qnn_dsp")
UNSUPPORTED_REASON = {
    "gpu": "test phone has no GPU",
    "nnapi": "test phone has no NNAPI driver",
    "qnn_htp": "test phone has no Qualcomm HTP",
    "qnn_dsp": "test phone has no Qualcomm DSP",
}

DEFAULT_PROPS = {
    "ro.product.manufacturer": "ABPN",
    "ro.product.model": "Test Phone",
    "ro.product.name": "abpn_test",
    "ro.product.device": "abpn_test",
    "ro.soc.manufacturer": "QTI",
    "ro.soc.model": "SM8350",
    "ro.board.platform": "lahaina",
    "ro.hardware": "qcom",
    "ro.build.version.release": "14",
    "ro.build.version.sdk": "34",
    "ro.product.cpu.abi": "arm64-v8a",
}
BIG_DISK_BYTES = 64 * 1024**3


def pack_message(command, arg0, arg1, data=b""):
    return struct.pack("<6I", command, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF, command ^ 0xFFFFFFFF) + data


def adb_public_key(text):
    """adb's public key format (base64 of Android's RSAPublicKey struct, then ' user@host') → a key."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    blob = base64.b64decode(text.split()[0])
    words = struct.unpack_from("<I", blob)[0]
    size = words * 4
    modulus = int.from_bytes(blob[8 : 8 + size], "little")
    exponent = struct.unpack_from("<I", blob, 8 + 2 * size)[0]
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def signature_verifies(public_key, token, signature):
    """adb signs the token as if it were a SHA-1 digest (RSA_sign with NID_sha1)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    try:
        public_key.verify(signature, token, padding.PKCS1v15(), utils.Prehashed(hashes.SHA1()))
        return True
    except (InvalidSignature, ValueError):
        return False


# ---------------------------------------------------------------- the shell's command-line syntax


class ShellSyntaxError(Exception):
    pass


_OPERATOR_CHARS = ";&|<>()"
_EXPANSION_STARTS = set("({?!#$@*-_") | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def split_command_line(line):
    """POSIX sh word splitting: returns (tokens, expansions). A token is a word (str) or an operator
    (a 1-tuple such as (';',)). `expansions` lists every `$...` or backquote sh would have expanded."""
    tokens, expansions = [], []
    word, quoted = [], False
    i, n = 0, len(line)

    def end_word():
        nonlocal word, quoted
        if word or quoted:
            tokens.append("".join(word))
        word, quoted = [], False

    while i < n:
        c = line[i]
        if c == "'":
            close = line.find("'", i + 1)
            if close < 0:
                raise ShellSyntaxError("unterminated '")
            word.append(line[i + 1 : close])
            quoted = True
            i = close + 1
        elif c == '"':
            i += 1
            quoted = True
            while True:
                if i >= n:
                    raise ShellSyntaxError('unterminated "')
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and line[i + 1] in '$`"\\\n':
                    word.append(line[i + 1])
                    i += 2
                    continue
                if c == "`" or (c == "$" and i + 1 < n and line[i + 1] in _EXPANSION_STARTS):
                    expansions.append(line[i:])
                word.append(c)
                i += 1
        elif c == "\\":
            if i + 1 < n:
                word.append(line[i + 1])
            i += 2
        elif c in " \t\n":
            end_word()
            i += 1
        elif c == "#" and not word and not quoted:
            break
        elif c in _OPERATOR_CHARS:
            end_word()
            two = line[i : i + 2]
            op = two if two in ("&&", "||", ">>") else c
            tokens.append((op,))
            i += len(op)
        else:
            if c == "`" or (c == "$" and i + 1 < n and line[i + 1] in _EXPANSION_STARTS):
                expansions.append(line[i:])
            word.append(c)
            i += 1
    end_word()
    return tokens, expansions


# ---------------------------------------------------------------- the phone


class TestPhone:
    """One emulated phone. Use as a context manager, or start()/stop(); `serial` is host:port."""

    __test__ = False  # not a pytest test class

    def __init__(self, sandbox=None, *, host="127.0.0.1", port=0, props=None, trusted_keys=(),
                 preinstall=False, refuse_auth=False, pending_auth=False, drop_after_bytes=None,
                 drop_during_run=False, crash_app=False, disk_free_bytes=None):
        self._own_sandbox = sandbox is None
        self.root = Path(sandbox or tempfile.mkdtemp(prefix="adb-phone-")).resolve()
        self.host, self.port = host, port
        self.props = {**DEFAULT_PROPS, **(props or {})}
        self.trusted_keys = [adb_public_key(k) for k in trusted_keys]
        self.refuse_auth, self.pending_auth = refuse_auth, pending_auth
        self.drop_after_bytes = drop_after_bytes
        self.drop_during_run = drop_during_run
        self.crash_app = crash_app
        self.disk_free_bytes = disk_free_bytes
        self.expansions = []  # what a real shell would have expanded: evidence of a missing quote
        self.shell_log = []  # every command line received, for the tests
        self.dropped = False
        self.auth_prompts = 0
        self._written = 0
        self._file_bytes = 0
        self._lock = threading.Lock()
        self._log_lines = []
        self._next_pid = 4000
        self._app_threads = []
        self._server = None
        self._connections = set()
        for folder in ("data/local/tmp", "data/app", "sdcard"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        if preinstall:
            self._install_bytes(b"preinstalled test APK")

    # -- lifecycle

    @property
    def serial(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._server = socket.create_server((self.host, self.port), family=family)
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept_loop, args=(self._server,), name=f"adb-phone-{self.port}",
                         daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            # close() alone leaves a thread blocked in accept() listening (Linux); shutdown() wakes it.
            try:
                self._server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._server.close()
            self._server = None
        for conn in list(self._connections):
            conn.close()
        for thread in self._app_threads:
            thread.join(timeout=60)
        if self._own_sandbox:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept_loop(self, server):
        while True:
            try:
                sock, _ = server.accept()
            except OSError:
                return
            if self.dropped:  # unplugged: the phone is gone until the test makes a new one
                sock.close()
                continue
            conn = _Connection(self, sock)
            self._connections.add(conn)
            threading.Thread(target=conn.run, daemon=True).start()

    # -- the file system (phone paths map into the sandbox; nothing escapes it)

    def local(self, phone_path):
        path = PurePosixPath(phone_path)
        if not path.is_absolute():
            path = PurePosixPath("/") / path
        parts = []
        for part in path.parts[1:]:
            if part == "..":
                if parts:
                    parts.pop()
            elif part not in (".", ""):
                parts.append(part)
        return self.root.joinpath(*parts)

    def disk_free(self):
        budget = BIG_DISK_BYTES if self.disk_free_bytes is None else self.disk_free_bytes
        return max(0, budget - self._written)

    def reserve(self, nbytes):
        """Accounts for bytes about to be written; False when the disk is full."""
        with self._lock:
            if nbytes > self.disk_free():
                return False
            self._written += nbytes
            return True

    def count_file_bytes(self, nbytes):
        """File data crossing the link; True once the connection should drop (unplugged cable)."""
        with self._lock:
            self._file_bytes += nbytes
            if self.drop_after_bytes is not None and self._file_bytes > self.drop_after_bytes:
                self.dropped = True
        return self.dropped

    # -- logcat

    def log(self, level, tag, message, pid=1000):
        stamp = time.strftime("%m-%d %H:%M:%S", time.localtime()) + f".{int(time.time() * 1000) % 1000:03d}"
        with self._lock:
            for line in message.splitlines() or [""]:
                self._log_lines.append(f"{stamp} {pid:5d} {pid:5d} {level} {tag}: {line}")

    # -- the shell

    def run_shell(self, line):
        self.shell_log.append(line)
        try:
            tokens, expansions = split_command_line(line)
        except ShellSyntaxError as error:
            return f"/system/bin/sh: syntax error: {error}\n"
        if expansions:
            self.expansions.extend(expansions)
            return "/system/bin/sh: the test phone does not expand $ or ` (a real shell would have)\n"
        output, argv, run_next = [], [], True
        for token in tokens + [(";",)]:
            if isinstance(token, str):
                argv.append(token)
                continue
            op = token[0]
            if op not in (";", "&&"):
                return "".join(output) + f"/system/bin/sh: the test phone does not support '{op}'\n"
            if argv and run_next:
                text, ok = self._command(argv)
                output.append(text)
                run_next = ok or op == ";"
            elif op == ";":
                run_next = True
            argv = []
        return "".join(output)

    def _command(self, argv):
        name, args = argv[0], argv[1:]
        handler = getattr(self, f"_sh_{name.replace('-', '_')}", None)
        if handler is None:
            return f"/system/bin/sh: {name}: inaccessible or not found\n", False
        try:
            return handler(args)
        except _Usage as error:
            return f"{name}: {error}\n", False

    def _sh_getprop(self, args):
        if args:
            return self.props.get(args[0], "") + "\n", True
        return "".join(f"[{k}]: [{v}]\n" for k, v in sorted(self.props.items())), True

    def _sh_echo(self, args):
        return " ".join(args) + "\n", True

    def _sh_touch(self, args):
        for arg in args:
            target = self.local(arg)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
        return "", True

    def _sh_mkdir(self, args):
        parents = "-p" in args
        for arg in (a for a in args if a != "-p"):
            try:
                self.local(arg).mkdir(parents=parents, exist_ok=parents)
            except (FileExistsError, FileNotFoundError) as error:
                return f"mkdir: '{arg}': {error.strerror}\n", False
        return "", True

    def _sh_rm(self, args):
        paths = [a for a in args if not a.startswith("-")]
        flags = "".join(a for a in args if a.startswith("-"))
        force, recursive = "f" in flags, "r" in flags
        out, ok = [], True
        for arg in paths:
            target = self.local(arg)
            if target.is_dir() and recursive:
                shutil.rmtree(target)
            elif target.is_file():
                target.unlink()
            elif not force:
                out.append(f"rm: {arg}: No such file or directory\n")
                ok = False
        return "".join(out), ok

    def _sh_cat(self, args):
        out = []
        for arg in args:
            target = self.local(arg)
            if not target.is_file():
                return "".join(out) + f"cat: {arg}: No such file or directory\n", False
            out.append(target.read_text(errors="replace"))
        return "".join(out), True

    def _sh_ls(self, args):
        paths = [a for a in args if not a.startswith("-")] or ["/"]
        out = []
        for arg in paths:
            target = self.local(arg)
            if target.is_dir():
                out.extend(f"{p.name}\n" for p in sorted(target.iterdir()))
            elif target.exists():
                out.append(f"{arg}\n")
            else:
                return "".join(out) + f"ls: {arg}: No such file or directory\n", False
        return "".join(out), True

    def _sh_sha256sum(self, args):
        out, ok = [], True
        for arg in args:
            target = self.local(arg)
            if target.is_file():
                out.append(f"{hashlib.sha256(target.read_bytes()).hexdigest()}  {arg}\n")
            else:
                out.append(f"sha256sum: {arg}: No such file or directory\n")
                ok = False
        return "".join(out), ok

    def _sh_df(self, args):
        paths = [a for a in args if not a.startswith("-")] or ["/data"]
        free_k = self.disk_free() // 1024
        total_k = max(free_k, (BIG_DISK_BYTES if self.disk_free_bytes is None else self.disk_free_bytes) // 1024)
        used_k = total_k - free_k
        percent = 0 if total_k == 0 else round(100 * used_k / total_k)
        out = ["Filesystem        1K-blocks    Used Available Use% Mounted on\n"]
        out.extend(f"/dev/block/dm-46 {total_k:>11} {used_k:>7} {free_k:>9} {percent:>3}% /data\n" for _ in paths)
        return "".join(out), True

    def _sh_logcat(self, args):
        if "-c" in args:
            with self._lock:
                self._log_lines.clear()
            return "", True
        with self._lock:
            lines = list(self._log_lines)
        if "-t" in args:
            count = int(args[args.index("-t") + 1])
            lines = lines[-count:]
        return "".join(line + "\n" for line in lines), True

    # -- package manager

    def _app_dir(self):
        return self.local(f"/data/app/{PACKAGE}-1")

    def installed_apk(self):
        apk = self._app_dir() / "base.apk"
        return apk if apk.is_file() else None

    def _install_bytes(self, content):
        self._app_dir().mkdir(parents=True, exist_ok=True)
        (self._app_dir() / "base.apk").write_bytes(content)

    def _sh_pm(self, args):
        if not args:
            raise _Usage("usage: pm [list|path|install|uninstall] ...")
        sub, rest = args[0], args[1:]
        installed = self.installed_apk() is not None
        if sub == "list" and rest[:1] == ["packages"]:
            wanted = [a for a in rest[1:] if not a.startswith("-")]
            match = installed and (not wanted or wanted[0] in PACKAGE)
            return (f"package:{PACKAGE}\n" if match else ""), True
        if sub == "path":
            if rest and rest[-1] == PACKAGE and installed:
                return f"package:/data/app/{PACKAGE}-1/base.apk\n", True
            return "", False
        if sub == "install":
            paths = [a for a in rest if not a.startswith("-")]
            if not paths:
                raise _Usage("no package specified")
            source = self.local(paths[-1])
            if not source.is_file():
                return f"Error: Can't open file: {paths[-1]}\n", False
            if installed and "-r" not in rest:
                return "Failure [INSTALL_FAILED_ALREADY_EXISTS]\n", False
            content = source.read_bytes()
            if not self.reserve(len(content)):
                return "Failure [INSTALL_FAILED_INSUFFICIENT_STORAGE]\n", False
            self._install_bytes(content)
            self.log("I", "PackageManager", f"installed {PACKAGE} from {paths[-1]}")
            return "Success\n", True
        if sub == "uninstall":
            if rest and rest[-1] == PACKAGE and installed:
                shutil.rmtree(self._app_dir())
                return "Success\n", True
            return "Failure [DELETE_FAILED_INTERNAL_ERROR]\n", False
        raise _Usage(f"unknown command '{sub}'")

    # -- activity manager and the app

    def _sh_am(self, args):
        if not args or args[0] != "start":
            raise _Usage("only 'am start' is available on the test phone")
        component, extras, i = None, {}, 1
        while i < len(args):
            flag = args[i]
            if flag == "-W":
                i += 1
            elif flag == "-n":
                component, i = args[i + 1], i + 2
            elif flag in ("--es", "--ei", "--ez"):
                if i + 2 >= len(args):
                    return f"Error: {flag} needs a key and a value\n", False
                key, value = args[i + 1], args[i + 2]
                if flag == "--ei":
                    try:
                        value = int(value)
                    except ValueError:
                        return f"Error: Invalid int value {value!r} for {key}\n", False
                extras[key] = value
                i += 3
            else:
                return f"Error: Unknown option: {flag}\n", False
        out = f"Starting: Intent {{ cmp={component} (has extras) }}\n"
        if component not in (ACTIVITY, ACTIVITY_FULL) or self.installed_apk() is None:
            full = component.replace("/.", f"/{component.split('/')[0]}.") if component else None
            return out + f"Error: Activity class {{{full}}} does not exist.\n", False
        with self._lock:
            self._next_pid += 1
            pid = self._next_pid
        thread = threading.Thread(target=self._app_main, args=(extras, pid), daemon=True)
        self._app_threads.append(thread)
        thread.start()
        return out + (f"Status: ok\nLaunchState: COLD\nActivity: {ACTIVITY_FULL}\nTotalTime: 120\nWaitTime: 125\n"
                      "Complete\n"), True

    def _app_main(self, extras, pid):
        self.log("I", "ActivityManager", f"Start proc {pid}:{PACKAGE}/u0a321 for activity {{{ACTIVITY_FULL}}}")
        if self.crash_app:
            self._crash(pid, "java.lang.IllegalStateException: crash injected by the test phone (--crash-app)")
            return
        run_id = str(extras.get("run_id", ""))
        try:
            record = _AppBenchmark(self, extras, pid).run()
        except _BadRun as error:
            self.log("E", "ABPN", f"run {run_id}: {error}", pid)
            if _is_uuid(run_id):
                self._write_result(f"{run_id}.error.json", {"run_id": run_id, "error": str(error)})
            return
        except Exception as error:  # a bug in the double behaves like an app crash, visible in logcat
            self._crash(pid, f"java.lang.RuntimeException: {type(error).__name__}: {error}")
            return
        self._write_result(f"{run_id}.json", record)
        self.log("I", "ABPN", f"run {run_id}: result written", pid)

    def _crash(self, pid, exception):
        self.log("E", "AndroidRuntime", "FATAL EXCEPTION: main", pid)
        self.log("E", "AndroidRuntime", f"Process: {PACKAGE}, PID: {pid}", pid)
        self.log("E", "AndroidRuntime", exception, pid)
        self.log("E", "AndroidRuntime", "\tat org.abpn.app.BenchmarkActivity.onCreate(BenchmarkActivity.kt:42)", pid)
        self.log("I", "ActivityManager", f"Process {PACKAGE} (pid {pid}) has died: fg  TOP ", 1000)

    def _write_result(self, name, content):
        folder = self.local(RESULTS_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps(content, indent=1).encode()
        if not self.reserve(len(data)):
            self.log("E", "ABPN", f"cannot write {name}: No space left on device")
            return
        tmp = folder / f"{name}.tmp"
        tmp.write_bytes(data)
        tmp.rename(folder / name)

    def wait_idle(self, timeout=60):
        for thread in self._app_threads:
            thread.join(timeout=timeout)


class _Usage(Exception):
    pass


class _BadRun(Exception):
    pass


def _is_uuid(text):
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


class _AppBenchmark:
    """The benchmark activity's work, as the Kotlin app does it, with the CPU as the only accelerator."""

    def __init__(self, phone, extras, pid):
        self.phone, self.extras, self.pid = phone, extras, pid

    def _extra_path(self, key, required=True):
        value = self.extras.get(key)
        if value is None:
            if required:
                raise _BadRun(f"missing extra '{key}'")
            return None
        local = self.phone.local(str(value))
        if not local.is_file():
            raise _BadRun(f"{key} file {value} is not readable")
        return local

    def run(self):
        import numpy as np

        import tensorflow as tf

        from abpn import __version__
        from abpn.bench import record as rec
        from abpn.errors import AbpnError
        from abpn.model.modelfile import TFLiteRunner, inspect_model

        extras = self.extras
        run_id = str(extras.get("run_id", ""))
        if not _is_uuid(run_id):
            raise _BadRun(f"run_id {run_id!r} is not a UUID")
        accelerators = str(extras.get("accelerators", "cpu")).split(",")
        unknown = [a for a in accelerators if a not in ACCELERATORS]
        if unknown:
            raise _BadRun(f"unknown accelerator(s): {', '.join(unknown)}")
        threads, warmup, runs = extras.get("threads", 4), extras.get("warmup", 3), extras.get("runs", 20)
        if not (isinstance(runs, int) and 1 <= runs <= 10000):
            raise _BadRun(f"runs must be 1..10000, got {runs!r}")
        cooldown = extras.get("cooldown_s", 0)
        model_path = self._extra_path("model")
        input_bytes = self._extra_path("input").read_bytes()
        expected_path = self._extra_path("expected", required=False)
        try:
            info = inspect_model(model_path)
        except AbpnError as error:
            raise _BadRun(str(error)) from None

        results = []
        for position, accelerator in enumerate(accelerators):
            if position and cooldown:
                time.sleep(cooldown)
            if accelerator != "cpu":
                results.append({"accelerator": accelerator, "options": {}, "status": "unsupported",
                                "reason": UNSUPPORTED_REASON[accelerator]})
                continue
            options = {"threads": threads, "xnnpack": True}
            try:
                start = time.perf_counter()
                upscaler = TFLiteRunner(model_path, threads=threads)
                init_ms = (time.perf_counter() - start) * 1000
                in_detail = upscaler.interpreter.get_input_details()[0]
                out_detail = upscaler.interpreter.get_output_details()[0]
                x = np.frombuffer(input_bytes, dtype=in_detail["dtype"]).reshape(info.input_shape)
                start = time.perf_counter()
                y = upscaler.invoke_raw(x)
                first_ms = (time.perf_counter() - start) * 1000
                for _ in range(warmup):
                    upscaler.invoke_raw(x)
                samples = []
                for _ in range(runs):
                    start = time.perf_counter()
                    y = upscaler.invoke_raw(x)
                    samples.append((time.perf_counter() - start) * 1000)
                result = {"accelerator": "cpu", "options": options, "status": "ok", "init_ms": init_ms,
                          "first_inference_ms": first_ms, "warmup_runs": warmup, "runs": runs,
                          "latency_ms": rec.latency_stats(samples), "samples_ms": samples,
                          "delegated_nodes": None, "total_nodes": None,
                          "delegation_evidence": "XNNPACK is applied by default on the CPU"}
                if expected_path is not None:
                    expected = np.frombuffer(expected_path.read_bytes(), dtype=out_detail["dtype"])
                    expected = expected.reshape(info.output_shape)
                    result["output_check"] = rec.output_check(upscaler.decode_output(y),
                                                              upscaler.decode_output(expected))
                self.phone.log("I", "ABPN", f"cpu: median {result['latency_ms']['median']:.2f} ms", self.pid)
            except (ValueError, RuntimeError, AbpnError) as error:
                result = {"accelerator": "cpu", "options": options, "status": "failed", "reason": str(error)}
                self.phone.log("E", "ABPN", f"cpu failed: {error}", self.pid)
            results.append(result)

        props = self.phone.props
        device = {
            "kind": "phone",
            "manufacturer": props.get("ro.product.manufacturer"),
            "model": props.get("ro.product.model"),
            "soc_manufacturer": props.get("ro.soc.manufacturer"),
            "soc_model": props.get("ro.soc.model"),
            "board_platform": props.get("ro.board.platform"),
            "hardware": props.get("ro.hardware"),
            "android_release": props.get("ro.build.version.release"),
            "sdk_int": int(props.get("ro.build.version.sdk") or 1),
            "abi": props.get("ro.product.cpu.abi"),
        }
        app = {"name": "adb-test-phone", "version": __version__, "runtime": "tflite",
               "runtime_version": tf.__version__}
        try:
            return rec.make_record(device=device, model=info.record_section(), app=app, results=results,
                                   conditions={"cooldown_s": cooldown}, run_id=run_id)
        except AbpnError as error:
            raise _BadRun(str(error)) from None


# ---------------------------------------------------------------- one ADB connection


class _Closed(Exception):
    pass


class _Connection:
    def __init__(self, phone, sock):
        self.phone, self.sock = phone, sock
        self.send_lock = threading.Lock()
        self.streams = {}
        self.next_id = 0
        self.peer_max = 4096
        self.alive = True

    def close(self):
        self.alive = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for stream in list(self.streams.values()):
            stream.peer_closed()

    def send(self, command, arg0, arg1, data=b""):
        with self.send_lock:
            if not self.alive:
                raise _Closed()
            try:
                self.sock.sendall(pack_message(command, arg0, arg1, data))
            except OSError:
                raise _Closed() from None

    def _recv_exact(self, n):
        chunks = []
        while n:
            chunk = self.sock.recv(n)
            if not chunk:
                raise _Closed()
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def read_message(self):
        command, arg0, arg1, length, _checksum, magic = struct.unpack("<6I", self._recv_exact(24))
        if magic != command ^ 0xFFFFFFFF:
            raise _Closed()
        return command, arg0, arg1, self._recv_exact(length) if length else b""

    def drop(self):
        """The cable comes out: no goodbye, the socket just dies."""
        self.close()
        raise _Closed()

    def run(self):
        try:
            if self.handshake():
                self.serve()
        except (_Closed, OSError):
            pass
        finally:
            self.close()
            self.phone._connections.discard(self)

    def handshake(self):
        phone = self.phone
        while True:
            command, version, maxdata, _ = self.read_message()
            if command == A_CNXN:
                break
        self.version = min(version, A_VERSION)
        self.peer_max = min(maxdata, MAX_PAYLOAD)
        token = os.urandom(20)
        self.send(A_AUTH, AUTH_TOKEN, 0, token)
        while True:
            command, kind, _, data = self.read_message()
            if command == A_CNXN:
                token = os.urandom(20)
                self.send(A_AUTH, AUTH_TOKEN, 0, token)
                continue
            if command != A_AUTH:
                continue
            if kind == AUTH_SIGNATURE:
                if not phone.refuse_auth and any(signature_verifies(k, token, data) for k in phone.trusted_keys):
                    break
                token = os.urandom(20)
                self.send(A_AUTH, AUTH_TOKEN, 0, token)
            elif kind == AUTH_RSAPUBLICKEY:
                phone.auth_prompts += 1
                if phone.pending_auth:
                    continue  # the prompt stays on the screen; nobody taps it
                if phone.refuse_auth:
                    return False  # the user tapped "Deny"
                phone.trusted_keys.append(adb_public_key(data.rstrip(b"\0").decode()))
                break
        props = phone.props
        banner = (f"device::ro.product.name={props['ro.product.name']};ro.product.model={props['ro.product.model']};"
                  f"ro.product.device={props['ro.product.device']};features=")
        self.send(A_CNXN, self.version, MAX_PAYLOAD, banner.encode())
        return True

    def serve(self):
        while True:
            command, arg0, arg1, data = self.read_message()
            if command == A_OPEN:
                self.open_stream(arg0, data.rstrip(b"\0").decode("utf-8", "replace"))
            elif command == A_OKAY:
                stream = self.streams.get(arg1)
                if stream:
                    stream.acked.set()
            elif command == A_WRTE:
                stream = self.streams.get(arg1)
                if stream is None:
                    continue
                stream.inbox.put(data)
                self.send(A_OKAY, arg1, arg0)
            elif command == A_CLSE:
                stream = self.streams.pop(arg1, None)
                if stream is not None:
                    stream.peer_closed()
                    if not stream.sent_close:
                        stream.sent_close = True
                        self.send(A_CLSE, arg1, arg0)

    def open_stream(self, remote_id, service):
        if service.startswith("shell:") and service != "shell:":
            worker = _shell_worker
        elif service == "sync:":
            worker = _sync_worker
        else:  # adbd answers services it does not offer by closing the stream at once
            self.send(A_CLSE, 0, remote_id)
            return
        self.next_id += 1
        stream = _Stream(self, self.next_id, remote_id)
        self.streams[stream.local_id] = stream
        self.send(A_OKAY, stream.local_id, remote_id)
        threading.Thread(target=_run_worker, args=(worker, stream, service), daemon=True).start()


def _run_worker(worker, stream, service):
    try:
        worker(stream, service)
        stream.close()
    except _Closed:
        pass


class _Stream:
    def __init__(self, conn, local_id, remote_id):
        self.conn, self.local_id, self.remote_id = conn, local_id, remote_id
        self.acked = threading.Event()
        self.acked.set()
        self.inbox = queue.Queue()
        self.buffer = bytearray()
        self.closed_by_peer = False
        self.sent_close = False

    def peer_closed(self):
        self.closed_by_peer = True
        self.inbox.put(None)
        self.acked.set()

    def write(self, data):
        step = min(self.conn.peer_max, MAX_PAYLOAD)
        for offset in range(0, len(data), step):
            # One WRTE in flight per stream: the peer's OKAY is its flow control.
            if not self.acked.wait(timeout=60) or self.closed_by_peer:
                raise _Closed()
            self.acked.clear()
            self.conn.send(A_WRTE, self.local_id, self.remote_id, bytes(data[offset : offset + step]))

    def read_exact(self, n):
        while len(self.buffer) < n:
            chunk = self.inbox.get(timeout=120)
            if chunk is None:
                raise _Closed()
            self.buffer += chunk
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def close(self):
        if not self.sent_close and not self.closed_by_peer:
            self.sent_close = True
            self.conn.send(A_CLSE, self.local_id, self.remote_id)


def _shell_worker(stream, service):
    output = stream.conn.phone.run_shell(service[len("shell:") :])
    stream.write(output.encode())


def _sync_worker(stream, _service):
    phone, conn = stream.conn.phone, stream.conn

    def reply(tag, *fields, payload=b""):
        stream.write(tag + struct.pack(f"<{len(fields)}I", *fields) + payload)

    def fail(message):
        reply(b"FAIL", len(message.encode()), payload=message.encode())

    def count(nbytes):
        if phone.count_file_bytes(nbytes):
            conn.drop()

    while True:
        tag, length = struct.unpack("<4sI", stream.read_exact(8))
        if tag == b"QUIT":
            return
        if tag not in (b"STAT", b"LIST", b"SEND", b"RECV"):
            fail(f"unknown sync request {tag!r}")
            return
        if length > 1024:
            fail("path too long")
            return
        path = stream.read_exact(length).decode("utf-8", "surrogateescape")
        if tag == b"STAT":
            if phone.drop_during_run and path.startswith(RESULTS_DIR):
                phone.dropped = True  # unplugged while the host waits for the result
                conn.drop()
            target = phone.local(path)
            if target.exists():
                st = target.stat()
                mode = (S_IFDIR | 0o771) if target.is_dir() else (S_IFREG | (st.st_mode & 0o777))
                reply(b"STAT", mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime))
            else:
                reply(b"STAT", 0, 0, 0)
        elif tag == b"LIST":
            target = phone.local(path)
            entries = sorted(target.iterdir()) if target.is_dir() else []
            for entry in [target, target.parent] if target.is_dir() else []:
                name = "." if entry == target else ".."
                reply(b"DENT", S_IFDIR | 0o771, 4096, int(entry.stat().st_mtime), len(name), payload=name.encode())
            for entry in entries:
                st = entry.stat()
                mode = (S_IFDIR | 0o771) if entry.is_dir() else (S_IFREG | (st.st_mode & 0o777))
                name = entry.name.encode("utf-8", "surrogateescape")
                reply(b"DENT", mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime), len(name), payload=name)
            reply(b"DONE", 0, 0, 0, 0)
        elif tag == b"RECV":
            target = phone.local(path)
            if not target.is_file():
                fail(f"remote object '{path}' does not exist")
                continue
            data = target.read_bytes()
            for offset in range(0, len(data), SYNC_DATA_MAX):
                chunk = data[offset : offset + SYNC_DATA_MAX]
                count(len(chunk))
                reply(b"DATA", len(chunk), payload=chunk)
            reply(b"DONE", 0)
        else:  # SEND "path,mode", then DATA chunks and DONE <mtime>
            phone_path, _, mode = path.rpartition(",")
            target = phone.local(phone_path)
            problem = None
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                problem = f"secure_mkdirs() failed: Not a directory: {phone_path}"
            tmp = target.with_name(f".{target.name}.sync-tmp")
            with open(tmp, "wb") if problem is None else open(os.devnull, "wb") as out:
                while True:
                    tag, size = struct.unpack("<4sI", stream.read_exact(8))
                    if tag == b"DONE":
                        break
                    if tag != b"DATA" or size > SYNC_DATA_MAX:
                        fail(f"bad sync packet {tag!r} during SEND")
                        return
                    chunk = stream.read_exact(size)
                    count(size)
                    if problem is None and not phone.reserve(size):
                        problem = "write failed: No space left on device"
                    if problem is None:
                        out.write(chunk)
            if problem is not None:
                if tmp.exists():
                    tmp.unlink()
                fail(problem)
                continue
            # The mode arrives in decimal (st_mode of the host file); the app's user must read the file.
            tmp.chmod((int(mode) & 0o777 if mode.isdigit() else 0) or 0o644)
            tmp.replace(target)
            os.utime(target, (size, size))  # DONE carries the mtime in its size field
            reply(b"OKAY", 0)


# ---------------------------------------------------------------- command line


def main(argv=None):
    parser = argparse.ArgumentParser(description="An ADB-speaking test phone over a sandbox folder.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5555)
    parser.add_argument("--sandbox", help="folder holding the phone's files (default: a temporary folder)")
    parser.add_argument("--prop", action="append", default=[], metavar="KEY=VALUE", help="set a getprop property")
    parser.add_argument("--trust-key", action="append", default=[], metavar="ADBKEY.PUB",
                        help="a public key the phone already trusts (else the first connection 'taps allow')")
    parser.add_argument("--preinstall", action="store_true", help=f"start with {PACKAGE} installed")
    parser.add_argument("--refuse-auth", action="store_true", help="the user taps Deny on the USB debugging prompt")
    parser.add_argument("--pending-auth", action="store_true", help="nobody answers the USB debugging prompt")
    parser.add_argument("--drop-after-bytes", type=int, metavar="N", help="unplug after N bytes of file data")
    parser.add_argument("--drop-during-run", action="store_true",
                        help="unplug when the host first looks for the result")
    parser.add_argument("--crash-app", action="store_true", help="the benchmark activity crashes on start")
    parser.add_argument("--disk-free-bytes", type=int, metavar="N", help="only N bytes free on /data")
    args = parser.parse_args(argv)
    props = dict(p.split("=", 1) for p in args.prop)
    keys = [Path(k).read_text() for k in args.trust_key]
    phone = TestPhone(args.sandbox, host=args.host, port=args.port, props=props, trusted_keys=keys,
                      preinstall=args.preinstall, refuse_auth=args.refuse_auth, pending_auth=args.pending_auth,
                      drop_after_bytes=args.drop_after_bytes, drop_during_run=args.drop_during_run,
                      crash_app=args.crash_app,
                      disk_free_bytes=args.disk_free_bytes)
    # SIGTERM ends it like Ctrl-C does, so a temporary sandbox is removed either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with phone:
        print(f"test phone listening on {phone.serial} (files in {phone.root}); Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    sys.exit(main())
