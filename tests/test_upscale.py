import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from abpn.cli import main
from abpn.errors import AbpnError
from abpn.core.images import read_rgb_alpha as read_image, write_image
from abpn.model.inference import load_upscaler
from abpn.model.upscale import default_output_path, upscale_file
from conftest import TEST_TILE_HW


def _photo(h, w):
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100 : 100 + h, 80 : 80 + w])


def test_keras_checkpoints_match_the_tflite_model(float_keras_model, float_tflite_dynamic, tmp_path, rng):
    lr = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    expected = load_upscaler(float_tflite_dynamic)(lr)
    float_keras_model.save(tmp_path / "best.keras")
    float_keras_model.save_weights(tmp_path / "abpn.weights.h5")
    for model in (tmp_path / "best.keras", tmp_path / "abpn.weights.h5", tmp_path):
        sr = load_upscaler(model)(lr)
        assert sr.shape == (60, 90, 3) and sr.dtype == np.uint8
        # Keras and TFLite sum in different orders; rounding may land one level apart.
        assert np.abs(sr.astype(int) - expected).max() <= 1, model


def test_bicubic_baseline_is_matlab_imresize():
    from abpn.core.imresize import imresize_bicubic, to_uint8

    lr = _photo(21, 33)
    upscaler = load_upscaler("bicubic")
    assert np.array_equal(upscaler(lr), to_uint8(imresize_bicubic(lr, 3)))


def test_alpha_is_upscaled_separately_and_kept(float_tflite_fixed, tmp_path, rng):
    rgb = _photo(40, 70)
    alpha = np.zeros((40, 70), np.uint8)
    alpha[10:30, 20:50] = 255
    src = tmp_path / "in.png"
    Image.fromarray(np.dstack([rgb, alpha])).save(src)
    out = upscale_file(float_tflite_fixed, src, progress=False)
    assert out == tmp_path / "in_x3.png"
    with Image.open(out) as im:
        assert im.mode == "RGBA" and im.size == (210, 120)
        result = np.asarray(im)
    upscaler = load_upscaler(float_tflite_fixed)
    assert np.array_equal(result[..., :3], upscaler(rgb))
    assert np.array_equal(result[..., 3], upscaler(np.repeat(alpha[..., None], 3, axis=2))[..., 0])


def test_exif_orientation_is_applied(float_tflite_dynamic, tmp_path):
    src = tmp_path / "portrait.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90 degrees clockwise
    Image.fromarray(_photo(30, 50)).save(src, exif=exif, quality=95)
    rgb, alpha = read_image(src)
    assert rgb.shape == (50, 30, 3) and alpha is None
    out = upscale_file(float_tflite_dynamic, src, tmp_path / "portrait_x3.webp", progress=False)
    with Image.open(out) as im:
        assert im.format == "WEBP" and im.size == (90, 150)


@pytest.mark.parametrize("mode", ["L", "P", "I;16", "LA"])
def test_reads_other_pixel_formats(tmp_path, mode):
    rgb = _photo(12, 17)
    if mode == "I;16":
        im = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
        assert im.mode == "I;16"
    else:
        im = Image.fromarray(rgb).convert(mode)
    im.save(tmp_path / "x.png")
    out, alpha = read_image(tmp_path / "x.png")
    assert out.shape == (12, 17, 3) and out.dtype == np.uint8
    assert (alpha is not None) == (mode == "LA")
    if mode == "I;16":
        assert np.array_equal(out[..., 0], rgb[..., 0])


def test_an_image_over_pil_pixel_limit_is_a_clear_error(tmp_path, monkeypatch):
    Image.fromarray(_photo(12, 17)).save(tmp_path / "x.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # PIL refuses images over twice this many pixels
    with pytest.raises(AbpnError, match="more pixels than this tool reads"):
        read_image(tmp_path / "x.png")


def test_never_overwrites_the_input_or_an_existing_output(float_tflite_dynamic, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(_photo(12, 15)).save(src)
    before = src.read_bytes()
    with pytest.raises(AbpnError, match="is the input image"):
        upscale_file(float_tflite_dynamic, src, src, overwrite=True)
    existing = tmp_path / "out.png"
    existing.write_bytes(b"keep me")
    with pytest.raises(AbpnError, match="already exists"):
        upscale_file(float_tflite_dynamic, src, existing)
    assert src.read_bytes() == before and existing.read_bytes() == b"keep me"
    upscale_file(float_tflite_dynamic, src, existing, overwrite=True, progress=False)
    assert read_image(existing)[0].shape == (36, 45, 3)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"not an image"],
                         ids=["empty", "truncated-header", "text"])
def test_an_undecodable_input_is_one_error_whichever_read_finds_it(float_tflite_dynamic, tmp_path, content):
    """The header read (size limits) and the full decode say the same thing, and nothing is written."""
    bad = tmp_path / "in.png"
    bad.write_bytes(content)
    result = CliRunner().invoke(main, ["upscale", str(float_tflite_dynamic), str(bad), str(tmp_path / "out.png")])
    assert result.exit_code == 1
    assert f"cannot decode image {bad} (truncated, corrupt or not an image:" in result.output
    assert "replace the file" in result.output and not (tmp_path / "out.png").exists()


def test_alpha_into_jpeg_is_refused_before_any_work(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(np.zeros((6, 6, 4), np.uint8)).save(src)
    with pytest.raises(AbpnError, match="cannot store an image with an alpha channel"):
        upscale_file("no-such-model.tflite", src, tmp_path / "out.jpg")
    with pytest.raises(AbpnError, match="does not exist"):
        upscale_file("no-such-model.tflite", src, tmp_path / "missing" / "out.png")
    with pytest.raises(AbpnError, match="unknown image extension"):
        write_image(tmp_path / "out.xyz", np.zeros((3, 3, 3), np.uint8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_cli_shows_progress_over_tiles_for_large_images(float_tflite_fixed, tmp_path):
    src = tmp_path / "big.bmp"
    Image.fromarray(_photo(100, 150)).save(src)
    run = CliRunner().invoke(main, ["upscale", str(float_tflite_fixed), str(src)])
    assert run.exit_code == 0, run.output
    assert "tiles" in run.stderr and f"Wrote {default_output_path(src)}" in run.stderr
    assert read_image(default_output_path(src))[0].shape == (300, 450, 3)


# --- every command that takes a model refuses bad ones clearly --------------------------------


def _tiny_tflite(path, build):
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(1)
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(build(keras)).convert())
    return path


def _classifier(keras):
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    return keras.Model(inputs, keras.layers.Dense(5)(x))


def _x2(keras):
    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(keras.layers.UpSampling2D(2)(inputs)))


def _gray_x3(keras):
    inputs = keras.Input((None, None, 1))
    return keras.Model(inputs, keras.layers.UpSampling2D(3)(inputs))


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory, float_tflite_dynamic):
    folder = tmp_path_factory.mktemp("bad_models")
    (folder / "notes.tflite").write_text("this is not a model\n" * 20)
    (folder / "truncated.tflite").write_bytes(float_tflite_dynamic.read_bytes()[:5000])
    (folder / "junk.keras").write_bytes(b"PK\x03\x04 not really a zip")
    # (file, message, exit status): 2 for a file refused from its bytes while the command line is parsed,
    # 1 for one refused when the model is loaded
    return {
        "missing": (folder / "missing.tflite", "no such model", 2),
        "missing-keras": (folder / "missing.keras", "no such model", 2),
        "text": (folder / "notes.tflite", "not a TFLite model", 2),
        "truncated": (folder / "truncated.tflite", "truncated or corrupt", 1),
        "classifier": (_tiny_tflite(folder / "classifier.tflite", _classifier), "not an x3 image model", 1),
        "x2": (_tiny_tflite(folder / "x2.tflite", _x2), "not an x3 image model", 1),
        "gray": (_tiny_tflite(folder / "gray.tflite", _gray_x3), "not an x3 image model", 1),
        "junk-keras": (folder / "junk.keras", "not a Keras checkpoint", 2),
    }


@pytest.mark.parametrize("command", ["eval", "upscale", "bench-host"])
@pytest.mark.parametrize("case", ["missing", "missing-keras", "text", "truncated", "classifier", "x2", "gray",
                                  "junk-keras"])
def test_every_model_command_refuses_bad_models(bad_models, tmp_path, command, case):
    model, message, status = bad_models[case]
    image = tmp_path / "hr" / "img.png"
    image.parent.mkdir()
    Image.fromarray(_photo(*TEST_TILE_HW)).save(image)
    args = {
        "eval": ["eval", str(model), "--hr", str(image.parent)],
        "upscale": ["upscale", str(model), str(image), str(tmp_path / "out.png")],
        "bench-host": ["bench-host", str(model), "--runs", "1"],
    }[command]
    if command == "bench-host" and case.startswith("missing"):
        message = "no such file"
    if command == "bench-host" and case == "junk-keras":
        message = "not a TFLite model"  # bench-host times .tflite files only
    run = CliRunner().invoke(main, args)
    assert run.exit_code == status and isinstance(run.exception, SystemExit), run.output
    assert "Error: " in run.output and message in run.output, run.output
    assert not (tmp_path / "out.png").exists()


def test_dynamic_model_tiles_large_images_exactly(float_tflite_dynamic, monkeypatch, rng):
    from abpn.model import inference
    from abpn.model.modelfile import TFLiteRunner

    monkeypatch.setattr(inference, "DEFAULT_TILE_HW", TEST_TILE_HW)
    monkeypatch.setattr(inference, "_WHOLE_IMAGE_MAX_PIXELS", 2 * TEST_TILE_HW[0] * TEST_TILE_HW[1])
    calls = []
    runner = TFLiteRunner(float_tflite_dynamic)
    upscaler = inference.Upscaler(lambda lr: calls.append(lr.shape) or runner.upscale(lr), "dynamic")
    lr = rng.integers(0, 256, (100, 150, 3), dtype=np.uint8)
    assert np.array_equal(upscaler(lr), TFLiteRunner(float_tflite_dynamic).upscale(lr))
    assert len(calls) > 1 and set(calls) == {(*TEST_TILE_HW, 3)}


def test_dynamic_model_tiles_a_thin_large_image_exactly_without_padding(float_tflite_dynamic, monkeypatch, rng):
    from abpn.model import inference
    from abpn.model.modelfile import TFLiteRunner

    monkeypatch.setattr(inference, "DEFAULT_TILE_HW", TEST_TILE_HW)
    monkeypatch.setattr(inference, "_WHOLE_IMAGE_MAX_PIXELS", 2 * TEST_TILE_HW[0] * TEST_TILE_HW[1])
    lr = rng.integers(0, 256, (TEST_TILE_HW[0] - 16, 300, 3), dtype=np.uint8)  # fewer rows than a tile
    whole = TFLiteRunner(float_tflite_dynamic).upscale(lr)
    assert np.array_equal(inference.load_upscaler(float_tflite_dynamic)(lr), whole)


def test_an_unwritable_output_is_refused_before_the_model_runs(float_tflite_dynamic, tmp_path, monkeypatch):
    from abpn.model import inference

    src = tmp_path / "in.png"
    Image.fromarray(_photo(12, 15)).save(src)

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(inference, "load_upscaler", never)
    run = CliRunner().invoke(main, ["upscale", str(float_tflite_dynamic), str(src), "/proc/out.png"])
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), run.output
    assert "cannot write /proc/out.png" in run.output


def test_an_image_too_large_to_upscale_is_refused_from_its_header(float_tflite_dynamic, tmp_path, monkeypatch):
    import warnings

    from abpn.model import inference

    src = tmp_path / "huge.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        Image.new("1", (12000, 12000)).save(src)  # 144 MP in a few KB; decoded it would take 432 MB
    monkeypatch.setattr(inference, "load_upscaler", lambda *a, **k: pytest.fail("the model was loaded"))
    run = CliRunner().invoke(main, ["upscale", str(float_tflite_dynamic), str(src)])
    assert run.exit_code == 1 and isinstance(run.exception, SystemExit), run.output
    assert "12000x12000 (144.0 MP)" in run.output and "--max-megapixels 145" in run.output
    assert not (tmp_path / "huge_x3.png").exists()


def test_max_megapixels_raises_or_lowers_the_limit(float_tflite_dynamic, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(_photo(20, 30)).save(src)
    run = CliRunner().invoke(main, ["upscale", str(float_tflite_dynamic), str(src), "--max-megapixels", "0.0005"])
    assert run.exit_code == 1 and "over the 0.0005 MP limit" in run.output
    run = CliRunner().invoke(main, ["upscale", str(float_tflite_dynamic), str(src), "--max-megapixels", "0.001"])
    assert run.exit_code == 0, run.output
