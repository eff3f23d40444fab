"""Held-out Y-PSNR against iteration for the issue-21 runs (models/runs/pilot_*), as a Markdown table
and, when matplotlib is installed, a PNG plot.

Reads each run's log.csv (one row per epoch: the held-out scores of the averaged weights) and
run.json (iterations per epoch, start, rate), and the driver's log models/runs/pilots.log for the
wall time per iteration (Keras' own epoch times include the pauses while the other run trains). The runs share data, held-out images, seed and schedule, so their rows
pair by iteration. For the long run it also says whether a run has met issue 21's stop rule: the
held-out score flat within 0.002 dB over the last 10,000 iterations.

    python benchmarks/pilot_curves.py [--run a --run b] [--out benchmarks/pilot_curves.md]

The differences are against the first --run: `--run c --run b` gives what --reparam adds from scratch.
"""
import argparse
import csv
import json
import re
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "models" / "runs"
# The issue-12 release's float model (what the pilots set out to beat): the last epoch of its stage 4 (L2).
ISSUE12_LOG = RUNS / "finetune3" / "log.csv"
FLAT_WINDOW = 10_000
FLAT_TOLERANCE = 0.002
ZOOM = 0.1  # dB below the issue-12 score shown in the zoomed panel
# Past the pilots' length the table shows every TABLE_STEP iterations (the plot has every epoch).
PILOT_LENGTH = 10_000
TABLE_STEP = 2_500
GAIN_BLOCK = 5_000
DRIVER_LOG = RUNS / "pilots.log"
# pilots.sh's line for a turn that continued a paused run (a turn that started one includes start-up).
TURN_LINE = re.compile(r"pilot (\w+): epochs \d+ -> \d+ in (\d+) s, (\d+) iterations, continued$")


def read_log(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def curve(name):
    """(iterations, Y-PSNR) after each completed epoch of run `name`, and its run.json."""
    run = RUNS / f"pilot_{name}"
    if not (run / "run.json").exists():
        raise SystemExit(f"{run} holds no run yet: start it with `sh models/runs/pilot_{name}.sh` "
                         "(or models/runs/pilots.sh), or leave it out of --run")
    config = json.loads((run / "run.json").read_text())
    per_epoch = config["schedule"]["steps_per_epoch"]
    rows = read_log(run / "log.csv") if (run / "log.csv").exists() else []
    return [((int(r["epoch"]) + 1) * per_epoch, float(r["val_psnr_y"])) for r in rows], config


def seconds_per_iteration(name):
    """Median wall seconds per iteration over the turns pilots.sh timed; None before any."""
    if not DRIVER_LOG.exists():
        return None
    times = []
    for line in DRIVER_LOG.read_text(errors="replace").splitlines():
        match = TURN_LINE.search(line)
        if match and match.group(1) == name and int(match.group(3)):
            times.append(int(match.group(2)) / int(match.group(3)))
    return statistics.median(times) if times else None


def flatness(points):
    """Range of the scores over the last FLAT_WINDOW iterations, or None before there are that many."""
    if not points or points[-1][0] - points[0][0] < FLAT_WINDOW:
        return None
    last = points[-1][0]
    window = [score for iteration, score in points if iteration >= last - FLAT_WINDOW]
    return max(window) - min(window)


def halvings(config, last):
    """The iterations at which the run's rate was halved, up to `last`."""
    every = config["schedule"]["halve_every"] * config["schedule"]["steps_per_epoch"]
    return list(range(every, last + 1, every)) if every else []


def gains(points, block=GAIN_BLOCK):
    """(from, to, gain) over consecutive blocks of `block` iterations: how fast a run still improves."""
    by_iteration = dict(points)
    ends = [i for i, _ in points if i % block == 0]
    return [(a, b, by_iteration[b] - by_iteration[a]) for a, b in zip(ends, ends[1:])]


def ceiling(points, since, until):
    """Where the curve was heading at one rate: a - b * t^-c fitted (least squares, c on a grid) to the
    points from `since` to `until`, as (a, c, rms residual), or None with fewer than 6 points. A power law
    because the gains fall off more slowly than an exponential would."""
    import numpy as np

    segment = [(i, score) for i, score in points if since <= i <= until]
    if len(segment) < 6:
        return None
    t = np.array([i for i, _ in segment], dtype=float) / 1000
    y = np.array([score for _, score in segment])
    best = None
    for c in np.arange(0.05, 3.0, 0.01):
        design = np.stack([np.ones_like(t), -t ** -c], axis=1)
        (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
        rms = float(np.sqrt(np.mean((design @ [a, b] - y) ** 2)))
        if best is None or rms < best[2]:
            best = (float(a), float(c), rms)
    return best


def geometric_tail(block_gains):
    """(r, what is left, from where) if the last three block gains each fell, r being their mean ratio:
    the sum of the series g·r + g·r² + ... after the last block. None otherwise."""
    last = [gain for _, _, gain in block_gains[-3:]]
    if len(last) < 3 or not all(g > 0 for g in last) or not last[0] > last[1] > last[2]:
        return None
    ratio = (last[2] / last[0]) ** 0.5
    return ratio, last[2] * ratio / (1 - ratio), block_gains[-1][1]


def describe(name, config):
    start = f"from {config['init']}" if "init" in config else "from random weights"
    return (f"({name}) {start}{', --reparam' if config.get('reparam') else ''}, "
            f"Adam {config['schedule']['learning_rate']:g} halved every "
            f"{config['schedule']['halve_every'] * config['schedule']['steps_per_epoch']:,} iterations")


def plot(curves, configs, shipped, path):
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # A run from random weights sits a dB or more below the trained ones: the right panel zooms in on
    # the issue-12 model's level, where the differences that decide anything are hundredths of a dB.
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    near = [score for points in curves.values() for _, score in points if score > shipped - ZOOM]
    for ax in axes:
        for name, points in curves.items():
            if points:
                ax.plot(*zip(*points), marker=".", label=f"pilot {name}")
        ax.axhline(shipped, color="gray", linestyle="--", label=f"issue-12 float ({shipped:.3f})")
        last = max((points[-1][0] for points in curves.values() if points), default=0)
        for n, iteration in enumerate(halvings(next(iter(configs.values())), last)):
            ax.axvline(iteration, color="gray", linestyle=":", linewidth=0.8, label="rate halved" if n == 0 else None)
        ax.set_xlabel("iterations")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("held-out Y-PSNR (dB), crop 3")
    axes[0].set_title("all runs")
    axes[1].set_ylim(shipped - ZOOM, max([shipped, *near]) + ZOOM / 4)
    axes[1].set_title("near the issue-12 model")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", help="run name (models/runs/pilot_NAME); default: a and b")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "pilot_curves.md")
    args = parser.parse_args()
    names = args.run or ["a", "b"]

    curves, configs = {}, {}
    for name in names:
        curves[name], configs[name] = curve(name)
    shipped = float(read_log(ISSUE12_LOG)[-1]["val_psnr_y"])
    first = names[0]

    lines = [
        "# Issue 21 pilots and long run: held-out Y-PSNR against iteration",
        "",
        "Written by `python benchmarks/pilot_curves.py`. Held out: every 10th image of BSDS500_test + Kodak24 "
        "(23 images), Y-PSNR with a 3-pixel crop, scored on the averaged (EMA) weights after every 500 "
        "iterations. Trained on T91 + BSD200 + BSDS500_test + Kodak24 (the rest), small T91 images with "
        f"32x32 patches, rescaled copies, L1, batch 16, seed {configs[first]['seed']}; the same patches in every run.",
        "",
        *[f"- {describe(name, configs[name])}" for name in names],
        f"- The issue-12 release's float model scores {shipped:.3f} dB on these images (`{ISSUE12_LOG.relative_to(REPO)}`); "
        "issue 21 shipped the QAT of (b) at 38,500 iterations.",
        "",
        "| iterations | " + " | ".join(f"({n})" for n in names)
        + "".join(f" | ({n}) − ({first})" for n in names[1:]) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " | ---" * (len(names) - 1) + " |",
    ]
    by_iteration = {name: dict(points) for name, points in curves.items()}
    every = sorted({i for points in curves.values() for i, _ in points})
    shown = [i for i in every if i <= PILOT_LENGTH or i % TABLE_STEP == 0 or i == every[-1]]
    if len(shown) < len(every):
        lines.insert(-2, f"Past {PILOT_LENGTH:,} iterations, every {TABLE_STEP:,} and the last (the plot has every 500).\n")
    for iteration in shown:
        scores = [by_iteration[n].get(iteration) for n in names]
        cells = [f"{s:.3f}" if s is not None else "" for s in scores]
        gaps = [f"{s - scores[0]:+.3f}" if s is not None and scores[0] is not None else "" for s in scores[1:]]
        lines.append(f"| {iteration:,} | " + " | ".join(cells) + "".join(f" | {g}" for g in gaps) + " |")

    lines += ["", "| run | iterations | last | best | vs issue 12 (best) | wall s/iteration (median turn; shared machine) | "
              f"range over the last {FLAT_WINDOW:,} (stop rule: ≤ {FLAT_TOLERANCE}) |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in names:
        points = curves[name]
        if not points:
            lines.append(f"| ({name}) | 0 | | | | | |")
            continue
        best = max(score for _, score in points)
        speed = seconds_per_iteration(name)
        flat = flatness(points)
        flat_cell = "not yet measurable" if flat is None else (
            f"{flat:.4f} dB ({'flat: stop' if flat <= FLAT_TOLERANCE else 'still moving'})")
        lines.append(f"| ({name}) | {points[-1][0]:,} | {points[-1][1]:.3f} | {best:.3f} | {best - shipped:+.3f} dB | "
                     f"{'' if speed is None else f'{speed:.2f}'} | {flat_cell} |")

    long_runs = [name for name in names if curves[name] and curves[name][-1][0] >= 2 * GAIN_BLOCK]
    for name in long_runs:
        marks = set(halvings(configs[name], curves[name][-1][0]))
        halved_at = f" (rate halved at {', '.join(f'{m:,}' for m in sorted(marks))})" if marks else ""
        lines += ["", f"Gain of ({name}) per {GAIN_BLOCK:,} iterations{halved_at}:", "",
                  "| iterations | gain (dB) |", "| --- | --- |"]
        for a, b, gain in gains(curves[name]):
            # The rate halves after the epoch ending at m, so it first acts on the block starting there.
            halved = " (rate halved)" if any(a <= m < b for m in marks) else ""
            lines.append(f"| {a:,} → {b:,}{halved} | {gain:+.3f} |")
        # One fit per rate, from 5,000 iterations into it (past the first steep rise, or a halving's
        # change of pace) to its last point: the level each rate was heading for.
        last = curves[name][-1][0]
        bounds = [0, *sorted(marks), last]
        rate = configs[name]["schedule"]["learning_rate"]
        fits = []
        for n, (start, end) in enumerate(zip(bounds, bounds[1:])):
            since = PILOT_LENGTH // 2 if start == 0 else start + GAIN_BLOCK
            fit = ceiling(curves[name], since, end)
            if fit:
                fits.append((rate / 2 ** n, since, end, *fit))
        if fits:
            lines += ["", f"Where ({name}) was heading at each rate: a − b·t^−c fitted to the rate's points from 5,000 "
                      "iterations into it (t in thousands of iterations). Estimates from the curve, not measurements; "
                      "a fit over a short stretch moves as points arrive.", "",
                      "| rate | points fitted | ceiling a (dB) | vs issue-12 float | c | rms residual (dB) |",
                      "| --- | --- | --- | --- | --- | --- |"]
            for rate_n, since, end, level, power, rms in fits:
                lines.append(f"| {rate_n:g} | {since:,} – {end:,} | {level:.3f} | {level - shipped:+.3f} | "
                             f"{power:.2f} | {rms:.4f} |")
        tail = geometric_tail(gains(curves[name]))
        if tail:
            ratio, more, at = tail
            level = dict(curves[name])[at] + more
            lines += ["", f"The other way to read the same curve: the last three gains per {GAIN_BLOCK:,} fell by "
                      f"×{ratio:.2f} a block; if they go on falling so, ({name}) adds {more:+.3f} dB after "
                      f"{at:,}, a ceiling of {level:.3f} ({level - shipped:+.3f} against the issue-12 float model). "
                      "The two readings bracket what finishing the run can give."]

    png = args.out.with_suffix(".png")
    if plot(curves, configs, shipped, png):
        lines += ["", f"![held-out Y-PSNR against iteration]({png.name})"]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
