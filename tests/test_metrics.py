import math

import numpy as np
import pytest

from abpn.core.imresize import imresize_bicubic, to_uint8
from abpn.core.metrics import calculate_psnr, calculate_ssim, gray_value, min_size, quality, rgb_to_y


def _bicubic_pair():
    """A real photo crop and its bicubic x3 round trip: the kind of pair eval scores."""
    from skimage import data

    hr = np.ascontiguousarray(data.astronaut()[120:168, 150:210])  # 48x60
    return to_uint8(imresize_bicubic(to_uint8(imresize_bicubic(hr, 1 / 3)), 3)), hr


def test_quality_numbers_are_the_tables_numbers():
    """Pinned values: the metrics moved to scikit-image without changing any reported number."""
    sr, hr = _bicubic_pair()
    assert quality(sr, hr, 3) == pytest.approx({
        "psnr_rgb": 28.26359532996586, "ssim_rgb": 0.8592299074062192,
        "psnr_y": 29.577387482600606, "ssim_y": 0.8806842893648629}, rel=1e-9)
    assert quality(sr, hr, 3, gray=True) == pytest.approx({
        "psnr_rgb": 28.26359532996586, "ssim_rgb": 0.8592299074062192,
        "psnr_y": 28.25546617072387, "ssim_y": 0.8626617405105413}, rel=1e-9)


def test_psnr_of_a_known_error():
    a = np.full((20, 30, 3), 100, np.uint8)
    assert calculate_psnr(a, a, crop_border=0) == math.inf
    assert calculate_psnr(a, a + 1, crop_border=0) == pytest.approx(20 * math.log10(255), abs=1e-12)  # MSE 1
    b = a.copy()
    b[0] = 0  # an error only in the first row: the crop removes it
    assert calculate_psnr(a, b, crop_border=1) == math.inf
    assert calculate_psnr(a, b, crop_border=0) < 30


def test_test_y_channel_scores_luma_only():
    a = np.full((20, 20, 3), 100, np.uint8)
    b = a.copy()
    b[..., 2] = 101  # blue weighs 24.966/255 in Y: MSE (24.966/255)^2
    expected = 10 * math.log10(255**2 / (24.966 / 255) ** 2)
    assert calculate_psnr(a, b, crop_border=3, test_y_channel=True) == pytest.approx(expected, abs=1e-9)
    assert calculate_psnr(a, b, crop_border=3) == pytest.approx(10 * math.log10(255**2 * 3), abs=1e-9)


def test_rgb_to_y_is_bt601_studio_range():
    img = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    assert rgb_to_y(img)[0] == pytest.approx([16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966])
    assert gray_value(np.full((2, 2, 3), 77, np.uint8)) == pytest.approx(np.full((2, 2), 77.0))


def test_ssim_is_one_for_equal_images_and_the_channel_mean_for_colour():
    sr, hr = _bicubic_pair()
    assert calculate_ssim(hr, hr, crop_border=1) == pytest.approx(1.0)
    per_channel = [calculate_ssim(sr[..., c], hr[..., c], crop_border=1) for c in range(3)]
    assert calculate_ssim(sr, hr, crop_border=1) == pytest.approx(np.mean(per_channel), abs=1e-12)
    assert calculate_ssim(sr, hr, crop_border=3, test_y_channel=True) < 1


def test_sizes_the_metrics_cannot_score_are_clear_errors():
    img = np.zeros((min_size(3), min_size(3), 3), np.uint8)
    assert quality(img, img, 3)["psnr_y"] == math.inf  # the smallest scorable size works
    small = img[:-1]
    with pytest.raises(ValueError, match="SSIM needs at least 11x11 pixels after the border crop, got 10x11"):
        quality(small, small, 3)
    with pytest.raises(ValueError, match="too small to crop 3 pixels"):
        calculate_psnr(img[:6], img[:6], crop_border=3)
    with pytest.raises(ValueError, match="shapes differ"):
        calculate_psnr(img, img[1:], crop_border=0)
