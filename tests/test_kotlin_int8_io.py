"""The app's int8-I/O path gives, on a real photo, the very bytes the uint8-I/O model gives.

The phone app bundles the int8-I/O model and flips each byte's top bit on the way in and out
(org.abpn.core.PixelIo, inside TiledUpscaler's packing loops). TFLite's JNI library cannot load in
a JVM test, so this test splits the work: the real models run here on the host, the app's own
compiled Kotlin (android/build-offline leaves it in android/offline-out) packs the photo and unpacks
the model's output through org.abpn.core.Int8PathFiles.
"""
import pathlib
import subprocess

import numpy as np
import pytest

from abpn import DEPLOY_HW, SHIPPED_INT8, SHIPPED_INT8_INT8IO
from abpn.bench.host import real_image
from abpn.model.modelfile import TFLiteRunner

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "android" / "offline-out"
CLASSES = [OUT / "core-classes", OUT / "test-classes"]
STDLIB = sorted((OUT / "deps" / "app").glob("kotlin-stdlib-*.jar")) if (OUT / "deps" / "app").is_dir() else []

pytestmark = pytest.mark.skipif(
    not (STDLIB and all(c.is_dir() for c in CLASSES) and (OUT / "test-classes" / "org" / "abpn" / "core" / "Int8PathFiles.class").is_file()),
    reason="android/offline-out has no compiled org.abpn.core.Int8PathFiles: run android/build-offline first",
)


def test_the_apps_int8_path_gives_the_uint8_models_bytes_on_a_real_photo(tmp_path):
    photo = real_image(DEPLOY_HW)  # skimage's astronaut, one 360x640 tile
    expected = TFLiteRunner(SHIPPED_INT8, threads=2).invoke_raw(photo[None])[0]  # the uint8-I/O model's bytes
    int8_model = TFLiteRunner(SHIPPED_INT8_INT8IO, threads=2)
    assert int8_model.interpreter.get_input_details()[0]["dtype"] == np.int8
    fed = (photo[None] ^ 0x80).view(np.int8)
    (tmp_path / "photo.rgb").write_bytes(photo.tobytes())
    (tmp_path / "model_output.bin").write_bytes(int8_model.invoke_raw(fed).tobytes())

    classpath = ":".join(str(p) for p in [STDLIB[-1], *CLASSES])
    files = [tmp_path / name for name in ("photo.rgb", "model_output.bin", "tensor_in.bin", "pixels_out.rgb")]
    run = subprocess.run(["java", "-cp", classpath, "org.abpn.core.Int8PathFiles", str(SHIPPED_INT8_INT8IO),
                          *map(str, files)], check=True, timeout=300, capture_output=True, text=True)
    # what the app's benchmark record says of the model (model.input_dtype / output_dtype)
    assert "input_dtype=int8 output_dtype=int8 pixel_io=INT8" in run.stdout

    # the app fed the int8 model exactly the tensor its output above came from ...
    assert (tmp_path / "tensor_in.bin").read_bytes() == fed.tobytes()
    # ... and shows the uint8 model's output, byte for byte
    shown = np.frombuffer((tmp_path / "pixels_out.rgb").read_bytes(), np.uint8).reshape(expected.shape)
    assert np.array_equal(shown, expected), f"{np.count_nonzero(shown != expected)} bytes differ"
    assert shown.std() > 10  # a photo, not a flat fill
