"""push-and-bench: benchmark one model on one or more phones over ADB and keep every result.

For each phone, concurrently: read its identity, install or upgrade the app when its APK differs,
push the model and the reference input/output unless the same bytes are already there, start the
benchmark activity (docs/phone-protocol.md), wait for the result file, pull it, save the raw JSON,
validate it and store it. One phone failing never stops the others or loses what they collected.
"""
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import click

from abpn.core.files import write_atomically
from abpn.core.table import format_table
from abpn.bench.device import BENCHMARK_ACTIVITY, PHONE_DIR, RESULTS_DIR, Phone, load_signer, parse_target
from abpn.errors import AbpnError
from abpn.bench.record import ACCELERATORS

DEFAULT_OUT = "abpn-results"
# Room left beyond the files themselves: logs, the result file, the app's own cache.
SPACE_MARGIN_BYTES = 8 * 1024 * 1024
LOG_TAGS = ("ABPN", "AndroidRuntime")
PROGRESS_EVERY_S = 10.0


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

    @property
    def remote_model(self):
        return f"{PHONE_DIR}/{self.model.file_name}"

    @property
    def remote_input(self):
        return f"{PHONE_DIR}/{self.model.sha256}.input.bin"

    @property
    def remote_expected(self):
        return f"{PHONE_DIR}/{self.model.sha256}.expected.bin"


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
    unknown = [a for a in names if a not in ACCELERATORS]
    if unknown or not names:
        raise AbpnError(f"unknown accelerator(s) {', '.join(unknown) or '(none given)'}: "
                        f"choose from {', '.join(ACCELERATORS)}")
    # The CPU runs first: the app compares every other accelerator's timing with the CPU's to
    # expose a silent fallback, which needs the CPU's median already measured.
    names = list(dict.fromkeys(names))
    return sorted(names, key=lambda name: name != "cpu")


def prepare_plan(model_path, *, apk=None, accelerators="cpu,gpu,nnapi,qnn_htp", runs=20, warmup=3, threads=4,
                 cooldown_s=0, result_timeout_s=600.0, out_dir=DEFAULT_OUT):
    """Checks the model (an x3 image model with a fixed input size) and computes the reference input
    and expected output on the host with the same model. Nothing touches a phone here."""
    from abpn.bench.host import real_image
    from abpn.model.modelfile import TFLiteRunner, file_sha256, inspect_model

    accelerators = parse_accelerators(accelerators)
    info = inspect_model(model_path)
    if info.dynamic:
        raise AbpnError(f"{model_path} has a dynamic input size {list(info.input_shape)}; the phone app needs a "
                        "fixed-shape model. Export one with a fixed input size (the deployment shape is 1x360x640x3).")
    if not 1 <= runs <= 10000:
        raise AbpnError(f"--runs must be from 1 to 10000, got {runs}")
    if warmup < 0 or threads < 1 or cooldown_s < 0:
        raise AbpnError("--warmup and --cooldown must be 0 or more, --threads 1 or more")
    if not result_timeout_s > 0:
        raise AbpnError(f"--timeout must be a positive number of seconds, got {result_timeout_s:g}")
    apk_path = None
    if apk is not None:
        apk_path = Path(apk)
        if not apk_path.is_file():
            raise AbpnError(f"{apk}: no such APK file")
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
                result_timeout_s=result_timeout_s, out_dir=out_dir)


# ---------------------------------------------------------------- where records go


class DatabaseSink:
    def __init__(self, path):
        from abpn.collector.store import Store

        self.path = Path(path)
        self._database = Store(self.path)
        self.where = str(self.path)

    def store(self, record):
        return self._database.add(record)


class CollectorSink:
    def __init__(self, url, token=None, timeout_s=30.0):
        # Checked here, before any phone runs: urllib would only refuse it when the first result is posted.
        if not url.lower().startswith(("http://", "https://")):
            raise AbpnError(f"--collector {url}: give the collector's URL with its scheme, "
                            "e.g. http://192.168.1.20:8765")
        self.url = url.rstrip("/") + "/api/records"
        self.token = token
        self.timeout_s = timeout_s
        self.where = url

    def store(self, record):
        headers = {"Content-Type": "application/json"}
        if self.token:  # a collector on loopback may run without one
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=json.dumps(record).encode(), method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return "created" if response.status == 201 else "exists"
        except urllib.error.HTTPError as error:
            with error:  # it holds the response's socket
                detail = error.read().decode("utf-8", "replace")[:500]
            hint = " (check --token)" if error.code == 401 else ""
            raise AbpnError(f"the collector at {self.url} answered {error.code}{hint}: {detail}") from error
        except (urllib.error.URLError, OSError) as error:
            raise AbpnError(f"cannot reach the collector at {self.url}: {error}") from error


# ---------------------------------------------------------------- one phone


class _Console:
    """Lines from several phones at once, each prefixed with its phone."""

    def __init__(self):
        self.lock = threading.Lock()

    def say(self, target, message):
        with self.lock:
            click.echo(f"[{target}] {message}")

    def block(self, text):
        with self.lock:
            click.echo(text)


def _mb(nbytes):
    return f"{nbytes / 1e6:.1f} MB"


def _size(nbytes):
    return f"{nbytes / 1e3:.0f} kB" if nbytes < 1e6 else _mb(nbytes)


def _relevant_log_lines(lines, limit=30):
    picked = [line for line in lines if any(f" {tag}" in line for tag in LOG_TAGS) or "org.abpn.app" in line]
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
        plan = self.plan
        device = phone.identity()
        self.outcome.chipset = device["chipset_name"]
        self.say(f"{device['manufacturer']} {device['model']}, {device['chipset_name'] or 'unknown chipset'}, "
                 f"Android {device['android_release']} (SDK {device['sdk_int']}), {device['abi']}")

        install = self._app_needs_install(phone)
        pushes = self._files_to_push(phone, install)
        self._check_space(phone, pushes, install)
        for local, remote, label in pushes:
            self._push(phone, local, remote, label)
        if install:
            self._install(phone)

        run_id = self._start(phone)
        self._collect(phone, run_id)

    def _app_needs_install(self, phone):
        installed = phone.installed_apk_sha256()
        if self.plan.apk is None:
            if installed is None:
                raise AbpnError(f"{self.target}: the ABPN app ({BENCHMARK_ACTIVITY.split('/')[0]}) is not installed; "
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
        from abpn.model.modelfile import file_sha256

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
        output = phone.shell("pm", "install", "-r", remote, stage="installing the app", timeout_s=300)
        phone.shell("rm", "-f", remote, stage="removing the pushed APK")
        if "Success" not in output:
            detail = output.strip() or "no output"
            if "INSUFFICIENT_STORAGE" in detail:
                raise AbpnError(f"{self.target}: not enough space on the phone to install the app ({detail}). "
                                "Free some space and run again.")
            raise AbpnError(f"{self.target}: installing the app failed: {detail}")

    def _start(self, phone):
        from abpn.bench.record import new_run_id

        plan = self.plan
        run_id = new_run_id()
        output = phone.shell(
            "am", "start", "-W", "-n", BENCHMARK_ACTIVITY,
            "--es", "model", plan.remote_model,
            "--es", "accelerators", ",".join(plan.accelerators),
            "--ei", "threads", plan.threads, "--ei", "warmup", plan.warmup, "--ei", "runs", plan.runs,
            "--es", "run_id", run_id,
            "--es", "input", plan.remote_input,
            "--es", "expected", plan.remote_expected,
            "--ei", "cooldown_s", plan.cooldown_s,
            stage="starting the benchmark")
        errors = [line for line in output.splitlines() if line.startswith(("Error", "Exception"))]
        if errors or ("Status: ok" not in output and "Complete" not in output):
            raise AbpnError(f"{self.target}: the phone could not start the benchmark: "
                            f"{'; '.join(errors) or output.strip() or 'no answer from am start'}")
        self.say(f"benchmark started (run {run_id}, {', '.join(plan.accelerators)}, "
                 f"{plan.warmup} warm-up + {plan.runs} runs)")
        return run_id

    def _collect(self, phone, run_id):
        from abpn.bench.record import record_errors

        plan = self.plan
        result, failure = f"{RESULTS_DIR}/{run_id}.json", f"{RESULTS_DIR}/{run_id}.error.json"
        start = time.monotonic()
        next_report = start + PROGRESS_EVERY_S
        while True:
            if phone.stat(result, stage="waiting for the result")[0]:
                break
            if phone.stat(failure, stage="waiting for the result")[0]:
                content = phone.pull_bytes(failure).decode("utf-8", "replace")
                try:
                    message = json.loads(content).get("error", content)
                except (ValueError, AttributeError):
                    message = content
                raise AbpnError(f"{self.target}: the app could not run the benchmark: {message}")
            elapsed = time.monotonic() - start
            if elapsed > plan.result_timeout_s:
                lines = _relevant_log_lines(phone.logcat())
                shown = "\n".join(f"    {line}" for line in lines) or "    (no lines from the app in logcat)"
                raise AbpnError(f"{self.target}: no result after {plan.result_timeout_s:g} s: the app crashed or "
                                f"never wrote its result. Relevant logcat lines:\n{shown}")
            if time.monotonic() >= next_report:
                self.say(f"waiting for the result: {elapsed:.0f} s (timeout {plan.result_timeout_s:g} s)")
                next_report += PROGRESS_EVERY_S
            time.sleep(min(1.0, max(0.05, plan.result_timeout_s / 20)))

        content = phone.pull_bytes(result)
        # The raw file first: whatever happens next (bad JSON, collector down), the run is not lost.
        raw_dir = plan.out_dir / "raw"
        raw_dir.mkdir(parents=True, exist_ok=True)
        saved = raw_dir / f"{run_id}.json"
        write_atomically(saved, content)
        self.outcome.saved_to = saved
        try:
            record = json.loads(content)
        except ValueError as error:
            raise AbpnError(f"{self.target}: the result file is not JSON ({error}); kept as {saved}") from error
        problems = record_errors(record)
        if not problems and record["run_id"].lower() != run_id:
            problems = [f"run_id {record['run_id']} instead of {run_id}"]
        if problems:
            raise AbpnError(f"{self.target}: the result does not match the schema ({'; '.join(problems[:5])}); "
                            f"kept as {saved}")
        self.outcome.record = record
        try:
            self.outcome.stored = self.sink.store(record)
        except AbpnError as error:
            raise AbpnError(f"{self.target}: {error}; the result is kept as {saved}") from error
        self.say(f"result saved as {saved}, stored in {self.sink.where} ({self.outcome.stored})")
        self.console.block(f"[{self.target}] results:\n{results_table(record)}")


# ---------------------------------------------------------------- tables


def _ms(value):
    return f"{value:.2f}" if isinstance(value, (int, float)) else "-"


def results_table(record):
    """One row per accelerator: status, median/p90 ms, fps, init ms, output check (or the reason)."""
    rows = []
    for result in record["results"]:
        latency = result.get("latency_ms") or {}
        median = latency.get("median")
        check = result.get("output_check")
        if check:
            psnr = "identical" if check["psnr_db"] is None else f"{check['psnr_db']:.1f} dB"
            check_text = f"{'passed' if check['passed'] else 'FAILED'} ({psnr})"
        else:
            check_text = "-"
        if result["status"] != "ok":
            check_text = result.get("reason") or "-"
        fps = f"{1000 / median:.1f}" if median else "-"
        rows.append([result["accelerator"], result["status"], _ms(median), _ms(latency.get("p90")), fps,
                     _ms(result.get("init_ms")), check_text])
    return format_table(["accelerator", "status", "median ms", "p90 ms", "fps", "init ms", "output check / reason"],
                         rows)


def _short_error(outcome, limit=120):
    if outcome.error is None:
        return ""
    text = outcome.error.splitlines()[0].removeprefix(f"{outcome.target}: ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_table(outcomes):
    rows = [[o.target, o.chipset or "-", "ok" if o.ok else "failed", _short_error(o)] for o in outcomes]
    return format_table(["device", "chipset", "status", "error"], rows)


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
    console = _Console()
    options = {"auth_timeout_s": auth_timeout_s}
    model = plan.model
    console.block(f"model {model.file_name}: {model.input_shape} {model.input_dtype} -> {model.output_shape} "
                  f"{model.output_dtype}, sha256 {model.sha256[:12]}…; {len(targets)} phone(s)")
    runs = [_PhoneRun(t, plan, sink, signer, console, options) for t in targets]
    with ThreadPoolExecutor(max_workers=len(runs), thread_name_prefix="phone") as pool:
        outcomes = list(pool.map(lambda r: r.run(), runs))
    console.block("\nsummary:\n" + summary_table(outcomes))
    return outcomes
