import math

import numpy as np
import pytest
from skimage.filters import gaussian
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from abpn.core.metrics import gray_value, psnr, quality, rgb_to_y, shave, ssim


def _photo_pair(rng, shape):
    # Smooth structure plus noise: SSIM on pure noise would hide mistakes in the means.
    base = gaussian(rng.uniform(0, 255, shape), sigma=3, channel_axis=2 if len(shape) == 3 else None)
    base = (base - base.min()) / (base.max() - base.min()) * 255
    noisy = np.clip(base + rng.normal(0, 12, shape), 0, 255)
    return np.round(base).astype(np.uint8), np.round(noisy).astype(np.uint8)


def test_psnr_known_values(rng):
    a = rng.integers(0, 255, (20, 30, 3)).astype(np.uint8)
    assert psnr(a, a) == math.inf
    assert psnr(a, a + 1) == pytest.approx(20 * math.log10(255), abs=1e-12)  # MSE 1: 48.13 dB
    b = rng.integers(0, 256, a.shape).astype(np.uint8)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)
    with pytest.raises(ValueError):
        psnr(a, a[1:])


def test_rgb_to_y_is_bt601_studio_range():
    img = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    assert rgb_to_y(img)[0] == pytest.approx([16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966])
    assert gray_value(np.full((2, 2, 3), 77, np.uint8)) == pytest.approx(np.full((2, 2), 77.0))


def test_shave_crops_every_border():
    img = np.arange(10 * 12).reshape(10, 12)
    assert np.array_equal(shave(img, 3), img[3:7, 3:9])
    assert shave(img, 0) is img
    with pytest.raises(ValueError):
        shave(img, 5)


@pytest.mark.parametrize("shape", [(40, 57), (64, 64), (11, 30)])
def test_ssim_matches_skimage_gaussian_population_covariance(rng, shape):
    a, b = _photo_pair(rng, shape)
    expected = structural_similarity(
        a.astype(np.float64), b.astype(np.float64), gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255,
    )
    assert ssim(a, b) == pytest.approx(expected, abs=1e-9)
    assert ssim(a, a) == pytest.approx(1.0)


def test_ssim_of_colour_images_is_the_channel_mean(rng):
    a, b = _photo_pair(rng, (30, 40, 3))
    expected = structural_similarity(
        a.astype(np.float64), b.astype(np.float64), gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=255, channel_axis=2,
    )
    assert ssim(a, b) == pytest.approx(expected, abs=1e-9)
    with pytest.raises(ValueError):
        ssim(a[:10], b[:10])


def test_quality_uses_both_conventions(rng):
    hr, sr = _photo_pair(rng, (48, 60, 3))
    scores = quality(sr, hr, 3)
    assert scores["psnr_rgb"] == pytest.approx(psnr(sr[1:-1, 1:-1], hr[1:-1, 1:-1]))
    assert scores["psnr_y"] == pytest.approx(psnr(rgb_to_y(sr)[3:-3, 3:-3], rgb_to_y(hr)[3:-3, 3:-3]))
    assert scores["ssim_y"] == pytest.approx(ssim(rgb_to_y(sr)[3:-3, 3:-3], rgb_to_y(hr)[3:-3, 3:-3]))
    # Y compresses 0..255 into 16..235, so the same error reads higher than on gray values.
    gray = quality(sr, hr, 3, gray=True)
    assert gray["psnr_y"] == pytest.approx(psnr(gray_value(sr)[3:-3, 3:-3], gray_value(hr)[3:-3, 3:-3]))
    assert gray["psnr_y"] < scores["psnr_y"]
