"""Image quality metrics with the conventions of the published SR tables.

Two conventions are in use and `evaluate` reports both:
- RGB, 1-pixel border crop: the DIV2K / Mobile AI 2021 challenge numbers (ABPN's 30.15 dB).
- Y of ITU-R BT.601 (16-235), border crop equal to the scale: the Set5/Set14/B100 tables.

SSIM follows Wang et al. 2004 as the tables compute it (MATLAB `ssim_index`): an 11x11 Gaussian
window with sigma 1.5, K1=0.01, K2=0.03, L=255, 'valid' filtering, mean of the SSIM map.
"""
import numpy as np

PEAK = 255.0
_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03


def shave(img, border):
    """Drops `border` pixels on every side (the tables' border crop)."""
    if border == 0:
        return img
    if img.shape[0] <= 2 * border or img.shape[1] <= 2 * border:
        raise ValueError(f"image {img.shape[0]}x{img.shape[1]} is too small to crop {border} pixels per border")
    return img[border:-border, border:-border]


def rgb_to_y(img):
    """BT.601 luma in the 16..235 range from 0..255 RGB (MATLAB's rgb2ycbcr), as float64, unrounded."""
    rgb = np.asarray(img, dtype=np.float64)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    return 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0


def gray_value(img):
    """Full-range BT.601 luma (0..255): the gray value itself for a grayscale image."""
    rgb = np.asarray(img, dtype=np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def psnr(a, b, peak=PEAK):
    """PSNR in dB over all pixels and channels; inf for identical images."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak * peak / mse))


def _gaussian_1d():
    x = np.arange(_SSIM_WINDOW, dtype=np.float64) - (_SSIM_WINDOW - 1) / 2
    w = np.exp(-(x * x) / (2 * _SSIM_SIGMA**2))
    return w / w.sum()


def _filter_valid(img, w):
    # The 2D Gaussian is separable; 'valid' keeps only positions where the window fits entirely.
    windows = np.lib.stride_tricks.sliding_window_view
    return windows(windows(img, len(w), axis=0) @ w, len(w), axis=1) @ w


def ssim(a, b, peak=PEAK):
    """Mean SSIM of two single-channel images (HxW), or the mean over channels for HxWxC."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.ndim == 3:
        return float(np.mean([ssim(a[..., c], b[..., c], peak) for c in range(a.shape[2])]))
    if min(a.shape) < _SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {_SSIM_WINDOW}x{_SSIM_WINDOW}, got {a.shape}")
    w = _gaussian_1d()
    c1, c2 = (_K1 * peak) ** 2, (_K2 * peak) ** 2
    mu_a, mu_b = _filter_valid(a, w), _filter_valid(b, w)
    var_a = _filter_valid(a * a, w) - mu_a * mu_a
    var_b = _filter_valid(b * b, w) - mu_b * mu_b
    cov = _filter_valid(a * b, w) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def quality(sr, hr, scale, gray=False):
    """The four numbers `evaluate` reports for one uint8 SR/HR pair of equal size.

    `gray` says the HR file is single-channel (Set14's bridge): the published tables feed such
    images to the metric as they are, so they are compared on gray values rather than 16-235 Y
    (bicubic on bridge: 24.40 dB rather than 25.72). An RGB file with equal channels (Set14's man)
    still goes through Y, as in the tables."""
    sr = np.asarray(sr)
    hr = np.asarray(hr)
    luma = gray_value if gray else rgb_to_y
    sr_y, hr_y = shave(luma(sr), scale), shave(luma(hr), scale)
    sr_rgb, hr_rgb = shave(sr, 1), shave(hr, 1)
    return {
        "psnr_rgb": psnr(sr_rgb, hr_rgb),
        "ssim_rgb": ssim(sr_rgb, hr_rgb),
        "psnr_y": psnr(sr_y, hr_y),
        "ssim_y": ssim(sr_y, hr_y),
    }
