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
