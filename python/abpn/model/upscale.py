"""Upscaling images of any size with any model: `.tflite`, Keras checkpoint, or MATLAB bicubic.

`load_upscaler` is the one place that turns a model argument into something that maps a uint8 RGB
image to its x3 version; eval, upscale and bench-host all go through it (or, for bench-host, the
same TFLite checks in abpn.model.modelfile).
"""
import io
import os
from pathlib import Path

import numpy as np

from abpn import DEPLOY_HW, RECEPTIVE_RADIUS, SCALE
from abpn.errors import AbpnError
from abpn.model.modelfile import PROBE_HW

BICUBIC = "bicubic"
# A dynamic-shape model runs large images in tiles too: the result is identical (see abpn.core.tiling),
# memory stays bounded (a 28-channel float feature map of a 12 MP image is 1.3 GB) and there is
# something to show progress over.
DEFAULT_TILE_HW = DEPLOY_HW
_WHOLE_IMAGE_MAX_PIXELS = 2 * DEFAULT_TILE_HW[0] * DEFAULT_TILE_HW[1]
_PROGRESS_MIN_TILES = 5
_KERAS_SUFFIXES = (".keras", ".h5")
# Names the training run may leave in its directory, best first.
_RUN_DIR_CANDIDATES = ("best.keras", "best.h5", "best.weights.h5")


class ImageUpscaler:
    """Maps uint8 HxWx3 images of any size to uint8 (3H)x(3W)x3.

    `run` takes one image (of exactly `tile_hw` when that is set) and returns its x3 upscale;
    images of other sizes are tiled exactly (abpn.core.tiling)."""

    def __init__(self, run, name, tile_hw=None, tileable=True):
        self._run = run
        self.name = name
        self.tile_hw = tile_hw
        self._tileable = tileable

    def __call__(self, lr, progress=False):
        from abpn.core.tiling import tile_grid, tiled_upscale

        lr = np.ascontiguousarray(lr, dtype=np.uint8)
        if lr.ndim != 3 or lr.shape[2] != 3:
            raise AbpnError(f"expected an HxWx3 RGB image, got shape {lr.shape}")
        tile_hw = self.tile_hw
        if tile_hw is None:
            if not self._tileable or lr.shape[0] * lr.shape[1] <= _WHOLE_IMAGE_MAX_PIXELS:
                return self._run(lr)
            # Never larger than the image: padding a thin image up to the tile would change the
            # pixels near its far edge, and this model takes any size. Only a sliver too thin to
            # tile (2 x the receptive radius or less) still gets padded.
            tile_hw = tuple(min(n, t) if n > 2 * RECEPTIVE_RADIUS else t
                            for n, t in zip(lr.shape[:2], DEFAULT_TILE_HW))
        elif tuple(lr.shape[:2]) == tuple(tile_hw):
            return self._run(lr)
        padded_hw = (max(lr.shape[0], tile_hw[0]), max(lr.shape[1], tile_hw[1]))
        show = progress and len(tile_grid(padded_hw, tile_hw)) >= _PROGRESS_MIN_TILES
        return tiled_upscale(self._run, lr, tile_hw, progress=show)


def _bicubic():
    from abpn.core.imresize import imresize_bicubic, to_uint8

    # MATLAB imresize is not a 3x3-conv stack, but it is local (radius 2), so tiling would be exact;
    # it is cheap enough to run whole.
    return ImageUpscaler(lambda lr: to_uint8(imresize_bicubic(lr, SCALE)), "bicubic (MATLAB imresize)",
                         tileable=False)


def _tflite(path, threads):
    from abpn.model.modelfile import Upscaler

    model = Upscaler(path, threads=threads)
    return ImageUpscaler(model, Path(path).name, tile_hw=model.tile_hw)


def _run_dir_model(directory):
    for name in _RUN_DIR_CANDIDATES:
        if (directory / name).is_file():
            return directory / name
    found = sorted(
        (p for p in directory.iterdir() if p.is_file() and p.suffix in _KERAS_SUFFIXES),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    if not found:
        raise AbpnError(
            f"{directory} holds no model: expected {', '.join(_RUN_DIR_CANDIDATES)} or another "
            "*.keras / *.h5 file (a training run directory), or pass a .tflite file."
        )
    return found[0]


def _load_weights(path):
    from abpn.model.architecture import build_abpn

    model = build_abpn()
    try:
        model.load_weights(str(path.with_suffix("")) if path.suffix == ".index" else str(path))
    except (ValueError, OSError, KeyError, TypeError) as error:
        raise AbpnError(
            f"{path} does not hold ABPN weights: {error}. Pass the best.keras of a training run, or a .tflite."
        ) from error
    return model


def _keras(path):
    from abpn.model.train import load_float_model, upscale_with

    if not path.is_file():
        raise AbpnError(f"{path}: no such model file")
    weights_only = path.name.endswith(".weights.h5") or path.suffix == ".index"
    model = _load_weights(path) if weights_only else load_float_model(path)
    in_shape = model.input_shape
    if isinstance(in_shape, list) or len(in_shape) != 4 or in_shape[3] != 3:
        raise AbpnError(f"{path} is not an x3 image model: input shape {in_shape} (expected (None, H, W, 3)).")
    tile_hw = None if None in in_shape[1:3] else tuple(in_shape[1:3])
    probe_hw = tile_hw or PROBE_HW
    out_shape = tuple(model(np.zeros((1, *probe_hw, 3), np.float32), training=False).shape)
    expected = (1, probe_hw[0] * SCALE, probe_hw[1] * SCALE, 3)
    if out_shape != expected:
        raise AbpnError(
            f"{path} is not an x3 image model: a {probe_hw[0]}x{probe_hw[1]} input gives output "
            f"{list(out_shape)} (expected {list(expected)})."
        )
    return ImageUpscaler(lambda lr: upscale_with(model, lr), path.name, tile_hw=tile_hw)


def load_upscaler(path_or_name, threads=None):
    """The model argument of every command → an ImageUpscaler.

    Accepts `bicubic` (MATLAB imresize x3, the baseline of the tables), a `.tflite`, a Keras model
    file (`.keras`/`.h5`), a weights file (`.weights.h5` or a TF checkpoint's `.index`) for the
    standard ABPN, or a training run directory holding one of those. `threads` applies to TFLite
    (XNNPACK) only. Raises AbpnError for anything that is not an x3 RGB model."""
    if str(path_or_name) == BICUBIC and not Path(path_or_name).exists():
        return _bicubic()
    path = Path(path_or_name)
    if path.is_dir():
        path = _run_dir_model(path)
    if path.suffix in _KERAS_SUFFIXES or path.suffix == ".index":
        return _keras(path)
    return _tflite(path, threads)


# --- image files -------------------------------------------------------------------------------


def _to_uint8(arr):
    if arr.dtype == np.uint8:
        return arr
    # 16-bit PNG/TIFF: map 0..65535 onto 0..255.
    return np.clip(np.round(arr.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)


def read_image(path):
    """Any image PIL reads → (uint8 HxWx3 RGB, uint8 HxW alpha or None), EXIF orientation applied."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im.load()
    except FileNotFoundError as error:
        raise AbpnError(f"{path}: no such image file") from error
    except Image.DecompressionBombError as error:
        raise AbpnError(f"{path} has more pixels than this tool reads ({error}); crop or downscale it "
                        "first.") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise AbpnError(
            f"{path} is not an image this tool can read ({error}); use PNG, JPEG, BMP, WebP or TIFF."
        ) from error
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        gray = _to_uint8(np.asarray(im))
        return np.repeat(gray[..., None], 3, axis=2), None
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"))
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    return np.asarray(im.convert("RGB")), None


def _output_format(path, with_alpha):
    from PIL import Image

    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise AbpnError(f"{path}: unknown image extension {path.suffix!r}; use .png, .jpg, .webp, .bmp or .tiff.")
    # Ask PIL up front, so a long upscale does not end in a format that cannot hold the result.
    probe = Image.new("RGBA" if with_alpha else "RGB", (1, 1))
    try:
        probe.save(io.BytesIO(), format=fmt)
    except (OSError, KeyError, ValueError) as error:
        what = "an image with an alpha channel" if with_alpha else "an RGB image"
        raise AbpnError(f"{path}: the {fmt} format cannot store {what} ({error}); use .png.") from error
    return fmt


def write_image(path, rgb, alpha=None):
    """Writes atomically (a partial file is never left under the final name)."""
    from PIL import Image

    path = Path(path)
    fmt = _output_format(path, alpha is not None)
    pixels = rgb if alpha is None else np.dstack([rgb, alpha])
    partial = path.with_name(f".{path.name}.partial")
    try:
        Image.fromarray(pixels).save(partial, format=fmt)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def default_output_path(src):
    src = Path(src)
    return src.with_name(f"{src.stem}_x{SCALE}.png")


def upscale_image(upscaler, rgb, alpha=None, progress=False):
    """x3 of an RGB image and, separately, its alpha channel (as gray through the same model)."""
    sr = upscaler(rgb, progress=progress)
    if alpha is None:
        return sr, None
    sr_alpha = upscaler(np.repeat(alpha[..., None], 3, axis=2), progress=progress)[..., 0]
    return sr, np.ascontiguousarray(sr_alpha)


def upscale_file(model, src, dst=None, threads=None, overwrite=False, progress=True):
    """Upscales the image file `src` into `dst` (default `<src stem>_x3.png`); returns dst."""
    src = Path(src)
    dst = Path(dst) if dst is not None else default_output_path(src)
    if dst.exists() and dst.resolve() == src.resolve():
        raise AbpnError(f"{dst} is the input image; give another output path.")
    if dst.exists() and not overwrite:
        raise AbpnError(f"{dst} already exists; pass --overwrite or give another output path.")
    # Checked before the upscale, which can take minutes, rather than failing when saving.
    if not dst.parent.is_dir():
        raise AbpnError(f"cannot write {dst}: folder {dst.parent} does not exist; create it or give another "
                        "output path.")
    rgb, alpha = read_image(src)
    _output_format(dst, alpha is not None)
    upscaler = load_upscaler(model, threads=threads)
    sr, sr_alpha = upscale_image(upscaler, rgb, alpha, progress=progress)
    write_image(dst, sr, sr_alpha)
    return dst
