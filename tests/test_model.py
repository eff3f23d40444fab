import numpy as np
import pytest
import tf_keras as keras

from abpn import RECEPTIVE_RADIUS
from abpn.model.architecture import CUSTOM_OBJECTS, PARAMETERS, build_abpn


def test_parameter_count_matches_the_paper():
    assert build_abpn().count_params() == PARAMETERS == 42_539


def test_layer_sequence():
    model = build_abpn()
    summary = [(type(layer).__name__, layer.name) for layer in model.layers]
    assert summary == [
        ("InputLayer", "lr"),
        *[("Conv2D", f"conv{i}") for i in range(1, 8)],
        ("Anchor", "anchor"),
        ("Add", "add_anchor"),
        ("DepthToSpace", "depth_to_space"),
        ("ClipToPixelRange", "clip"),
    ]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [28, 28, 28, 28, 28, 27, 27]
    assert [c.activation.__name__ for c in convs] == ["relu"] * 6 + ["linear"]
    assert all(c.kernel_size == (3, 3) and c.padding == "same" for c in convs)


@pytest.mark.parametrize("hw", [(1, 1), (7, 13), (17, 5), (33, 64)])
def test_output_is_three_times_the_input_for_any_size(hw):
    x = np.random.default_rng(0).uniform(0, 255, (1, *hw, 3)).astype(np.float32)
    assert build_abpn()(x).shape == (1, 3 * hw[0], 3 * hw[1], 3)


def test_anchor_is_a_nearest_neighbour_upscale_and_output_is_clipped():
    model = build_abpn()
    for layer in model.layers:
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    x = np.random.default_rng(1).uniform(0, 255, (1, 5, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(model(x).numpy(), x.repeat(3, axis=1).repeat(3, axis=2))

    conv7 = model.get_layer("conv7")
    conv7.set_weights([np.zeros_like(conv7.kernel), np.full(27, 1000.0, np.float32)])
    assert model(x).numpy().max() == 255.0
    conv7.set_weights([np.zeros_like(conv7.kernel), np.full(27, -1000.0, np.float32)])
    assert model(x).numpy().min() == 0.0


def test_receptive_radius_is_one_pixel_per_conv():
    """A change at one LR pixel reaches exactly RECEPTIVE_RADIUS LR pixels away, not further."""
    model = build_abpn(clip=False)  # positive weights would saturate the clip and hide the change
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([rng.uniform(0.01, 0.05, w.shape).astype(np.float32) for w in layer.get_weights()])
    x = np.full((1, 31, 31, 3), 100.0, np.float32)
    y = x.copy()
    y[0, 15, 15] = 0.0
    changed = np.abs(model(x).numpy() - model(y).numpy()).max(axis=(0, 3)) > 0
    rows = np.nonzero(changed.any(axis=1))[0] // 3
    assert rows.min() == 15 - RECEPTIVE_RADIUS and rows.max() == 15 + RECEPTIVE_RADIUS


def test_saves_loads_and_clones_without_lambda_layers(tmp_path):
    model = build_abpn()
    path = tmp_path / "abpn.keras"
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=CUSTOM_OBJECTS)
    x = np.random.default_rng(3).uniform(0, 255, (1, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    clone = keras.models.clone_model(model)
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


# ---------------------------------------------------------------------------------------------- re-parameterized training


def _branched_abpn(model, x):
    """The re-parameterized ABPN evaluated branch by branch (no merge)."""
    import tensorflow as tf

    from abpn import SCALE

    h = x
    for i in range(1, 8):
        h = model.get_layer(f"conv{i}").branched(h)
    return tf.clip_by_value(tf.nn.depth_to_space(h + tf.concat([x] * SCALE**2, -1), SCALE), 0, 255)


@pytest.fixture
def float64():
    # The merge is exact algebra; float64 keeps summation-order rounding (up to ~5e-4 at pixel
    # scale in float32) from hiding a real mismatch, such as zero-padding the 1x1 branch.
    keras.backend.set_floatx("float64")
    yield
    keras.backend.set_floatx("float32")


def _real_image(h=60, w=80):
    import skimage.data

    return skimage.data.astronaut()[100:100 + h, 150:150 + w][None].astype(np.float64)


def _randomized_reparam(seed=0):
    """Every branch weight drawn at a size where each branch visibly changes the output."""
    from abpn.model.architecture import RepConv2D, build_abpn_reparam

    model = build_abpn_reparam()
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, RepConv2D):
            for variable in layer.weights:
                variable.assign(rng.normal(0, 0.05, variable.shape))
    return model


def test_reparam_merges_exactly_into_the_plain_abpn(float64):
    from abpn.model.architecture import merge_reparam

    model = _randomized_reparam()
    x = _real_image()
    branched = _branched_abpn(model, x).numpy()
    plain = merge_reparam(model)
    assert [type(layer).__name__ for layer in plain.layers] == [
        type(layer).__name__ for layer in build_abpn().layers]
    assert 0 < branched.mean() < 255  # not saturated: the comparison sees real values
    np.testing.assert_allclose(plain(x).numpy(), branched, rtol=0, atol=1e-4)
    np.testing.assert_allclose(model(x).numpy(), branched, rtol=0, atol=1e-4)


def test_a_zero_padded_1x1_branch_would_not_merge_exactly(float64, monkeypatch):
    """The bias padding is what makes the merge exact at the borders."""
    import tensorflow as tf

    from abpn.model import architecture

    model = _randomized_reparam()
    x = _real_image()
    merged = model(x).numpy()
    monkeypatch.setattr(architecture, "_pad_with", lambda z, value: tf.pad(z, [[0, 0], [1, 1], [1, 1], [0, 0]]))
    zero_padded = _branched_abpn(model, x).numpy()
    border = np.ones(merged.shape[1:3], bool)
    border[3 * 7:-3 * 7, 3 * 7:-3 * 7] = False  # the receptive radius is 7 LR pixels
    assert np.abs(merged - zero_padded)[0][border].max() > 1e-2
    np.testing.assert_allclose(merged[0][~border], zero_padded[0][~border], atol=1e-4)


def test_reparam_gradients_reach_every_branch():
    import tensorflow as tf

    from abpn.model.architecture import build_abpn_reparam

    keras.utils.set_random_seed(1)
    model = build_abpn_reparam()
    x = _real_image(30, 30).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.abs(model(x) - 128.0))
    grads = tape.gradient(loss, model.trainable_variables)
    names = {v.name.split("/")[-1].split(":")[0] for v in model.trainable_variables}
    assert {"k3", "expand", "squeeze", "sobel_x_1x1", "sobel_x_scale", "laplacian_bias", "squeeze_bias", "expand_bias"} <= names
    for variable, grad in zip(model.trainable_variables, grads):
        assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0, variable.name


def test_reparam_from_a_plain_model_keeps_its_function_and_saves_as_plain(tmp_path, float_keras_model):
    from abpn.model.architecture import reparam_from_plain
    from abpn.model.train import load_float_model

    x = _real_image(24, 36).astype(np.float32)
    model = reparam_from_plain(float_keras_model)
    np.testing.assert_allclose(model(x).numpy(), float_keras_model(x).numpy(), atol=1e-3)
    model.save(tmp_path / "reparam.keras")
    loaded = load_float_model(tmp_path / "reparam.keras")
    assert [type(layer).__name__ for layer in loaded.layers].count("Conv2D") == 7
    assert loaded.count_params() == PARAMETERS
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-3)
