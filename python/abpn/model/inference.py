"""The model that upscales: `Upscaler`, made by `load_upscaler` from a `.tflite`, a Keras checkpoint
or the word `bicubic`, for images of any size.

eval, upscale, bench-host's output check, the quickstart and training's validation all upscale
through this module. It never imports training code (train, quantize) nor TensorFlow until a model
is loaded, so `abpn-tool upscale` and `eval` start without the training stack.

Fixed-shape models run in tiles that overlap by the model's receptive radius, so the stitched
result equals a whole-image run (abpn.core.tiling). ABPN's radius is 7 LR pixels; a foreign
`.tflite` may see further, so its radius is measured with impulse probes when it is loaded.
"""
from pathlib import Path

import numpy as np

from abpn import DEPLOY_HW, RECEPTIVE_RADIUS, SCALE
from abpn.core.filekinds import BEST_MODEL, keras_checkpoint_file
from abpn.errors import AbpnError

BICUBIC = "bicubic"
# Names a training run may leave in its folder, best first.
_RUN_DIR_CANDIDATES = (BEST_MODEL, "best.h5", "best.weights.h5")
_KERAS_SUFFIXES = (".keras", ".h5")
# A dynamic-shape model runs large images in tiles too: the result is identical, memory stays
# bounded (a 28-channel float feature map of a 12 MP image is 1.3 GB) and there is something to
# show progress over.
DEFAULT_TILE_HW = DEPLOY_HW
_WHOLE_IMAGE_MAX_PIXELS = 2 * DEFAULT_TILE_HW[0] * DEFAULT_TILE_HW[1]
_PROGRESS_MIN_TILES = 5
# Where the receptive radius of a dynamic-shape model is probed: wide enough to see a radius far
# beyond ABPN's, small enough to cost milliseconds.
_RADIUS_PROBE_HW = (64, 64)
_RADIUS_PROBES = 3


# --- Keras checkpoints ---------------------------------------------------------------------------


def load_float_model(path):
    """A float ABPN from a `.keras` file written by `train` (or a run folder holding one)."""
    import abpn  # noqa: F401  (selects the Keras 2 API before TensorFlow loads)
    import tf_keras as keras

    from abpn.model.architecture import CUSTOM_OBJECTS, merge_reparam

    path = keras_checkpoint_file(path)
    if not path.is_file():
        raise AbpnError(f"{path}: no such checkpoint. Train one first with `abpn-tool train --out DIR`.")
    try:
        model = keras.models.load_model(path, custom_objects=CUSTOM_OBJECTS, compile=False)
    except (OSError, ValueError) as error:
        raise AbpnError(f"{path} is not an ABPN checkpoint written by `abpn-tool train`: {error}") from error
    if not all(np.isfinite(w).all() for w in model.get_weights()):
        raise AbpnError(f"{path} holds NaN or infinite weights (a training run that diverged); train it again "
                        "with a lower --lr.")
    return merge_reparam(model)  # a checkpoint of `train --reparam` holds branches; use the plain ABPN


def upscale_with(model, lr):
    """uint8 LR → uint8 SR through an in-memory Keras ABPN (float or QAT), whole image at once."""
    sr = model(lr[None].astype(np.float32), training=False)[0].numpy()
    return np.clip(np.round(sr), 0, 255).astype(np.uint8)


# --- the one upscaler ----------------------------------------------------------------------------


class Upscaler:
    """Maps uint8 HxWx3 RGB images of any size to uint8 (3H)x(3W)x3.

    `run` upscales one image (of exactly `tile_hw` when that is set, of any size otherwise);
    larger images are tiled with an overlap of `radius` LR pixels, which must be at least the
    model's receptive radius for the seams to be exact. `tileable=False` runs every image whole
    (for functions that are not a local filter of bounded radius)."""

    def __init__(self, run, name, *, tile_hw=None, radius=RECEPTIVE_RADIUS, tileable=True):
        self._run = run
        self.name = name
        self.tile_hw = None if tile_hw is None else tuple(tile_hw)
        self.radius = radius
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
            # tile (2 x the radius or less) still gets padded.
            tile_hw = tuple(min(n, t) if n > 2 * self.radius else t for n, t in zip(lr.shape[:2], DEFAULT_TILE_HW))
        elif tuple(lr.shape[:2]) == tile_hw:
            return self._run(lr)
        padded_hw = (max(lr.shape[0], tile_hw[0]), max(lr.shape[1], tile_hw[1]))
        show = progress and len(tile_grid(padded_hw, tile_hw, self.radius)) >= _PROGRESS_MIN_TILES
        return tiled_upscale(self._run, lr, tile_hw, overlap=self.radius, progress=show)

    def upscale_rgba(self, rgb, alpha=None, progress=False):
        """x3 of an RGB image and, separately, of its alpha channel (as gray through the same model)."""
        sr = self(rgb, progress=progress)
        if alpha is None:
            return sr, None
        sr_alpha = self(np.repeat(alpha[..., None], 3, axis=2), progress=progress)[..., 0]
        return sr, np.ascontiguousarray(sr_alpha)


# --- receptive radius ------------------------------------------------------------------------------


def measure_radius(run, probe_hw, seed=0):
    """The receptive radius in LR pixels of `run` (uint8 HxWx3 → 1x(3H)x(3W)x3 raw output tensor),
    seen with impulse probes on `probe_hw` inputs: the farthest output pixel (in LR pixels, Chebyshev
    distance) that changes when one input pixel at the centre flips. Raw tensors, because rounding
    to uint8 pixels hides the faint outermost ring; random backgrounds keep ReLUs from hiding paths,
    and several probes keep one background's rounding from hiding it in a quantized model. Returns
    None when the change reaches the probe's edge: the field is too wide to see (possibly global)."""
    rng = np.random.default_rng(seed)
    cy, cx = probe_hw[0] // 2, probe_hw[1] // 2
    radius = 0
    for _ in range(_RADIUS_PROBES):
        base = rng.integers(0, 256, (*probe_hw, 3), dtype=np.uint8)
        flipped = base.copy()
        flipped[cy, cx] = 255 - flipped[cy, cx]
        changed = np.any(np.squeeze(run(base), 0) != np.squeeze(run(flipped), 0), axis=2)
        rows, cols = np.nonzero(changed)
        if rows.size == 0:
            continue
        lr_rows, lr_cols = rows // SCALE, cols // SCALE
        if (lr_rows.min() == 0 or lr_cols.min() == 0 or lr_rows.max() == probe_hw[0] - 1
                or lr_cols.max() == probe_hw[1] - 1):
            return None
        radius = max(radius, int(np.abs(lr_rows - cy).max()), int(np.abs(lr_cols - cx).max()))
    return radius


def _tiling_radius(path, run, tile_hw):
    """The overlap `path`'s model needs; raises AbpnError when it cannot be tiled exactly."""
    probe_hw = tile_hw or _RADIUS_PROBE_HW
    measured = measure_radius(run, probe_hw)
    if measured is None and tile_hw is None:
        return None  # any size: run whole images, never tiles
    if measured is not None:
        # Not below ABPN's known radius where the tile allows: on a quantized model a far ring can
        # round away in every probe.
        overlap = max(measured, RECEPTIVE_RADIUS)
        if tile_hw is None or 2 * overlap < min(tile_hw):
            return overlap
        if 2 * measured < min(tile_hw):
            return measured
    size = f"{probe_hw[0]}x{probe_hw[1]}"
    raise AbpnError(
        f"{path.name} sees further than its {size} input allows to tile exactly (changing one pixel changes "
        f"outputs {'across the whole tile' if measured is None else f'{measured} pixels away'}): stitched "
        "tiles would show seams. Export the model with a dynamic input shape, or a larger fixed one."
    )


# --- loading -------------------------------------------------------------------------------------


def _bicubic():
    from abpn.core.imresize import imresize_bicubic, to_uint8

    # MATLAB imresize is local (radius 2), so tiling would be exact too; it is cheap enough whole.
    return Upscaler(lambda lr: to_uint8(imresize_bicubic(lr, SCALE)), "bicubic (MATLAB imresize)", tileable=False)


def _tflite(path, threads):
    from abpn.model.modelfile import TFLiteRunner

    runner = TFLiteRunner(path, threads=threads)
    radius = _tiling_radius(path, lambda lr: runner.invoke_raw(runner.encode_input(lr)), runner.tile_hw)
    if radius is None:
        return Upscaler(runner.upscale, path.name, tileable=False)
    return Upscaler(runner.upscale, path.name, tile_hw=runner.tile_hw, radius=radius)


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
            "*.keras / *.h5 file (a training run folder), or pass a .tflite file."
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
    from abpn.model.modelfile import PROBE_HW

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
    # A checkpoint this tool loads is an ABPN (build_abpn or a train run): radius 7 by construction.
    return Upscaler(lambda lr: upscale_with(model, lr), path.name, tile_hw=tile_hw)


def load_upscaler(path_or_name, threads=None):
    """The model argument of every command → an Upscaler.

    Accepts `bicubic` (MATLAB imresize x3, the baseline of the tables), a `.tflite`, a Keras model
    file (`.keras`/`.h5`), a weights file (`.weights.h5` or a TF checkpoint's `.index`) for the
    standard ABPN, or a training run folder holding one of those. `threads` applies to TFLite
    (XNNPACK) only. Raises AbpnError for anything that is not an x3 RGB model."""
    if str(path_or_name) == BICUBIC and not Path(path_or_name).exists():
        return _bicubic()
    path = Path(path_or_name)
    if path.is_dir():
        path = _run_dir_model(path)
    if path.suffix in _KERAS_SUFFIXES or path.suffix == ".index":
        return _keras(path)
    return _tflite(path, threads)
