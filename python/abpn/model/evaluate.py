"""`abpn-tool eval`: PSNR and SSIM of a model (or the bicubic baseline) over a folder of HR images.

LR inputs come from a folder (e.g. the published MATLAB-bicubic inputs in
../shared/datasets/LR_bicubic_X3) or are made from the HR images with the same MATLAB-compatible
bicubic as training. The HR image is cropped from the top left to a multiple of the scale
("modcrop") before comparing, as the tables do.

LR files are matched with HR files in this order of preference, and the output says which was used:
1. by name, after dropping `_HR`/`_LR`/`_GT` and SelfExSR's `_SRF_3_` (BSD100: img_001_SRF_3_LR.png
   with img_001_SRF_3_HR.png);
2. by SelfExSR index: img_XXX_SRF_3_LR.png goes with the XXX-th HR file in sorted order (Set5 and
   Set14, whose HR originals keep their names: img_001 = baby_GT.bmp);
3. by sorted order, when both folders hold the same number of images.
Whatever the rule, every LR must be exactly 1/3 of its modcropped HR, or the pairing is refused.
"""
import math
import re
from pathlib import Path

import numpy as np

from abpn import SCALE
from abpn.core.images import IMAGE_SUFFIXES
from abpn.core.table import format_table
from abpn.errors import AbpnError

_SELFEXSR = re.compile(r"^img_(\d+)_SRF_(\d+)_(HR|LR)$", re.IGNORECASE)
# Only the x3 marker is a role suffix: "box2" or "fox4" are names, not scales.
_ROLE_SUFFIX = re.compile(rf"(_(HR|LR|GT)|_?x{SCALE})+$", re.IGNORECASE)
METRICS = ("psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y")
CONVENTIONS = {
    "rgb": "RGB, 1-pixel border crop (DIV2K / Mobile AI)",
    "y": f"Y of BT.601 (16-235; gray value for single-channel files), {SCALE}-pixel border crop "
    "(Set5/Set14/B100 tables)",
    "ssim": "Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, L 255; RGB: mean over channels",
}


def list_images(directory):
    directory = Path(directory)
    if not directory.is_dir():
        raise AbpnError(f"{directory}: no such folder")
    images = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise AbpnError(f"{directory} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return images


def _selfexsr(path):
    match = _SELFEXSR.match(path.stem)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _name_key(path):
    parsed = _selfexsr(path)
    if parsed:
        return f"img_{parsed[0]:03d}"
    return _ROLE_SUFFIX.sub("", path.stem).lower()


def pair_images(hr_paths, lr_paths):
    """[(hr, lr)] and a sentence saying how they were matched (sizes are checked later)."""
    for lr in lr_paths:
        parsed = _selfexsr(lr)
        if parsed and parsed[1] != SCALE:
            raise AbpnError(f"{lr.name} is an x{parsed[1]} LR input (SRF_{parsed[1]}); this tool evaluates x{SCALE}.")
    lr_by_key = {_name_key(p): p for p in lr_paths}
    hr_keys = [_name_key(h) for h in hr_paths]
    # Keys must be unique on both sides: two HR names that reduce to one key (a_x1, a_x2) would
    # otherwise both be scored against the same LR file.
    if (len(lr_by_key) == len(lr_paths) and len(set(hr_keys)) == len(hr_keys)
            and all(k in lr_by_key for k in hr_keys)):
        return [(h, lr_by_key[k]) for h, k in zip(hr_paths, hr_keys)], "by file name"
    indices = [_selfexsr(p) for p in lr_paths]
    if all(indices) and not any(_selfexsr(h) for h in hr_paths):
        numbers = [i[0] for i in indices]
        if len(set(numbers)) == len(numbers) and all(1 <= n <= len(hr_paths) for n in numbers):
            pairs = [(hr_paths[n - 1], lr) for n, lr in zip(numbers, lr_paths)]
            return pairs, "by SelfExSR index (img_XXX_SRF_3_LR = the XXX-th HR file in sorted order)"
    if len(hr_paths) == len(lr_paths):
        return list(zip(hr_paths, lr_paths)), "by sorted order (names differ; same number of images)"
    raise AbpnError(
        f"cannot match {len(lr_paths)} LR files with {len(hr_paths)} HR files: names differ "
        "(after dropping _HR/_LR/_GT) and the counts differ. Give folders with matching names "
        "or the same number of images, or leave out --lr to make LR inputs from the HR images."
    )


def _json_number(x):
    return None if math.isinf(x) else x


def evaluate(model, hr_dir, lr_dir=None, threads=None, progress=True):
    """Per-image and mean PSNR/SSIM (both conventions) of `model` (see abpn.model.inference.load_upscaler)."""
    from tqdm import tqdm

    from abpn.core.images import is_single_channel, read_rgb
    from abpn.core.metrics import SSIM_WINDOW, min_size, quality
    from abpn.model.data import make_lr, modcrop
    from abpn.model.inference import load_upscaler

    hr_paths = list_images(hr_dir)
    if lr_dir is None:
        pairs, pairing = [(h, None) for h in hr_paths], "LR made from each modcropped HR with MATLAB-compatible bicubic"
    else:
        pairs, pairing = pair_images(hr_paths, list_images(lr_dir))
    upscaler = load_upscaler(model, threads=threads)
    rows = []
    # The Y scores drop a SCALE-pixel border and SSIM needs its window inside what is left.
    smallest = -(-min_size(SCALE) // SCALE) * SCALE
    for hr_path, lr_path in tqdm(pairs, desc="eval", unit="image", disable=not progress, leave=False):
        hr = modcrop(read_rgb(hr_path), SCALE)
        if min(hr.shape[:2]) < smallest:
            raise AbpnError(
                f"{hr_path} is too small to score ({hr.shape[1]}x{hr.shape[0]} after cropping to a multiple of "
                f"{SCALE}): eval needs HR images of at least {smallest}x{smallest} (a {SCALE}-pixel border crop "
                f"and the {SSIM_WINDOW}x{SSIM_WINDOW} SSIM window). Remove it from --hr."
            )
        if lr_path is None:
            lr = make_lr(hr)
        else:
            lr = read_rgb(lr_path)
            if (lr.shape[0] * SCALE, lr.shape[1] * SCALE) != hr.shape[:2]:
                raise AbpnError(
                    f"{lr_path.name} ({lr.shape[1]}x{lr.shape[0]}) is not 1/{SCALE} of {hr_path.name} cropped to a "
                    f"multiple of {SCALE} ({hr.shape[1]}x{hr.shape[0]}); pairing was {pairing}. "
                    "Check that --lr holds the x3 inputs of these HR images."
                )
        sr = upscaler(lr)
        try:
            scores = quality(sr, hr, SCALE, gray=is_single_channel(hr_path))
        except ValueError as error:
            raise AbpnError(f"{hr_path.name}: {error}") from error
        rows.append({"hr": hr_path.name, "lr": lr_path.name if lr_path else None, **scores})
    mean = {k: float(np.mean([r[k] for r in rows])) for k in METRICS}
    return {
        "model": upscaler.name,
        "hr_dir": str(hr_dir),
        "lr_dir": None if lr_dir is None else str(lr_dir),
        "pairing": pairing,
        "scale": SCALE,
        "conventions": CONVENTIONS,
        "images": [{k: _json_number(v) if k in METRICS else v for k, v in r.items()} for r in rows],
        "mean": {k: _json_number(v) for k, v in mean.items()},
    }


def _fmt(value, digits):
    return "inf" if value is None else f"{value:.{digits}f}"


def format_scores(result):
    """The evaluation `result` as text: its settings, then one row per image and the mean."""
    lines = [
        f"model: {result['model']}",
        f"HR: {result['hr_dir']}" + (f"   LR: {result['lr_dir']}" if result["lr_dir"] else ""),
        f"pairing: {result['pairing']}",
        f"RGB: {CONVENTIONS['rgb']}; Y: {CONVENTIONS['y']}",
        "",
        format_table(["image", "PSNR-RGB", "SSIM-RGB", "PSNR-Y", "SSIM-Y"],
                [[row["hr"], _fmt(row["psnr_rgb"], 2), _fmt(row["ssim_rgb"], 4), _fmt(row["psnr_y"], 2),
                  _fmt(row["ssim_y"], 4)]
                 for row in [*result["images"], {"hr": f"mean of {len(result['images'])}", **result["mean"]}]],
                align="<>>>>", rule=False),
    ]
    return "\n".join(lines)
