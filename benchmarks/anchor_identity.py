"""Issue 22: the anchor as a fixed 1x1 CONV_2D computes the same bytes as the CONCATENATION it replaced.

Runs the previous shipped INT8 models (9-input CONCATENATION anchor) and the re-exported ones (same
QAT weights, 1x1 conv anchor) on real photos and compares every output byte:

- the dynamic-shape models on every LR image of Set5 / Set14 / BSD100 (the published MATLAB-bicubic
  inputs) and on scikit-image's colour photos (x3 MATLAB-bicubic LR), whole images;
- the 360x640 deployment models (uint8 I/O) on the same images, tiled as `abpn-tool upscale` tiles;
- the new int8-I/O 360x640 model against the new uint8-I/O one on the bench-host photo, feeding it
  x XOR 0x80 (= x - 128) and flipping its output back, as the phone app does.

    python benchmarks/anchor_identity.py OLD_DIR [--new models] [--datasets ../shared/datasets]

OLD_DIR holds the previous abpn_x3_int8.tflite and abpn_x3_int8_dynamic.tflite, e.g. from
`git show 9949e6f:models/abpn_x3_int8.tflite`. Identical bytes everywhere means identical PSNR/SSIM
on every benchmark set.
"""
import argparse
from pathlib import Path

import numpy as np

from abpn.bench.host import real_image
from abpn.core.images import read_rgb
from abpn.model.data import embedded_default_images, make_lr, modcrop
from abpn.model.inference import load_upscaler
from abpn.model.modelfile import TFLiteRunner, operator_names
from abpn.model.quantize import EXPORTS

REPO = Path(__file__).resolve().parents[1]


def images(datasets):
    for name in ("Set5", "Set14", "BSD100"):
        paths = sorted((datasets / "LR_bicubic_X3" / name).glob("*.png"))
        if not paths:
            raise SystemExit(f"no LR images in {datasets / 'LR_bicubic_X3' / name}: pass --datasets")
        for path in paths:
            yield f"{name}/{path.name}", read_rgb(path)
    for index, hr in enumerate(embedded_default_images()):
        yield f"skimage photo {index}", make_lr(modcrop(hr))


def compare(old, new, named_images):
    differing, count, pixels = [], 0, 0
    for name, lr in named_images:
        a, b = old(lr), new(lr)
        count += 1
        pixels += a.size
        if not np.array_equal(a, b):
            differing.append(f"{name}: {np.count_nonzero(a != b)} bytes differ, max {np.abs(a.astype(int) - b).max()}")
    return count, pixels, differing


def int8_io_check(new_dir):
    uint8_model = TFLiteRunner(new_dir / EXPORTS["int8"], threads=2)
    int8_model = TFLiteRunner(new_dir / EXPORTS["int8_int8io"], threads=2)
    photo = real_image((360, 640))
    expected = uint8_model.invoke_raw(photo[None])
    flipped_in = (photo[None] ^ 0x80).view(np.int8)  # the app's conversion: top bit flipped
    output = int8_model.invoke_raw(flipped_in).view(np.uint8) ^ 0x80
    return np.array_equal(output, expected), expected.size


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path)
    parser.add_argument("--new", type=Path, default=REPO / "models")
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    args = parser.parse_args()
    for label, folder in (("old", args.old), ("new", args.new)):
        for key in ("int8", "int8_dynamic"):
            print(f"{label} {EXPORTS[key]}: {' '.join(operator_names((folder / EXPORTS[key]).read_bytes()))}")
    print(f"new {EXPORTS['int8_int8io']}: {' '.join(operator_names((args.new / EXPORTS['int8_int8io']).read_bytes()))}")
    failures = []
    for key, how in (("int8_dynamic", "whole images"), ("int8", "360x640 tiles")):
        old = load_upscaler(args.old / EXPORTS[key], threads=2)
        new = load_upscaler(args.new / EXPORTS[key], threads=2)
        count, pixels, differing = compare(old, new, images(args.datasets))
        print(f"{EXPORTS[key]} ({how}): {count} images, {pixels / 1e6:.1f} M output bytes, "
              f"{'all identical' if not differing else f'{len(differing)} differ'}")
        failures += differing
    same, size = int8_io_check(args.new)
    print(f"int8 I/O (x ^ 0x80 in and out) vs uint8 I/O on the 360x640 bench-host photo: "
          f"{size / 1e6:.1f} M output bytes {'identical' if same else 'DIFFER'}")
    if not same:
        failures.append("int8 I/O differs")
    print("result:", "bit-identical" if not failures else "; ".join(failures))


if __name__ == "__main__":
    main()
