"""push-and-bench: benchmark one model on one or more phones over ADB and keep every result.

For each phone, concurrently: read its identity, wake its screen and refuse a locked phone, install
or upgrade the app when its APK differs, push the model and the reference input/output unless the
same bytes are already there, start the benchmark activity (docs/phone-protocol.md), follow the run
through the app's results provider, read the record, save the raw JSON, validate it and store it. One
phone failing never stops the others or loses what they collected.
"""
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from abpn.bench.console import Console, crash_details, results_table
from abpn.bench.delivery import deliver
from abpn.core.filekinds import check_apk
from abpn.core.files import file_sha256, write_atomically
from abpn.core.table import format_table
from abpn.bench.device import (BENCHMARK_ACTIVITY, PACKAGE, PHONE_DIR, RESULTS_AUTHORITY, Phone, load_signer,
                               parse_target, quote_command)
from abpn.errors import AbpnError
from abpn.record.build import accelerators

DEFAULT_OUT = "abpn-results"
# Room left beyond the files themselves: logs, the result file, the app's own cache.
SPACE_MARGIN_BYTES = 8 * 1024 * 1024
LOG_TAGS = ("ABPN", "AndroidRuntime", "DEBUG", "libc")
PROGRESS_EVERY_S = 10.0
# benchmark_model's defaults are warmup_min_secs 0.5 and min_secs 1 (tensorflow/lite/tools/benchmark).
WARMUP_MIN_MS, RUN_MIN_MS = 500, 1000
COOLDOWN_MAX_S = 60
# One row of AOSP's `content query` (cmds/content Content.java: "Row: N " then "name=value" joined by ", ");
# the app's columns come in this order, and progress is free text that may hold ", " itself.
_RUN_ROW = re.compile(r"^Row: 0 run_id=(?P<run_id>\S+), state=(?P<state>\w+), pid=(?P<pid>-?\d+|NULL), "
                      r"progress=(?P<progress>.*), updated_ms=(?P<updated_ms>\d+|NULL)\s*$", re.M)
PROVIDER_ERROR = "Error while accessing provider:"
# ActivityManagerShellCommand.runStartActivity prints these and still exits 0: each means no new run.
AM_START_NOT_STARTED = {
    "Warning: Activity not started, its current task has been brought to the front":
        "the app's task was still open, so Android only brought it to the front",
    "Warning: Activity not started, intent has been delivered to currently running top-most instance.":
        "Android handed the request to the benchmark screen already open",
    "Warning: Activity not started because the  current activity is being kept for the user.":
        "the phone kept its current screen for the user",
    "Warning: Activity not started because intent should be handled by the caller":
        "Android returned the request to the caller",
}


@dataclass
class Plan:
    """Everything every phone gets, prepared once on the host before anything is pushed."""

    model: object  # abpn.model.modelfile.ModelInfo
    input_path: Path
    expected_path: Path
    apk: Path | None
    apk_sha256: str | None
    accelerators: list
    runs: int
    warmup: int
    threads: int
    cooldown_s: int
    result_timeout_s: float
    out_dir: Path
    cooldown_max_s: int = COOLDOWN_MAX_S
    warmup_min_ms: int = WARMUP_MIN_MS
    run_min_ms: int = RUN_MIN_MS
    require_full_delegation: bool = False
    nnapi_accelerator: str | None = None
    allow_locked: bool = False

    @property
    def remote_model(self):
        return f"{PHONE_DIR}/{self.model.file_name}"

    @property
    def remote_input(self):
        return f"{PHONE_DIR}/{self.model.sha256}.input.bin"

    @property
    def remote_expected(self):
        return f"{PHONE_DIR}/{self.model.sha256}.expected.bin"

    def request(self, run_id):
        return BenchmarkRequest(
            run_id=run_id, model=self.remote_model, input=self.remote_input, expected=self.remote_expected,
            accelerators=tuple(self.accelerators), threads=self.threads, warmup=self.warmup, runs=self.runs,
            warmup_min_ms=self.warmup_min_ms, run_min_ms=self.run_min_ms, cooldown_s=self.cooldown_s,
            cooldown_max_s=self.cooldown_max_s, require_full_delegation=self.require_full_delegation,
            nnapi_accelerator=self.nnapi_accelerator)


@dataclass(frozen=True)
class BenchmarkRequest:
    """What the benchmark activity is told: the extras of docs/phone-protocol.md, "Starting a run"."""

    run_id: str
    model: str
    input: str
    expected: str | None
    accelerators: tuple
    threads: int = 4
    warmup: int = 3
    runs: int = 20
    warmup_min_ms: int = WARMUP_MIN_MS
    run_min_ms: int = RUN_MIN_MS
    cooldown_s: int = 0
    cooldown_max_s: int = COOLDOWN_MAX_S
    require_full_delegation: bool = False
    nnapi_accelerator: str | None = None


def am_start_argv(request):
    """The one `am start` the host runs (tests/fixtures/am_start_benchmark.txt holds it for a fixed request,
    for the app's own test). -S force-stops the app first: on a live task, am start without it starts
    nothing. -W waits until the activity is up, so the run is registered when it returns."""
    argv = ["am", "start", "-S", "-W", "-n", BENCHMARK_ACTIVITY,
            "--es", "run_id", request.run_id,
            "--es", "model", request.model,
            "--es", "input", request.input]
    if request.expected:
        argv += ["--es", "expected", request.expected]
    argv += ["--es", "accelerators", ",".join(request.accelerators),
             "--ei", "threads", request.threads, "--ei", "warmup", request.warmup, "--ei", "runs", request.runs,
             "--ei", "warmup_min_ms", request.warmup_min_ms, "--ei", "run_min_ms", request.run_min_ms,
             "--ei", "cooldown_s", request.cooldown_s, "--ei", "cooldown_max_s", request.cooldown_max_s,
             "--ez", "require_full_delegation", "true" if request.require_full_delegation else "false"]
    if request.nnapi_accelerator:
        argv += ["--es", "nnapi_accelerator", request.nnapi_accelerator]
    return [str(arg) for arg in argv]


def am_start_command(request):
    """The command line as the phone's shell receives it (every value quoted)."""
    return quote_command(*am_start_argv(request))


@dataclass
class Outcome:
    target: str
    chipset: str | None = None
    record: dict | None = None
    stored: str | None = None
    saved_to: Path | None = None
    error: str | None = None

    @property
    def ok(self):
        return self.error is None


def parse_accelerators(text):
    names = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in names if a not in accelerators()]
    if unknown or not names:
        raise AbpnError(f"unknown accelerator(s) {', '.join(unknown) or '(none given)'}: "
                        f"choose from {', '.join(accelerators())}")
    # The CPU runs first: the app compares every other accelerator's timing with the CPU's to
    # expose a silent fallback, which needs the CPU's median already measured.
    names = list(dict.fromkeys(names))
    return sorted(names, key=lambda name: name != "cpu")


def prepare_plan(model_path, *, apk=None, accelerators="cpu,gpu,nnapi,qnn_htp", runs=20, warmup=3, threads=4,
                 cooldown_s=0, result_timeout_s=600.0, out_dir=DEFAULT_OUT, cooldown_max_s=COOLDOWN_MAX_S,
                 warmup_min_ms=WARMUP_MIN_MS, run_min_ms=RUN_MIN_MS, require_full_delegation=False,
                 nnapi_accelerator=None, allow_locked=False):
    """Checks the model (an x3 image model with a fixed input size) and computes the reference input
    and expected output on the host with the same model. Nothing touches a phone here."""
    from abpn.bench.host import MAX_RUNS, real_image
    from abpn.model.modelfile import TFLiteRunner, inspect_model

    accelerators = parse_accelerators(accelerators)
    info = inspect_model(model_path)
    if info.dynamic:
        raise AbpnError(f"{model_path} has a dynamic input size {list(info.input_shape)}; the phone app needs a "
                        "fixed-shape model. Export one with a fixed input size (the deployment shape is 1x360x640x3).")
    if not 1 <= runs <= MAX_RUNS:
        raise AbpnError(f"--runs must be from 1 to {MAX_RUNS}, got {runs}")
    if min(warmup, cooldown_s, cooldown_max_s, warmup_min_ms, run_min_ms) < 0 or threads < 1:
        raise AbpnError("--warmup, --cooldown, --cooldown-max, --warmup-min-ms and --run-min-ms must be 0 or more, "
                        "--threads 1 or more")
    if not result_timeout_s > 0:
        raise AbpnError(f"--timeout must be a positive number of seconds, got {result_timeout_s:g}")
    apk_path = None
    if apk is not None:
        apk_path = Path(apk)
        if not apk_path.is_file():
            raise AbpnError(f"{apk}: no such APK file")
        check_apk(apk_path, PACKAGE)  # a zip whose manifest names the app: never install another file
    out_dir = Path(out_dir)
    reference_dir = out_dir / "reference"
    reference_dir.mkdir(parents=True, exist_ok=True)
    input_path = reference_dir / f"{info.sha256}.input.bin"
    expected_path = reference_dir / f"{info.sha256}.expected.bin"
    if not (input_path.is_file() and expected_path.is_file()):
        runner = TFLiteRunner(model_path)
        tensor = runner.encode_input(real_image(info.input_hw))
        output = runner.invoke_raw(tensor)
        # Atomic: a half-written reference must never be reused.
        for path, content in ((input_path, tensor), (expected_path, output)):
            write_atomically(path, content.tobytes())
    return Plan(model=info, input_path=input_path, expected_path=expected_path, apk=apk_path,
                apk_sha256=file_sha256(apk_path) if apk_path else None, accelerators=accelerators,
                runs=runs, warmup=warmup, threads=threads, cooldown_s=cooldown_s,
                result_timeout_s=result_timeout_s, out_dir=out_dir, cooldown_max_s=cooldown_max_s,
                warmup_min_ms=warmup_min_ms, run_min_ms=run_min_ms, require_full_delegation=require_full_delegation,
                nnapi_accelerator=nnapi_accelerator, allow_locked=allow_locked)


# ---------------------------------------------------------------- one phone


def _mb(nbytes):
    return f"{nbytes / 1e6:.1f} MB"


def _size(nbytes):
    return f"{nbytes / 1e3:.0f} kB" if nbytes < 1e6 else _mb(nbytes)


def _relevant_log_lines(lines, limit=30):
    picked = [line for line in lines if any(f" {tag}" in line for tag in LOG_TAGS) or PACKAGE in line]
    return picked[-limit:]


class _PhoneRun:
    def __init__(self, target, plan, sink, signer, console, connect_options):
        self.target, self.plan, self.sink, self.signer = target, plan, sink, signer
        self.console, self.connect_options = console, connect_options
        self.outcome = Outcome(target)

    def say(self, message):
        self.console.say(self.target, message)

    def run(self):
        try:
            with Phone(self.target, self.signer, **self.connect_options) as phone:
                self._bench(phone)
        except AbpnError as error:
            self.outcome.error = str(error)
            self.say(f"FAILED: {error}")
        except Exception as error:  # noqa: BLE001 - a bug met on one phone must not stop the others
            self.outcome.error = f"{self.target}: unexpected {type(error).__name__}: {error}"
            self.say(f"FAILED: {self.outcome.error}")
        return self.outcome

    def _bench(self, phone):
        device = phone.identity()
        self.outcome.chipset = device["chipset_name"]
        self.say(f"{device['manufacturer']} {device['model']}, {device['chipset_name'] or 'unknown chipset'}, "
                 f"Android {device['android_release']} (SDK {device['sdk_int']}), {device['abi']}")
        self._awake_and_unlocked(phone)
        self._warn_about_page_size(phone)

        install = self._app_needs_install(phone)
        pushes = self._files_to_push(phone, install)
        self._check_space(phone, pushes, install)
        for local, remote, label in pushes:
            self._push(phone, local, remote, label)
        if install:
            self._install(phone)

        run_id = self._start(phone)
        self._collect(phone, run_id)

    def _warn_about_page_size(self, phone):
        """A kernel with 16 KB pages cannot load libraries whose ELF segments are 4 KB aligned, as the offline
        build's TFLite 2.16.1 ones are: that app then reports every accelerator unsupported. Said before the
        run, not refused: the Gradle build (LiteRT) is 16 KB aligned."""
        size = phone.page_size()
        if size and size > 4096:
            self.say(f"this phone's kernel uses {size // 1024} KB pages: an app whose TFLite libraries are 4 KB "
                     "aligned (the offline build's TFLite 2.16.1) cannot load them, and reports every accelerator "
                     "unsupported. Install the Gradle build (LiteRT, 16 KB aligned; android/README.md) with --apk.")

    def _awake_and_unlocked(self, phone):
        """A sleeping phone is woken (a benchmark behind a dark screen runs throttled, or not at all); a
        locked one is refused unless --allow-locked: the benchmark screen cannot come up over the keyguard."""
        state = phone.screen_state()
        if state.screen_on is not True:
            was = state.wakefulness.lower() if state.wakefulness else "in an unknown state"
            phone.wake_screen()
            state = phone.screen_state()
            self.say(f"the screen was {was}: woke it "
                     f"({'awake now' if state.screen_on else 'still ' + (state.wakefulness or 'unknown').lower()})")
        if state.keyguard_locked and not self.plan.allow_locked:
            raise AbpnError(
                f"{self.target}: the phone is locked (its lock screen is showing), so the benchmark screen cannot "
                "come up. Unlock the phone and run again. For unattended runs, set Settings > Security > Screen "
                f"lock to None (or `adb -s {self.target} shell locksettings clear --old YOUR_PIN`) and turn on "
                "Developer options > Stay awake. --allow-locked runs anyway.")
        if state.keyguard_locked:
            self.say("the phone is locked; running anyway (--allow-locked)")

    def _app_needs_install(self, phone):
        installed = phone.installed_apk_sha256()
        if self.plan.apk is None:
            if installed is None:
                raise AbpnError(f"{self.target}: the ABPN app ({PACKAGE}) is not installed; "
                                "pass --apk path/to/abpn.apk to install it")
            return False
        if installed == self.plan.apk_sha256:
            self.say("app up to date")
            return False
        self.say("app missing, will install" if installed is None else "app differs from --apk, will upgrade")
        return True

    def _files_to_push(self, phone, install):
        plan = self.plan
        wanted = [(plan.model.path, plan.remote_model, f"the model {plan.model.file_name}"),
                  (plan.input_path, plan.remote_input, "the reference input"),
                  (plan.expected_path, plan.remote_expected, "the expected output")]
        pushes = []
        for local, remote, label in wanted:
            if phone.sha256(remote) == file_sha256(local):
                self.say(f"{label} already on the phone")
            else:
                pushes.append((local, remote, label))
        if install:
            pushes.append((plan.apk, f"{PHONE_DIR}/abpn-app.apk", f"the app {plan.apk.name}"))
        return pushes

    def _check_space(self, phone, pushes, install):
        needed = sum(Path(local).stat().st_size for local, _, _ in pushes)
        if install:
            needed += self.plan.apk.stat().st_size  # the package manager copies the APK once more
        if not needed:
            return
        free = phone.free_bytes("/data/local/tmp")
        if free is not None and needed + SPACE_MARGIN_BYTES > free:
            raise AbpnError(f"{self.target}: not enough space on the phone: this run needs "
                            f"{_mb(needed + SPACE_MARGIN_BYTES)} in /data/local/tmp (files and a margin), only "
                            f"{_mb(free)} free. Free some space on the phone and run again.")

    def _push(self, phone, local, remote, label):
        size = Path(local).stat().st_size
        self.say(f"pushing {label} ({_size(size)})")
        marks = [0.25, 0.5, 0.75]

        def progress(done, total):
            while marks and total and done >= marks[0] * total:
                self.say(f"  {label}: {int(marks.pop(0) * 100)}%")

        phone.push(local, remote, progress=progress if size > 4 * 1024 * 1024 else None)

    def _install(self, phone):
        remote = f"{PHONE_DIR}/abpn-app.apk"
        self.say("installing the app")
        installed = phone.install_apk(remote)
        removed = phone.remove(remote)
        if not removed.ok:
            self.say(f"could not remove {remote} ({removed.output.strip() or f'exit status {removed.exit_code}'}); "
                     "it is left on the phone")
        if installed.ok and "Success" in installed.output:
            return
        detail = installed.output.strip() or f"no output, exit status {installed.exit_code}"
        if "INSTALL_FAILED_UPDATE_INCOMPATIBLE" in detail:
            raise AbpnError(
                f"{self.target}: the {PACKAGE} installed on the phone is signed with another key than "
                f"{self.plan.apk.name}, so Android refuses to update it ({detail}). Uninstalling it deletes the "
                f"results it keeps on the phone, so abpn-tool never does that itself: to replace it, run "
                f"`adb -s {self.target} uninstall {PACKAGE}` yourself and run again, or pass an APK signed with "
                "the installed app's key.")
        if "INSUFFICIENT_STORAGE" in detail:
            raise AbpnError(f"{self.target}: not enough space on the phone to install the app ({detail}). "
                            "Free some space and run again.")
        raise AbpnError(f"{self.target}: installing the app failed: {detail}")

    def _start(self, phone):
        from abpn.record.build import new_run_id

        plan = self.plan
        run_id = new_run_id()
        phone.wake_screen()  # the screen may have timed out during the pushes
        started = phone.start_activity(am_start_argv(plan.request(run_id)))
        problem = am_start_problem(started)
        if problem:
            raise AbpnError(f"{self.target}: {problem}")
        self.say(f"benchmark started (run {run_id}, {', '.join(plan.accelerators)}, "
                 f"{plan.warmup} warm-up + {plan.runs} runs)")
        return run_id

    def _collect(self, phone, run_id):
        plan = self.plan
        uri = f"content://{RESULTS_AUTHORITY}/runs/{run_id}"
        start = time.monotonic()
        next_report = start + PROGRESS_EVERY_S
        progress = None
        while True:
            row = self._query(phone, uri)
            if row is not None and row["state"] == "done":
                break
            if row is not None and row["state"] == "error":
                content = self._read(phone, f"{uri}.error.json")
                try:
                    message = json.loads(content).get("error", content)
                except (ValueError, AttributeError):
                    message = content
                raise AbpnError(f"{self.target}: the app could not run the benchmark: {message}")
            alive = phone.pidof(PACKAGE)
            if row is None and not alive:
                self._app_died(phone, f"the app is not running and has no record of run {run_id}")
            # Asked again before concluding: the run may have ended, and its process gone, between the two looks.
            if row is not None and row["pid"] not in alive and self._query(phone, uri) == row:
                self._app_died(phone, f"the app's process {row['pid']} is gone while the run was at "
                                      f"'{row['progress']}'")
            if row is not None and row["progress"] != progress:
                progress = row["progress"]
                self.say(f"  {progress}")
            elapsed = time.monotonic() - start
            if elapsed > plan.result_timeout_s:
                lines = _relevant_log_lines(phone.logcat())
                shown = "\n".join(f"    {line}" for line in lines) or "    (no lines from the app in logcat)"
                state = f"still running at '{progress}'" if row else "running, but it never registered the run"
                raise AbpnError(f"{self.target}: no result after {plan.result_timeout_s:g} s: the app is {state}. "
                                f"Raise --timeout for slow phones. Relevant logcat lines:\n{shown}")
            if time.monotonic() >= next_report:
                self.say(f"waiting for the result: {elapsed:.0f} s (timeout {plan.result_timeout_s:g} s)")
                next_report += PROGRESS_EVERY_S
            time.sleep(min(1.0, max(0.05, plan.result_timeout_s / 20)))

        content = self._read(phone, f"{uri}.json").encode()
        delivered = deliver(content, out_dir=plan.out_dir, run_id=run_id, sink=self.sink, label=self.target)
        self.outcome.saved_to, self.outcome.record, self.outcome.stored = delivered
        self.say(f"result saved as {delivered.saved_to}, stored in {self.sink.where} ({delivered.stored})")
        record = delivered.record
        self.console.block(f"[{self.target}] results:\n{results_table(record)}{crash_details(record)}")

    def _query(self, phone, uri):
        """The run's row from the app's results provider, or None when it has none."""
        answer = phone.content_query(uri)
        self._refuse_unreadable(answer, uri)
        match = _RUN_ROW.search(answer.output)
        if match is None:
            if "No result found." in answer.output:
                return None
            raise AbpnError(f"{self.target}: the app's results provider answered something unexpected for {uri}: "
                            f"{answer.output.strip()[:500]}")
        row = match.groupdict()
        row["pid"] = int(row["pid"]) if row["pid"] != "NULL" else None
        return row

    def _read(self, phone, uri):
        answer = phone.content_read(uri)
        self._refuse_unreadable(answer, uri)
        return answer.output

    def _refuse_unreadable(self, answer, uri):
        """`content` prints the provider's exception after "Error while accessing provider:" and exits 0."""
        if PROVIDER_ERROR not in answer.output and answer.ok:
            return
        lines = answer.output.strip().splitlines()
        cause = next((line for line in lines if line.startswith(("java.", "android."))), lines[0] if lines else
                     f"exit status {answer.exit_code}")
        if "Could not find provider" in cause:
            fix = ("the installed app has no results provider: it predates protocol v2. Install the current APK "
                   "with --apk")
        elif "Permission Denial" in cause or "SecurityException" in cause:
            fix = ("the phone refused the shell access to the app's results (they are guarded by "
                   "android.permission.DUMP, which the shell holds on Android phones): check that the installed "
                   "app is this project's, or reinstall it with --apk")
        else:
            fix = "the run may have finished on the phone; its results stay in the app until it is uninstalled"
        raise AbpnError(f"{self.target}: cannot read the result from the phone: `content` could not read {uri} "
                        f"({cause}). This is not a missing result: {fix}.")

    def _app_died(self, phone, what):
        """The app's main process is gone: say so, with the crash as logcat keeps it."""
        lines = _relevant_log_lines(phone.logcat(200, buffer="crash")) or _relevant_log_lines(phone.logcat())
        shown = "\n".join(f"    {line}" for line in lines) or "    (nothing in logcat)"
        raise AbpnError(f"{self.target}: the app died during the benchmark: {what}. No result was written. "
                        f"The phone's crash log:\n{shown}")


def am_start_problem(result):
    """What went wrong in `am start`'s answer, or None when the activity was launched. am start exits 0 even
    when it prints "Error: ..." (ActivityManagerShellCommand.runStartActivity), so its text decides."""
    lines = [line.strip() for line in result.output.splitlines()]
    for line in lines:
        if line in AM_START_NOT_STARTED:
            return (f"Android did not start the benchmark: {AM_START_NOT_STARTED[line]} (am start printed "
                    f"\"{line}\"). No run was started. Close the app (`adb shell am force-stop {PACKAGE}`) and run again.")
    errors = [line for line in lines if line.startswith(("Error", "Exception", "java.", "Warning"))]
    if any("does not exist" in line for line in errors):
        return (f"the installed app has no benchmark activity ({'; '.join(errors)}): install the current APK "
                "with --apk")
    if errors or not result.ok or "Complete" not in lines:
        shown = "; ".join(errors) or result.output.strip() or "no answer"
        return f"the phone could not start the benchmark (am start exit status {result.exit_code}): {shown}"
    return None


def _short_error(outcome, limit=120):
    if outcome.error is None:
        return ""
    text = outcome.error.splitlines()[0].removeprefix(f"{outcome.target}: ")
    return text if len(text) <= limit else text[: limit - 1] + "…"



# ---------------------------------------------------------------- the command


def push_and_bench(targets, plan, sink, *, auth_timeout_s=60.0):
    """Runs `plan` on every phone in `targets` at once; returns one Outcome per phone, in order."""
    # One run per phone however it was spelled (" host:05555" and "host:5555" are one phone); a
    # malformed target is refused before any phone is touched.
    by_phone = {}
    for target in targets:
        by_phone.setdefault(parse_target(target), target.strip())
    targets = list(by_phone.values())
    signer = load_signer()
    console = Console()
    options = {"auth_timeout_s": auth_timeout_s}
    sink.check()
    model = plan.model
    console.block(f"model {model.file_name}: {model.input_shape} {model.input_dtype} -> {model.output_shape} "
                  f"{model.output_dtype}, sha256 {model.sha256[:12]}…; {len(targets)} phone(s)")
    runs = [_PhoneRun(t, plan, sink, signer, console, options) for t in targets]
    with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="phone") as pool:
        outcomes = list(pool.map(lambda r: r.run(), runs))
    rows = [[o.target, o.chipset or "-", "ok" if o.ok else "failed", _short_error(o)] for o in outcomes]
    console.block("\nsummary:\n" + format_table(["device", "chipset", "status", "error"], rows))
    return outcomes
