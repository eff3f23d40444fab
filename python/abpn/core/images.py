"""Reading and writing image files: the one place that turns files into uint8 RGB arrays and back.

Every reader in the package (training data, eval, upscale, the host benchmark's photo) goes
through `read_rgb` / `read_rgb_alpha`, so a file decodes the same way everywhere: EXIF orientation
applied, one decision per pixel mode (_DECODERS: palette and grayscale expanded to RGB, 16-bit scaled
to 8 bits, modes without a defined white level refused), and a truncated file is an error rather
than a silently grey bottom. No TensorFlow here.
"""
import contextlib
import io
import struct
from pathlib import Path

import numpy as np

from abpn.core.files import write_atomically
from abpn.errors import AbpnError

READ_FORMATS = "PNG, JPEG, BMP, WebP, TIFF or PPM/PGM"
# The files the folder readers (training data, eval) pick up: the formats of READ_FORMATS (a float .pfm is
# picked up to be refused with the reason, not passed over in silence).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pfm")
# Formats whose integer pixels are at most 16 bits: Pillow opens their 16-bit gray as mode "I", scaled to
# 0..65535 (PPM scales by the file's maxval).
_AT_MOST_16_BIT = ("PNG", "PPM")


@contextlib.contextmanager
def _strict_decoding():
    # A truncated file must fail loudly; some libraries flip this global on for convenience.
    from PIL import ImageFile

    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _sixteen_bit(im):
    """16-bit gray, 0..65535 onto 0..255 (v / 257, rounded like MATLAB)."""
    from abpn.core.imresize import to_uint8

    gray = to_uint8(np.asarray(im, dtype=np.float64) / 257.0)
    return np.repeat(gray[..., None], 3, axis=2), None


def _via(mode):
    """Pillow's own conversion to RGB (or RGBA when the image has transparency)."""
    def convert(im):
        if mode == "RGBA" or "transparency" in im.info:
            rgba = np.asarray(im.convert("RGBA"))
            return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), None
    return convert


def _gray_alpha(im):
    la = np.asarray(im.convert("LA"))
    return np.repeat(la[..., :1], 3, axis=2), np.ascontiguousarray(la[..., 1])


def _integer(im):
    if im.format in _AT_MOST_16_BIT:
        return _sixteen_bit(im)
    raise _Refused("32-bit integer pixels, which have no defined white level; save it with 8 or 16 bits per "
                   "channel")


def _refuse_float(im):
    raise _Refused("32-bit floating-point pixels, whose white level (1.0 or 255) the file does not state; save "
                   "it with 8 or 16 bits per channel")


class _Refused(Exception):
    pass


# One decision per mode Pillow can open (Pillow's "Modes" in its concepts documentation): scaled to 8-bit
# RGB (and alpha), or refused with the reason. GRAY_MODES are scored on their gray value by eval.
_DECODERS = {
    "1": _via("RGB"), "L": _via("RGB"), "P": _via("RGB"), "RGB": _via("RGB"), "RGBX": _via("RGB"),
    "CMYK": _via("RGB"),  # Pillow's conversion, without the file's colour profile
    "YCbCr": _via("RGB"), "LAB": _via("RGB"), "HSV": _via("RGB"),
    "RGBA": _via("RGBA"), "RGBa": _via("RGBA"), "PA": _via("RGBA"),
    "LA": _gray_alpha, "La": _gray_alpha,
    "I;16": _sixteen_bit, "I;16L": _sixteen_bit, "I;16B": _sixteen_bit, "I;16N": _sixteen_bit,
    "I": _integer, "F": _refuse_float,
}
GRAY_MODES = ("1", "L", "LA", "La", "I;16", "I;16L", "I;16B", "I;16N", "I")


def _decode(path, what_to_do):
    """(rgb, alpha or None) of the image file at `path`."""
    from PIL import Image, ImageOps

    path = Path(path)
    advice = f" {what_to_do}" if what_to_do else ""
    try:
        with _strict_decoding(), Image.open(path) as im:
            im.load()  # the full decode now, so that truncation is detected here
            fmt = im.format
            im = ImageOps.exif_transpose(im)
            im.format = fmt  # exif_transpose returns a copy without it
            decoder = _DECODERS.get(im.mode)
            if decoder is None:
                raise _Refused(f"pixels of mode {im.mode}, which this tool does not read")
            return decoder(im)
    except _Refused as refusal:
        raise AbpnError(f"cannot use {path}: it has {refusal}.{advice}") from None
    except FileNotFoundError:
        raise AbpnError(f"image not found: {path}.{advice}") from None
    except Image.DecompressionBombError as error:
        raise AbpnError(f"{path} has more pixels than this tool reads ({error}); crop or downscale it "
                        f"first.{advice}") from error
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        raise _undecodable(path, error, advice) from error


def _undecodable(path, error, advice=""):
    return AbpnError(f"cannot decode image {path} (truncated, corrupt or not an image: {error}); use "
                     f"{READ_FORMATS}, or replace the file.{advice}")


def read_rgb(path, what_to_do=None):
    """uint8 HxWx3 RGB; alpha is dropped. `what_to_do` is added to the error message (e.g. how
    to skip the file)."""
    return _decode(path, what_to_do)[0]


def read_rgb_alpha(path, what_to_do=None):
    """(uint8 HxWx3 RGB, uint8 HxW alpha or None)."""
    return _decode(path, what_to_do)


def image_size(path):
    """(height, width) from the header only: size limits are checked before decoding."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Only the header is read; the caller's own limit decides, not PIL's bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                orientation = im.getexif().get(0x0112, 1)
    except FileNotFoundError:
        raise AbpnError(f"image not found: {path}") from None
    except Image.DecompressionBombError as error:
        raise AbpnError(f"{path} has more pixels than this tool reads ({error}); crop or downscale it first.") from error
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        raise _undecodable(path, error) from error
    # EXIF orientations 5..8 turn the image by 90 degrees.
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def is_single_channel(path):
    """Whether the file stores one channel (header only): such images are scored on their gray
    value, as the published tables do."""
    from PIL import Image

    with Image.open(path) as im:
        return im.mode in GRAY_MODES


def output_format(path, with_alpha=False):
    """PIL's format name for `path`'s extension; raises AbpnError when the extension is unknown or
    the format cannot hold the image. Called before long work, not when saving."""
    from PIL import Image

    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise AbpnError(f"{path}: unknown image extension {path.suffix!r}; use .png, .jpg, .webp, .bmp or .tiff.")
    probe = Image.new("RGBA" if with_alpha else "RGB", (1, 1))
    try:
        probe.save(io.BytesIO(), format=fmt)
    except (OSError, KeyError, ValueError) as error:
        what = "an image with an alpha channel" if with_alpha else "an RGB image"
        raise AbpnError(f"{path}: the {fmt} format cannot store {what} ({error}); use .png.") from error
    return fmt


def write_image(path, rgb, alpha=None):
    """Writes uint8 RGB (and alpha) in the format of `path`'s extension, atomically."""
    from PIL import Image

    path = Path(path)
    fmt = output_format(path, alpha is not None)
    if not path.parent.is_dir():
        raise AbpnError(f"cannot write {path}: folder {path.parent} does not exist; create it or give another "
                        "output path.")
    pixels = rgb if alpha is None else np.dstack([rgb, alpha])
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    return write_atomically(path, write=lambda file: image.save(file, format=fmt))
