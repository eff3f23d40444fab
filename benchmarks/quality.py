"""x3 quality on the standard sets, with the published MATLAB-bicubic LR inputs.

Y-PSNR / SSIM (BT.601, 3-pixel crop) and RGB-PSNR (1-pixel crop) on Set5, Set14 and BSD100 for
bicubic, the shipped float model, the dynamic-shape INT8 model and the fixed 360x640 INT8 model
(tiled; images smaller than a tile are edge-padded, so that row may differ slightly), beside
published x3 rows. Needs ../shared/datasets (not shipped with the project).

    python benchmarks/quality.py [--models models/] [--row "LABEL=MODEL" ...] [--out benchmarks/quality.md]

--row adds a model of any kind `abpn-tool eval` takes (a training stage's best.keras, an older
release's .tflite, e.g. one taken out of git with `git show REV:models/abpn_x3_int8_dynamic.tflite`).
"""
import argparse
from pathlib import Path

import abpn  # noqa: F401
from abpn.model.evaluate import evaluate

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
SETS = ["Set5", "Set14", "BSD100"]
# Y-PSNR from the CARN paper's x3 table (Ahn et al. 2018, Table 3); ABPN from the authors' released
# INT8 model measured the same way (issue 7).
PUBLISHED = {
    "Bicubic (CARN table)": (30.39, 27.55, 27.21),
    "FSRCNN (CARN table)": (33.16, 29.43, 28.53),
    "VDSR (CARN table)": (33.66, 29.77, 28.82),
    "ABPN authors' INT8 release": (33.47, 29.75, 28.68),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--row", action="append", default=[], metavar="LABEL=MODEL",
                        help="also measure this model under this label (repeatable)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown table here")
    args = parser.parse_args()

    candidates = {
        "bicubic (ours)": "bicubic",
        "ABPN float": args.models / "abpn_x3_float.keras",
        "ABPN INT8 dynamic": args.models / "abpn_x3_int8_dynamic.tflite",
        "ABPN INT8 360x640 tiled": args.models / "abpn_x3_int8.tflite",
    }
    for row in args.row:
        label, _, model = row.partition("=")
        if not model:
            parser.error(f"--row takes LABEL=MODEL, got {row!r}")
        candidates[label] = model if model == "bicubic" else Path(model)
    rows = {}
    for name, model in candidates.items():
        rows[name] = []
        for dataset in SETS:
            result = evaluate(model, args.datasets / dataset, args.datasets / "LR_bicubic_X3" / dataset,
                              threads=2, progress=False)
            rows[name].append(result["mean"])
            print(f"{name} {dataset}: {result['mean']['psnr_y']:.2f} dB Y", flush=True)

    header = "| model | " + " | ".join(f"{s} Y-PSNR / SSIM | {s} RGB-PSNR" for s in SETS) + " |"
    lines = [header, "|" + " --- |" * (1 + 2 * len(SETS))]
    for name, means in rows.items():
        cells = [f"{m['psnr_y']:.2f} / {m['ssim_y']:.4f} | {m['psnr_rgb']:.2f}" for m in means]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, values in PUBLISHED.items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f} | –" for v in values) + " |")
    ours, authors = rows["ABPN INT8 dynamic"], PUBLISHED["ABPN authors' INT8 release"]
    float_rows = rows["ABPN float"]
    lines.append("")
    lines.append("Targets: INT8 dynamic at least the authors' INT8 release; INT8 within 0.05 dB of float.")
    for dataset, mine, theirs, flt in zip(SETS, ours, authors, float_rows):
        lines.append(f"- {dataset}: INT8 {mine['psnr_y']:.2f} vs authors {theirs:.2f} "
                     f"({mine['psnr_y'] - theirs:+.2f} dB); INT8 - float {mine['psnr_y'] - flt['psnr_y']:+.3f} dB")
    table = "\n".join(lines)
    print()
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
