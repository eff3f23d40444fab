"""`abpn-tool bench-host`: latency of a .tflite on this computer's CPU (XNNPACK), as a result record.

Timing follows the phone app (docs/phone-protocol.md): init (interpreter creation and tensor
allocation), the first inference on its own, `warmup` untimed runs, then `runs` timed runs. Only
setting the input and `invoke()` are timed; reading the output back is not. The record's `memory`
is this process's resident set before the interpreter existed and its peak over the timed runs
(abpn.bench.memory).
"""
import time
from pathlib import Path

from abpn import DEPLOY_HW, SCALE, SHIPPED_INT8, SHIPPED_INT8_DYNAMIC
from abpn.bench.memory import PeakMemory
from abpn.errors import AbpnError

DEFAULT_THREADS = 2
DEFAULT_RUNS = 20
DEFAULT_WARMUP = 3
# Bounds that keep a typo from exhausting the machine: XNNPACK allocates per-thread state (100000
# threads end in a MemoryError, then a hang), every run keeps its sample, and the int8 feature maps
# of a 4K input already take about 1 GB.
MAX_THREADS = 64
MAX_RUNS = 10_000
MAX_WARMUP = 1_000
MAX_INPUT_HW = (2160, 3840)
_THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
# tf.lite.Interpreter has no call that returns its arena's size (TFLite 2.21).
NO_ARENA = "no arena size: the Python TFLite API does not report it"


def shipped_models():
    """(deployment model, its dynamic-shape twin) from the repository's models/, or None when absent."""
    return (SHIPPED_INT8, SHIPPED_INT8_DYNAMIC) if SHIPPED_INT8.is_file() else None


def real_image(hw):
    """A natural photo (skimage's astronaut) cropped to the aspect ratio of `hw` and resized to it with
    MATLAB-compatible bicubic: output checks on noise would hide errors that only show on real content."""
    import skimage.data

    from abpn.core.images import read_rgb
    from abpn.core.imresize import imresize_bicubic, to_uint8

    photo = read_rgb(Path(skimage.data.__file__).parent / "astronaut.png")
    h, w = photo.shape[:2]
    target = hw[0] / hw[1]
    if target < h / w:
        crop_h = max(1, round(w * target))
        top = (h - crop_h) // 2
        photo = photo[top : top + crop_h]
    else:
        crop_w = max(1, round(h / target))
        left = (w - crop_w) // 2
        photo = photo[:, left : left + crop_w]
    return to_uint8(imresize_bicubic(photo, hw))


def _delegation(interpreter):
    """(delegated ops, total ops, evidence) read from the interpreter's node list.

    A DELEGATE node replaces a partition of the graph; the original ops in that partition are the
    ones between its input and output tensors."""
    try:
        ops = interpreter._get_ops_details()
    except (AttributeError, RuntimeError, ValueError):
        return None, None, "the TFLite Python API did not list the graph's nodes"
    delegates = [op for op in ops if op["op_name"] == "DELEGATE"]
    originals = [op for op in ops if op["op_name"] != "DELEGATE"]
    producer = {int(t): op["index"] for op in originals for t in op["outputs"]}
    by_index = {op["index"]: op for op in originals}
    delegated = set()
    for delegate in delegates:
        boundary = {int(t) for t in delegate["inputs"]}
        pending = [int(t) for t in delegate["outputs"]]
        while pending:
            tensor = pending.pop()
            node = producer.get(tensor)
            if tensor in boundary or node is None or node in delegated:
                continue
            delegated.add(node)
            pending.extend(int(t) for t in by_index[node]["inputs"] if t >= 0)
    evidence = (
        f"TFLite node list after delegation: {len(delegates)} XNNPACK DELEGATE node(s) covering "
        f"{len(delegated)} of {len(originals)} ops"
    )
    if len(delegated) < len(originals):
        rest = sorted({by_index[i]["op_name"] for i in by_index if i not in delegated})
        evidence += f"; on the TFLite CPU kernels: {', '.join(rest)}"
    return len(delegated), len(originals), evidence


def _temperature_c():
    try:
        return int(_THERMAL_ZONE.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def check_limits(threads, runs, warmup, input_hw):
    """Raises AbpnError for option values outside the bounds above (the CLI states them in --help)."""
    if not 1 <= runs <= MAX_RUNS or not 0 <= warmup <= MAX_WARMUP:
        raise AbpnError(f"--runs must be 1..{MAX_RUNS} and --warmup 0..{MAX_WARMUP} (got {runs} and {warmup})")
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise AbpnError(f"--threads must be 1..{MAX_THREADS} (got {threads})")
    if input_hw is not None:
        height, width = input_hw
        if min(height, width) < 1 or height * width > MAX_INPUT_HW[0] * MAX_INPUT_HW[1]:
            raise AbpnError(
                f"--input-size {height}x{width} is outside 1x1 .. {MAX_INPUT_HW[0] * MAX_INPUT_HW[1]} pixels "
                f"({MAX_INPUT_HW[0]}x{MAX_INPUT_HW[1]}, 4K): its feature maps would not fit in memory."
            )


def bench_host(model, threads=DEFAULT_THREADS, runs=DEFAULT_RUNS, warmup=DEFAULT_WARMUP, input_hw=None,
               reference=None, progress=True):
    """Benchmarks `model` (.tflite) and returns a validated result record. `model=None` times the
    shipped deployment model, checked against the shipped dynamic-shape model."""
    from tqdm import tqdm

    from abpn.record import build as record
    from abpn.model.inference import load_upscaler
    from abpn.model.modelfile import TFLiteRunner, inspect_model

    if model is None:
        shipped = shipped_models()
        if shipped is None:
            raise AbpnError(f"no MODEL given and no shipped model at {SHIPPED_INT8}: pass a .tflite")
        model, shipped_reference = shipped
        reference = reference or shipped_reference
    check_limits(threads, runs, warmup, input_hw)
    info = inspect_model(model)
    if info.input_hw and input_hw and tuple(input_hw) != info.input_hw:
        raise AbpnError(
            f"{info.file_name} takes {info.input_hw[0]}x{info.input_hw[1]} inputs only; leave out --input-size."
        )
    # Loaded before the timed runs, so that a bad reference is reported before minutes of timing.
    checker = load_upscaler(reference) if reference is not None else None
    # A dynamic-shape model is timed at the deployment size unless told otherwise.
    hw = info.input_hw or tuple(input_hw or DEPLOY_HW)
    image = real_image(hw)
    temperature_before = _temperature_c()

    memory = PeakMemory().start()
    start = time.perf_counter()
    runner = TFLiteRunner(model, threads=threads)
    runner.prepare(hw)
    init_ms = (time.perf_counter() - start) * 1000
    interpreter = runner.interpreter
    tensor = runner.encode_input(image)
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def timed_invoke():
        """(invoke ms, wall ms): invoke() alone, as the phone's native time; the wall time adds the input
        and output copies, as the phone's run() does."""
        begin = time.perf_counter()
        interpreter.set_tensor(input_index, tensor)
        invoke_begin = time.perf_counter()
        interpreter.invoke()
        invoke_end = time.perf_counter()
        interpreter.get_tensor(output_index)
        return (invoke_end - invoke_begin) * 1000, (time.perf_counter() - begin) * 1000

    first_ms = timed_invoke()[1]
    first_output = runner.decode_output(interpreter.get_tensor(output_index))
    warmup_start = time.perf_counter()
    for _ in tqdm(range(warmup), desc="warm-up", unit="run", disable=not progress, leave=False):
        timed_invoke()
    warmup_ms = (time.perf_counter() - warmup_start) * 1000
    memory.begin_timed()
    timed = [timed_invoke() for _ in tqdm(range(runs), desc="timed", unit="run", disable=not progress, leave=False)]
    samples = [native for native, _ in timed]
    memory_section = memory.section(arena_note=NO_ARENA)
    last_output = runner.decode_output(interpreter.get_tensor(output_index))
    temperature_after = _temperature_c()

    if checker is not None:
        expected = checker(image)
        check_note = f"checked against {checker.name} on the same {hw[0]}x{hw[1]} photo"
    else:
        expected = first_output
        check_note = (
            "no --reference given: the last timed output is checked against this model's own first "
            "output (determinism only); pass the dynamic-shape model as --reference for a real check"
        )
    check = record.output_check(last_output, expected)
    delegated, total, evidence = _delegation(interpreter)
    result = {
        "accelerator": "cpu",
        "options": {"threads": threads, "delegate": "xnnpack", "input_height": hw[0], "input_width": hw[1]},
        "status": "ok",
        "notes": f"astronaut photo resized to {hw[0]}x{hw[1]}; {check_note}",
        "init_ms": init_ms,
        "first_inference_ms": first_ms,
        "warmup_runs": warmup,
        "runs": runs,
        "latency_ms": record.latency_stats(samples),
        "samples_ms": samples,
        # XNNPACK is applied by the interpreter itself: no separate delegate creation to time.
        "timing": record.timing_section(delegate_create_ms=0.0, interpreter_create_ms=init_ms, warmup_ms=warmup_ms,
                                        wall_samples_ms=[wall for _, wall in timed]),
        "delegation": {"delegated_nodes": delegated, "total_nodes": total,
                       "fallback": None if delegated == total else "tflite cpu kernels", "evidence": evidence},
        "output_check": check,
        "memory": memory_section,
    }
    model_section = info.record_section()
    if info.dynamic:
        # The record describes the graph that was timed.
        model_section["input_shape"] = [1, hw[0], hw[1], 3]
        model_section["output_shape"] = [1, hw[0] * SCALE, hw[1] * SCALE, 3]
    conditions = {
        "temperature_before_c": temperature_before,
        "temperature_after_c": temperature_after,
        "temperature_source": str(_THERMAL_ZONE) if temperature_before is not None else None,
        "cooldown_s": 0,
    }
    return record.make_record(
        device=record.host_device(), model=model_section, app=record.tool_app(), results=[result],
        conditions=conditions,
    )


def check_failure(rec):
    """None when the output check passed, else the sentence the CLI exits with."""
    check = rec["results"][0]["output_check"]
    if check["passed"]:
        return None
    psnr = "inf" if check["psnr_db"] is None else f"{check['psnr_db']:.2f}"
    return (f"output check FAILED: PSNR {psnr} dB (threshold {check['threshold_db']} dB), max abs diff "
            f"{check['max_abs_diff']:.0f}; the model does not compute what the reference does")


def format_summary(rec):
    result = rec["results"][0]
    stats = result["latency_ms"]
    check = result["output_check"]
    psnr = "identical" if check["psnr_db"] is None else f"{check['psnr_db']:.2f} dB"
    shape = rec["model"]["input_shape"]
    lines = [
        f"model: {rec['model']['file_name']} ({rec['model']['input_dtype']} {shape[1]}x{shape[2]})",
        f"host: {rec['device']['cpu_model']}, threads {result['options']['threads']}, XNNPACK",
        f"delegation: {result['delegation']['evidence']}",
        f"init {result['init_ms']:.1f} ms, first inference {result['first_inference_ms']:.1f} ms, "
        f"{result['warmup_runs']} warm-up runs",
        f"{result['runs']} runs (ms): min {stats['min']:.2f}  median {stats['median']:.2f}  mean {stats['mean']:.2f}  "
        f"p90 {stats['p90']:.2f}  max {stats['max']:.2f}  std {stats['std']:.2f}",
        _memory_line(result.get("memory")),
        f"output check: {psnr}, max abs diff {check['max_abs_diff']:.0f} -> "
        f"{'passed' if check['passed'] else 'FAILED'}",
        f"  ({result['notes']})",
    ]
    return "\n".join(lines)


def _memory_line(memory):
    def mb(value):
        return "unknown" if value is None else f"{value / 2**20:.0f} MB"

    memory = memory or {}
    return (f"memory: peak RSS {mb(memory.get('peak_rss_bytes'))} over the timed runs, "
            f"{mb(memory.get('rss_before_bytes'))} before the interpreter")
