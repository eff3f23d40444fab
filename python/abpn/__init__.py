"""ABPN x3 super-resolution: training, INT8 quantization and on-device benchmarking."""
import os

# tfmot only works with the Keras 2 API; this must be set before TensorFlow is imported anywhere.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path

__version__ = "0.1.0"
SCALE = 3
# The deployment input (the AI Benchmark setting): 640x360 in, 1920x1080 out.
DEPLOY_HW = (360, 640)
# Seven 3x3 convs: each output pixel sees 7 LR pixels in every direction (exact tiling needs it).
RECEPTIVE_RADIUS = 7
# The Android app's package name (its AndroidManifest.xml; docs/phone-protocol.md).
APP_PACKAGE = "org.abpn.app"


def _shipped_models():
    """A wheel carries the deployment model and its dynamic twin in abpn/shipped/ (copied from
    models/ at build time); a checkout or an editable install reads models/ itself."""
    here = Path(__file__).resolve().parent
    packaged = here / "shipped"
    return packaged if packaged.is_dir() else here.parents[1] / "models"


# The trained models that ship with the tool (see models/MODEL_CARD.md).
SHIPPED_MODELS = _shipped_models()
SHIPPED_INT8 = SHIPPED_MODELS / "abpn_x3_int8.tflite"
SHIPPED_INT8_DYNAMIC = SHIPPED_MODELS / "abpn_x3_int8_dynamic.tflite"
# The same model with int8 I/O (no QUANTIZE ops, every node on XNNPACK): what the phone app bundles.
SHIPPED_INT8_INT8IO = SHIPPED_MODELS / "abpn_x3_int8_int8io.tflite"
