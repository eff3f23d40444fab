"""Exact tiling: running a fixed-shape model over an image of any size.

ABPN is a stack of 3x3 "same" convolutions, so an output pixel depends only on the LR pixels within
`RECEPTIVE_RADIUS` (7) of it, and on the zero padding where that neighbourhood leaves the image
(another model passes its own radius as `overlap`: abpn.model.inference measures it).
Tiles therefore overlap by at least that radius, and each tile contributes only the pixels whose
whole neighbourhood lies inside it (or whose neighbourhood leaves the tile only where the tile edge
is the image edge, where the model pads exactly as it would on the whole image). The last tile of
each row and column is shifted back to end at the image edge, rather than padded, so the stitched
result equals the model run on the whole image, pixel for pixel.

Only an image smaller than a tile along an axis is padded (by edge replication) up to the tile
size; near that far edge the result then differs slightly from the whole-image run.
"""
from dataclasses import dataclass

import numpy as np

from abpn import RECEPTIVE_RADIUS, SCALE


@dataclass(frozen=True)
class Span:
    """One tile along one axis, in LR pixels: the tile starts at `start`; the pixels
    [keep_start, keep_stop) of the image are taken from it."""

    start: int
    keep_start: int
    keep_stop: int


def axis_spans(length, tile, overlap=RECEPTIVE_RADIUS):
    """Tiles covering [0, length) along one axis; their kept ranges partition it.

    `length` must be at least `tile` (pad smaller images first, see `pad_to_tile`)."""
    if tile <= 2 * overlap:
        raise ValueError(f"a tile of {tile} pixels cannot overlap its neighbours by {overlap} on both sides")
    if length < tile:
        raise ValueError(f"length {length} is smaller than the tile ({tile}); pad the image first")
    step = tile - 2 * overlap
    starts = list(range(0, length - tile, step)) + [length - tile]
    # Cut between neighbours where the left tile's trustworthy pixels end; the right tile's begin
    # at or before that point because the step never exceeds tile - 2 * overlap.
    cuts = [start + tile - overlap for start in starts[:-1]]
    bounds = [0, *cuts, length]
    return [Span(start, bounds[i], bounds[i + 1]) for i, start in enumerate(starts)]


def tile_grid(hw, tile_hw, overlap=RECEPTIVE_RADIUS):
    """(row span, column span) pairs in row-major order for an image of at least tile size."""
    rows = axis_spans(hw[0], tile_hw[0], overlap)
    cols = axis_spans(hw[1], tile_hw[1], overlap)
    return [(r, c) for r in rows for c in cols]


def pad_to_tile(img, tile_hw):
    """Edge-replicates `img` at the bottom and right up to at least the tile size."""
    pad_h = max(0, tile_hw[0] - img.shape[0])
    pad_w = max(0, tile_hw[1] - img.shape[1])
    if pad_h == 0 and pad_w == 0:
        return img
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (img.ndim - 2)
    return np.pad(img, widths, mode="edge")


def tiled_upscale(run_tile, lr, tile_hw, overlap=RECEPTIVE_RADIUS, scale=SCALE, progress=False):
    """Upscales `lr` (uint8 HxWx3) with `run_tile`, a function taking exactly tile_hw inputs.

    `progress` shows a tqdm bar over the tiles."""
    from tqdm import tqdm

    height, width = lr.shape[:2]
    padded = pad_to_tile(lr, tile_hw)
    grid = tile_grid(padded.shape[:2], tile_hw, overlap)
    out = np.empty((padded.shape[0] * scale, padded.shape[1] * scale, *lr.shape[2:]), dtype=np.uint8)
    th, tw = tile_hw
    for r, c in tqdm(grid, desc="tiles", unit="tile", disable=not progress, leave=False):
        sr = run_tile(padded[r.start : r.start + th, c.start : c.start + tw])
        out[r.keep_start * scale : r.keep_stop * scale, c.keep_start * scale : c.keep_stop * scale] = sr[
            (r.keep_start - r.start) * scale : (r.keep_stop - r.start) * scale,
            (c.keep_start - c.start) * scale : (c.keep_stop - c.start) * scale,
        ]
    return out[: height * scale, : width * scale]
