"""The Android demo tiles photos exactly as the host does (python/abpn/tiling.py).

android/build-offline runs org.abpn.core.TilingSpans, which writes the Kotlin spans for many axis
lengths to android/offline-out/kotlin-tiling/spans.json; this test recomputes them in Python.
"""
import json
import pathlib

import numpy as np
import pytest

from abpn.core.tiling import axis_spans, pad_to_tile

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPANS = ROOT / "android" / "offline-out" / "kotlin-tiling" / "spans.json"

pytestmark = pytest.mark.skipif(
    not SPANS.is_file(), reason=f"{SPANS.relative_to(ROOT)} does not exist: run android/build-offline first"
)


def _host_spans(length, tile, overlap):
    # The host pads an axis shorter than the tile up to the tile, then crops the output; the
    # Kotlin side keeps [0, length) of a single edge-replicated tile: the same pixels.
    padded = pad_to_tile(np.zeros((length, 1), np.uint8), (tile, 1)).shape[0]
    spans = [[s.start, s.keep_start, s.keep_stop] for s in axis_spans(padded, tile, overlap)]
    if padded != length:
        assert spans == [[0, 0, tile]]
        return [[0, 0, length]]
    return spans


def test_kotlin_tiles_match_the_host():
    cases = json.loads(SPANS.read_text())
    assert len(cases) >= 20
    for case in cases:
        assert case["spans"] == _host_spans(case["length"], case["tile"], case["overlap"]), case
