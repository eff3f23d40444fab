"""The main job end to end on the embedded default photos: smoke-train, QAT, INT8 export,
evaluation and a host benchmark, ending with a short table. Every stage resumes like its command,
so re-running after an interruption picks up where it stopped."""
import json
from pathlib import Path

from abpn import SHIPPED_INT8_DYNAMIC
from abpn.bench import host as bench
from abpn.core.files import check_output_path, write_atomically
from abpn.core.table import format_table
from abpn.model import quantize
from abpn.model import train
from abpn.model.data import prepare_data
from abpn.model.inference import BEST_MODEL, load_upscaler
from abpn.model.schedules import QAT_PRESETS, TRAIN_PRESETS

SHIPPED = "shipped"
TRAINED = "trained"


def run_quickstart(out_dir, *, seed=0, echo=print, train_schedule=None, qat_schedule=None, bench_runs=bench.DEFAULT_RUNS):
    """Returns (validation scores per model, bench-host records by TRAINED / SHIPPED); artifacts go
    to out_dir."""
    out_dir = Path(out_dir)
    check_output_path(out_dir, folder=True, parents=True)  # before minutes of training
    split = prepare_data(None)
    echo(f"[1/4] float training (smoke preset) on {split.description}")
    train.train(split, out_dir / "float", train_schedule or TRAIN_PRESETS["smoke"], seed=seed)

    echo("[2/4] quantization-aware training and export")
    result = quantize.quantize(out_dir / "float" / BEST_MODEL, split, out_dir / "qat",
                               qat_schedule or QAT_PRESETS["smoke"], seed=seed)

    echo("[3/4] evaluation on the validation photos")
    exports = result.exports
    candidates = {
        "bicubic": "bicubic",
        "float": out_dir / "float" / BEST_MODEL,
        "int8 dynamic": exports["int8_dynamic"],
        "int8 360x640 tiled": exports["int8"],
    }
    if SHIPPED_INT8_DYNAMIC.is_file():
        candidates["shipped int8"] = SHIPPED_INT8_DYNAMIC
    scores = {name: train.mean_quality(load_upscaler(model, threads=2), split.val)
              for name, model in candidates.items()}

    # The model just made is timed (its output checked against its dynamic twin), and beside it the
    # shipped one: same architecture, so their latencies should agree.
    timed = {TRAINED: (exports["int8"], exports["int8_dynamic"])}
    shipped = bench.shipped_models()
    if shipped:
        timed[SHIPPED] = shipped
    echo(f"[4/4] host benchmark of {' and '.join(str(model) for model, _ in timed.values())}")
    records = {name: bench.bench_host(model, runs=bench_runs, reference=reference)
               for name, (model, reference) in timed.items()}
    for name, record in records.items():
        write_atomically(out_dir / ("bench-host.json" if name == TRAINED else f"bench-host-{name}.json"),
                         json.dumps(record, indent=2))
    write_atomically(out_dir / "quality.json", json.dumps(scores, indent=2))
    return scores, records


def failed_checks(records):
    """The names of the records whose output check failed."""
    return [name for name, record in records.items() if bench.check_failure(record)]


def summary_table(scores, records):
    lines = [format_table(["model", "PSNR-Y", "PSNR-RGB", "SSIM-Y"],
                          [[name, f"{score['psnr_y']:.2f}", f"{score['psnr_rgb']:.2f}", f"{score['ssim_y']:.4f}"]
                           for name, score in scores.items()], align="<>>>", rule=False)]
    lines.append("")
    for name, record in records.items():
        result = record["results"][0]
        latency = result["latency_ms"]
        check = result["output_check"]
        shape = record["model"]["input_shape"]
        lines.append(f"{name} {record['model']['file_name']} (1x{shape[1]}x{shape[2]} {record['model']['input_dtype']}) "
                     f"on this CPU ({result['options']['threads']} threads, XNNPACK): median {latency['median']:.1f} ms, "
                     f"p90 {latency['p90']:.1f} ms ({1000 / latency['median']:.1f} fps); output check vs its dynamic "
                     f"model: {'passed' if check['passed'] else 'FAILED'}")
    gain = scores["int8 dynamic"]["psnr_y"] - scores["bicubic"]["psnr_y"]
    lines.append(f"smoke INT8 model vs bicubic on the validation photo: {gain:+.2f} dB Y-PSNR")
    return "\n".join(lines)
