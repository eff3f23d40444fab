"""The main job end to end on the embedded default photos: smoke-train, QAT, INT8 export,
evaluation and a host benchmark, ending with a short table. Every stage resumes like its command,
so re-running after an interruption picks up where it stopped."""
import json
from pathlib import Path

from abpn import SHIPPED_INT8_DYNAMIC
from abpn.bench import host as bench
from abpn.core.table import format_table
from abpn.model import quantize
from abpn.model import train
from abpn.model.data import prepare_data
from abpn.model.upscale import load_upscaler


def run_quickstart(out_dir, *, seed=0, echo=print, train_schedule=None, qat_schedule=None, bench_runs=bench.DEFAULT_RUNS):
    """Returns (validation scores per model, the bench-host record); artifacts go to out_dir."""
    out_dir = Path(out_dir)
    split = prepare_data(None)
    echo(f"[1/4] float training (smoke preset) on {split.description}")
    train.train(split, out_dir / "float", train_schedule or train.TRAIN_PRESETS["smoke"], seed=seed)

    echo("[2/4] quantization-aware training and export")
    result = quantize.quantize(out_dir / "float" / train.BEST_MODEL, split, out_dir / "qat",
                               qat_schedule or quantize.QAT_PRESETS["smoke"], seed=seed)

    echo("[3/4] evaluation on the validation photos")
    exports = result.exports
    candidates = {
        "bicubic": "bicubic",
        "float": out_dir / "float" / train.BEST_MODEL,
        "int8 dynamic": exports["int8_dynamic"],
        "int8 360x640 tiled": exports["int8"],
    }
    scores = {name: train.mean_quality(load_upscaler(model, threads=2), split.val)
              for name, model in candidates.items()}

    if SHIPPED_INT8_DYNAMIC.is_file():
        scores["shipped int8 (models/)"] = train.mean_quality(load_upscaler(SHIPPED_INT8_DYNAMIC, threads=2), split.val)

    # Latency depends on the architecture, not the weights: time the shipped deployment model
    # when the repository has one, else the one just made.
    timed, reference = bench.shipped_models() or (exports["int8"], exports["int8_dynamic"])
    echo(f"[4/4] host benchmark of {timed}")
    record = bench.bench_host(timed, runs=bench_runs, reference=reference)
    (out_dir / "bench-host.json").write_text(json.dumps(record, indent=2))
    (out_dir / "quality.json").write_text(json.dumps(scores, indent=2))
    return scores, record


def summary_table(scores, record):
    lines = [format_table(["model", "PSNR-Y", "PSNR-RGB", "SSIM-Y"],
                          [[name, f"{score['psnr_y']:.2f}", f"{score['psnr_rgb']:.2f}", f"{score['ssim_y']:.4f}"]
                           for name, score in scores.items()], align="<>>>", rule=False)]
    result = record["results"][0]
    latency = result["latency_ms"]
    check = result["output_check"]
    lines.append("")
    lines.append(f"{record['model']['file_name']} (1x360x640 INT8) on this CPU ({result['options']['threads']} threads, XNNPACK): "
                 f"median {latency['median']:.1f} ms, p90 {latency['p90']:.1f} ms "
                 f"({1000 / latency['median']:.1f} fps); output check vs dynamic model: "
                 f"{'passed' if check['passed'] else 'FAILED'}")
    gain = scores["int8 dynamic"]["psnr_y"] - scores["bicubic"]["psnr_y"]
    lines.append(f"smoke INT8 model vs bicubic on the validation photo: {gain:+.2f} dB Y-PSNR")
    return "\n".join(lines)
