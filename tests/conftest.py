"""Shared fixtures: small real ABPN models made on the fly (no file from ../shared is needed)."""
from pathlib import Path

import numpy as np
import pytest

from ci_policy import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401  (hooks)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
# A small fixed tile keeps tests fast; the deployment model is 360x640.
TEST_TILE_HW = (36, 64)


def _seeded_abpn(input_shape, seed=7):
    from abpn.model.architecture import build_abpn

    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    return build_abpn(input_shape=input_shape)


def _to_tflite(model, path):
    import tensorflow as tf

    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


@pytest.fixture(scope="session")
def float_keras_model():
    """An untrained float ABPN with fixed random weights, any input size."""
    return _seeded_abpn((None, None, 3))


@pytest.fixture(scope="session")
def float_tflite_dynamic(float_keras_model, tmp_path_factory):
    return _to_tflite(float_keras_model, tmp_path_factory.mktemp("models") / "abpn_float_dynamic.tflite")


@pytest.fixture(scope="session")
def float_tflite_fixed(float_keras_model, tmp_path_factory):
    """The same weights with a fixed 1x36x64x3 input, like the deployment model but smaller."""
    from abpn.model.architecture import build_abpn

    fixed = build_abpn(input_shape=(*TEST_TILE_HW, 3))
    fixed.set_weights(float_keras_model.get_weights())
    return _to_tflite(fixed, tmp_path_factory.mktemp("models") / "abpn_float_36x64.tflite")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def synthetic_photo(h, w, seed=0):
    """Smooth random colour content: photo-like enough to train on, made on the spot."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 8 + 2, w // 8 + 2, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR))


@pytest.fixture
def photo_folder(tmp_path):
    """A folder of five 240x246 PNG photos (HR; 80x82 LR, big enough for 64x64 patches)."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(synthetic_photo(240, 246, seed=i)).save(folder / f"photo{i}.png")
    return folder
