"""Driving one phone over ADB with adb-shell (TCP or USB): connecting, quoted shell commands with
their exit status, pushes, and small verbs over the shell (the phone's identity, free space, the
package manager, the activity manager, the screen and keyguard, the app's results provider, logcat).

Every failure a user can meet (unreachable, not authorized, USB held by an adb server, unplugged
mid-run, disk full) becomes an AbpnError whose message says what to do.
"""
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from abpn import APP_PACKAGE
from abpn.errors import AbpnError

PACKAGE = APP_PACKAGE
BENCHMARK_ACTIVITY = f"{PACKAGE}/.BenchmarkActivity"
PHONE_DIR = "/data/local/tmp/abpn"
RESULTS_AUTHORITY = f"{PACKAGE}.results"
# Readable by the app's user, which is not `shell` (see docs/phone-protocol.md).
PUSH_MODE = 0o100644

IDENTITY_PROPS = {
    "manufacturer": "ro.product.manufacturer",
    "model": "ro.product.model",
    "soc_manufacturer": "ro.soc.manufacturer",
    "soc_model": "ro.soc.model",
    "board_platform": "ro.board.platform",
    "hardware": "ro.hardware",
    "android_release": "ro.build.version.release",
    "sdk_int": "ro.build.version.sdk",
    "abi": "ro.product.cpu.abi",
}

_SHA256 = re.compile(r"^([0-9a-f]{64})\s")
_PROP_LINE = re.compile(r"^\[(.+?)\]: \[(.*)\]$")
# adb-shell 0.4 speaks only the legacy shell protocol, which carries no exit status: the phone's shell
# prints it after the command. The newline inside the quotes puts the marker on a line of its own even
# when the command's output does not end with one; the parser removes exactly that newline again.
EXIT_MARKER = "__ABPN_EXIT__"
_EXIT_SUFFIX = f'; echo "\n{EXIT_MARKER}$?"'
# PowerManagerService.dumpInternal prints "mWakefulness=" + PowerManagerInternal.wakefulnessToString():
# Awake, Asleep, Dreaming or Dozing (frameworks/base services/core/java/com/android/server/power/).
_WAKEFULNESS = re.compile(r"^\s*mWakefulness=(\w+)", re.M)
# KeyguardServiceDelegate.dump, part of PhoneWindowManager's `dumpsys window policy`, prints its TAG and
# then "showing=true|false" and more "name=value" lines (services/core/java/com/android/server/policy/keyguard/).
_KEYGUARD_BLOCK = re.compile(r"^\s*KeyguardServiceDelegate\s*$((?:\n\s+\w+=.*$)*)", re.M)


# Android 11+ "Wireless debugging" answers the host's CNXN with STLS (adb's adb.cpp handle_new_connection,
# daemon/auth.cpp send_tls_request) and then wants a TLS handshake with a key paired by `adb pair`.
# adb-shell knows no STLS: its packet reader raises InvalidCommandError "Unknown command: N = 'STLS' ...".
_STLS_NAME = "'STLS'"


def tls_pairing_message(target):
    return (f"{target}: the phone asked for TLS (it answered ADB's CONNECT with STLS): this port is Android 11+ "
            "'Wireless debugging', which needs a TLS pairing (`adb pair`) that adb-shell, the ADB library "
            "abpn-tool uses, does not speak. What works: connect the phone by USB and pass its serial, or turn on "
            "plain ADB over TCP: over USB run `adb tcpip 5555` (or pair and connect once with the platform tools, "
            "`adb pair PHONE_IP:PAIRING_PORT` then `adb connect PHONE_IP:PORT`, and run `adb tcpip 5555` over "
            "that), then pass --device PHONE_IP:5555.")


# The commands an ADB daemon answers a CNXN with (packages/modules/adb: protocol.txt and adb.h's A_CNXN, A_AUTH, A_STLS).
_ADB_COMMANDS = (b"CNXN", b"AUTH", b"STLS")


def _first_line(data):
    return data.split(b"\r")[0].split(b"\n")[0].decode("latin-1")[:60]


class Disconnected(AbpnError):
    """The phone went away in the middle of something."""


class CommandHeld(AbpnError):
    """A command stayed silent past its limit: something on the phone (a prompt) holds it."""


@dataclass(frozen=True)
class ShellResult:
    """What a shell command printed (stdout and stderr together, as the legacy shell protocol merges them)
    and its exit status."""

    output: str
    exit_code: int

    @property
    def ok(self):
        return self.exit_code == 0


def split_exit_status(raw):
    """The ShellResult in a command's raw output (ending with the exit marker), or None without one."""
    head, sep, tail = raw.rpartition(EXIT_MARKER)
    if not sep or not head.endswith("\n") or not tail.strip().isdigit():
        return None
    # Phones whose adbd runs commands on a pty (before Android 7) end lines with \r\n.
    return ShellResult(head.removesuffix("\n").removesuffix("\r"), int(tail.strip()))


@dataclass(frozen=True)
class ScreenState:
    """None where the phone's dumpsys did not say."""

    keyguard_locked: bool | None
    wakefulness: str | None

    @property
    def screen_on(self):
        return None if self.wakefulness is None else self.wakefulness == "Awake"


def quote_command(*argv):
    """One shell command line with every argument quoted: the phone runs it through `sh -c`, so a
    path with spaces, quotes or `;` stays one literal argument and cannot run anything."""
    return " ".join(shlex.quote(str(arg)) for arg in argv)


def default_key_path():
    return Path.home() / ".android" / "adbkey"


def load_signer(key_path=None):
    """The RSA key adb uses (~/.android/adbkey), so a phone that trusts this computer's adb trusts
    the tool too; created with 0600 permissions when there is none."""
    from adb_shell.auth.keygen import keygen, write_public_keyfile
    from adb_shell.auth.sign_pythonrsa import PythonRSASigner

    path = Path(key_path) if key_path else default_key_path()
    try:
        if not path.is_file():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created empty with 0600 first: keygen() would write the private key with the umask's mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            keygen(str(path))
        public = path.with_name(path.name + ".pub")
        if not public.is_file():
            write_public_keyfile(str(path), str(public))
        return PythonRSASigner(public.read_text(), path.read_text())
    except (OSError, ValueError) as error:
        raise AbpnError(f"cannot use the ADB key {path}: {error}. Fix its permissions, or move it away "
                        "to let abpn-tool create a new one (phones will then ask to authorize again).") from error


def parse_target(target):
    """`host:port` (ADB over TCP, as `adb tcpip 5555` turns on) → ("tcp", host, port); anything else is a
    USB serial."""
    target = (target or "").strip()
    if not target:
        raise AbpnError("no phone given: pass --device SERIAL or --device HOST:PORT, or set ANDROID_SERIAL")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        raise AbpnError(f"{target!r}: a serial or HOST:PORT has no spaces or control characters; "
                        "copy it from `adb devices`")
    host, sep, port = target.rpartition(":")
    if not (sep and host):
        return "usb", target, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise AbpnError(f"{target}: the port after ':' must be a number from 1 to 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        # "fe80::1:5555" could be either address:port split; adb has the same rule.
        raise AbpnError(f"{target}: write an IPv6 address in brackets, as [ADDRESS]:PORT")
    if not host:
        raise AbpnError(f"{target}: no host before the port")
    return "tcp", host, int(port)


def _adb_shell_errors():
    from adb_shell import exceptions as ex

    return ex


def _usb_error_message(target, error):
    """LIBUSB_ERROR_BUSY / ACCESS when claiming the interface: almost always a running adb server."""
    error = getattr(error, "usb_error", None) or error
    name = type(error).__name__
    text = str(error)
    if "BUSY" in text.upper() or name.endswith("Busy"):
        return (f"{target}: another adb server holds the USB device: run `adb kill-server` and try again "
                "(or turn on ADB over TCP with `adb tcpip 5555` and pass --device PHONE_IP:5555)")
    if "ACCESS" in text.upper() or name.endswith("Access"):
        return (f"{target}: no permission to open the USB device. If an adb server is running, stop it with "
                "`adb kill-server`; otherwise add a udev rule for the phone (see the README) and replug it")
    return f"{target}: USB error: {error}"


def _is_usb_error(error):
    # adb-shell wraps some libusb errors in its own Usb*FailedError, keeping the original as .usb_error
    return type(getattr(error, "usb_error", None) or error).__module__.startswith("usb1")


class Phone:
    """One connected phone. Not shared between threads: each device gets its own."""

    def __init__(self, target, signer, *, transport_timeout_s=10.0, auth_timeout_s=60.0, read_timeout_s=30.0):
        self.target = target
        self.kind, self.host_or_serial, self.port = parse_target(target)
        self.signer = signer
        self.transport_timeout_s = transport_timeout_s
        self.auth_timeout_s = auth_timeout_s
        self.read_timeout_s = read_timeout_s
        self.device = None
        self.stage = "connecting"

    # -- connection

    def _make_device(self):
        from adb_shell.adb_device import AdbDevice
        from adb_shell.transport.tcp_transport import TcpTransport

        if self.kind == "tcp":
            class _Transport(TcpTransport):
                received = b""  # the peer's first bytes: a failed handshake says what answered

                # adb-shell treats an empty read as "nothing yet" and spins until its read timeout;
                # an empty read on a readable socket means the phone hung up.
                def bulk_read(self, numbytes, transport_timeout_s):
                    data = super().bulk_read(numbytes, transport_timeout_s)
                    if not data:
                        raise ConnectionResetError("the phone closed the connection")
                    if len(self.received) < 64:
                        self.received += bytes(data[:64])
                    return data

            self._transport = _Transport(self.host_or_serial, self.port)
            return AdbDevice(self._transport, default_transport_timeout_s=self.transport_timeout_s)
        from adb_shell.adb_device import AdbDeviceUsb

        return AdbDeviceUsb(serial=self.host_or_serial, default_transport_timeout_s=self.transport_timeout_s)

    def connect(self):
        prompted = []
        try:
            self.device = self._make_device()
            self.device.connect(rsa_keys=[self.signer], transport_timeout_s=self.transport_timeout_s,
                                auth_timeout_s=self.auth_timeout_s, read_timeout_s=self.read_timeout_s,
                                auth_callback=lambda _device: prompted.append(True))
        except Exception as error:  # noqa: BLE001 - each failure below gets a message saying what to do
            self.close()
            raise self._connect_error(error, prompted) from error
        self.stage = "connected"
        return self

    def _connect_error(self, error, prompted):
        ex = _adb_shell_errors()
        if isinstance(error, ex.InvalidTransportError):
            return AbpnError("USB needs adb-shell's usb extra: pip install 'adb-shell[usb]'")
        if isinstance(error, ex.UsbDeviceNotFoundError):
            return AbpnError(f"{self.target}: no phone with this serial on USB. Is it plugged in, with USB "
                             "debugging on (Developer options)? `lsusb` lists connected devices; for a phone on "
                             "the network pass --device HOST:PORT.")
        if prompted or isinstance(error, ex.DeviceAuthError):
            return AbpnError(
                f"{self.target}: the phone did not authorize this computer (refused, or the prompt was not "
                f"answered within {self.auth_timeout_s:g} s). Unlock the phone and accept the 'Allow USB "
                "debugging?' prompt (tick 'Always allow from this computer'), then run again. If you "
                "tapped Deny, disconnect and reconnect the phone to get the prompt back.")
        if _is_usb_error(error):
            return AbpnError(_usb_error_message(self.target, error))
        if isinstance(error, ex.InvalidCommandError) and _STLS_NAME in str(error):
            return AbpnError(tls_pairing_message(self.target))
        peer = self._non_adb_peer(error) if self.kind == "tcp" else None
        if peer:
            return AbpnError(f"{self.target}: {peer}, not an ADB daemon. Pass the phone's ADB address: the "
                             "IP address and port under Developer options > Wireless debugging (not its pairing "
                             "port), or port 5555 after `adb tcpip 5555`.")
        if isinstance(error, (OSError, ex.TcpTimeoutException, ex.AdbTimeoutError, ex.InvalidResponseError,
                              ex.InvalidCommandError, ex.InvalidChecksumError, ex.UsbReadFailedError,
                              ex.UsbWriteFailedError)):
            how = ("Check the address, that the phone and this computer are on the same network, and that the "
                   "phone listens for ADB over TCP: connect it by USB once and run `adb tcpip 5555`, then pass "
                   "--device PHONE_IP:5555") if self.kind == "tcp" else "Check the cable and that USB debugging is on"
            return AbpnError(f"{self.target}: cannot reach the phone ({error}). {how}.")
        return AbpnError(f"{self.target}: connecting failed: {type(error).__name__}: {error}")

    def _non_adb_peer(self, error):
        """What answered in ADB's place, or None: a peer that sent something other than an ADB packet, or
        (when it stayed silent until the timeout) one that answers an HTTP request, such as the collector."""
        received = getattr(getattr(self, "_transport", None), "received", b"")
        if received.startswith(b"HTTP/"):
            return f"the peer answered as a web server ({_first_line(received)!r})"
        if received and received[:4] not in _ADB_COMMANDS:
            return f"the peer answered in another protocol (its first bytes: {received[:16]!r})"
        ex = _adb_shell_errors()
        if received or not isinstance(error, (ex.TcpTimeoutException, ex.AdbTimeoutError)):
            return None
        import socket

        # A silent peer may be an HTTP server waiting for the end of a request line: ask it for one.
        try:
            with socket.create_connection((self.host_or_serial, self.port), timeout=2) as probe:
                probe.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
                answer = probe.recv(64)
        except OSError:
            return None
        if answer.startswith(b"HTTP/"):
            return f"the peer did not answer ADB's handshake but answers HTTP ({_first_line(answer)!r}): a web server"
        return None

    def close(self):
        if self.device is not None:
            try:
                self.device.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail in many ways
                pass

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    def _lost(self, error):
        return Disconnected(f"{self.target}: the phone disconnected while {self.stage} ({error}). "
                            "Reconnect it and run again: files already on the phone are not pushed again, "
                            "and results already pulled are kept.")

    def _call(self, stage, function, *args, **kwargs):
        """Runs one adb-shell call, turning transport failures into Disconnected."""
        ex = _adb_shell_errors()
        self.stage = stage
        try:
            return function(*args, **kwargs)
        except (OSError, ex.TcpTimeoutException, ex.AdbTimeoutError, ex.AdbConnectionError,
                ex.InvalidCommandError, ex.InvalidChecksumError, ex.InvalidResponseError,
                ex.UsbReadFailedError, ex.UsbWriteFailedError) as error:
            raise self._lost(error) from error

    # -- shell

    def shell(self, *argv, stage=None, timeout_s=60, silent_limit_s=None):
        """Runs one command, each argument quoted, and returns its ShellResult. `timeout_s` bounds the
        whole command, and also how long it may stay silent (pm install prints nothing until it is done);
        `silent_limit_s` instead ends a silent command after exactly that long with CommandHeld."""
        stage = stage or f"running `{argv[0]}`"
        quiet = silent_limit_s or max(self.read_timeout_s, timeout_s)
        command = quote_command(*argv) + _EXIT_SUFFIX
        if silent_limit_s is None:
            raw = self._call(stage, self.device.shell, command, transport_timeout_s=max(self.transport_timeout_s, quiet),
                             read_timeout_s=quiet, timeout_s=timeout_s)
        else:
            ex = _adb_shell_errors()
            self.stage = stage
            try:
                raw = self.device.shell(command, transport_timeout_s=quiet, read_timeout_s=quiet, timeout_s=quiet)
            except (ex.TcpTimeoutException, ex.AdbTimeoutError) as error:
                raise CommandHeld(f"`{argv[0]}` gave no answer within {silent_limit_s:g} s") from error
            except (OSError, ex.AdbConnectionError, ex.InvalidCommandError, ex.InvalidChecksumError,
                    ex.InvalidResponseError, ex.UsbReadFailedError, ex.UsbWriteFailedError) as error:
                raise self._lost(error) from error
        result = split_exit_status(raw)
        if result is None:
            raise AbpnError(f"{self.target}: `{argv[0]}` ended without its exit status while {stage} (the phone's "
                            f"shell stopped early). It printed: {raw.strip()[-500:] or 'nothing'}")
        return result

    def getprops(self):
        props = {}
        for line in self.shell("getprop", stage="reading its properties").output.splitlines():
            match = _PROP_LINE.match(line.strip())
            if match:
                props[match.group(1)] = match.group(2)
        return props

    def identity(self):
        """The record's `device` section from getprop, plus the chipset's human name."""
        from abpn.record.chipsets import chipset_name

        props = self.getprops()
        device = {"kind": "phone"}
        for field, prop in IDENTITY_PROPS.items():
            device[field] = props.get(prop) or None
        try:
            device["sdk_int"] = int(device["sdk_int"]) if device["sdk_int"] else None
        except ValueError:
            device["sdk_int"] = None
        device["chipset_name"] = chipset_name(device["soc_model"], device["board_platform"], device["hardware"])
        return device

    def sha256(self, path):
        """The sha256 of a file on the phone, or None when it is missing (or sha256sum is absent)."""
        result = self.shell("sha256sum", path, stage=f"checking {path}")
        match = _SHA256.match(result.output.strip())
        return match.group(1) if result.ok and match else None

    def free_bytes(self, path):
        """Bytes available to `path`'s file system, from `df -k`; None when df says nothing usable."""
        lines = [line.split() for line in self.shell("df", "-k", path, stage="checking free space").output.splitlines()]
        rows = [parts for parts in lines if len(parts) >= 6 and parts[-3].isdigit()]
        return int(rows[-1][-3]) * 1024 if rows else None

    def installed_apk_sha256(self):
        """The sha256 of the installed app's base.apk, "" when its APK cannot be read, None when not installed."""
        result = self.shell("pm", "path", PACKAGE, stage="checking the app")
        paths = [line[len("package:"):].strip() for line in result.output.splitlines() if line.startswith("package:")]
        if not result.ok or not paths:
            return None
        base = next((p for p in paths if p.endswith("/base.apk")), paths[0])
        return self.sha256(base) or ""

    def install_apk(self, remote, timeout_s):
        """`pm install -r`; CommandHeld when it stays silent for `timeout_s` (a prompt on the phone holds it)."""
        return self.shell("pm", "install", "-r", remote, stage="installing the app", silent_limit_s=timeout_s)

    def remove(self, path):
        return self.shell("rm", "-f", path, stage=f"removing {path}")

    def start_activity(self, command_argv):
        return self.shell(*command_argv, stage="starting the benchmark", timeout_s=120)

    def process_alive(self, pid):
        """Whether /proc/<pid> exists, by one sync STAT: adbd answers it with an lstat() of its own, so no
        process starts on the phone. adbd's shell user is in the readproc group (adbd's drop_privileges
        groups include AID_READPROC), which init's hidepid=2,gid=3009 mount of /proc lets see every pid.
        A failed lstat() comes back as mode 0 (file_sync_service.cpp)."""
        mode, _, _ = self._call("checking the app's process", self.device.stat, f"/proc/{int(pid)}",
                                read_timeout_s=self.read_timeout_s)
        return mode != 0

    def pidof(self, package):
        """The pids of `package`'s main process (pidof exits 1 when there is none)."""
        result = self.shell("pidof", package, stage="checking the app's process")
        return [int(word) for word in result.output.split() if word.isdigit()] if result.ok else []

    def content_query(self, uri):
        return self.shell("content", "query", "--uri", uri, stage="waiting for the result")

    def content_read(self, uri):
        return self.shell("content", "read", "--uri", uri, stage="reading the result")

    def wake_screen(self):
        return self.shell("input", "keyevent", "KEYCODE_WAKEUP", stage="waking the screen")

    def page_size(self):
        """The kernel's page size in bytes (`getconf PAGE_SIZE`); None where the phone's toybox has no getconf."""
        result = self.shell("getconf", "PAGE_SIZE", stage="reading the page size")
        text = result.output.strip()
        return int(text) if result.ok and text.isdigit() else None

    def screen_state(self):
        """Screen and keyguard from `dumpsys power` and `dumpsys window policy`; None where they say nothing."""
        power = self.shell("dumpsys", "power", stage="reading the screen state").output
        wakefulness = _WAKEFULNESS.search(power)
        policy = self.shell("dumpsys", "window", "policy", stage="reading the keyguard state").output
        block = _KEYGUARD_BLOCK.search(policy)
        fields = dict(re.findall(r"^\s+(\w+)=(\S*)", block.group(1), re.M)) if block else {}
        return ScreenState(keyguard_locked={"true": True, "false": False}.get(fields.get("showing")),
                           wakefulness=wakefulness.group(1) if wakefulness else None)

    def logcat(self, lines=400, buffer=None):
        argv = ["logcat", "-d", *(["-b", buffer] if buffer else []), "-t", str(lines)]
        return self.shell(*argv, stage="reading logcat").output.splitlines()

    # -- files

    def push(self, local, remote, progress=None):
        ex = _adb_shell_errors()
        size = Path(local).stat().st_size
        callback = None
        if progress is not None:
            done = [0]

            def callback(_path, nbytes, _total):
                done[0] += nbytes
                progress(done[0], size)

        try:
            self._call(f"pushing {Path(local).name}", self.device.push, str(local), remote, st_mode=PUSH_MODE,
                       progress_callback=callback, read_timeout_s=self.read_timeout_s)
        except (ex.PushFailedError, ex.AdbCommandFailureException) as error:
            message = error.args[0] if error.args else error
            if isinstance(message, (bytes, bytearray)):
                message = message.decode("utf-8", "replace")
            if "No space left" in str(message):
                raise AbpnError(f"{self.target}: not enough space on the phone for {remote} ({message}). Free "
                                "some space (apps, photos, old files in /data/local/tmp) and run again.") from error
            raise AbpnError(f"{self.target}: pushing {remote} failed: {message}") from error
