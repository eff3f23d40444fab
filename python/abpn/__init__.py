"""ABPN x3 super-resolution: training, INT8 quantization and on-device benchmarking."""
import os

# tfmot only works with the Keras 2 API; this must be set before TensorFlow is imported anywhere.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
SCALE = 3
