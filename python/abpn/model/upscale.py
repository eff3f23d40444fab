"""`abpn-tool upscale`: an image file in, its x3 version out, through abpn.model.inference.

Everything that can fail is checked before the upscale, which can take minutes: the output path
(exists, writable, a format that holds the result), the input's size, the model.
"""
from pathlib import Path

from abpn import SCALE
from abpn.errors import AbpnError

# 16 MP in (a 4616x3464 phone photo), 144 MP out: about 0.5 GB for the output and its PNG encoding.
# A larger input needs a stated --max-megapixels.
DEFAULT_MAX_MEGAPIXELS = 16.0


def default_output_path(src):
    src = Path(src)
    return src.with_name(f"{src.stem}_x{SCALE}.png")


def check_input_size(src, max_megapixels=DEFAULT_MAX_MEGAPIXELS):
    """Refuses, from the header alone, an image whose x3 result would not fit the memory budget."""
    from abpn.core.images import image_size

    height, width = image_size(src)
    megapixels = height * width / 1e6
    if megapixels > max_megapixels:
        out_gb = height * width * SCALE * SCALE * 3 / 1e9
        raise AbpnError(
            f"{src} is {width}x{height} ({megapixels:.1f} MP): its x{SCALE} result ({width * SCALE}x{height * SCALE}) "
            f"needs about {2 * out_gb:.1f} GB of memory, over the {max_megapixels:g} MP limit. Crop or downscale it, "
            f"or raise the limit with --max-megapixels {int(megapixels) + 1}."
        )
    return height, width


def upscale_file(model, src, dst=None, threads=None, overwrite=False, progress=True,
                 max_megapixels=DEFAULT_MAX_MEGAPIXELS):
    """Upscales the image file `src` into `dst` (default `<src stem>_x3.png`); returns dst."""
    from abpn.core.files import check_output_path
    from abpn.core.images import output_format, read_rgb_alpha, write_image
    from abpn.model.inference import load_upscaler

    src = Path(src)
    dst = Path(dst) if dst is not None else default_output_path(src)
    if dst.exists() and dst.resolve() == src.resolve():
        raise AbpnError(f"{dst} is the input image; give another output path.")
    if dst.exists() and not overwrite:
        raise AbpnError(f"{dst} already exists; pass --overwrite or give another output path.")
    output_format(dst)
    check_output_path(dst)
    check_input_size(src, max_megapixels)
    rgb, alpha = read_rgb_alpha(src)
    output_format(dst, alpha is not None)
    upscaler = load_upscaler(model, threads=threads)
    sr, sr_alpha = upscaler.upscale_rgba(rgb, alpha, progress=progress)
    write_image(dst, sr, sr_alpha)
    return dst
