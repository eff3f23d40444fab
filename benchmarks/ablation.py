"""Paired ablation of the issue-12 levers on the held-out validation images.

Every run fine-tunes the 2026-11-24 release's float model (models/runs/finetune/best.keras, "the
start") with the same seed, learning rate and number of iterations, and differs from the base run in
one lever only:

  base         T91 + BSD200 with rescaled copies (the start's data), L1, Adam 2.5e-4
  +data        also the training part of BSDS500_test and Kodak24
  +small       also the T91 images too small for a 64x64 LR patch (32x32 patches)
  +ema         weights averaged with momentum 0.999 (validated and kept)
  +reparam     every conv trained as merged parallel branches (ECBSR/SESR)

Validation, for every run and for the start: every 10th image of BSDS500_test + Kodak24 by
sorted path (23 images), which neither the start nor any run trains on; never Set5, Set14
or BSD100. The runs are short (a CPU shared with a long training run); the table says how short.
Each run resumes when the script is run again.

    python benchmarks/ablation.py [--steps 1000] [--out benchmarks/ablation.md]
"""
import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import abpn  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
RUNS = REPO / "models" / "runs" / "ablation"
INIT = REPO / "models" / "runs" / "finetune" / "best.keras"
STEPS_PER_EPOCH = 500


def held_out_folder():
    """A folder of links to the held-out images, so that runs trained without BSDS500_test and
    Kodak24 are validated on exactly the images the others hold out."""
    from abpn.model.data import find_pairs, validation_pairs

    sets = [DATASETS / name for name in ("T91", "BSD200", "BSDS500_test", "Kodak24")]
    _, val = validation_pairs(None, find_pairs(sets), hold_out_from=sets[2:])
    folder = RUNS / "val"
    folder.mkdir(parents=True, exist_ok=True)
    for pair in val:
        link = folder / f"{pair.hr.parent.name}_{pair.hr.name}"
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(pair.hr.resolve(), folder))
    return folder


def variants(val_folder):
    d = DATASETS
    old = ["--data", str(d / "T91"), "--data", str(d / "BSD200"), "--val", str(val_folder)]
    new = ["--data", str(d / "T91"), "--data", str(d / "BSD200"), "--data", str(d / "BSDS500_test"),
           "--data", str(d / "Kodak24"), "--hold-out-from", str(d / "BSDS500_test"),
           "--hold-out-from", str(d / "Kodak24")]
    return {  # in the order they run: the levers expected to pay most first
        "base": old,
        "+ema": [*old, "--ema"],
        "+data": new,
        "+reparam": [*old, "--reparam"],
        "+small": [*old, "--small-patch", "32"],
    }


def scores_of(out):
    try:
        with open(out / "log.csv", newline="") as f:
            return [float(row["val_psnr_y"]) for row in csv.DictReader(f)]
    except FileNotFoundError:
        return []


def run(name, options, steps):
    out = RUNS / name.lstrip("+")
    epochs = steps // STEPS_PER_EPOCH
    started = time.monotonic()
    # A finished run is only read: train would refuse it if the checkout or the datasets moved since.
    if len(scores_of(out)) < epochs:
        command = [sys.executable, "-m", "abpn", "train", *options, "--rescale", "0.9,0.8,0.7,0.6",
                   "--init", str(INIT), "--preset", "cpu100k", "--epochs", str(epochs),
                   "--steps-per-epoch", str(STEPS_PER_EPOCH), "--lr", "2.5e-4", "--halve-every", "1000",
                   "--seed", "3", "--out", str(out)]
        with open(RUNS / f"{name.lstrip('+')}.log", "a") as log:
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True, cwd=REPO)
    return scores_of(out)[:epochs], time.monotonic() - started


def start_score(val_folder):
    from abpn.model.evaluate import evaluate

    return evaluate(INIT, val_folder, progress=False)["mean"]["psnr_y"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="iterations per run (a multiple of 500)")
    parser.add_argument("--only", action="append", help="run only this variant (repeatable; finished runs "
                        "are only read again)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown table here")
    args = parser.parse_args()

    val_folder = held_out_folder()
    start = start_score(val_folder)
    print(f"the start (2026-11-24 float model): {start:.3f} dB", flush=True)
    results = {}
    for name, options in variants(val_folder).items():
        if args.only and name not in args.only:
            continue
        scores, seconds = run(name, options, args.steps)
        results[name] = scores
        print(f"{name}: {' '.join(f'{s:.3f}' for s in scores)} ({seconds / 60:.0f} min)", flush=True)

    lines = [f"Held-out validation: {len(list(val_folder.iterdir()))} images (every 10th of BSDS500_test + "
             f"Kodak24). Y-PSNR, crop 3. Each run: {args.steps} iterations from the 2026-11-24 float model, "
             f"Adam 2.5e-4, batch 16, seed 3 — a short paired comparison, not a full schedule.",
             "",
             "| run | lever | Y-PSNR after each 500 iterations | last | gain over base (last) |",
             "| --- | --- | --- | --- | --- |",
             f"| the start (2026-11-24 float) | – | {start:.3f} | {start:.3f} | |"]
    # The finetune2 run (issue 12's first stage) has the same seed, init, rate, rescaled copies and EMA
    # as "+ema", and also the new images and the small T91 images: its first 500 iterations pair
    # with "+ema" on the data levers.
    stage2 = REPO / "models" / "runs" / "finetune2" / "log.csv"
    if stage2.exists() and "+ema" in results:
        with open(stage2, newline="") as f:
            rows = list(csv.DictReader(f))[:len(results["+ema"])]
        results["+ema +data +small (finetune2 run)"] = [float(row["val_psnr_y"]) for row in rows]
    base = results.get("base", [None])[-1]
    for name, scores in results.items():
        gain = "" if base is None or name == "base" else f"{scores[-1] - base:+.3f} dB"
        if name.startswith("+ema +data"):
            gain += f" ({scores[-1] - results['+ema'][-1]:+.3f} dB over +ema)"
        lines.append(f"| {name} | {name.lstrip('+')} | {' / '.join(f'{s:.3f}' for s in scores)} | "
                     f"{scores[-1]:.3f} | {gain} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
