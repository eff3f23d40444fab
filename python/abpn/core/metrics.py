"""Image quality metrics with the conventions of the published SR tables, in BasicSR's style:
`calculate_psnr(img, img2, crop_border, test_y_channel)` and the same for SSIM, both computed by
scikit-image on uint8-valued images.

Two conventions are in use and `evaluate` reports both (`quality`):
- RGB, 1-pixel border crop: the DIV2K / Mobile AI 2021 challenge numbers (ABPN's 30.15 dB).
- Y of ITU-R BT.601 (16-235), border crop equal to the scale: the Set5/Set14/B100 tables.

SSIM follows Wang et al. 2004 as the tables compute it (MATLAB `ssim_index`): an 11x11 Gaussian
window with sigma 1.5, K1=0.01, K2=0.03, L=255, population covariance, mean over the positions
where the window fits; RGB is the mean over channels.
"""
import numpy as np

PEAK = 255.0
SSIM_WINDOW = 11  # skimage's Gaussian window for sigma 1.5 (truncated at 3.5 sigma)
_SSIM_SIGMA = 1.5


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


def _prepared(img, img2, crop_border, test_y_channel):
    img = np.asarray(img, dtype=np.float64)
    img2 = np.asarray(img2, dtype=np.float64)
    if img.shape != img2.shape:
        raise ValueError(f"image shapes differ: {img.shape} vs {img2.shape}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be at least 0, got {crop_border}")
    if img.shape[0] <= 2 * crop_border or img.shape[1] <= 2 * crop_border:
        raise ValueError(f"image {img.shape[0]}x{img.shape[1]} is too small to crop {crop_border} pixels per border")
    if test_y_channel:
        img, img2 = rgb_to_y(img), rgb_to_y(img2)
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border]
    return img, img2


def calculate_psnr(img, img2, crop_border, test_y_channel=False):
    """PSNR in dB of two 0..255 images (HxW or HxWx3) after dropping `crop_border` pixels on every
    side, on the BT.601 Y channel when `test_y_channel`; inf for identical images."""
    from skimage.metrics import peak_signal_noise_ratio

    img, img2 = _prepared(img, img2, crop_border, test_y_channel)
    if np.array_equal(img, img2):
        return float("inf")
    return float(peak_signal_noise_ratio(img2, img, data_range=PEAK))


def calculate_ssim(img, img2, crop_border, test_y_channel=False):
    """Mean SSIM (the tables' Gaussian SSIM), cropped and converted like `calculate_psnr`; for
    HxWx3 the mean over channels."""
    from skimage.metrics import structural_similarity

    img, img2 = _prepared(img, img2, crop_border, test_y_channel)
    if min(img.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after the border crop, got "
                         f"{img.shape[0]}x{img.shape[1]}")
    return float(structural_similarity(
        img, img2, data_range=PEAK, gaussian_weights=True, sigma=_SSIM_SIGMA, use_sample_covariance=False,
        channel_axis=2 if img.ndim == 3 else None,
    ))


def min_size(scale):
    """The smallest height and width `quality` can score: the Y crop on both sides plus the SSIM window."""
    return 2 * scale + SSIM_WINDOW


def quality(sr, hr, scale, gray=False):
    """The four numbers `evaluate` reports for one uint8 SR/HR pair of equal size.

    `gray` says the HR file is single-channel (Set14's bridge): the published tables feed such
    images to the metric as they are, so they are compared on gray values rather than 16-235 Y
    (bicubic on bridge: 24.40 dB rather than 25.72). An RGB file with equal channels (Set14's man)
    still goes through Y, as in the tables."""
    if gray:
        luma = (gray_value(sr), gray_value(hr))
        y = {"psnr_y": calculate_psnr(*luma, crop_border=scale), "ssim_y": calculate_ssim(*luma, crop_border=scale)}
    else:
        y = {"psnr_y": calculate_psnr(sr, hr, scale, test_y_channel=True),
             "ssim_y": calculate_ssim(sr, hr, scale, test_y_channel=True)}
    return {
        "psnr_rgb": calculate_psnr(sr, hr, crop_border=1),
        "ssim_rgb": calculate_ssim(sr, hr, crop_border=1),
        **y,
    }
