import numpy as np
import pytest

from abpn import RECEPTIVE_RADIUS
from abpn.core.tiling import axis_spans, pad_to_tile, tile_grid, tiled_upscale
from abpn.model.inference import load_upscaler
from conftest import TEST_TILE_HW, _to_tflite


@pytest.mark.parametrize("tile", [15, 16, 36, 64, 360])
@pytest.mark.parametrize("overlap", [RECEPTIVE_RADIUS, 8])
def test_spans_partition_the_axis_and_keep_only_fully_seen_pixels(tile, overlap):
    if tile <= 2 * overlap:
        with pytest.raises(ValueError):
            axis_spans(tile, tile, overlap)
        return
    for length in range(tile, 3 * tile + 40):
        spans = axis_spans(length, tile, overlap)
        covered = np.zeros(length, dtype=int)
        for span in spans:
            assert 0 <= span.start and span.start + tile <= length
            assert span.keep_start < span.keep_stop
            covered[span.keep_start : span.keep_stop] += 1
            # Every kept pixel sees `overlap` pixels on each side inside the tile, unless the
            # tile edge there is the image edge (where the model pads as on the whole image).
            left_ok = span.start == 0 or span.keep_start - overlap >= span.start
            right_ok = span.start + tile == length or span.keep_stop - 1 + overlap <= span.start + tile - 1
            assert left_ok and right_ok, (length, span)
        assert (covered == 1).all(), length
        assert spans[-1].start == length - tile


def test_grid_covers_every_output_pixel_once():
    for hw in [(36, 64), (37, 65), (100, 150), (71, 200), (360, 640), (1000, 1500)]:
        tile_hw = (36, 64)
        count = np.zeros(hw, dtype=int)
        for r, c in tile_grid(hw, tile_hw):
            count[r.keep_start : r.keep_stop, c.keep_start : c.keep_stop] += 1
        assert (count == 1).all(), hw


def test_pad_to_tile_replicates_edges():
    img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    padded = pad_to_tile(img, (5, 4))
    assert padded.shape == (5, 4)
    assert (padded[3:] == img[-1]).all()


def test_stitching_reassembles_a_pointwise_upscale():
    # Nearest-neighbour x3 is pointwise, so any tiling must give exactly the same picture.
    rng = np.random.default_rng(0)
    lr = rng.integers(0, 256, (50, 91, 3), dtype=np.uint8)

    def nearest(tile):
        assert tile.shape[:2] == (20, 30)
        return tile.repeat(3, axis=0).repeat(3, axis=1)

    expected = lr.repeat(3, axis=0).repeat(3, axis=1)
    assert np.array_equal(tiled_upscale(nearest, lr, (20, 30), overlap=4), expected)


@pytest.mark.parametrize("hw", [(100, 150), (36, 64), (37, 200), (90, 65)])
def test_fixed_model_tiles_equal_dynamic_model_on_whole_image(float_tflite_fixed, float_tflite_dynamic, rng, hw):
    fixed = load_upscaler(float_tflite_fixed)
    dynamic = load_upscaler(float_tflite_dynamic)
    assert fixed.tile_hw == TEST_TILE_HW and dynamic.tile_hw is None
    lr = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    tiled = fixed(lr)
    whole = dynamic(lr)
    assert tiled.shape == (hw[0] * 3, hw[1] * 3, 3)
    assert np.array_equal(tiled, whole)


def test_image_smaller_than_a_tile_is_padded_and_cropped_back(float_tflite_fixed, float_tflite_dynamic, rng):
    lr = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    small = load_upscaler(float_tflite_fixed)(lr)
    assert small.shape == (60, 90, 3)
    # Away from the padded (bottom and right) edges the result is the whole-image one.
    whole = load_upscaler(float_tflite_dynamic)(lr)
    inner = (20 - RECEPTIVE_RADIUS) * 3, (30 - RECEPTIVE_RADIUS) * 3
    assert np.array_equal(small[: inner[0], : inner[1]], whole[: inner[0], : inner[1]])


def _int8_tflite(keras_model, calibration, path):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x] for x in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    path.write_bytes(converter.convert())
    return path


def test_int8_fixed_model_tiles_equal_int8_dynamic_model(float_keras_model, tmp_path, rng):
    from abpn.model.architecture import build_abpn

    fixed = build_abpn(input_shape=(*TEST_TILE_HW, 3))
    fixed.set_weights(float_keras_model.get_weights())
    # The same calibration inputs give both conversions the same quantization parameters.
    calibration = [rng.integers(0, 256, (1, *TEST_TILE_HW, 3)).astype(np.float32) for _ in range(3)]
    fixed_path = _int8_tflite(fixed, calibration, tmp_path / "int8_fixed.tflite")
    dynamic_path = _int8_tflite(float_keras_model, calibration, tmp_path / "int8_dynamic.tflite")
    lr = rng.integers(0, 256, (80, 170, 3), dtype=np.uint8)
    assert np.array_equal(load_upscaler(fixed_path)(lr), load_upscaler(dynamic_path)(lr))


# --- models that see further than ABPN ------------------------------------------------------------


def _wide_x3(input_hw, convs, seed=5):
    """An ABPN-like x3 model (anchor + conv residual, depth_to_space) with `convs` 3x3 convs, so its
    receptive radius is `convs` LR pixels."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((*input_hw, 3), batch_size=1)
    x = inputs
    for _ in range(convs - 1):
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(27, 3, padding="same")(x)
    anchor = keras.layers.Concatenate()([inputs] * 9)
    summed = keras.layers.Add()([anchor, keras.layers.Rescaling(0.05)(x)])
    return keras.Model(inputs, keras.layers.Lambda(lambda t: tf.nn.depth_to_space(t, 3))(summed))


def _pair(tmp_path, convs, tile_hw=TEST_TILE_HW):
    fixed, dynamic = _wide_x3(tile_hw, convs), _wide_x3((None, None), convs)
    dynamic.set_weights(fixed.get_weights())
    return [_to_tflite(model, tmp_path / f"wide{convs}_{name}.tflite")
            for name, model in (("fixed", fixed), ("dynamic", dynamic))]


def test_measured_radius_of_abpn_is_seven(float_tflite_fixed, float_tflite_dynamic):
    from abpn.model.inference import measure_radius
    from abpn.model.modelfile import TFLiteRunner

    for path, hw in ((float_tflite_fixed, TEST_TILE_HW), (float_tflite_dynamic, (64, 64))):
        runner = TFLiteRunner(path)
        assert measure_radius(lambda lr: runner.invoke_raw(runner.encode_input(lr)), hw) == RECEPTIVE_RADIUS


@pytest.mark.parametrize("convs, tile_hw, radius", [
    (10, TEST_TILE_HW, 10),  # sees further than ABPN: tiles overlap by its own radius
    (2, (12, 12), 2),  # a tile too small for ABPN's 7 still tiles a model that sees 2 pixels
])
def test_a_foreign_model_tiles_exactly_with_its_measured_radius(tmp_path, rng, convs, tile_hw, radius):
    fixed_path, dynamic_path = _pair(tmp_path, convs, tile_hw)
    fixed = load_upscaler(fixed_path)
    assert fixed.radius == radius
    lr = rng.integers(0, 256, (100, 150, 3), dtype=np.uint8)
    assert np.array_equal(fixed(lr), load_upscaler(dynamic_path)(lr))


def test_a_model_too_wide_for_its_tile_is_refused(tmp_path):
    from abpn.errors import AbpnError

    # radius 20: no 36-row tile can overlap by 2 x 20
    fixed_path = _to_tflite(_wide_x3(TEST_TILE_HW, 20), tmp_path / "wide20_fixed.tflite")
    with pytest.raises(AbpnError, match="seams"):
        load_upscaler(fixed_path)
