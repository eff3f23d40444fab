"""Reading and writing image files: the one place that turns files into uint8 RGB arrays and back.

Every reader in the package (training data, eval, upscale, the host benchmark's photo) goes
through `read_rgb` / `read_rgb_alpha`, so a file decodes the same way everywhere: EXIF orientation
applied, palette and grayscale expanded to RGB, 16-bit scaled to 8 bits, and a truncated file is
an error rather than a silently grey bottom. No TensorFlow here.
"""
import contextlib
import io
import struct
from pathlib import Path

import numpy as np

from abpn.core.files import write_atomically
from abpn.errors import AbpnError

READ_FORMATS = "PNG, JPEG, BMP, WebP or TIFF"
_SINGLE_CHANNEL_MODES = ("1", "L", "I", "I;16", "I;16B", "I;16L", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


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


def _deep_to_uint8(arr):
    """16-bit (or 32-bit integer) gray → 8 bits: 0..65535 onto 0..255, rounded like MATLAB."""
    from abpn.core.imresize import to_uint8

    return to_uint8(np.asarray(arr, dtype=np.float64) / 257.0)


def _decode(path, what_to_do):
    """(rgb, alpha or None) of the image file at `path`."""
    from PIL import Image, ImageOps

    path = Path(path)
    advice = f" {what_to_do}" if what_to_do else ""
    try:
        with _strict_decoding(), Image.open(path) as im:
            im.load()  # the full decode now, so that truncation is detected here
            im = ImageOps.exif_transpose(im)
            if im.mode.startswith("I") or im.mode == "F":
                gray = _deep_to_uint8(np.asarray(im))
                return np.repeat(gray[..., None], 3, axis=2), None
            if im.mode in _ALPHA_MODES or "transparency" in im.info:
                rgba = np.asarray(im.convert("RGBA"))
                return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), None
    except FileNotFoundError:
        raise AbpnError(f"image not found: {path}.{advice}") from None
    except Image.DecompressionBombError as error:
        raise AbpnError(f"{path} has more pixels than this tool reads ({error}); crop or downscale it "
                        f"first.{advice}") from error
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
        raise AbpnError(f"cannot decode image {path} (truncated, corrupt or not an image: {error}); use "
                        f"{READ_FORMATS}, or replace the file.{advice}") from error


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
        raise AbpnError(f"cannot decode image {path} ({error}); use {READ_FORMATS}.") from error
    # EXIF orientations 5..8 turn the image by 90 degrees.
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def is_single_channel(path):
    """Whether the file stores one channel (header only): such images are scored on their gray
    value, as the published tables do."""
    from PIL import Image

    with Image.open(path) as im:
        return im.mode in _SINGLE_CHANNEL_MODES


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
