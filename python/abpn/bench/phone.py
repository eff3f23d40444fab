"""push-and-bench: benchmark one model on one or more phones over ADB and keep every result.

For each phone, concurrently: read its identity, wake its screen and refuse a locked phone, install
or upgrade the app when its APK differs, push the model and the reference input/output unless the
same bytes are already there, start the benchmark activity (docs/phone-protocol.md), follow the run
through the app's results provider, read the record, save the raw JSON, validate it and store it. One
phone failing never stops the others or loses what they collected.

This module runs those steps for each phone; each step's work lives in a module of its own: plan (what
every phone gets), install, am_start, follow (the run, read through provider), delivery (save, validate,
store) and console (printing).
"""
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from abpn.bench.am_start import am_start_argv, am_start_problem
from abpn.bench.console import Console, crash_details, results_table
from abpn.bench.delivery import Outcome, deliver
from abpn.bench.device import PACKAGE, Phone, load_signer, parse_target
from abpn.bench.diagnosis import app_log, crash_log
from abpn.bench.follow import RunFollower
from abpn.bench.install import INPUT_REFUSED_ADVICE, REMOTE_APK, input_refused, install_app
from abpn.bench.provider import ResultsProvider
from abpn.core.files import file_sha256
from abpn.core.table import format_table
from abpn.errors import AbpnError

# Room left beyond the files themselves: logs, the result file, the app's own cache.
SPACE_MARGIN_BYTES = 8 * 1024 * 1024


# ---------------------------------------------------------------- one phone


def _mb(nbytes):
    return f"{nbytes / 1e6:.1f} MB"


def _size(nbytes):
    return f"{nbytes / 1e3:.0f} kB" if nbytes < 1e6 else _mb(nbytes)


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
            if input_refused(phone.wake_screen()):
                raise AbpnError(f"{self.target}: the screen is {was} and cannot be woken: {INPUT_REFUSED_ADVICE}, or "
                                "wake and unlock the phone by hand, then run again.")
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
            pushes.append((plan.apk, REMOTE_APK, f"the app {plan.apk.name}"))
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
        self.say("installing the app")
        install_app(phone, self.target, self.plan.apk.name, self.say)

    def _start(self, phone):
        from abpn.record.build import new_run_id

        plan = self.plan
        run_id = new_run_id()
        if input_refused(phone.wake_screen()):  # the screen may have timed out during the pushes
            self.say(f"could not wake the screen before the run: {INPUT_REFUSED_ADVICE}. Keep the screen on "
                     "(Developer options > Stay awake) meanwhile")
        started = phone.start_activity(am_start_argv(plan.request(run_id)))
        problem = am_start_problem(started)
        if problem:
            raise AbpnError(f"{self.target}: {problem}")
        self.say(f"benchmark started (run {run_id}, {', '.join(plan.accelerators)}, "
                 f"{plan.warmup} warm-up + {plan.runs} runs)")
        return run_id

    def _collect(self, phone, run_id):
        """Follows the run, then delivers what the phone has: the record, or the partial record of a run that
        ended early (saved, validated and stored as it is), and says why it ended."""
        followed = RunFollower(phone, ResultsProvider(phone, self.target, run_id), self.plan.result_timeout_s,
                               self.say).follow()
        self.say(f"followed the run with {followed.asks} provider call(s) and {followed.stats} process check(s) "
                 "(sync STAT, no process on the phone)")
        kept = ""
        if followed.record and (followed.problem is None or _has_rows(followed.record)):
            self._deliver(followed.record, run_id)
            if followed.problem:
                kept = (f" The partial record ({len(self.outcome.record['results'])} accelerator row(s)) is stored "
                        f"as {self.outcome.saved_to}.")
        if followed.problem is None:
            return
        if followed.crashed:
            raise AbpnError(f"{self.target}: {followed.problem}.{kept or ' No result was written.'} "
                            f"The phone's crash log:\n{crash_log(phone)}")
        log = f" Relevant logcat lines:\n{app_log(phone)}" if followed.timed_out else ""
        raise AbpnError(f"{self.target}: {followed.problem}.{kept}{log}")

    def _deliver(self, content, run_id):
        delivered = deliver(content, out_dir=self.plan.out_dir, run_id=run_id, sink=self.sink, label=self.target)
        self.outcome.saved_to, self.outcome.record, self.outcome.stored = delivered
        self.say(f"result saved as {delivered.saved_to}, stored in {self.sink.where} ({delivered.stored})")
        record = delivered.record
        disturbed = (record.get("conditions") or {}).get("host_commands_during_runs")
        note = f"\nthe host ran {disturbed} command(s) on the phone while it measured" if disturbed else ""
        self.console.block(f"[{self.target}] results:\n{results_table(record)}{crash_details(record)}{note}")


def _has_rows(content):
    try:
        return bool(json.loads(content).get("results"))
    except (ValueError, AttributeError):
        return True  # delivery keeps it and says what is wrong with it


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
