"""INT8 latency: the project's lean export against the same ABPN converted the authors' way, timed so
that load on the machine cannot fool the ratio.

The authors' way keeps the clip in the graph (MINIMUM + RELU over all 6.2 M output values), builds
the anchor by concatenating nine copies of the input (a 9-input CONCATENATION, on TFLite's reference
kernels), and quantizes the anchor and the sum with tfmot's moving-average quantizers; it has uint8
I/O. Every model comes from the same float weights with every activation range calibrated on the
same batches. Each variant of the lean graph is timed, so that the cost of each op shows:

    authors_uint8        the authors' graph, uint8 I/O (the baseline of every ratio)
    concat_uint8/_int8   the lean graph of issue 3: anchor as CONCATENATION, uint8 or int8 I/O
    lean_uint8/_int8     the lean graph of issue 22: anchor as a fixed 1x1 CONV_2D (all on XNNPACK
                         with int8 I/O; the two uint8<->int8 QUANTIZE ops stay off it with uint8 I/O)

How it times (issue 22): each model runs in its own process, and only one interpreter exists at a
time: in each round every process in turn creates its interpreter, runs `--warmup` untimed and
`--per-round` timed invokes, and destroys the interpreter before the next process starts, so no
idle thread pool spins beside the one being timed. The order rotates every round. A model's round
time is the fastest of its invokes in that round: load from other processes only ever adds time,
so the fastest is the least disturbed. The ratio is the median over rounds of the per-round ratio
against authors_uint8 (same round, same machine state), with the 10-90% spread of those ratios.
Both 2 threads and 1 thread are timed in every round. The machine's load average is printed before
and after. Unless `--no-busy-pair`, every round is run twice, once quiet and once beside a
`yes > /dev/null` this script starts and stops itself (which of the two comes first alternates), so
that the quiet and busy ratios see the same background load, and the change of each ratio is shown.

    python benchmarks/int8_latency.py [--checkpoint models/abpn_x3_float.keras] [--rounds 15] [--no-busy-pair]
    python benchmarks/int8_latency.py --compare OLD.tflite NEW.tflite [--rounds 15]

--compare times two deployment models against each other the same way (for a new release against
the previous one: the graph must be the same, the latency within noise).

Targets (issue 22, 2 threads): lean_int8 <= 0.50x and lean_uint8 <= 0.60x the authors' latency;
a busy core moves a ratio by at most 0.05; RGB PSNR on real images not below the authors' graph's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
THREADS = (2, 1)
TARGETS = {"lean_int8": 0.50, "lean_uint8": 0.60}
MAX_BUSY_SHIFT = 0.05
BASELINE = "authors_uint8"


# ---------------------------------------------------------------------------------------------- worker

def worker():
    """One model's process: for each request line `{"threads", "warmup", "runs"}` it creates the
    interpreter, times `runs` invokes and destroys it again, answering one JSON line of samples."""
    import gc
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
    model_path, input_path = sys.argv[2], sys.argv[3]
    content = Path(model_path).read_bytes()
    photo = np.load(input_path)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        interpreter = tf.lite.Interpreter(model_content=content, num_threads=request["threads"])
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
        tensor = photo if detail["dtype"] == np.uint8 else (photo ^ 0x80).view(np.int8)
        interpreter.set_tensor(detail["index"], tensor)
        for _ in range(request["warmup"]):
            interpreter.invoke()
        samples = []
        for _ in range(request["runs"]):
            start = time.perf_counter()
            interpreter.invoke()
            samples.append((time.perf_counter() - start) * 1000)
        del interpreter
        gc.collect()  # the interpreter and its thread pool are gone before the next process runs
        print(json.dumps({"samples": samples}), flush=True)


class ModelProcess:
    def __init__(self, name, model_path, input_path):
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(model_path), str(input_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self._answer()

    def _answer(self):
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.name} process ended (exit {self.process.wait()})")
        return json.loads(line)

    def round(self, threads, warmup, runs):
        self.process.stdin.write(json.dumps({"threads": threads, "warmup": warmup, "runs": runs}) + "\n")
        self.process.stdin.flush()
        return min(self._answer()["samples"])

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def loadavg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def time_rounds(paths, input_path, args):
    """{phase: {threads: {name: [round times]}}} with every model in its own process, one at a time;
    phase "busy" beside `yes`, interleaved round by round with "quiet"."""
    processes = [ModelProcess(name, path, input_path) for name, path in paths.items()]
    phases = ("quiet", "busy") if args.busy_pair else ("quiet",)
    times = {phase: {threads: {p.name: [] for p in processes} for threads in THREADS} for phase in phases}

    def one_round(phase, order):
        for threads in THREADS:
            for process in order:
                times[phase][threads][process.name].append(process.round(threads, args.warmup, args.per_round))

    try:
        for index in range(args.rounds):
            order = processes[index % len(processes):] + processes[:index % len(processes)]
            for phase in (phases if index % 2 == 0 else phases[::-1]):
                if phase == "busy":
                    with BusyCore():
                        one_round(phase, order)
                else:
                    one_round(phase, order)
            print(f"\rround {index + 1}/{args.rounds}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    finally:
        for process in processes:
            process.close()
    return times


class BusyCore:
    """`yes > /dev/null`, started and stopped here (by its own pid)."""

    def __enter__(self):
        self.process = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
        time.sleep(0.5)  # let it take its core before the first invoke
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait()


def ratio_table(medians, baseline):
    """{threads: {name: (ratio, p10, p90, median ms)}} from per-round ratios against `baseline`."""
    table = {}
    for threads, by_name in medians.items():
        base = np.array(by_name[baseline])
        table[threads] = {}
        for name, values in by_name.items():
            ratios = np.array(values) / base
            p10, p90 = np.percentile(ratios, [10, 90])
            table[threads][name] = (float(np.median(ratios)), float(p10), float(p90), statistics.median(values))
    return table


def measure_phases(paths, input_path, args, baseline):
    """[(phase name, ratio table)] for the quiet and (optionally) busy phases, timed interleaved."""
    before = loadavg()
    times = time_rounds(paths, input_path, args)
    print(f"\nload average (1/5/15 min) before {before}, after {loadavg()}")
    return [(phase, ratio_table(by_threads, baseline)) for phase, by_threads in times.items()]


def print_phases(phases, names):
    for phase, table in phases:
        print(f"\n[{phase}{' (beside yes > /dev/null, rounds interleaved with the quiet ones)' if phase == 'busy' else ''}]")
        print(f"{'model':>14} " + " ".join(f"{f'{t} thr ms':>9} {f'{t} thr ratio (10-90%)':>25}" for t in THREADS)
              + "   (ms: median over rounds of each round's fastest invoke)")
        for name in names:
            cells = []
            for threads in THREADS:
                ratio, p10, p90, ms = table[threads][name]
                cells.append(f"{ms:>9.1f} {f'{ratio:.3f} ({p10:.3f}-{p90:.3f})':>25}")
            print(f"{name:>14} " + " ".join(cells))


def busy_shifts(phases, names):
    """{(name, threads): busy ratio - quiet ratio}."""
    if len(phases) < 2:
        return {}
    quiet, busy = phases[0][1], phases[1][1]
    return {(name, t): busy[t][name][0] - quiet[t][name][0] for name in names for t in THREADS}


def header(args, count):
    print(f"input 1x360x640x3 (the bench-host photo), XNNPACK, {', '.join(map(str, THREADS))} threads; "
          f"{args.rounds} rounds x {count} models, each round: {args.warmup} warm-up + {args.per_round} timed "
          f"invokes per model in its own process, one interpreter at a time; a round's time is its fastest invoke")
    print(f"process niceness {os.nice(0)}; {os.cpu_count()} CPUs")


def write_models(models, folder):
    paths = {}
    for name, content in models.items():
        paths[name] = Path(folder) / f"{name}.tflite"
        paths[name].write_bytes(content)
    return paths


def bench_photo(folder):
    from abpn.bench.host import real_image

    path = Path(folder) / "photo.npy"
    np.save(path, real_image((360, 640))[None])
    return path


# ---------------------------------------------------------------------------------------------- models

def build_models(checkpoint):
    import abpn  # noqa: F401  (selects the Keras 2 API before TensorFlow loads)
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    from abpn.model.architecture import Anchor, ClipToPixelRange, ConcatAnchor, DepthToSpace, build_abpn
    from abpn.model.data import embedded_default_images, make_dataset, make_lr, modcrop
    from abpn.model.inference import load_float_model
    from abpn.model.quantize import (DEPLOY_HW, QUANTIZE_OBJECTS, PassThroughConfig, calibrate_ranges,
                                     convert_int8, qat_model)

    qk = tfmot.quantization.keras

    class MovingAverageOutputConfig(PassThroughConfig):
        """tfmot's default treatment of an activation: a moving-average [min, max] output quantizer."""

        def get_output_quantizers(self, layer):
            return [qk.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                         narrow_range=False)]

    def authors_qat(float_model):
        def annotate(layer):
            if isinstance(layer, (Anchor, ClipToPixelRange)):
                return qk.quantize_annotate_layer(layer, MovingAverageOutputConfig())
            if isinstance(layer, DepthToSpace):
                return qk.quantize_annotate_layer(layer, PassThroughConfig())
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Add)):
                return qk.quantize_annotate_layer(layer)
            return layer

        clipped = build_abpn(clip=True, anchor=ConcatAnchor)
        clipped.set_weights(float_model.get_weights())
        annotated = keras.models.clone_model(clipped, clone_function=annotate)
        annotated.set_weights(clipped.get_weights())
        with qk.quantize_scope({**QUANTIZE_OBJECTS, "MovingAverageOutputConfig": MovingAverageOutputConfig}):
            return qk.quantize_apply(annotated)

    def calibrate_authors(qat, float_model, batches):
        """Conv ranges as for the lean model; input, anchor, sum and clip ranges from the float
        model's own values (what the moving averages converge to)."""
        calibrate_ranges(qat, float_model, batches)
        names = ("add_anchor", "anchor", "clip")
        probe = keras.Model(float_model.input, [float_model.get_layer(n).output for n in names])
        outputs = [probe(b, training=False) for b in batches]
        for i, name in enumerate(names):
            low = min(float(tf.reduce_min(o[i])) for o in outputs)
            high = max(float(tf.reduce_max(o[i])) for o in outputs)
            for variable in qat.get_layer(f"quant_{name}").weights:
                if variable.name.split("/")[-1].startswith("output_min"):
                    variable.assign(low)
                elif variable.name.split("/")[-1].startswith("output_max"):
                    variable.assign(high)
        input_quantizer = next(layer for layer in qat.layers if type(layer).__name__ == "QuantizeLayer")
        for variable in input_quantizer.weights:
            if "min" in variable.name:
                variable.assign(0.0)
            elif "max" in variable.name:
                variable.assign(255.0)

    float_model = load_float_model(checkpoint)
    images = [modcrop(hr) for hr in embedded_default_images()]
    calibration = [lr for lr, _ in make_dataset([(make_lr(hr), hr) for hr in images], seed=0).take(8)]
    authors = authors_qat(float_model)
    calibrate_authors(authors, float_model, calibration)
    lean = qat_model(float_model)
    calibrate_ranges(lean, float_model, calibration)
    concat = qat_model(float_model, anchor=ConcatAnchor)
    concat.set_weights(lean.get_weights())
    return {
        "authors_uint8": convert_int8(authors, DEPLOY_HW, "uint8"),
        "concat_uint8": convert_int8(concat, DEPLOY_HW, "uint8"),
        "concat_int8": convert_int8(concat, DEPLOY_HW, "int8"),
        "lean_uint8": convert_int8(lean, DEPLOY_HW, "uint8"),
        "lean_int8": convert_int8(lean, DEPLOY_HW, "int8"),
    }, images


def delegation(path):
    from abpn.bench.host import _delegation
    from abpn.model.modelfile import TFLiteRunner

    return _delegation(TFLiteRunner(path, threads=1).interpreter)


def real_image_psnr(path, images):
    from abpn.core.metrics import calculate_psnr
    from abpn.model.data import make_lr
    from abpn.model.inference import load_upscaler

    upscaler = load_upscaler(path, threads=2)
    return float(np.mean([calculate_psnr(upscaler(make_lr(hr)), hr, crop_border=1) for hr in images]))


def describe(paths):
    from abpn.model.modelfile import operator_names

    for name, path in paths.items():
        delegated, total, _ = delegation(path)
        print(f"{name:>14}: {delegated:>2}/{total:<2} nodes on XNNPACK; ops {' '.join(operator_names(path.read_bytes()))}")


def main_compare(args):
    paths = {"old": args.compare[0], "new": args.compare[1]}
    print(f"old: {paths['old']}\nnew: {paths['new']}")
    header(args, 2)
    describe(paths)
    with tempfile.TemporaryDirectory() as folder:
        phases = measure_phases(paths, bench_photo(folder), args, baseline="old")
    print_phases(phases, ["old", "new"])
    ratio, p10, p90, _ = phases[0][1][2]["new"]
    print(f"\nnew/old (2 threads, quiet): median {ratio:.3f}, 10-90% {p10:.3f}-{p90:.3f}: "
          f"{'within noise' if p10 <= 1.0 <= p90 else 'outside the noise'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=REPO / "models" / "abpn_x3_float.keras", type=Path)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--per-round", type=int, default=5, help="timed invokes per model and round")
    parser.add_argument("--no-busy-pair", dest="busy_pair", action="store_false",
                        help="time only once, without the busy-core phase")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("OLD", "NEW"))
    args = parser.parse_args()
    if args.compare:
        return main_compare(args)

    models, images = build_models(args.checkpoint)
    print(f"checkpoint: {args.checkpoint}")
    header(args, len(models))
    with tempfile.TemporaryDirectory() as folder:
        paths = write_models(models, folder)
        describe(paths)
        psnr = {name: real_image_psnr(paths[name], images) for name in ("authors_uint8", "lean_uint8")}
        phases = measure_phases(paths, bench_photo(folder), args, BASELINE)
    print_phases(phases, list(models))

    failures = []
    quiet = phases[0][1]
    print("\ntargets (2 threads, quiet):")
    for name, target in TARGETS.items():
        ratio = quiet[2][name][0]
        print(f"  {name}: {ratio:.3f} <= {target:.2f}: {'met' if ratio <= target else f'missed by {ratio - target:.3f}'}")
        if ratio > target:
            failures.append(f"{name} ratio {ratio:.3f} > {target}")
    shifts = busy_shifts(phases, list(models))
    if shifts:
        worst = max(shifts, key=lambda key: abs(shifts[key]))
        print(f"busy core: largest ratio shift {shifts[worst]:+.3f} ({worst[0]}, {worst[1]} thread(s)); "
              + ", ".join(f"{n} {t}t {s:+.3f}" for (n, t), s in shifts.items() if n != BASELINE))
        if abs(shifts[worst]) > MAX_BUSY_SHIFT:
            failures.append(f"a busy core moved {worst[0]} ({worst[1]} threads) by {shifts[worst]:+.3f}")
    print(f"real images ({len(images)} scikit-image photos, x3 MATLAB-bicubic LR, tiled exactly, RGB PSNR crop 1): "
          f"authors {psnr['authors_uint8']:.3f} dB, lean {psnr['lean_uint8']:.3f} dB "
          f"({psnr['lean_uint8'] - psnr['authors_uint8']:+.3f}); the lean variants compute the same bytes")
    if psnr["lean_uint8"] < psnr["authors_uint8"] - 0.01:
        failures.append("lean PSNR below the authors'")
    print("result:", "all targets met" if not failures else "; ".join(failures))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker()
    else:
        main()
