"""Opening `.tflite` files: refuse anything that is not an x3 image model, and run those that are.

Every command that takes a model goes through `inspect_model` first, so a wrong file gets the
same clear error everywhere (eval, upscale, bench-host, push-and-bench).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from abpn import SCALE
from abpn.core.filekinds import is_tflite
from abpn.core.files import file_sha256
from abpn.errors import AbpnError

PROBE_HW = (24, 40)  # a small size to resize dynamic models to when checking their scale


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    sha256: str
    size_bytes: int
    input_shape: tuple  # -1 for a dynamic dimension
    input_dtype: str
    output_shape: tuple
    output_dtype: str

    @property
    def file_name(self):
        return self.path.name

    @property
    def dynamic(self):
        return -1 in self.input_shape[1:3]

    @property
    def input_hw(self):
        return None if self.dynamic else tuple(self.input_shape[1:3])

    def record_section(self):
        """The `model` section of a result record."""
        return {
            "file_name": self.file_name,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "input_shape": list(self.input_shape),
            "input_dtype": self.input_dtype,
            "output_shape": list(self.output_shape),
            "output_dtype": self.output_dtype,
        }


def _interpreter_class():
    import warnings

    import tensorflow as tf

    # tf.lite.Interpreter still ships in TF 2.21 (the same runtime as LiteRT); its deprecation
    # warning would otherwise greet every command.
    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
    return tf.lite.Interpreter


def _load(path, threads=None):
    path = Path(path)
    if not path.is_file():
        raise AbpnError(f"{path}: no such model file")
    content = path.read_bytes()
    if not is_tflite(content):
        raise AbpnError(
            f"{path} is not a TFLite model (no TFL3 identifier). "
            "Pass a .tflite made by `abpn-tool quantize`."
        )
    try:
        # From bytes, not from the path: only this route verifies the flatbuffer, and a truncated
        # file loaded by path crashes the process instead of raising.
        return _interpreter_class()(model_content=content, num_threads=threads)
    except (ValueError, RuntimeError) as error:
        raise AbpnError(
            f"{path} could not be loaded as a TFLite model (truncated or corrupt?): {error}. "
            "Export it again with `abpn-tool quantize`."
        ) from error


def _check_x3(path, interpreter):
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise AbpnError(
            f"{path} is not an x3 image model: it has {len(inputs)} inputs and {len(outputs)} outputs "
            "(expected one NHWC RGB image in, one out)."
        )
    signature = tuple(int(d) for d in inputs[0]["shape_signature"])
    if len(signature) != 4 or signature[3] != 3:
        raise AbpnError(
            f"{path} is not an x3 image model: input shape {list(signature)} "
            "(expected [1, height, width, 3])."
        )
    if -1 in signature[1:3]:
        interpreter.resize_tensor_input(inputs[0]["index"], [1, *PROBE_HW, 3])
    try:
        interpreter.allocate_tensors()
    except RuntimeError as error:
        raise AbpnError(f"{path} could not be prepared by the TFLite runtime: {error}") from error
    in_shape = tuple(int(d) for d in interpreter.get_input_details()[0]["shape"])
    out_shape = tuple(int(d) for d in interpreter.get_output_details()[0]["shape"])
    expected = (in_shape[0], in_shape[1] * SCALE, in_shape[2] * SCALE, 3)
    if out_shape != expected:
        raise AbpnError(
            f"{path} is not an x3 image model: input {list(in_shape)} gives output {list(out_shape)} "
            f"(expected {list(expected)})."
        )
    # A batch of one is what every caller feeds, whatever the converter left in the signature.
    in_signature = (1, *signature[1:3], 3)
    out_signature = (1, *(d * SCALE if d > 0 else -1 for d in signature[1:3]), 3)
    return in_signature, out_signature


def operator_names(content):
    """The operators of a .tflite flatbuffer, in execution order. Listed without the default
    delegates, which would replace them by a single DELEGATE node."""
    import tensorflow as tf

    interpreter = _interpreter_class()(
        model_content=content,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    return [op["op_name"] for op in interpreter._get_ops_details()]


def inspect_model(path):
    """Checks that `path` is a TFLite x3 RGB model and describes it; raises AbpnError otherwise."""
    path = Path(path)
    interpreter = _load(path)
    in_shape, out_shape = _check_x3(path, interpreter)
    return ModelInfo(
        path=path,
        sha256=file_sha256(path),
        size_bytes=path.stat().st_size,
        input_shape=in_shape,
        input_dtype=np.dtype(interpreter.get_input_details()[0]["dtype"]).name,
        output_shape=out_shape,
        output_dtype=np.dtype(interpreter.get_output_details()[0]["dtype"]).name,
    )


class TFLiteRunner:
    """One TFLite interpreter (XNNPACK on the CPU) at the tensor level: the benchmarks time and
    ship its raw tensors. Images go through abpn.model.inference.Upscaler, which uses `upscale`."""

    def __init__(self, path, threads=None):
        self.path = Path(path)
        self.interpreter = _load(self.path, threads)
        self.input_signature, _ = _check_x3(self.path, self.interpreter)
        self._hw = None if -1 in self.input_signature[1:3] else self.input_signature[1:3]

    @property
    def tile_hw(self):
        """The fixed input size, or None when the model takes any size."""
        return self._hw

    def prepare(self, hw):
        """Sizes the interpreter for hw inputs (allocating tensors) unless it already is."""
        current = tuple(self.interpreter.get_input_details()[0]["shape"][1:3])
        if current != tuple(hw):
            if self._hw is not None:
                raise AbpnError(
                    f"{self.path.name} takes {self._hw[0]}x{self._hw[1]} inputs only; "
                    f"got {hw[0]}x{hw[1]} (abpn.model.inference.Upscaler tiles larger images)."
                )
            index = self.interpreter.get_input_details()[0]["index"]
            self.interpreter.resize_tensor_input(index, [1, *hw, 3])
            self.interpreter.allocate_tensors()

    @staticmethod
    def _quantization(detail):
        """(scale, zero point); TFLite reports scale 0 for an integer tensor that is not quantized."""
        scale, zero_point = detail["quantization"]
        return (scale or 1.0), zero_point

    def encode_input(self, lr):
        """uint8 HxWx3 → the model's input tensor (1xHxWx3, in its dtype and quantization)."""
        detail = self.interpreter.get_input_details()[0]
        x = lr.astype(np.float32)[None]
        dtype = np.dtype(detail["dtype"])
        if dtype.kind in "iu":
            scale, zero_point = self._quantization(detail)
            info = np.iinfo(dtype)
            return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)
        return x.astype(dtype)

    def decode_output(self, y):
        """The model's output tensor → uint8 (3H)x(3W)x3 pixels."""
        detail = self.interpreter.get_output_details()[0]
        if np.dtype(detail["dtype"]).kind in "iu":
            scale, zero_point = self._quantization(detail)
            y = (y.astype(np.float32) - zero_point) * scale
        return np.clip(np.round(y[0]), 0, 255).astype(np.uint8)

    def invoke_raw(self, tensor):
        """Runs one already-encoded input tensor; returns the raw output tensor (a copy)."""
        self.prepare(tensor.shape[1:3])
        self.interpreter.set_tensor(self.interpreter.get_input_details()[0]["index"], tensor)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.interpreter.get_output_details()[0]["index"]).copy()

    def upscale(self, lr):
        """uint8 HxWx3 (exactly tile_hw when that is set) → uint8 (3H)x(3W)x3."""
        return self.decode_output(self.invoke_raw(self.encode_input(lr)))
