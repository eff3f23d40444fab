"""Quantization-aware training of ABPN and export to a lean, fully INT8 `.tflite`.

The lean graph has no clip ops. The Add that joins the residual and the anchor is fake-quantized
to the fixed range [0, 255] (scale 1.0, zero point -128 in int8), so int8 saturation already clips
the output to valid pixels, and its conversion is exactly QUANTIZE, 8 x CONV_2D (the anchor's fixed
1x1 conv and the seven 3x3 convs), ADD, DEPTH_TO_SPACE, QUANTIZE; the int8-I/O variant has no
QUANTIZE at all, so XNNPACK takes every node. The input and the anchor (a copy of the input) share
that same fixed range, so the anchor conv copies int8 values exactly (weight 127 at scale 1/127).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import abpn  # noqa: F401  (selects the Keras 2 API before TensorFlow loads)
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from abpn import DEPLOY_HW
from abpn.core.files import write_atomically
from abpn.model.architecture import CUSTOM_OBJECTS, Anchor, DepthToSpace, build_abpn
from abpn.model.inference import load_float_model
from abpn.model.train import checkpoint_key, fit_resumable, keras_quality, mean_quality

qk = tfmot.quantization.keras

BEST_QAT_WEIGHTS = "best_qat.weights.h5"
CALIBRATION_BATCHES = 8
# Both I/O variants of the deployment model: uint8 I/O takes image bytes as they are; int8 I/O
# skips the uint8<->int8 QUANTIZE ops (which XNNPACK does not take) and needs its caller to flip
# each byte's top bit (x XOR 0x80 = x - 128) on the way in and out.
EXPORTS = {
    "int8": "abpn_x3_int8.tflite",
    "int8_int8io": "abpn_x3_int8_int8io.tflite",
    "int8_dynamic": "abpn_x3_int8_dynamic.tflite",
    "fp32": "abpn_x3_fp32.tflite",
    "fp16": "abpn_x3_fp16.tflite",
}

class PixelRangeConfig(qk.QuantizeConfig):
    """No weights; the output is fake-quantized to exactly [0, 255] with scale 1."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [qk.quantizers.FixedQuantizer(num_bits=8, init_min=0.0, init_max=255.0, narrow_range=False)]

    def get_config(self):
        return {}


class PassThroughConfig(PixelRangeConfig):
    """depth_to_space only moves values: its output keeps its input's quantization."""

    def get_output_quantizers(self, layer):
        return []


QUANTIZE_OBJECTS = {**CUSTOM_OBJECTS, "PixelRangeConfig": PixelRangeConfig, "PassThroughConfig": PassThroughConfig}


def _annotate(layer):
    if isinstance(layer, (keras.layers.Add, Anchor)):
        return qk.quantize_annotate_layer(layer, PixelRangeConfig())
    if isinstance(layer, DepthToSpace):
        return qk.quantize_annotate_layer(layer, PassThroughConfig())
    if isinstance(layer, keras.layers.Conv2D):
        return qk.quantize_annotate_layer(layer)
    return layer


def qat_model(float_model, anchor=Anchor):
    """The QAT model (fake-quantized convs, fixed [0, 255] input, anchor and sum) holding
    `float_model`'s weights. The float model's clip is left out: the fixed range does it.
    `anchor=ConcatAnchor` gives the previous graph (a CONCATENATION), for comparisons."""
    unclipped = build_abpn(clip=False, anchor=anchor)
    for layer in unclipped.layers:
        layer.set_weights(float_model.get_layer(layer.name).get_weights())
    annotated = keras.models.clone_model(unclipped, clone_function=_annotate)
    annotated.set_weights(unclipped.get_weights())
    with qk.quantize_scope(QUANTIZE_OBJECTS):
        quantized = qk.quantize_apply(annotated)
        # fix_input_output_range rebuilds the model from its config, with fresh weights.
        fixed = qk.fix_input_output_range(
            quantized, num_bits=8, input_min=0.0, input_max=255.0, output_min=0.0, output_max=255.0
        )
    copy_weights_by_name(quantized, fixed)
    for name in (layer.name for layer in unclipped.layers if isinstance(layer, keras.layers.Conv2D)):
        fixed_kernel = _variables_by_name(fixed.get_layer(f"quant_{name}"))["kernel"].numpy()
        if not np.array_equal(fixed_kernel, unclipped.get_layer(name).kernel.numpy()):
            raise AssertionError(f"{name}: the QAT model did not get the float kernel")
    return fixed


def _short_name(variable):
    # "quant_conv1/kernel:0" and "kernel:0" name the same variable of a layer, depending on how the
    # model was built: keep the part after the layer's name.
    return variable.name.split("/")[-1].split(":")[0]


def _variables_by_name(layer):
    return {_short_name(v): v for v in layer.weights}


def copy_weights_by_name(source, target):
    """Copies each variable of `target` from the variable of the same layer and name in `source`.
    Variables that `source` lacks keep their values (fix_input_output_range's input quantizer has
    no min/max variables of its own); a name whose shape differs is an error."""
    for layer in target.layers:
        try:
            values = _variables_by_name(source.get_layer(layer.name))
        except ValueError:
            continue
        for variable in layer.weights:
            value = values.get(_short_name(variable))
            if value is None:
                continue
            if value.shape != variable.shape:
                raise ValueError(f"{layer.name}/{_short_name(variable)}: shape {value.shape} != {variable.shape}")
            variable.assign(value)


def calibrate_ranges(qat, float_model, batches):
    """Sets every conv's activation range to the min/max the float model reaches on `batches`.
    tfmot starts them at [-6, 6], far from ABPN's 0..255-scale activations, and its moving
    average needs thousands of steps to get there: meanwhile QAT trains against clipped features."""
    convs = [layer.name for layer in float_model.layers if isinstance(layer, keras.layers.Conv2D)]
    probe = keras.Model(float_model.input, [float_model.get_layer(name).output for name in convs])
    low = dict.fromkeys(convs, np.inf)
    high = dict.fromkeys(convs, -np.inf)
    for batch in batches:
        for name, output in zip(convs, probe(batch, training=False)):
            low[name] = min(low[name], float(tf.reduce_min(output)))
            high[name] = max(high[name], float(tf.reduce_max(output)))
    for name in convs:
        variables = _variables_by_name(qat.get_layer(f"quant_{name}"))
        variables["post_activation_min"].assign(min(low[name], 0.0))
        variables["post_activation_max"].assign(max(high[name], 0.0))


def _converter(model, input_hw):
    inputs = keras.Input(shape=(*(input_hw or (None, None)), 3), batch_size=1, name="lr")
    return tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, model(inputs)))


def convert_int8(qat, input_hw=DEPLOY_HW, io="uint8"):
    """Fully INT8 flatbuffer: int8 per-channel weights and int8 activations, uint8 or int8 I/O."""
    if io not in ("uint8", "int8"):
        raise ValueError(f"io must be 'uint8' or 'int8' (got {io!r})")
    converter = _converter(qat, input_hw)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = converter.inference_output_type = getattr(tf, io)
    return converter.convert()


def convert_float(float_model, input_hw=DEPLOY_HW, fp16=False):
    converter = _converter(float_model, input_hw)
    if fp16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


@dataclass
class QuantizeResult:
    exports: dict  # name → path
    scores: dict  # "float", "qat" → mean validation quality


def export_all(qat, float_model, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        "int8": write_atomically(out_dir / EXPORTS["int8"], convert_int8(qat, DEPLOY_HW, "uint8")),
        "int8_int8io": write_atomically(out_dir / EXPORTS["int8_int8io"], convert_int8(qat, DEPLOY_HW, "int8")),
        "int8_dynamic": write_atomically(out_dir / EXPORTS["int8_dynamic"], convert_int8(qat, None, "uint8")),
        "fp32": write_atomically(out_dir / EXPORTS["fp32"], convert_float(float_model)),
        "fp16": write_atomically(out_dir / EXPORTS["fp16"], convert_float(float_model, fp16=True)),
    }


def load_qat_model(float_checkpoint, qat_weights):
    model = qat_model(load_float_model(float_checkpoint))
    model.load_weights(str(qat_weights))
    return model


def int8_quality(qat, examples):
    """Mean quality of the INT8 flatbuffer that ships (converted from `qat`, any input size), so
    that the best QAT epoch is chosen on the model users get, not on its fake-quant simulation.
    Either I/O variant computes the same bytes (x - 128 in, y + 128 out), so uint8 I/O scores both."""
    import tempfile

    from abpn.model.modelfile import TFLiteRunner

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / EXPORTS["int8_dynamic"]
        path.write_bytes(convert_int8(qat, None, "uint8"))
        return mean_quality(TFLiteRunner(path).upscale, examples)


def quantize(float_checkpoint, data, run_dir, schedule, *, seed=None, strategy=None, verbose=None, ema=None):
    """QAT from a float checkpoint, resumable like `train`, then the exports (EXPORTS) into run_dir.
    Each epoch is scored on its INT8 conversion; `ema` averages the weights (see fit_resumable)."""
    from abpn.model.data import make_dataset

    run_dir = Path(run_dir)
    float_model = load_float_model(float_checkpoint)
    calibration = [lr for lr, _ in make_dataset(data.train, patch=schedule.patch, batch=schedule.batch, seed=0,
                                                small_patch=data.small_patch).take(CALIBRATION_BATCHES)]

    def build():
        model = qat_model(float_model)
        calibrate_ranges(model, float_model, calibration)
        return model

    fit_resumable(
        build, data, run_dir, schedule,
        config={"stage": "qat", "float_checkpoint_sha256": checkpoint_key(float_checkpoint)},
        notes={"float_checkpoint": str(float_checkpoint)},
        seed=seed, strategy=strategy, best_name=BEST_QAT_WEIGHTS, save_weights_only=True, verbose=verbose,
        ema=ema, score=int8_quality,
    )
    from abpn.model.modelfile import TFLiteRunner

    qat = load_qat_model(float_checkpoint, run_dir / BEST_QAT_WEIGHTS)
    exports = export_all(qat, float_model, run_dir)
    return QuantizeResult(
        exports=exports,
        scores={
            "float": keras_quality(float_model, data.val),
            "qat": keras_quality(qat, data.val),
            # The flatbuffer just exported is the one int8_quality would convert again.
            "int8": mean_quality(TFLiteRunner(exports["int8_dynamic"]).upscale, data.val),
        },
    )
