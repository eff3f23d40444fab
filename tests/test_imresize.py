"""MATLAB-compatible bicubic: pinned to MATLAB output copied from the published x3 LR inputs (runs in
any clone), and checked against every published Set5/Set14/B100 x3 LR file when ../shared is present."""
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


# The red channel of Set5's butterfly (MATLAB's own imresize output: img_003_SRF_3_LR.png of the
# published x3 set, whose 85x85 pixels this implementation reproduces exactly). An output pixel of
# a 1/3 resize reads 16 input pixels around it, so the 4x4 LR corner is fixed by the 18x18 HR corner
# alone, and those pixels are where MATLAB's edge clamping shows.
TOP_LEFT_HR = [
    [ 42,  58,  85,  98, 115, 120, 124, 124, 126, 128, 131, 130, 134, 137, 133, 133, 133, 131],
    [ 41,  47,  54,  72,  96, 106, 113, 123, 131, 133, 131, 134, 137, 133, 132, 133, 133, 134],
    [ 80,  52,  42,  42,  59,  70,  97, 114, 126, 136, 134, 136, 137, 133, 133, 134, 132, 132],
    [225, 136,  38,  35,  37,  62,  89,  97, 119, 136, 138, 134, 134, 137, 137, 132, 131, 131],
    [108,  99,  44,  27,  33,  53,  78,  97, 127, 133, 137, 140, 136, 132, 134, 129, 130, 136],
    [ 30,  33,  37,  35,  33,  35,  46,  90, 136, 134, 134, 128, 118, 119, 136, 134, 136, 134],
    [ 37,  37,  38,  33,  34,  34,  46,  74, 115, 137, 125, 103,  87,  99, 127, 136, 132, 128],
    [ 45,  42,  42,  37,  34,  34,  50,  98,  99, 102,  90,  64,  59,  91, 126, 127, 122, 116],
    [ 51,  40,  38,  37,  40,  40,  40,  66,  73,  53,  57,  41,  50,  92, 115, 117,  99,  91],
    [ 44,  42,  43,  41,  44,  45,  42,  49,  48,  41,  41,  38,  50,  94, 107,  90,  72,  78],
    [ 42,  49,  46,  38,  46,  60, 107,  86,  44,  38,  37,  36,  60,  98,  82,  59,  60,  68],
    [ 51,  50,  40,  40,  44,  98, 238, 176,  47,  39,  37,  42,  59,  85,  60,  43,  68, 151],
    [ 58,  46,  39,  42,  47, 152, 251, 195,  54,  36,  39,  42,  50,  62,  44,  37, 102, 238],
    [ 48,  42,  46,  47,  68, 205, 251, 192,  55,  39,  39,  38,  46,  45,  39,  40,  65, 166],
    [ 42,  38,  47,  48, 113, 239, 245, 160,  45,  38,  38,  37,  37,  37,  37,  39,  46, 126],
    [ 45,  42,  50,  52, 170, 250, 239, 117,  42,  40,  44,  40,  36,  42,  40,  41,  47, 107],
    [ 44,  42,  47,  50, 176, 251, 215,  83,  44,  38,  42,  80, 119,  59,  36,  36,  44,  91],
    [ 46,  44,  47,  44, 106, 229, 170,  53,  45,  41,  44, 106, 124,  51,  37,  37,  42,  88],
]
BOTTOM_RIGHT_HR = [
    [142, 139, 139, 139, 139, 139, 139, 138, 139, 141, 139, 142, 143, 145, 148, 146, 147, 149],
    [142, 143, 141, 139, 140, 140, 139, 139, 139, 137, 137, 138, 139, 142, 142, 146, 145, 145],
    [145, 143, 145, 144, 141, 141, 139, 139, 139, 139, 138, 139, 141, 141, 141, 145, 146, 143],
    [145, 148, 145, 144, 144, 144, 139, 141, 139, 140, 139, 139, 139, 143, 142, 142, 141, 141],
    [147, 148, 147, 147, 147, 147, 144, 144, 143, 143, 140, 141, 142, 145, 140, 143, 140, 144],
    [150, 147, 145, 149, 147, 146, 148, 148, 145, 145, 142, 147, 143, 143, 143, 145, 143, 143],
    [152, 152, 152, 152, 151, 151, 152, 152, 148, 146, 147, 148, 145, 145, 144, 144, 143, 145],
    [154, 155, 155, 153, 154, 154, 151, 150, 149, 149, 147, 146, 145, 144, 147, 146, 145, 144],
    [156, 153, 153, 153, 155, 155, 151, 150, 151, 152, 149, 147, 145, 146, 149, 150, 146, 144],
    [156, 156, 155, 158, 154, 156, 155, 155, 152, 151, 149, 150, 145, 149, 147, 147, 148, 146],
    [156, 157, 158, 158, 155, 154, 156, 157, 152, 151, 153, 151, 150, 152, 149, 150, 146, 146],
    [160, 158, 155, 160, 161, 158, 155, 155, 154, 154, 156, 154, 152, 152, 150, 147, 152, 150],
    [161, 162, 160, 163, 160, 162, 158, 158, 155, 158, 158, 155, 154, 155, 152, 152, 151, 149],
    [160, 164, 163, 164, 161, 162, 162, 159, 158, 158, 157, 155, 154, 154, 153, 152, 149, 147],
    [161, 164, 165, 164, 163, 161, 162, 159, 160, 161, 158, 155, 156, 153, 153, 152, 145, 150],
    [164, 167, 165, 164, 164, 164, 163, 163, 164, 161, 155, 160, 158, 157, 151, 152, 149, 150],
    [165, 167, 163, 164, 166, 165, 163, 164, 164, 162, 157, 160, 158, 159, 153, 152, 151, 151],
    [164, 163, 161, 166, 165, 165, 163, 163, 162, 162, 158, 156, 154, 157, 154, 151, 152, 150],
]
TOP_LEFT_LR = [[64, 85, 120, 134], [76, 35, 98, 138], [38, 33, 69, 85], [44, 57, 91, 36]]
BOTTOM_RIGHT_LR = [[151, 147, 146, 145], [154, 152, 150, 148], [160, 157, 154, 150], [163, 159, 156, 151]]


def test_corners_match_matlab_clamping():
    top_left = to_uint8(imresize_bicubic(np.array(TOP_LEFT_HR, np.uint8), 1 / 3))[:4, :4]
    bottom_right = to_uint8(imresize_bicubic(np.array(BOTTOM_RIGHT_HR, np.uint8), 1 / 3))[-4:, -4:]
    assert top_left.tolist() == TOP_LEFT_LR
    assert bottom_right.tolist() == BOTTOM_RIGHT_LR


def test_mirrored_borders_would_miss_the_matlab_corners():
    """The pinned corners tell clamping from mirroring, the mistake several Python ports make."""
    def mirrored(patch):
        padded = np.pad(np.array(patch, np.uint8), 12, mode="symmetric")  # 12 = 4 LR pixels
        return to_uint8(imresize_bicubic(padded, 1 / 3))[4:-4, 4:-4]

    assert mirrored(TOP_LEFT_HR)[:4, :4].tolist() != TOP_LEFT_LR
    assert mirrored(BOTTOM_RIGHT_HR)[-4:, -4:].tolist() != BOTTOM_RIGHT_LR


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
