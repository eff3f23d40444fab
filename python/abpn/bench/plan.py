"""What push-and-bench asks every phone for: the plan prepared once on the host (the model checked, the
reference input and output computed) and the benchmark request it becomes for one run."""
from dataclasses import dataclass
from pathlib import Path

from abpn.bench.device import PACKAGE, PHONE_DIR
from abpn.core.filekinds import check_apk
from abpn.core.files import file_sha256, write_atomically
from abpn.errors import AbpnError
from abpn.record.build import accelerators

DEFAULT_OUT = "abpn-results"
# benchmark_model's defaults are warmup_min_secs 0.5 and min_secs 1 (tensorflow/lite/tools/benchmark).
WARMUP_MIN_MS, RUN_MIN_MS = 500, 1000
COOLDOWN_MAX_S = 60
# Each accelerator's share of --timeout, within these bounds: a hung delegate then costs its row, not the run.
ACCELERATOR_TIMEOUT_MIN_S, ACCELERATOR_TIMEOUT_MAX_S = 30, 120


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
    threads: int | None
    cooldown_s: int
    result_timeout_s: float
    out_dir: Path
    cooldown_max_s: int = COOLDOWN_MAX_S
    warmup_min_ms: int = WARMUP_MIN_MS
    run_min_ms: int = RUN_MIN_MS
    require_full_delegation: bool = False
    nnapi_accelerator: str | None = None
    allow_locked: bool = False
    accelerator_timeout_s: int | None = None

    @property
    def per_accelerator_timeout_s(self):
        """--accelerator-timeout, else min(120, --timeout / number of accelerators), at least 30 s."""
        if self.accelerator_timeout_s:
            return int(self.accelerator_timeout_s)
        share = int(self.result_timeout_s / max(1, len(self.accelerators)))
        return max(ACCELERATOR_TIMEOUT_MIN_S, min(ACCELERATOR_TIMEOUT_MAX_S, share))

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
            nnapi_accelerator=self.nnapi_accelerator, accelerator_timeout_s=self.per_accelerator_timeout_s)


@dataclass(frozen=True)
class BenchmarkRequest:
    """What the benchmark activity is told: the extras of docs/phone-protocol.md, "Starting a run"."""

    run_id: str
    model: str
    input: str
    expected: str | None
    accelerators: tuple
    threads: int | None = None
    warmup: int = 3
    runs: int = 20
    warmup_min_ms: int = WARMUP_MIN_MS
    run_min_ms: int = RUN_MIN_MS
    cooldown_s: int = 0
    cooldown_max_s: int = COOLDOWN_MAX_S
    require_full_delegation: bool = False
    nnapi_accelerator: str | None = None
    accelerator_timeout_s: int = ACCELERATOR_TIMEOUT_MAX_S


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


def prepare_plan(model_path, *, apk=None, accelerators="cpu,gpu,nnapi,qnn_htp", runs=20, warmup=3, threads=None,
                 cooldown_s=0, result_timeout_s=600.0, out_dir=DEFAULT_OUT, cooldown_max_s=COOLDOWN_MAX_S,
                 warmup_min_ms=WARMUP_MIN_MS, run_min_ms=RUN_MIN_MS, require_full_delegation=False,
                 nnapi_accelerator=None, allow_locked=False, accelerator_timeout_s=None):
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
    if min(warmup, cooldown_s, cooldown_max_s, warmup_min_ms, run_min_ms) < 0 or (threads is not None and threads < 1):
        raise AbpnError("--warmup, --cooldown, --cooldown-max, --warmup-min-ms and --run-min-ms must be 0 or more, "
                        "--threads 1 or more")
    if not result_timeout_s > 0:
        raise AbpnError(f"--timeout must be a positive number of seconds, got {result_timeout_s:g}")
    if accelerator_timeout_s is not None and not accelerator_timeout_s >= 1:
        raise AbpnError(f"--accelerator-timeout must be 1 second or more, got {accelerator_timeout_s}")
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
                nnapi_accelerator=nnapi_accelerator, allow_locked=allow_locked,
                accelerator_timeout_s=accelerator_timeout_s)
