"""MATLAB-compatible bicubic: checked against the published x3 LR benchmark inputs when present."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from abpn.core.imresize import imresize_bicubic, to_uint8, weight_matrix

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
needs_datasets = pytest.mark.skipif(not (DATASETS / "LR_bicubic_X3").is_dir(),
                                    reason="../shared/datasets/LR_bicubic_X3 is absent")

SET5 = ["baby_GT", "bird_GT", "butterfly_GT", "head_GT", "woman_GT"]
SET14 = ["baboon", "barbara", "bridge", "coastguard", "comic", "face", "flowers", "foreman", "lenna",
         "man", "monarch", "pepper", "ppt3", "zebra"]


def _benchmark_pairs():
    pairs = [(DATASETS / "Set5" / f"{n}.bmp", DATASETS / "LR_bicubic_X3/Set5" / f"img_{i:03d}_SRF_3_LR.png")
             for i, n in enumerate(SET5, 1)]
    pairs += [(DATASETS / "Set14" / f"{n}.bmp", DATASETS / "LR_bicubic_X3/Set14" / f"img_{i:03d}_SRF_3_LR.png")
              for i, n in enumerate(SET14, 1)]
    pairs += [(DATASETS / "BSD100" / f"img_{i:03d}_SRF_3_HR.png",
               DATASETS / "LR_bicubic_X3/BSD100" / f"img_{i:03d}_SRF_3_LR.png") for i in range(1, 101)]
    return pairs


def _rgb(path):
    # bridge.bmp and its published LR are 8-bit grayscale: replicating to RGB keeps them comparable
    return np.asarray(Image.open(path).convert("RGB"))


def _modcrop3(img):
    return img[: img.shape[0] // 3 * 3, : img.shape[1] // 3 * 3]


@needs_datasets
def test_downscale_matches_published_lr_exactly():
    pairs = _benchmark_pairs()
    assert len(pairs) == 119
    differing, total = 0, 0
    for hr_path, lr_path in pairs:
        lr = to_uint8(imresize_bicubic(_modcrop3(_rgb(hr_path)), 1 / 3))
        reference = _rgb(lr_path)
        assert lr.shape == reference.shape, hr_path.name
        differing += int(np.count_nonzero(lr != reference))
        total += lr.size
    assert total == 6_392_820
    assert differing == 0


@needs_datasets
def test_bicubic_upscale_of_set5_gives_published_baseline_psnr():
    def y_channel(img):
        img = img.astype(np.float64)
        return 16 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255

    psnrs = []
    for i, name in enumerate(SET5, 1):
        hr = _modcrop3(_rgb(DATASETS / "Set5" / f"{name}.bmp"))
        lr = _rgb(DATASETS / "LR_bicubic_X3/Set5" / f"img_{i:03d}_SRF_3_LR.png")
        up = to_uint8(imresize_bicubic(lr, 3))
        assert up.shape == hr.shape
        err = (y_channel(up) - y_channel(hr))[3:-3, 3:-3]
        psnrs.append(10 * np.log10(255**2 / np.mean(err**2)))
    assert np.mean(psnrs) == pytest.approx(30.39, abs=0.03)  # the bicubic row of the x3 tables


def test_weight_rows_sum_to_one_and_edges_replicate():
    for n_in, n_out, scale in [(30, 10, 1 / 3), (10, 30, 3), (7, 5, 5 / 7)]:
        m = weight_matrix(n_in, n_out, scale)
        assert m.shape == (n_out, n_in)
        np.testing.assert_allclose(m.sum(axis=1), 1.0)
    # a constant image stays constant, including at the borders
    flat = np.full((12, 15, 3), 77, np.uint8)
    np.testing.assert_allclose(imresize_bicubic(flat, 1 / 3), 77.0)
    np.testing.assert_allclose(imresize_bicubic(flat, 3), 77.0)


def test_shapes_and_dims_order():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (30, 45, 3), dtype=np.uint8)
    assert imresize_bicubic(img, 1 / 3).shape == (10, 15, 3)
    assert imresize_bicubic(img, 3).shape == (90, 135, 3)
    assert imresize_bicubic(img[..., 0], 1 / 3).shape == (10, 15)
    assert imresize_bicubic(img, (20, 9)).shape == (20, 9, 3)
    # MATLAB's scale-from-size: ceil(n * scale)
    assert imresize_bicubic(np.zeros((31, 46), np.uint8), 1 / 3).shape == (11, 16)
    # float input is resized in one float pass per dimension: separable and linear, so it equals
    # applying the two weight matrices in either order
    as_float = img.astype(np.float64)
    rows, cols = weight_matrix(30, 20, 20 / 30), weight_matrix(45, 9, 9 / 45)
    expected = np.einsum("ih,jw,hwc->ijc", rows, cols, as_float)
    np.testing.assert_allclose(imresize_bicubic(as_float, (20, 9)), expected, atol=1e-9)


def test_uint8_input_rounds_and_clamps_between_passes_like_matlab():
    # A hard edge overshoots in the first pass; MATLAB stores that pass as uint8, clipping it.
    img = np.zeros((24, 24), np.uint8)
    img[:, 12:] = 255
    img[12:, :] = 255
    from_uint8 = imresize_bicubic(img, 1 / 3)
    from_float = imresize_bicubic(img.astype(np.float64), 1 / 3)
    assert not np.array_equal(to_uint8(from_uint8), to_uint8(from_float))
    first_pass = to_uint8(np.tensordot(weight_matrix(24, 8, 1 / 3), img.astype(np.float64), axes=(1, 0)))
    second = np.tensordot(weight_matrix(24, 8, 1 / 3), first_pass.astype(np.float64), axes=(1, 1)).T
    np.testing.assert_allclose(from_uint8, second, atol=1e-9)


def test_to_uint8_rounds_half_away_from_zero_and_saturates():
    values = np.array([-3.0, 0.49, 0.5, 1.5, 2.5, 254.5, 300.0])
    assert to_uint8(values).tolist() == [0, 0, 1, 2, 3, 255, 255]


def test_rejects_bad_arguments():
    img = np.zeros((9, 9, 3), np.uint8)
    with pytest.raises(ValueError):
        imresize_bicubic(img, 0)
    with pytest.raises(ValueError):
        imresize_bicubic(img, (3,))
    with pytest.raises(ValueError):
        imresize_bicubic(np.zeros((2, 2, 2, 2)), 2)
