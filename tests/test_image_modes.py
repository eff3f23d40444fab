"""Every pixel mode Pillow knows, with known values, through the one image reader: `upscale` and `eval`
either scale it to the right 8-bit value or refuse it with a message (abpn.core.images._DECODERS)."""
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from abpn.cli import main
from abpn.core import images

SIZE = (12, 9)  # width, height
PALETTE = [0, 0, 0] * 3 + [10, 20, 30] + [0, 0, 0] * 252  # index 3 is (10, 20, 30)


def _palette_image(mode, fill):
    image = Image.new(mode, SIZE, fill)
    image.putpalette(PALETTE)
    return image


def _int32(value):
    return Image.fromarray(np.full(SIZE[::-1], value, np.int32), "I")


def _sixteen(value, mode="I;16", size=SIZE):
    # From bytes: Pillow's convert() from I;16 to the other 16-bit modes clips at 255.
    dtype = {"I;16": "<u2", "I;16L": "<u2", "I;16B": ">u2", "I;16N": "=u2"}[mode]
    return Image.frombytes(mode, size, np.full(size[::-1], value, dtype).tobytes())


# (mode as stored, how the image is made, file name, expected RGB, expected alpha) or a refusal's words.
CASES = {
    "1": (lambda: Image.new("1", SIZE, 1), "one.png", (255, 255, 255), None),
    "L": (lambda: Image.new("L", SIZE, 100), "gray.png", (100, 100, 100), None),
    "LA": (lambda: Image.new("LA", SIZE, (100, 200)), "gray_alpha.png", (100, 100, 100), 200),
    "P": (lambda: _palette_image("P", 3), "palette.png", (10, 20, 30), None),
    "PA": (lambda: _palette_image("PA", (3, 128)), "palette_alpha.tif", (10, 20, 30), 128),
    "RGB": (lambda: Image.new("RGB", SIZE, (10, 20, 30)), "rgb.png", (10, 20, 30), None),
    "RGBA": (lambda: Image.new("RGBA", SIZE, (10, 20, 30, 40)), "rgba.png", (10, 20, 30), 40),
    "CMYK": (lambda: Image.new("CMYK", SIZE, (0, 255, 255, 0)), "cmyk.tif", (255, 0, 0), None),
    "YCbCr": (lambda: Image.new("YCbCr", SIZE, (128, 128, 128)), "ycbcr.tif", (128, 128, 128), None),
    "LAB": (lambda: Image.new("LAB", SIZE, (255, 128, 128)), "lab.tif", (255, 255, 255), None),
    "I;16": (lambda: _sixteen(257 * 100), "sixteen.png", (100, 100, 100), None),
    "I;16B": (lambda: _sixteen(257 * 100, "I;16B"), "sixteen_big_endian.tif", (100, 100, 100), None),
    "I (16-bit PGM)": (lambda: _sixteen(257 * 100), "sixteen.pgm", (100, 100, 100), None),
    "I (32-bit)": (lambda: _int32(100), "int32.tif", "32-bit integer pixels", None),
    "F (0..1)": (lambda: Image.fromarray(np.full(SIZE[::-1], 0.5, np.float32)), "float01.tif",
                 "floating-point pixels", None),
    "F (0..255)": (lambda: Image.fromarray(np.full(SIZE[::-1], 128.0, np.float32)), "float255.tif",
                   "floating-point pixels", None),
    "F (PFM)": (lambda: Image.fromarray(np.full(SIZE[::-1], 0.5, np.float32)), "float.pfm", "floating-point pixels",
                None),
}
# Modes no file format hands back as they are (Pillow converts them on saving or opening): their decision
# is checked on the image itself.
IN_MEMORY = {
    "RGBX": (Image.new("RGBX", SIZE, (10, 20, 30, 0)), (10, 20, 30), None),
    # premultiplied by alpha 255: the colour survives exactly
    "RGBa": (Image.new("RGBA", SIZE, (20, 40, 60, 255)).convert("RGBa"), (20, 40, 60), 255),
    "La": (Image.new("LA", SIZE, (100, 255)).convert("La"), (100, 100, 100), 255),
    "HSV": (Image.new("HSV", SIZE, (0, 255, 255)), (255, 0, 0), None),
    "I;16L": (_sixteen(257 * 100, "I;16L"), (100, 100, 100), None),
    "I;16N": (_sixteen(257 * 100, "I;16N"), (100, 100, 100), None),
}


def test_every_mode_pillow_knows_has_one_decision():
    assert set(Image.MODES) <= set(images._DECODERS)
    # and every mode is exercised: from a file below, or in memory
    from_files = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "I;16", "I;16B", "I", "F"}
    assert set(Image.MODES) <= from_files | set(IN_MEMORY)


def _made(name, tmp):
    make, file_name, _, _ = CASES[name]
    path = tmp / file_name
    make().save(path)
    return path


@pytest.mark.parametrize("name", list(CASES))
def test_upscale_scales_or_refuses_each_mode(name, tmp_path):
    _, _, expected, alpha = CASES[name]
    src = _made(name, tmp_path)
    with Image.open(src) as opened:  # the file really holds the mode the case is about
        assert opened.mode == name.split(" ")[0] or (name == "I;16B" and opened.mode == "I;16B")
    out = tmp_path / "out.png"
    run = CliRunner().invoke(main, ["upscale", "bicubic", str(src), str(out)])
    if isinstance(expected, str):
        assert run.exit_code == 1 and expected in run.output and "8 or 16 bits" in run.output, run.output
        assert not out.exists()
        return
    assert run.exit_code == 0, run.output
    with Image.open(out) as result:
        pixels = np.asarray(result)
        assert result.size == (SIZE[0] * 3, SIZE[1] * 3)
    assert np.abs(pixels[..., :3].astype(int) - expected).max() <= (2 if name == "LAB" else 0), pixels[0, 0]
    if alpha is None:
        assert pixels.shape[2] == 3
    else:
        assert pixels.shape[2] == 4 and (pixels[..., 3] == alpha).all()


@pytest.mark.parametrize("mode", list(IN_MEMORY))
def test_modes_without_a_file_form_have_their_decision_too(mode):
    image, expected, alpha = IN_MEMORY[mode]
    assert image.mode == mode
    rgb, got_alpha = images._DECODERS[mode](image)
    assert rgb.dtype == np.uint8 and (rgb == expected).all(), rgb[0, 0]
    assert (got_alpha is None) if alpha is None else (got_alpha == alpha).all()


def _gray_photo(seed=0):
    from conftest import synthetic_photo

    return synthetic_photo(48, 48, seed=seed)[..., 1]


def _eval(folder):
    import json

    run = CliRunner().invoke(main, ["eval", "bicubic", "--hr", str(folder), "--json"])
    return run, (json.loads(run.stdout) if run.exit_code == 0 else None)


def test_eval_scores_gray_files_on_gray_whatever_their_mode(tmp_path):
    """The README: single-channel files are scored on their gray value. Gray with alpha, 16-bit gray and
    1-bit files are single-channel too, so the same picture scores the same in each."""
    gray = _gray_photo()
    variants = {
        "l.png": Image.fromarray(gray),
        "la.png": Image.fromarray(np.dstack([gray, np.full_like(gray, 255)]), "LA"),
        "i16.png": Image.fromarray(gray.astype(np.uint16) * 257),
        "i16.pgm": Image.fromarray(gray.astype(np.uint16) * 257),
    }
    scores = {}
    for name, image in variants.items():
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        image.save(folder / name)
        run, result = _eval(folder)
        assert run.exit_code == 0, run.output
        scores[name] = result["mean"]
    assert all(score == scores["l.png"] for score in scores.values()), scores
    # and a colour copy of the picture is not scored on gray: the convention differs, so does the score
    folder = tmp_path / "rgb"
    folder.mkdir()
    Image.fromarray(np.dstack([gray] * 3)).save(folder / "rgb.png")
    assert _eval(folder)[1]["mean"]["psnr_y"] != scores["l.png"]["psnr_y"]


@pytest.mark.parametrize("name", [n for n, case in CASES.items() if isinstance(case[2], str)])
def test_eval_refuses_modes_without_a_white_level(name, tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    make, file_name, words, _ = CASES[name]
    Image.fromarray(np.asarray(make()).repeat(6, axis=0).repeat(6, axis=1)).save(folder / file_name)
    run, _ = _eval(folder)
    assert run.exit_code == 1 and words in run.output and file_name in run.output, run.output


@pytest.mark.parametrize("name", [n for n, case in CASES.items() if not isinstance(case[2], str)])
def test_eval_reads_every_other_mode(name, tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    make, file_name, _, _ = CASES[name]
    small = make()
    big_size = (SIZE[0] * 4, SIZE[1] * 4)
    big = _sixteen(257 * 100, "I;16B", big_size) if small.mode == "I;16B" else small.resize(big_size, Image.NEAREST)
    if small.mode in ("P", "PA"):
        big.putpalette(PALETTE)
    big.save(folder / file_name)
    run, result = _eval(folder)
    assert run.exit_code == 0, run.output
    assert result["images"][0]["hr"] == file_name
