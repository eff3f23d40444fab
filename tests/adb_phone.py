"""A phone for the tests: an ADB-protocol server (what adbd speaks over TCP) over a sandbox folder.

It speaks the real protocol, so Google's `adb` client works against it as well as `adb-shell`:
CNXN and RSA AUTH (a key is trusted when its signature of the 20-byte token verifies, or when the
simulated user taps "allow" for a new key), OPEN/OKAY/WRTE/CLSE streams with one unacknowledged
WRTE at a time, `shell:` commands and the sync service (STAT, LIST, SEND, RECV, DATA, DONE, QUIT).

The shell never runs a real shell. It splits command lines the way POSIX sh does (quotes,
backslashes, `;` and `&&`), keeps each command's exit status for `$?` and `&&`, and implements the
commands abpn-tool uses with the wording and exit status Android's own tools have (each names its
AOSP source). A host that forgets to quote a path sees what a phone would do with it: `a;touch pwned`
runs `touch pwned`, and any `$(...)`, backtick or `$VAR` that a real shell would expand is refused and
remembered in `phone.expansions`.

The "app" behind `am start -n org.abpn.app/.BenchmarkActivity` follows docs/phone-protocol.md (v3):
a run registered in the app's results provider (`content query/read`) with its state persisted to the
app's files, each accelerator in a process of its own (bound after that process starts), the CPU
through the real TFLite runtime, `unsupported` for the other accelerators, a quiet time per
accelerator, the record written after every row, the provider calls counted while an accelerator is
bound, and finish() when the run ends. What the app keeps only in memory (the quiet time, the count)
is gone when its main process dies; a provider call then starts a new process with a new pid.

Android's behaviour the host must survive, each a mode: reuse_task (the app's task stays alive, so
`am start` without -S starts nothing), hide_android_data, crash_accelerator (that accelerator's
process dies of SIGSEGV), screen_off, locked, thermal_status, signature_mismatch, results_provider=False
(an app from before protocol v2), delegates (an accelerator whose delegate takes only some nodes, the
rest falling back to XNNPACK), hang_accelerator (that accelerator's service never replies),
wireless_debugging (CNXN answered with STLS), install_restriction "xiaomi" (installs and input events
refused) or "play-protect" (installs held). Faults: refuse_auth, pending_auth, drop_after_bytes
(unplugged mid-transfer), drop_during_run (unplugged while the app runs), crash_app (the main process
dies mid-run), disk_free_bytes.

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
# Android 11+ Wireless debugging: adbd answers CNXN with STLS (adb.h: A_STLS 0x534c5453, A_STLS_VERSION
# 0x01000000) and then expects a TLS handshake (adb.cpp handle_new_connection, daemon/auth.cpp send_tls_request).
A_STLS, A_STLS_VERSION = _cmd(b"STLS"), 0x01000000
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
RESULTS_AUTHORITY = f"{PACKAGE}.results"
ACCELERATORS = ("cpu", "gpu", "nnapi", "qnn_htp", "qnn_dsp")
UNSUPPORTED_REASON = {
    "gpu": "test phone has no GPU",
    "nnapi": "test phone has no NNAPI driver",
    "qnn_htp": "test phone has no Qualcomm HTP",
    "qnn_dsp": "test phone has no Qualcomm DSP",
}


def page_size_reason(page_size):
    """The app's unsupported reason on a kernel with larger pages than TFLite 2.16.1's 4 KB-aligned
    libraries (android/src/main/kotlin/org/abpn/core/PageSupport.kt, unsupportedReason)."""
    libraries = ", ".join(f"{name} (LOAD alignment 4096)"
                          for name in ("libtensorflowlite_jni.so", "libtensorflowlite_gpu_jni.so"))
    return (f"this phone's kernel uses {page_size // 1024} KB pages ({page_size} bytes) and this APK's {libraries} "
            "cannot load on it; a TFLite/LiteRT build with 16 KB-aligned libraries is needed")


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
# An :accelerator service's process is forked from the zygote and runs its Application before the bind
# is delivered ("Start proc ... for service" in ActivityManager's log): a few hundred ms on a phone.
SERVICE_START_S = 0.3
# The test phone's estimate of an accelerator's interpreter creation and first inference, before it has
# measured one (the app estimates the same way: protocol v3, quiet_until_ms).
INIT_ALLOWANCE_MS = 2000
DEFAULT_ACCELERATOR_TIMEOUT_S = 120
INSTALL_RESTRICTIONS = ("xiaomi", "play-protect")


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
# `$?` stands in a word until the command runs, then becomes the previous command's exit status.
LAST_STATUS = "\x00status\x00"
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
                if line.startswith("$?", i):
                    word.append(LAST_STATUS)
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
        elif line.startswith("$?", i):
            word.append(LAST_STATUS)
            i += 2
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
                 drop_during_run=False, crash_app=False, disk_free_bytes=None, reuse_task=False,
                 hide_android_data=False, crash_accelerator=None, screen_off=False, locked=False,
                 thermal_status=0, signature_mismatch=False, results_provider=True, delegates=None,
                 page_size=4096, hang_accelerator=None, wireless_debugging=False, install_restriction=None):
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
        # The app's task stays alive after a run (a benchmark activity that never finishes, or one the
        # user reopened): `am start` without -S then only brings the task to the front.
        self.reuse_task = reuse_task
        # Some Android 11+ phones hide /sdcard/Android/data from the shell (it looks empty, not forbidden).
        self.hide_android_data = hide_android_data
        self.crash_accelerator = crash_accelerator
        self.screen_on = not screen_off
        self.locked = locked
        self.thermal_status = thermal_status
        # The installed app was signed with another key than any APK the host will push.
        self.signature_mismatch = signature_mismatch
        # False models an app built before protocol v2: no results provider in its manifest.
        self.results_provider = results_provider
        # The kernel's page size. On 16384 the app (the offline build: TFLite 2.16.1, 4 KB-aligned
        # libraries) reports every accelerator unsupported, as PageSupport.kt words it.
        self.page_size = page_size
        # accelerator -> how many of the model's nodes its delegate takes; the rest fall back to XNNPACK.
        self.delegates = dict(delegates or {})
        # That accelerator's service never replies: a delegate's run that never returns (reported for the GPU
        # delegate in tensorflow/tensorflow#28217 and for Invoke() in #43600; a stuck NNAPI driver or a
        # FastRPC call to the DSP does the same) blocks the service's thread, not the app's main process.
        self.hang_accelerator = hang_accelerator
        # Android 11+ "Wireless debugging": the port wants TLS (STLS) after CNXN.
        self.wireless_debugging = wireless_debugging
        if install_restriction not in (None, *INSTALL_RESTRICTIONS):
            raise ValueError(f"install_restriction must be one of {INSTALL_RESTRICTIONS}")
        self.install_restriction = install_restriction
        self._released = threading.Event()  # set when the phone stops: a held `pm install` ends then
        self._app = None  # the app's main process and what it keeps in memory (_AppProcess), None when dead
        self.commands_while_measuring = []  # shell commands that arrived while an accelerator was bound
        self.expansions = []  # what a real shell would have expanded: evidence of a missing quote
        self.shell_log = []  # every command line received, for the tests
        self.dropped = False
        self.auth_prompts = 0
        self.runs_started = []  # run_ids the app really started
        self._written = 0
        self._file_bytes = 0
        self._lock = threading.Lock()
        self._log_lines = []  # (buffer, line)
        self._next_pid = 4000
        self._processes = {}  # pid -> process name, as pidof sees them
        self._task_alive = False
        self._stop_app = threading.Event()  # force-stop: the app's threads end where they are
        self._app_threads = []
        self._server = None
        self._connections = set()
        for folder in ("data/local/tmp", "data/app", "data/data", "sdcard"):
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
        self._released.set()
        self._stop_app.set()
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

    @staticmethod
    def _normal(phone_path):
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
        return parts

    def local(self, phone_path):
        return self.root.joinpath(*self._normal(phone_path))

    def shell_may_read(self, phone_path):
        """False for what the shell user cannot open: apps' internal storage always, and the apps'
        external folders on phones that hide them."""
        path = "/" + "/".join(self._normal(phone_path))
        hidden = ("/data/data/", "/data/user/")
        if self.hide_android_data:
            hidden += ("/sdcard/Android/data/", "/storage/emulated/0/Android/data/")
        return not any((path + "/").startswith(prefix) for prefix in hidden)

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

    def log(self, level, tag, message, pid=1000, buffer="main"):
        stamp = time.strftime("%m-%d %H:%M:%S", time.localtime()) + f".{int(time.time() * 1000) % 1000:03d}"
        with self._lock:
            for line in message.splitlines() or [""]:
                self._log_lines.append((buffer, f"{stamp} {pid:5d} {pid:5d} {level} {tag}: {line}"))

    # -- the shell

    def run_shell(self, line):
        """Runs a command line as sh would; returns what it printed. The exit status exists only where
        sh has it: in `$?` for the next command (the legacy shell protocol does not carry it)."""
        self.shell_log.append(line)
        app = self._app
        if app is not None and app.measuring:
            self.commands_while_measuring.append(line)
        try:
            tokens, expansions = split_command_line(line)
        except ShellSyntaxError as error:
            return f"/system/bin/sh: syntax error: {error}\n"
        if expansions:
            self.expansions.extend(expansions)
            return "/system/bin/sh: the test phone does not expand $ or ` (a real shell would have)\n"
        output, argv, run_next, status = [], [], True, 0
        for token in tokens + [(";",)]:
            if isinstance(token, str):
                argv.append(token)
                continue
            op = token[0]
            if op not in (";", "&&"):
                return "".join(output) + f"/system/bin/sh: the test phone does not support '{op}'\n"
            if argv and run_next:
                text, status = self._command([word.replace(LAST_STATUS, str(status)) for word in argv])
                output.append(text)
                run_next = status == 0 or op == ";"
            elif op == ";":
                run_next = True
            argv = []
        return "".join(output)

    def _command(self, argv):
        """(output, exit status) of one command."""
        name, args = argv[0], argv[1:]
        handler = getattr(self, f"_sh_{name.replace('-', '_')}", None)
        if handler is None:
            return f"/system/bin/sh: {name}: inaccessible or not found\n", 127
        try:
            text, status = handler(args)
        except _Usage as error:
            return f"{name}: {error}\n", 1
        return text, int(status) if not isinstance(status, bool) else (0 if status else 1)

    # toybox reports a failed file with error_msg(): "<command>: <path>: <strerror(errno)>", exit status 1.

    def _sh_getprop(self, args):
        if args:
            return self.props.get(args[0], "") + "\n", 0
        return "".join(f"[{k}]: [{v}]\n" for k, v in sorted(self.props.items())), 0

    def _sh_getconf(self, args):
        # toybox toys/posix/getconf.c: sysconf names print "%ld\n"; an unknown name is error_exit("bad '%s'").
        # `getconf PAGE_SIZE` is how source.android.com/docs/core/architecture/16kb-page-size/getting-page-size
        # reads the kernel's page size.
        if len(args) == 1 and args[0] in ("PAGE_SIZE", "PAGESIZE"):
            return f"{self.page_size}\n", 0
        return f"getconf: bad '{args[0] if args else ''}'\n", 1

    def _sh_echo(self, args):
        return " ".join(args) + "\n", 0

    def _sh_touch(self, args):
        for arg in args:
            if not self.shell_may_read(arg):
                return f"touch: {arg}: Permission denied\n", 1
            target = self.local(arg)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
        return "", 0

    def _sh_mkdir(self, args):
        parents = "-p" in args
        for arg in (a for a in args if a != "-p"):
            try:
                self.local(arg).mkdir(parents=parents, exist_ok=parents)
            except (FileExistsError, FileNotFoundError) as error:
                return f"mkdir: '{arg}': {error.strerror}\n", 1
        return "", 0

    def _sh_rm(self, args):
        paths = [a for a in args if not a.startswith("-")]
        flags = "".join(a for a in args if a.startswith("-"))
        force, recursive = "f" in flags, "r" in flags
        out, status = [], 0
        for arg in paths:
            target = self.local(arg)
            if not self.shell_may_read(arg):
                out.append(f"rm: {arg}: Permission denied\n")
                status = 1
            elif target.is_dir() and recursive:
                shutil.rmtree(target)
            elif target.is_file():
                target.unlink()
            elif not force:
                out.append(f"rm: {arg}: No such file or directory\n")
                status = 1
        return "".join(out), status

    def _sh_cat(self, args):
        out = []
        for arg in args:
            if not self.shell_may_read(arg):
                return "".join(out) + f"cat: {arg}: Permission denied\n", 1
            target = self.local(arg)
            if not target.is_file():
                return "".join(out) + f"cat: {arg}: No such file or directory\n", 1
            out.append(target.read_text(errors="replace"))
        return "".join(out), 0

    def _sh_ls(self, args):
        paths = [a for a in args if not a.startswith("-")] or ["/"]
        out = []
        for arg in paths:
            if not self.shell_may_read(arg):
                return "".join(out) + f"ls: {arg}: Permission denied\n", 1
            target = self.local(arg)
            if target.is_dir():
                out.extend(f"{p.name}\n" for p in sorted(target.iterdir()))
            elif target.exists():
                out.append(f"{arg}\n")
            else:
                return "".join(out) + f"ls: {arg}: No such file or directory\n", 1
        return "".join(out), 0

    def _sh_sha256sum(self, args):
        out, status = [], 0
        for arg in args:
            target = self.local(arg)
            if not self.shell_may_read(arg):
                out.append(f"sha256sum: {arg}: Permission denied\n")
                status = 1
            elif target.is_file():
                out.append(f"{hashlib.sha256(target.read_bytes()).hexdigest()}  {arg}\n")
            else:
                out.append(f"sha256sum: {arg}: No such file or directory\n")
                status = 1
        return "".join(out), status

    def _sh_df(self, args):
        paths = [a for a in args if not a.startswith("-")] or ["/data"]
        free_k = self.disk_free() // 1024
        total_k = max(free_k, (BIG_DISK_BYTES if self.disk_free_bytes is None else self.disk_free_bytes) // 1024)
        used_k = total_k - free_k
        percent = 0 if total_k == 0 else round(100 * used_k / total_k)
        out = ["Filesystem        1K-blocks    Used Available Use% Mounted on\n"]
        out.extend(f"/dev/block/dm-46 {total_k:>11} {used_k:>7} {free_k:>9} {percent:>3}% /data\n" for _ in paths)
        return "".join(out), 0

    def _sh_logcat(self, args):
        if "-c" in args:
            with self._lock:
                self._log_lines.clear()
            return "", 0
        buffers = {args[i + 1] for i, a in enumerate(args[:-1]) if a == "-b"} or {"main", "system", "crash"}
        with self._lock:
            lines = [line for buffer, line in self._log_lines if buffer in buffers or "all" in buffers]
        if "-t" in args:
            count = int(args[args.index("-t") + 1])
            lines = lines[-count:]
        return "".join(line + "\n" for line in lines), 0

    def _sh_pidof(self, args):
        # toybox pidof: the matching pids on one line, exit 1 when there is none.
        with self._lock:
            pids = [str(pid) for pid, name in sorted(self._processes.items()) if name in args]
        return (" ".join(pids) + "\n", 0) if pids else ("", 1)

    def _sh_input(self, args):
        if args[:1] != ["keyevent"] or len(args) < 2:
            raise _Usage("only 'input keyevent KEYCODE' is available on the test phone")
        if self.install_restriction == "xiaomi":
            # Xiaomi's MIUI/HyperOS refuse injected input from the shell until Developer options > "USB debugging
            # (Security settings)" is on (scrcpy FAQ "Mouse and keyboard do not work", Genymobile/scrcpy#70).
            # `input` is `cmd input` (Android 12+): BasicShellCommandHandler.exec prints the exception after
            # "Exception occurred while executing" and exits 255.
            return ("\nException occurred while executing 'keyevent':\n"
                    "java.lang.SecurityException: Injecting input events requires the caller (or the source of the "
                    "instrumentation, if any) to have the INJECT_EVENTS permission.\n"
                    "\tat com.android.server.input.InputManagerService.injectInputEventToTarget"
                    "(InputManagerService.java:1032)\n"), 255
        if args[1] in ("KEYCODE_WAKEUP", "224"):
            self.screen_on = True  # waking does not unlock: the keyguard stays
        return "", 0

    def _sh_dumpsys(self, args):
        service = args[0] if args else ""
        if service == "power":
            # PowerManagerService.dumpInternal: "mWakefulness=" + PowerManagerInternal.wakefulnessToString()
            # (frameworks/base services/core/java/com/android/server/power/PowerManagerService.java).
            wakefulness = "Awake" if self.screen_on else "Asleep"
            return ("POWER MANAGER (dumpsys power)\n\nPower Manager State:\n"
                    f"  mDirty=0x0\n  mWakefulness={wakefulness}\n  mWakefulnessChanging=false\n"
                    f"  mIsPowered=true\n  mPlugType=2\n  mBatteryLevel=80\n"), 0
        if service == "window":
            # KeyguardServiceDelegate.dump(), printed by PhoneWindowManager.dump() under `dumpsys window
            # policy` (services/core/java/com/android/server/policy/keyguard/KeyguardServiceDelegate.java).
            showing = str(self.locked).lower()
            return ("WINDOW MANAGER POLICY STATE (dumpsys window policy)\n"
                    f"    mAwake={str(self.screen_on).lower()}\n"
                    "    KeyguardServiceDelegate\n"
                    f"      showing={showing}\n"
                    f"      showingAndNotOccluded={showing}\n"
                    f"      inputRestricted={showing}\n"
                    "      occluded=false\n"
                    f"      secure={showing}\n"
                    "      dreaming=false\n"
                    "      systemIsReady=true\n"
                    "      deviceHasKeyguard=true\n"
                    "      enabled=true\n"), 0
        return f"Can't find service: {service}\n", 0

    # -- package manager

    def _app_dir(self):
        return self.local(f"/data/app/{PACKAGE}-1")

    def _data_dir(self):
        return self.local(f"/data/data/{PACKAGE}")

    def _results_dir(self):
        # The app's internal storage (filesDir/runs): the shell cannot read it, only the provider can.
        return self._data_dir() / "files" / "runs"

    def installed_apk(self):
        apk = self._app_dir() / "base.apk"
        return apk if apk.is_file() else None

    def _install_bytes(self, content):
        self._app_dir().mkdir(parents=True, exist_ok=True)
        (self._app_dir() / "base.apk").write_bytes(content)

    def _sh_pm(self, args):
        # PackageManagerShellCommand prints "Failure [" + message + "]" and exits 1 when an install fails.
        if not args:
            raise _Usage("usage: pm [list|path|install|uninstall] ...")
        sub, rest = args[0], args[1:]
        installed = self.installed_apk() is not None
        if sub == "list" and rest[:1] == ["packages"]:
            wanted = [a for a in rest[1:] if not a.startswith("-")]
            match = installed and (not wanted or wanted[0] in PACKAGE)
            return (f"package:{PACKAGE}\n" if match else ""), 0
        if sub == "path":
            if rest and rest[-1] == PACKAGE and installed:
                return f"package:/data/app/{PACKAGE}-1/base.apk\n", 0
            return "", 1
        if sub == "install":
            paths = [a for a in rest if not a.startswith("-")]
            if not paths:
                raise _Usage("no package specified")
            source = self.local(paths[-1])
            if not source.is_file():
                return f"Error: Can't open file: {paths[-1]}\n", 1
            if installed and "-r" not in rest:
                return "Failure [INSTALL_FAILED_ALREADY_EXISTS]\n", 1
            if self.install_restriction == "xiaomi":
                # MIUI/HyperOS with Developer options > "Install via USB" off: the install is refused as if the
                # user had cancelled it (reported verbatim in Genymobile/gnirehtet#514, rom1v/sndcpy#64).
                return "Failure [INSTALL_FAILED_USER_RESTRICTED: Install canceled by user]\n", 1
            if self.install_restriction == "play-protect":
                # "Verify apps over USB": PackageManager waits for the verifier (Play Protect), which may extend
                # its timeout up to PackageManager.MAXIMUM_VERIFICATION_TIMEOUT (1 hour) while its prompt waits
                # for the user; pm install prints nothing meanwhile.
                self._released.wait()
                return "", 1
            if installed and self.signature_mismatch:
                # InstallPackageHelper/ReconcilePackageUtils throw PackageManagerException(
                # INSTALL_FAILED_UPDATE_INCOMPATIBLE, "Existing package " + packageName + " signatures do not
                # match newer version; ignoring!") (frameworks/base services/core/java/com/android/server/pm/).
                return (f"Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE: Existing package {PACKAGE} signatures "
                        "do not match newer version; ignoring!]\n"), 1
            content = source.read_bytes()
            if not self.reserve(len(content)):
                return "Failure [INSTALL_FAILED_INSUFFICIENT_STORAGE]\n", 1
            self._force_stop()  # an update kills the app's processes
            self._install_bytes(content)
            self.log("I", "PackageManager", f"installed {PACKAGE} from {paths[-1]}")
            return "Success\n", 0
        if sub == "uninstall":
            if rest and rest[-1] == PACKAGE and installed:
                self._force_stop()
                shutil.rmtree(self._app_dir())
                shutil.rmtree(self._data_dir(), ignore_errors=True)  # the app's results go with it
                return "Success\n", 0
            return "Failure [DELETE_FAILED_INTERNAL_ERROR]\n", 1
        raise _Usage(f"unknown command '{sub}'")

    # -- processes

    def _spawn(self, name):
        with self._lock:
            self._next_pid += 1
            pid = self._next_pid
            self._processes[pid] = name
        return pid

    def _kill(self, pid):
        with self._lock:
            self._processes.pop(pid, None)
            if self._app is not None and self._app.pid == pid:
                self._app = None  # a dead process's memory is gone; only its files remain

    def _start_app_process(self, why):
        """The app's main process, started when something needs it (an activity, a provider call): a new pid
        and empty memory, as every process start on Android."""
        with self._lock:
            if self._app is not None:
                return self._app
        pid = self._spawn(PACKAGE)
        self.log("I", "ActivityManager", f"Start proc {pid}:{PACKAGE}/u0a321 for {why}")
        with self._lock:
            self._app = _AppProcess(pid)
            return self._app

    def process_alive(self, pid):
        with self._lock:
            return pid in self._processes

    def _force_stop(self):
        """ActivityManager's forceStopPackage: every process of the package dies and its task goes away."""
        self._stop_app.set()
        for thread in self._app_threads:
            thread.join(timeout=60)
        self._app_threads = [t for t in self._app_threads if t.is_alive()]
        self._stop_app = threading.Event()
        with self._lock:
            for pid in [pid for pid, name in self._processes.items() if name.split(":")[0] == PACKAGE]:
                del self._processes[pid]
            self._app = None
            self._task_alive = False

    # -- activity manager and the app

    def _sh_am(self, args):
        if args[:1] == ["force-stop"] and len(args) == 2:
            if args[1] == PACKAGE:
                self._force_stop()
            return "", 0
        if not args or args[0] != "start":
            raise _Usage("only 'am start' and 'am force-stop' are available on the test phone")
        def refused(exception):
            # Intent.parseCommandArgs throws; BasicShellCommandHandler.exec prints this and exits 255
            # (frameworks/libs/modules-utils java/com/android/modules/utils/BasicShellCommandHandler.java).
            return f"\nException occurred while executing 'start':\n{exception}\n", 255

        component, extras, wait, stop, i = None, {}, False, False, 1
        while i < len(args):
            flag = args[i]
            if flag == "-W":
                wait, i = True, i + 1
            elif flag == "-S":
                stop, i = True, i + 1
            elif flag == "-n":
                component, i = args[i + 1], i + 2
            elif flag in ("--es", "--ei", "--ez"):
                if i + 2 >= len(args):
                    return refused(f'java.lang.IllegalArgumentException: Argument expected after "{args[-1]}"')
                key, value = args[i + 1], args[i + 2]
                if flag == "--ei":
                    try:
                        value = int(value)
                    except ValueError:
                        return refused(f'java.lang.NumberFormatException: For input string: "{value}"')
                elif flag == "--ez":
                    value = value.lower() in ("true", "t", "1")
                extras[key] = value
                i += 3
            else:
                return refused(f"java.lang.IllegalArgumentException: Unknown option: {flag}")
        # The wording below is ActivityManagerShellCommand.runStartActivity's (frameworks/base
        # services/core/java/com/android/server/am/ActivityManagerShellCommand.java); it returns 0 even
        # when it prints "Error: ...", so only the text tells a failure.
        out = []
        known = component in (ACTIVITY, ACTIVITY_FULL) and self.installed_apk() is not None
        if stop:
            out.append(f"Stopping: {component.split('/')[0] if component else PACKAGE}\n")
            if component and component.split("/")[0] == PACKAGE:
                self._force_stop()
        out.append(f"Starting: Intent {{ cmp={component} (has extras) }}\n")
        if not known:
            full = component.replace("/.", f"/{component.split('/')[0]}.") if component else None
            return "".join(out) + f"Error type 3\nError: Activity class {{{full}}} does not exist.\n", 0
        with self._lock:
            task_alive = self._task_alive
        if task_alive:
            out.append("Warning: Activity not started, its current task has been brought to the front\n")
            launch = "HOT"
        else:
            launch = "COLD" if self._app is None else "WARM"
            app = self._start_app_process(f"activity {{{ACTIVITY_FULL}}}")
            with self._lock:
                self._task_alive = True
            self._start_run(extras, app)
        if wait:
            out.append(f"Status: ok\nLaunchState: {launch}\nActivity: {ACTIVITY_FULL}\n")
            out.append("TotalTime: 120\n" if launch != "HOT" else "")
            out.append("WaitTime: 125\nComplete\n")
        return "".join(out), 0

    def _start_run(self, extras, app):
        run_id = str(extras.get("run_id", ""))
        if _is_uuid(run_id):
            self.runs_started.append(run_id)
            # Registered (and persisted) before onCreate returns, so the provider knows the run once am start -W
            # is back; the first accelerator's quiet time starts with the run (its cool-down wait is 0).
            accelerators = str(extras.get("accelerators", "cpu")).split(",")
            self._set_state(run_id, state="running", pid=app.pid, progress="starting", started_ms=_now_ms(),
                            rows_done=0, rows_total=len(accelerators))
            app.quiet(run_id, budget_ms(extras, 0, None))
        thread = threading.Thread(target=self._app_main, args=(extras, app, self._stop_app), daemon=True)
        self._app_threads.append(thread)
        thread.start()

    def _app_main(self, extras, app, stopped):
        run_id, pid = str(extras.get("run_id", "")), app.pid
        try:
            if self.crash_app:
                raise _MainCrash("java.lang.IllegalStateException: crash injected by the test phone (--crash-app)")
            record = _AppBenchmark(self, extras, app, stopped).run()
        except _ForceStopped:
            return
        except _MainCrash as error:
            self._crash(pid, str(error))
            return
        except _BadRun as error:
            self.log("E", "ABPN", f"run {run_id}: {error}", pid)
            if _is_uuid(run_id):
                self._write_result(f"{run_id}.error.json", {"run_id": run_id, "error": str(error)})
                self._set_state(run_id, state="error", progress=str(error)[:100])
            app.quiet(run_id, None)
            self._finish()
            return
        except Exception as error:  # a bug in the double behaves like an app crash, visible in logcat
            self._crash(pid, f"java.lang.RuntimeException: {type(error).__name__}: {error}")
            return
        if stopped.is_set():
            return
        self._write_result(f"{run_id}.json", record)
        app.quiet(run_id, None)
        self._set_state(run_id, state="done", progress="done")
        self.log("I", "ABPN", f"run {run_id}: result written", pid)
        self._finish()

    def _finish(self):
        """The v2 activity calls finish() when its run ends; with reuse_task its task stays alive."""
        if not self.reuse_task:
            with self._lock:
                self._task_alive = False

    def wait_measuring(self, timeout=120):
        """Blocks until an accelerator's service is bound (for tests that act while the phone measures)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            app = self._app
            if app is not None and app.measuring:
                return True
            time.sleep(0.05)
        return False

    def crash_main_process(self, exception):
        """The app's main process dies now (an uncaught exception on another thread, or the low-memory
        killer): its threads stop where they are and its memory is gone."""
        stopped, self._stop_app = self._stop_app, threading.Event()
        stopped.set()
        self._crash(self._app.pid, exception)

    def _crash(self, pid, exception):
        for line in ("FATAL EXCEPTION: main", f"Process: {PACKAGE}, PID: {pid}", exception,
                     "\tat org.abpn.app.BenchmarkActivity.onCreate(BenchmarkActivity.kt:42)"):
            self.log("E", "AndroidRuntime", line, pid, buffer="crash")
        self._kill(pid)
        with self._lock:
            self._task_alive = False
        self.log("I", "ActivityManager", f"Process {PACKAGE} (pid {pid}) has died: fg  TOP ", 1000)

    def native_crash(self, pid, process_name, library, caller):
        """What Android leaves in logcat when a process dies of SIGSEGV. The first line is the signal handler
        linked into every process (system/core/debuggerd/handler/debuggerd_handler.cpp, log_signal_summary:
        "Fatal signal %d (%s), code %d (%s%s)%s in tid %d (%s), pid %d (%s)" with ", fault addr %p"), logged
        by bionic's async_safe_format_log under the libc tag; the rest is the tombstone's header from
        system/core/debuggerd/libdebuggerd/tombstone.cpp ("*** *** ***" ...), logged under the DEBUG tag."""
        fingerprint = (f"{self.props['ro.product.manufacturer']}/{self.props['ro.product.name']}/"
                       f"{self.props['ro.product.device']}:{self.props['ro.build.version.release']}/"
                       "UQ1A.240105.004/11206848:user/release-keys")
        lines = [
            ("F", "libc", f"Fatal signal 11 (SIGSEGV), code 1 (SEGV_MAPERR), fault addr 0x0 in tid {pid + 7} "
                          f"(GLThread {pid + 7}), pid {pid} ({process_name})"),
            ("F", "DEBUG", "*** *** *** *** *** *** *** *** *** *** *** *** *** *** *** ***"),
            ("F", "DEBUG", f"Build fingerprint: '{fingerprint}'"),
            ("F", "DEBUG", "ABI: 'arm64'"),
            ("F", "DEBUG", f"pid: {pid}, tid: {pid + 7}, name: GLThread {pid + 7}  >>> {process_name} <<<"),
            ("F", "DEBUG", "signal 11 (SIGSEGV), code 1 (SEGV_MAPERR), fault addr 0x0000000000000000"),
            ("F", "DEBUG", "backtrace:"),
            ("F", "DEBUG", f"      #00 pc 00000000001d2f3c  /vendor/lib64/{library}"),
            ("F", "DEBUG", f"      #01 pc 00000000000a41b8  /data/app/org.abpn.app-1/lib/arm64/{caller}"),
        ]
        for level, tag, text in lines:
            self.log(level, tag, text, pid if tag == "libc" else pid + 50, buffer="crash")
        self._kill(pid)
        self.log("I", "ActivityManager", f"Process {process_name} (pid {pid}) has died: fg  SVC ", 1000)
        return [text for _, _, text in lines]

    def _set_state(self, run_id, **fields):
        """The run's registry entry, persisted atomically on every change (protocol v3): what a new process
        of the app knows about the run."""
        path = self._results_dir() / f"{run_id}.state.json"
        entry = json.loads(path.read_text()) if path.is_file() else {"run_id": run_id}
        entry.update(fields, updated_ms=_now_ms())
        self._write_result(path.name, entry)

    def _write_result(self, name, content):
        folder = self._results_dir()
        folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps(content, indent=1).encode()
        if not self.reserve(len(data)):
            self.log("E", "ABPN", f"cannot write {name}: No space left on device")
            return
        tmp = folder / f"{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(folder / name)

    def wait_idle(self, timeout=60):
        for thread in self._app_threads:
            thread.join(timeout=timeout)

    # -- the app's results provider, through AOSP's `content` tool

    def _sh_content(self, args):
        """frameworks/base cmds/content/src/com/android/commands/content/Content.java: errors go to stderr
        as "Error while accessing provider:" + authority and the exception, and the exit status is 0 anyway;
        a query prints "Row: N col=value, col=value" per row, or "No result found."."""
        if len(args) < 3 or args[0] not in ("query", "read") or args[1] != "--uri":
            raise _Usage("the test phone's content knows only 'query --uri URI' and 'read --uri URI'")
        if self.drop_during_run:
            self.dropped = True  # unplugged while the host waits for the result
            raise _Unplugged()
        uri = args[2]
        authority, _, path = uri.removeprefix("content://").partition("/")
        if authority != RESULTS_AUTHORITY or not self.results_provider or self.installed_apk() is None:
            return (f"Error while accessing provider:{authority}\n"
                    f"java.lang.IllegalStateException: Could not find provider: {authority}\n"
                    "\tat com.android.commands.content.Content$Command.execute(Content.java:521)\n"
                    "\tat com.android.commands.content.Content.main(Content.java:735)\n"), 0
        # A provider's process is started on demand, as Android does: after the app died, this call starts
        # a new one, with a new pid and nothing in memory.
        app = self._start_app_process(f"content provider {{{PACKAGE}/{PACKAGE}.ResultsProvider}}")
        app.count_call()
        name = path.removeprefix("runs/")
        if args[0] == "query":
            state = self._results_dir() / f"{name}.state.json"
            if not path.startswith("runs/") or not state.is_file():
                return "No result found.\n", 0
            row = json.loads(state.read_text())
            quiet = app.quiet_until_ms.get(name) if row["state"] == "running" and row["pid"] == app.pid else None
            return (f"Row: 0 run_id={row['run_id']}, state={row['state']}, pid={row['pid']}, "
                    f"progress={row['progress']}, updated_ms={row['updated_ms']}, provider_pid={app.pid}, "
                    f"now_ms={_now_ms()}, quiet_until_ms={'NULL' if quiet is None else quiet}, "
                    f"rows_done={row['rows_done']}, rows_total={row['rows_total']}, "
                    f"started_ms={row['started_ms']}\n"), 0
        target = self._results_dir() / name
        if not path.startswith("runs/") or "/" in name or not name.endswith(".json") or not target.is_file():
            return (f"Error while accessing provider:{authority}\n"
                    f"java.io.FileNotFoundException: {uri}\n"
                    "\tat android.database.DatabaseUtils.readExceptionWithFileNotFoundExceptionFromParcel"
                    "(DatabaseUtils.java:151)\n"), 0
        return target.read_text(), 0

    def phone_state(self):
        """The app's view of the phone (the record's conditions before/after each accelerator)."""
        return {"screen_on": self.screen_on, "keyguard_locked": self.locked, "battery_pct": 80, "charging": True,
                "power_save": False, "thermal_status": self.thermal_status,
                "thermal_headroom": 0.3 if self.thermal_status == 0 else 0.95, "battery_temp_c": 31.5}


def _now_ms():
    return int(time.time() * 1000)


def budget_ms(extras, cooldown_s, first_inference_ms):
    """How long the host must stay quiet for one accelerator (protocol v3, quiet_until_ms): its cool-down
    wait, the service's start, init, and the warm-up and timed phases (their minimum durations, or the
    previous accelerator's first inference times the runs when that is longer), capped at the timeout."""
    runs = extras.get("warmup", 3) + extras.get("runs", 20)
    phases = extras.get("warmup_min_ms", 500) + extras.get("run_min_ms", 1000)
    if first_inference_ms is not None:
        phases = max(phases, first_inference_ms * runs)
    total = cooldown_s * 1000 + SERVICE_START_S * 1000 + INIT_ALLOWANCE_MS + phases
    return int(min(total, extras.get("accelerator_timeout_s", DEFAULT_ACCELERATOR_TIMEOUT_S) * 1000))


class _AppProcess:
    """The app's main process and what it keeps only in memory: the quiet time of each run and the provider
    calls counted while an accelerator is bound. All of it is gone when the process dies."""

    def __init__(self, pid):
        self.pid = pid
        self.quiet_until_ms = {}
        self.measuring = set()  # run_ids whose accelerator service is bound and has not replied
        self.host_commands = {}
        self.lock = threading.Lock()

    def quiet(self, run_id, budget):
        with self.lock:
            if budget is None:
                self.quiet_until_ms.pop(run_id, None)
            else:
                self.quiet_until_ms[run_id] = _now_ms() + budget

    def bound(self, run_id, measuring):
        with self.lock:
            (self.measuring.add if measuring else self.measuring.discard)(run_id)

    def count_call(self):
        """A provider call (query or read) while an accelerator runs: the record's host_commands_during_runs."""
        with self.lock:
            for run_id in self.measuring:
                self.host_commands[run_id] = self.host_commands.get(run_id, 0) + 1


def _own_memory():
    """VmRSS and VmHWM of this process (/proc/self/status), in bytes, as the app reads its own."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


class _Usage(Exception):
    pass


class _BadRun(Exception):
    pass


class _MainCrash(Exception):
    pass


class _ForceStopped(Exception):
    pass


class _Unplugged(Exception):
    pass


def _is_uuid(text):
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


class _AppBenchmark:
    """The v2 benchmark activity's work (docs/phone-protocol.md), as the Kotlin app does it: each
    accelerator in a process of its own, the CPU through the real TFLite runtime (XNNPACK), the others
    `unsupported` unless told to crash."""

    def __init__(self, phone, extras, app, stopped):
        self.phone, self.extras, self.app, self.stopped = phone, extras, app, stopped
        self.pid = app.pid

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

    def _check_stopped(self):
        if self.stopped.is_set():
            raise _ForceStopped()

    def _progress(self, text, **fields):
        self.phone._set_state(self.run_id, progress=text, **fields)

    def _cooldown(self, position):
        """Before each accelerator after the first: the fixed cooldown_s, then until thermal status NONE,
        at most cooldown_max_s. Returns the seconds waited."""
        if not position:
            return 0.0
        start = time.monotonic()
        if self.cooldown_s:
            self.stopped.wait(self.cooldown_s)
        deadline = time.monotonic() + self.cooldown_max_s
        while self.phone.thermal_status > 0 and time.monotonic() < deadline:
            self.stopped.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            self._check_stopped()
        return round(time.monotonic() - start, 3)

    def run(self):
        from abpn.errors import AbpnError
        from abpn.model.modelfile import inspect_model

        extras = self.extras
        self.run_id = run_id = str(extras.get("run_id", ""))
        if not _is_uuid(run_id):
            raise _BadRun(f"run_id {run_id!r} is not a UUID")
        accelerators = str(extras.get("accelerators", "cpu")).split(",")
        unknown = [a for a in accelerators if a not in ACCELERATORS]
        if unknown:
            raise _BadRun(f"unknown accelerator(s): {', '.join(unknown)}")
        runs = extras.get("runs", 20)
        if not (isinstance(runs, int) and 1 <= runs <= 10000):
            raise _BadRun(f"runs must be 1..10000, got {runs!r}")
        self.cooldown_s = extras.get("cooldown_s", 0)
        self.cooldown_max_s = extras.get("cooldown_max_s", 60)
        model_path = self._extra_path("model")
        input_bytes = self._extra_path("input").read_bytes()
        expected_path = self._extra_path("expected", required=False)
        try:
            info = inspect_model(model_path)
        except AbpnError as error:
            raise _BadRun(str(error)) from None

        results, first_ms = [], None
        for position, accelerator in enumerate(accelerators):
            if position:  # the first one's quiet time was set when the run was registered
                cooldown = self.cooldown_s + (self.cooldown_max_s if self.phone.thermal_status > 0 else 0)
                self.app.quiet(run_id, budget_ms(extras, cooldown, first_ms))
            waited = self._cooldown(position)
            self._check_stopped()
            before = self.phone.phone_state()
            self._progress(f"{accelerator}: starting")
            result = self._in_own_process(accelerator, model_path, info, input_bytes, expected_path)
            result["conditions"] = {"before": before, "after": self.phone.phone_state(), "cooldown_waited_s": waited}
            results.append(result)
            first_ms = result.get("first_inference_ms", first_ms)
            self._check_stopped()
            if len(results) < len(accelerators):
                # The record so far after every row (protocol v3): the host gets what finished even if it gives up.
                partial = self._record(info, results, complete=False,
                                       reason=f"{len(results)} of {len(accelerators)} accelerators measured; "
                                              "the run is still going")
                self.phone._write_result(f"{run_id}.json", partial)
            self._progress(f"{accelerator}: done", rows_done=len(results))
        return self._record(info, results, complete=True)

    def _record(self, info, results, *, complete, reason=None):
        from abpn.record import build as rec
        from abpn.errors import AbpnError

        import tensorflow as tf

        from abpn import __version__

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
        conditions = {"cooldown_s": self.cooldown_s,
                      "host_commands_during_runs": self.app.host_commands.get(self.run_id, 0)}
        try:
            record = rec.make_record(device=device, model=info.record_section(), app=app, results=results,
                                     conditions=conditions, run_id=self.run_id)
            if not complete:
                record.update(complete=False, incomplete_reason=reason)
                rec.validate_record(record)
        except AbpnError as error:
            raise _BadRun(str(error)) from None
        return record

    def _in_own_process(self, accelerator, model_path, info, input_bytes, expected_path):
        """The accelerator runs in the app's ":accelerator" service process; when that process dies, the
        main process sees the binder die and keeps the crash as this accelerator's row."""
        process_name = f"{PACKAGE}:accelerator"
        pid = self.phone._spawn(process_name)
        self.phone.log("I", "ActivityManager", f"Start proc {pid}:{process_name}/u0a321 for service "
                                               f"{{{PACKAGE}/{PACKAGE}.AcceleratorService}}")
        self.stopped.wait(SERVICE_START_S)
        self._check_stopped()
        self.app.bound(self.run_id, True)
        try:
            result = self._measured(accelerator, model_path, info, input_bytes, expected_path, pid, process_name)
        finally:
            self.app.bound(self.run_id, False)
            self.phone._kill(pid)  # the service process exits after each accelerator (or was killed)
        if "samples_ms" in result:
            # Android would show a bound service with BIND_IMPORTANT in its client's top-app group.
            result["process"] = {"cgroup": f"4:cpuset:/top-app\n3:cpu:/top-app\n0::/uid_10321/pid_{pid}",
                                 "cpuset": "/top-app", "visible_throughout": True, "pid": pid}
        return result

    def _measured(self, accelerator, model_path, info, input_bytes, expected_path, pid, process_name):
        timeout_s = self.extras.get("accelerator_timeout_s", DEFAULT_ACCELERATOR_TIMEOUT_S)
        if accelerator == self.phone.hang_accelerator:
            # The service never replies; the client gives up after accelerator_timeout_s and kills the
            # service's process (Process.killProcess on the pid the service sent on bind).
            if self.stopped.wait(timeout_s):
                raise _ForceStopped()
            self.phone.log("W", "ABPN", f"{accelerator}: no reply in {timeout_s} s; killing its process {pid}",
                           self.pid)
            self.phone.log("I", "ActivityManager", f"Process {process_name} (pid {pid}) has died: fg  SVC ", 1000)
            return {"accelerator": accelerator, "options": {}, "status": "failed",
                    "reason": f"timed out after {timeout_s} s (the accelerator's process was killed)"}
        if accelerator == self.phone.crash_accelerator:
            library = {"gpu": "libOpenCL.so", "nnapi": "libneuralnetworks.so"}.get(accelerator, "libQnnHtp.so")
            caller = "libtensorflowlite_gpu_jni.so" if accelerator == "gpu" else "libtensorflowlite_jni.so"
            log = self.phone.native_crash(pid, process_name, library, caller)
            return {"accelerator": accelerator, "options": {}, "status": "failed",
                    "reason": f"the {accelerator} process (pid {pid}) died: {log[0]}",
                    "crash": {"signal": 11, "signal_name": "SIGSEGV", "log": log}}
        if self.phone.page_size > 4096:
            return {"accelerator": accelerator, "options": {}, "status": "unsupported",
                    "reason": page_size_reason(self.phone.page_size)}
        if accelerator in self.phone.delegates:
            return self._delegated(accelerator, model_path, info, input_bytes, expected_path, pid)
        if accelerator != "cpu":
            return {"accelerator": accelerator, "options": {}, "status": "unsupported",
                    "reason": UNSUPPORTED_REASON[accelerator]}
        return self._cpu(model_path, info, input_bytes, expected_path, pid, "cpu")

    def _delegated(self, accelerator, model_path, info, input_bytes, expected_path, pid):
        """A delegate that takes some of the graph; the nodes it leaves run on XNNPACK (here: all of them
        really do). The counts are what TFLite logs when the delegate is applied."""
        result = self._cpu(model_path, info, input_bytes, expected_path, pid, accelerator)
        if result["status"] != "ok":
            return result
        total = result["delegation"]["total_nodes"]
        taken = min(self.phone.delegates[accelerator], total)
        name = {"gpu": "TfLiteGpuDelegateV2", "nnapi": "TfLiteNnapiDelegate"}.get(accelerator, "QnnDelegate")
        # tensorflow/lite/core/subgraph.cc, ReplaceNodeSubsetsWithDelegateKernels (logged in production builds
        # on Android); the GPU delegate's "Initialized OpenCL-based API." names the backend it took.
        evidence = (f"Replacing {taken} out of {total} node(s) with delegate ({name}) node, yielding "
                    f"{2 if 0 < taken < total else 1} partitions for the whole graph.")
        self.phone.log("I", "tflite", evidence, pid)
        options = {}
        if accelerator == "gpu":
            self.phone.log("I", "tflite", "Initialized OpenCL-based API.", pid)
            options["gpu_backend"] = "opencl"
        if accelerator == "nnapi" and self.extras.get("nnapi_accelerator"):
            options["nnapi_accelerator"] = self.extras["nnapi_accelerator"]
        result["options"] = options
        result["delegation"] = {"delegated_nodes": taken, "total_nodes": total,
                                "fallback": "xnnpack" if taken < total else None, "evidence": evidence}
        if taken == 0:
            result.update(status="not_delegated",
                          reason=f"the {accelerator} delegate took 0 of {total} nodes: everything ran on XNNPACK")
        elif taken < total and self.extras.get("require_full_delegation"):
            result.update(status="failed", reason=f"delegated {taken} of {total} nodes (require_full_delegation)")
        return result

    def _cpu(self, model_path, info, input_bytes, expected_path, pid, accelerator):
        """The XNNPACK run every accelerator here really is; `accelerator` names the row."""
        import numpy as np

        from abpn.record import build as rec
        from abpn.bench.host import _delegation
        from abpn.errors import AbpnError
        from abpn.model.modelfile import TFLiteRunner

        extras = self.extras
        # As the app: without the extra, benchmark_model's num_threads -1 (TFLite chooses).
        threads, warmup, runs = extras.get("threads", -1), extras.get("warmup", 3), extras.get("runs", 20)
        warmup_min_ms, run_min_ms = extras.get("warmup_min_ms", 500), extras.get("run_min_ms", 1000)
        options = {"threads": threads, "xnnpack": True}
        try:
            rss_before = _own_memory()["VmRSS"]
            start = time.perf_counter()
            upscaler = TFLiteRunner(model_path, threads=None if threads == -1 else threads)
            interpreter_ms = (time.perf_counter() - start) * 1000
            interpreter = upscaler.interpreter
            in_detail = interpreter.get_input_details()[0]
            out_detail = interpreter.get_output_details()[0]
            x = np.frombuffer(input_bytes, dtype=in_detail["dtype"]).reshape(info.input_shape)

            def timed():
                """(native ms, wall ms): invoke() alone stands for getLastNativeInferenceDurationNanoseconds."""
                begin = time.perf_counter()
                interpreter.set_tensor(in_detail["index"], x)
                invoke_begin = time.perf_counter()
                interpreter.invoke()
                native = (time.perf_counter() - invoke_begin) * 1000
                output = interpreter.get_tensor(out_detail["index"])
                return native, (time.perf_counter() - begin) * 1000, output

            _, first_ms, y = timed()
            self._progress(f"{accelerator}: warm-up")
            made, warm_start = 0, time.perf_counter()
            # benchmark_model's rule: both the count and the minimum duration.
            while made < warmup or (time.perf_counter() - warm_start) * 1000 < warmup_min_ms:
                self._check_stopped()
                timed()
                made += 1
            warmup_ms = (time.perf_counter() - warm_start) * 1000
            self._progress(f"{accelerator}: timed runs")
            native, wall, run_start = [], [], time.perf_counter()
            while len(native) < runs or (time.perf_counter() - run_start) * 1000 < run_min_ms:
                self._check_stopped()
                n, w, y = timed()
                native.append(n)
                wall.append(w)
            delegated, total, evidence = _delegation(interpreter)
            result = {"accelerator": accelerator, "options": options, "status": "ok", "init_ms": interpreter_ms,
                      "first_inference_ms": first_ms, "warmup_runs": made, "runs": len(native),
                      "latency_ms": rec.latency_stats(native), "samples_ms": native,
                      "timing": rec.timing_section(delegate_create_ms=0.0, interpreter_create_ms=interpreter_ms,
                                                   warmup_ms=warmup_ms, wall_samples_ms=wall,
                                                   warmup_min_ms=warmup_min_ms, run_min_ms=run_min_ms),
                      "delegation": {"delegated_nodes": delegated, "total_nodes": total,
                                     "fallback": None if delegated == total else "tflite cpu kernels",
                                     "evidence": evidence},
                      # The test phone's own process, read as the app reads its accelerator process's.
                      "memory": {"rss_before_bytes": rss_before, "peak_rss_bytes": _own_memory()["VmHWM"],
                                 "source": "/proc/self/status"}}
            if expected_path is not None:
                expected = np.frombuffer(expected_path.read_bytes(), dtype=out_detail["dtype"])
                expected = expected.reshape(info.output_shape)
                result["output_check"] = rec.output_check(upscaler.decode_output(y), upscaler.decode_output(expected))
            self.phone.log("I", "ABPN", f"{accelerator}: median {result['latency_ms']['median']:.2f} ms", pid)
        except (ValueError, RuntimeError, AbpnError) as error:
            result = {"accelerator": accelerator, "options": options, "status": "failed", "reason": str(error)}
            self.phone.log("E", "ABPN", f"{accelerator} failed: {error}", pid)
        return result


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
        if phone.wireless_debugging:
            # adbd on a Wireless debugging port asks for TLS instead of AUTH and only talks TLS after it
            # (a client answers STLS and starts the handshake with its paired key); nothing else is served.
            self.send(A_STLS, A_STLS_VERSION, 0)
            while True:
                self.read_message()
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
    try:
        output = stream.conn.phone.run_shell(service[len("shell:") :])
    except _Unplugged:
        stream.conn.drop()  # raises _Closed: the cable is out
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
        # adbd's file_sync_service.cpp: a failed lstat() answers STAT with zeros (so a file the shell may
        # not see looks missing), a failed opendir() lists nothing, a failed open() is "open failed: " + errno.
        readable = phone.shell_may_read(path.rpartition(",")[0] if tag == b"SEND" else path)
        proc = path.removeprefix("/proc/")
        if tag == b"STAT" and proc.isdigit():
            # /proc/<pid> exists while the process lives (adbd's shell user may see every pid: readproc group).
            if phone.process_alive(int(proc)):
                reply(b"STAT", S_IFDIR | 0o555, 0, int(time.time()))
            else:
                reply(b"STAT", 0, 0, 0)
        elif tag == b"STAT":
            target = phone.local(path)
            if readable and target.exists():
                st = target.stat()
                mode = (S_IFDIR | 0o771) if target.is_dir() else (S_IFREG | (st.st_mode & 0o777))
                reply(b"STAT", mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime))
            else:
                reply(b"STAT", 0, 0, 0)
        elif tag == b"LIST":
            target = phone.local(path)
            listable = readable and target.is_dir()
            entries = sorted(target.iterdir()) if listable else []
            for entry in [target, target.parent] if listable else []:
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
            if not readable:
                fail("open failed: Permission denied")
                continue
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
            problem = None if readable else "couldn't create file: Permission denied"
            try:
                if problem is None:
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
    parser.add_argument("--crash-app", action="store_true", help="the app's main process dies during the run")
    parser.add_argument("--disk-free-bytes", type=int, metavar="N", help="only N bytes free on /data")
    parser.add_argument("--reuse-task", action="store_true",
                        help="the app's task stays alive after a run: am start without -S starts nothing")
    parser.add_argument("--hide-android-data", action="store_true",
                        help="the shell cannot read /sdcard/Android/data (as on some Android 11+ phones)")
    parser.add_argument("--crash-accelerator", choices=ACCELERATORS, metavar="NAME",
                        help="that accelerator's process dies with SIGSEGV; the rest of the run completes")
    parser.add_argument("--screen-off", action="store_true", help="the screen is off (asleep)")
    parser.add_argument("--locked", action="store_true", help="the keyguard (a secure lock screen) is showing")
    parser.add_argument("--thermal-status", type=int, default=0, choices=range(7), metavar="N",
                        help="PowerManager.getCurrentThermalStatus(): 0 none .. 6 shutdown")
    parser.add_argument("--signature-mismatch", action="store_true",
                        help="the installed app is signed with another key: pm install over it fails")
    parser.add_argument("--delegate", action="append", default=[], metavar="NAME=N",
                        help="that accelerator exists and its delegate takes N of the model's nodes (0: none); "
                             "the rest fall back to XNNPACK")
    parser.add_argument("--no-results-provider", action="store_true",
                        help="the installed app predates protocol v2 and has no results provider")
    parser.add_argument("--page-size", type=int, default=4096, choices=(4096, 16384), metavar="BYTES",
                        help="the kernel's page size; on 16384 the app (offline build) cannot load TFLite")
    parser.add_argument("--hang-accelerator", choices=ACCELERATORS, metavar="NAME",
                        help="that accelerator's service never replies (a stuck NNAPI driver or FastRPC call)")
    parser.add_argument("--wireless-debugging", action="store_true",
                        help="answer CNXN with STLS, as an Android 11+ Wireless debugging port does")
    parser.add_argument("--install-restriction", choices=INSTALL_RESTRICTIONS,
                        help="xiaomi: pm install refused (Install via USB off) and input refused; "
                             "play-protect: pm install held by Verify apps over USB")
    args = parser.parse_args(argv)
    props = dict(p.split("=", 1) for p in args.prop)
    keys = [Path(k).read_text() for k in args.trust_key]
    phone = TestPhone(args.sandbox, host=args.host, port=args.port, props=props, trusted_keys=keys,
                      preinstall=args.preinstall, refuse_auth=args.refuse_auth, pending_auth=args.pending_auth,
                      drop_after_bytes=args.drop_after_bytes, drop_during_run=args.drop_during_run,
                      crash_app=args.crash_app, disk_free_bytes=args.disk_free_bytes, reuse_task=args.reuse_task,
                      hide_android_data=args.hide_android_data, crash_accelerator=args.crash_accelerator,
                      screen_off=args.screen_off, locked=args.locked, thermal_status=args.thermal_status,
                      signature_mismatch=args.signature_mismatch, results_provider=not args.no_results_provider,
                      delegates={name: int(count) for name, count in (d.split("=", 1) for d in args.delegate)},
                      page_size=args.page_size, hang_accelerator=args.hang_accelerator,
                      wireless_debugging=args.wireless_debugging, install_restriction=args.install_restriction)
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
