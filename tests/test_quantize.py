import numpy as np
import pytest
import tensorflow as tf

from abpn.model.modelfile import TFLiteRunner, inspect_model, operator_names
from abpn.model.quantize import (DEPLOY_HW, EXPORTS, calibrate_ranges, convert_float, convert_int8,
                           quantize, qat_model)
from abpn.model.schedules import QAT_PRESETS, Schedule
from abpn.model.train import upscale_with
from conftest import synthetic_photo

# The anchor is the first CONV_2D (a fixed 1x1 conv), the seven 3x3 convs follow.
LEAN_OPS = ["QUANTIZE", *["CONV_2D"] * 8, "ADD", "DEPTH_TO_SPACE", "QUANTIZE"]


def _interpreter(content):
    interpreter = tf.lite.Interpreter(model_content=content)
    interpreter.allocate_tensors()
    return interpreter


@pytest.fixture(scope="module")
def qat(float_keras_model):
    model = qat_model(float_keras_model)
    rng = np.random.default_rng(0)
    batches = [rng.uniform(0, 255, (2, 24, 24, 3)).astype(np.float32) for _ in range(2)]
    calibrate_ranges(model, float_keras_model, batches)
    return model


@pytest.fixture(scope="module")
def int8_uint8_io(qat):
    return convert_int8(qat, DEPLOY_HW, "uint8")


def test_qat_wraps_every_conv_and_really_fake_quantizes(qat, float_keras_model):
    wrapped = {layer.layer.name for layer in qat.layers if type(layer).__name__ == "QuantizeWrapperV2"}
    assert {f"conv{i}" for i in range(1, 8)} <= wrapped
    assert any(type(layer).__name__ == "QuantizeLayer" for layer in qat.layers)
    x = synthetic_photo(30, 40)[None].astype(np.float32)
    fake, real = qat(x).numpy(), float_keras_model(x).numpy()
    assert not np.array_equal(fake, real)
    # Fake quantization of the sum to [0, 255] with step 1 makes the output whole numbers in range.
    np.testing.assert_array_equal(fake, np.round(fake))
    assert fake.min() >= 0 and fake.max() <= 255
    assert np.abs(fake - np.clip(real, 0, 255)).mean() < 3


def test_int8_graph_is_lean_and_int8_between_input_and_output(int8_uint8_io):
    assert operator_names(int8_uint8_io) == LEAN_OPS
    interpreter = _interpreter(int8_uint8_io)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert (list(inp["shape"]), inp["dtype"], inp["quantization"]) == ([1, 360, 640, 3], np.uint8, (1.0, 0))
    assert (list(out["shape"]), out["dtype"], out["quantization"]) == ([1, 1080, 1920, 3], np.uint8, (1.0, 0))
    io = {inp["index"], out["index"]}
    for tensor in interpreter.get_tensor_details():
        if tensor["index"] in io:
            continue
        if tensor["dtype"] == np.int32:
            assert tensor["shape"].ndim == 1, tensor["name"]  # conv biases are int32, as TFLite requires
        else:
            assert tensor["dtype"] == np.int8, tensor["name"]
    add = next(t for t in interpreter.get_tensor_details() if "add" in t["name"].lower() and t["dtype"] == np.int8)
    assert add["quantization"] == (1.0, -128)  # [0, 255] exactly: saturation is the clip


def test_the_anchor_conv_is_an_exact_int8_copy(int8_uint8_io):
    """0/1 weights stored as 127/0 at scale 1/127, input and output both at scale 1, zero point -128:
    the requantized sum 127 * x / 127 is x again."""
    interpreter = _interpreter(int8_uint8_io)
    tensors = interpreter.get_tensor_details()
    kernel = next(t for t in tensors if "anchor" in t["name"] and list(t["shape"]) == [27, 1, 1, 3])
    weights = interpreter.get_tensor(kernel["index"])
    assert kernel["dtype"] == np.int8 and set(np.unique(weights)) == {0, 127}
    assert np.array_equal(weights[:, 0, 0, :] == 127, np.eye(3, dtype=bool)[np.arange(27) % 3])
    np.testing.assert_allclose(kernel["quantization_parameters"]["scales"], 1 / 127, rtol=1e-6)
    output = next(t for t in tensors if "anchor" in t["name"] and list(t["shape"]) == [1, 360, 640, 27])
    assert output["quantization"] == (1.0, -128)


@pytest.mark.parametrize("io", ["uint8", "int8"])
def test_the_conv_anchor_gives_the_same_bytes_as_the_concat_anchor_on_a_photo(float_keras_model, qat, io, tmp_path):
    """The graph change of issue 22 changes no output byte: the previous graph (CONCATENATION) and the
    new one (1x1 CONV_2D) from the same weights, on a real photo, through XNNPACK."""
    from abpn.bench.host import real_image
    from abpn.model.architecture import ConcatAnchor

    concat = qat_model(float_keras_model, anchor=ConcatAnchor)
    concat.set_weights(qat.get_weights())
    old, new = convert_int8(concat, DEPLOY_HW, io), convert_int8(qat, DEPLOY_HW, io)
    assert "CONCATENATION" in operator_names(old) and "CONCATENATION" not in operator_names(new)
    (tmp_path / "old.tflite").write_bytes(old)
    (tmp_path / "new.tflite").write_bytes(new)
    photo = real_image(DEPLOY_HW)
    outputs = [TFLiteRunner(tmp_path / name, threads=2).upscale(photo) for name in ("old.tflite", "new.tflite")]
    np.testing.assert_array_equal(*outputs)


def test_int8_io_variant_has_no_quantize_ops(qat):
    content = convert_int8(qat, DEPLOY_HW, "int8")
    assert operator_names(content) == LEAN_OPS[1:-1]
    interpreter = _interpreter(content)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_input_details()[0]["quantization"] == (1.0, -128)
    assert interpreter.get_output_details()[0]["quantization"] == (1.0, -128)


def test_int8_io_is_the_uint8_model_with_the_top_bit_flipped(qat, int8_uint8_io, tmp_path):
    """x XOR 0x80 is x - 128 for uint8 x: what the phone app feeds the int8-I/O model, and how it
    reads the output back."""
    from abpn.bench.host import real_image

    (tmp_path / "u8.tflite").write_bytes(int8_uint8_io)
    (tmp_path / "i8.tflite").write_bytes(convert_int8(qat, DEPLOY_HW, "int8"))
    photo = real_image(DEPLOY_HW)[None]
    expected = TFLiteRunner(tmp_path / "u8.tflite").invoke_raw(photo)
    flipped = TFLiteRunner(tmp_path / "i8.tflite").invoke_raw((photo ^ 0x80).view(np.int8))
    np.testing.assert_array_equal(flipped.view(np.uint8) ^ 0x80, expected)


def test_fixed_and_dynamic_int8_agree_and_follow_the_qat_model(qat, int8_uint8_io, tmp_path):
    (tmp_path / "fixed.tflite").write_bytes(int8_uint8_io)
    (tmp_path / "dynamic.tflite").write_bytes(convert_int8(qat, None, "uint8"))
    lr = synthetic_photo(*DEPLOY_HW, seed=3)
    fixed = TFLiteRunner(tmp_path / "fixed.tflite", threads=2).upscale(lr)
    dynamic = TFLiteRunner(tmp_path / "dynamic.tflite", threads=2).upscale(lr)
    np.testing.assert_array_equal(fixed, dynamic)
    small = lr[:48, :80]
    diff = np.abs(TFLiteRunner(tmp_path / "dynamic.tflite").upscale(small).astype(int) - upscale_with(qat, small).astype(int))
    assert diff.mean() < 0.5 and diff.max() <= 8
    assert inspect_model(tmp_path / "dynamic.tflite").dynamic


def test_float_exports_are_clipped_float_models(float_keras_model):
    fp32 = _interpreter(convert_float(float_keras_model))
    assert fp32.get_input_details()[0]["dtype"] == np.float32
    assert list(fp32.get_output_details()[0]["shape"]) == [1, 1080, 1920, 3]
    fp16 = convert_float(float_keras_model, fp16=True)
    assert "DEQUANTIZE" in operator_names(fp16)  # float16 weights, dequantized at load time


def _one_epoch_of_qat(float_keras_model, tmp_path, validation_images):
    """Two QAT steps on three synthetic photos: (result, float checkpoint, data split)."""
    from abpn.model.data import DataSplit

    checkpoint = tmp_path / "float.keras"
    float_keras_model.save(checkpoint)
    images = [synthetic_photo(210, 240, seed=i) for i in range(3)]
    examples = [(img[::3, ::3].copy(), img) for img in images]
    data = DataSplit(train=examples, val=examples[:validation_images], description="synthetic")
    schedule = Schedule(epochs=1, steps_per_epoch=2, learning_rate=1e-4, halve_every=1, batch=2)
    return quantize(checkpoint, data, tmp_path / "qat", schedule, seed=0, verbose=0), checkpoint, data


def test_quantize_runs_resumable_qat_and_writes_the_four_exports(float_keras_model, tmp_path):
    result, _, _ = _one_epoch_of_qat(float_keras_model, tmp_path, validation_images=1)
    assert set(result.exports) == set(EXPORTS)
    for name, path in result.exports.items():
        assert path.name == EXPORTS[name] and inspect_model(path)
    assert inspect_model(result.exports["int8"]).input_shape == (1, 360, 640, 3)
    both = [inspect_model(result.exports[name]) for name in ("int8", "int8_int8io")]
    assert [(m.input_shape, m.input_dtype, m.output_dtype) for m in both] == [
        ((1, 360, 640, 3), "uint8", "uint8"), ((1, 360, 640, 3), "int8", "int8")]
    assert operator_names(result.exports["int8_int8io"].read_bytes()) == LEAN_OPS[1:-1]
    assert (tmp_path / "qat" / "best_qat.weights.h5").is_file()
    assert result.scores["qat"]["psnr_y"] > 10
    assert QAT_PRESETS["paper"].epochs == 200 and QAT_PRESETS["paper"].halve_every == 50


def test_unquantized_integer_io_is_taken_as_plain_pixels():
    """TFLite reports scale 0 for an integer tensor that carries no quantization."""
    assert TFLiteRunner._quantization({"quantization": (0.0, 0)}) == (1.0, 0)
    assert TFLiteRunner._quantization({"quantization": (1.0, -128)}) == (1.0, -128)


# ---------------------------------------------------------------------------------------------- issue 13


def test_qat_model_copies_the_float_weights_by_name(float_keras_model):
    from abpn.model.quantize import copy_weights_by_name

    qat = qat_model(float_keras_model)
    for i in range(1, 8):
        wrapper = {v.name.split("/")[-1].split(":")[0]: v for v in qat.get_layer(f"quant_conv{i}").weights}
        np.testing.assert_array_equal(wrapper["kernel"].numpy(), float_keras_model.get_layer(f"conv{i}").kernel.numpy())
        np.testing.assert_array_equal(wrapper["bias"].numpy(), float_keras_model.get_layer(f"conv{i}").bias.numpy())

    # A source layer with fewer variables than the target (the case the old count check skipped
    # wholesale, keeping fresh weights) still gives the ones it has.
    import tf_keras as keras

    def one_conv(use_bias):
        inputs = keras.Input((8, 8, 3))
        return keras.Model(inputs, keras.layers.Conv2D(4, 3, use_bias=use_bias, name="c")(inputs))

    source, target = one_conv(use_bias=False), one_conv(use_bias=True)
    assert len(source.get_layer("c").weights) < len(target.get_layer("c").weights)
    copy_weights_by_name(source, target)
    np.testing.assert_array_equal(target.get_layer("c").kernel.numpy(), source.get_layer("c").kernel.numpy())


def test_the_best_qat_epoch_is_chosen_on_the_int8_flatbuffer(float_keras_model, tmp_path):
    """The logged validation score is the exported INT8 model's, not the fake-quant Keras model's."""
    import csv

    from abpn.model.quantize import int8_quality
    from abpn.model.train import keras_quality

    result, checkpoint, data = _one_epoch_of_qat(float_keras_model, tmp_path, validation_images=2)
    with open(tmp_path / "qat" / "log.csv", newline="") as f:
        logged = float(next(csv.DictReader(f))["val_psnr_y"])
    assert logged == pytest.approx(result.scores["int8"]["psnr_y"], abs=1e-9)
    qat = load_qat(checkpoint, tmp_path / "qat")
    assert result.scores["int8"] == int8_quality(qat, data.val)
    # the two scores differ: choosing on the fake-quant model would be choosing on something else
    assert keras_quality(qat, data.val)["psnr_y"] != pytest.approx(logged, abs=1e-6)


def load_qat(checkpoint, run_dir):
    from abpn.model.quantize import BEST_QAT_WEIGHTS, load_qat_model

    return load_qat_model(checkpoint, run_dir / BEST_QAT_WEIGHTS)


def test_sigkill_during_qat_then_the_same_command_resumes(photo_folder, float_keras_model, tmp_path):
    import csv
    import os
    import signal
    import subprocess
    import sys
    import time

    checkpoint = tmp_path / "float.keras"
    float_keras_model.save(checkpoint)
    run_dir = tmp_path / "qat"
    command = [sys.executable, "-m", "abpn", "quantize", str(checkpoint), "--data", str(photo_folder),
               "--out", str(run_dir), "--cache-dir", str(tmp_path / "cache"), "--preset", "smoke",
               "--epochs", "4", "--steps-per-epoch", "3", "--batch", "2", "--seed", "5"]

    def epochs_logged():
        if not (run_dir / "log.csv").exists():
            return []
        with open(run_dir / "log.csv", newline="") as f:
            return [int(row["epoch"]) for row in csv.DictReader(f)]

    with open(tmp_path / "first.log", "w") as first_log:
        process = subprocess.Popen(command, stdout=first_log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        # two logged epochs: the first is then surely backed up too (the log row comes first)
        while len(epochs_logged()) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert process.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert 2 <= len(epochs_logged()) < 4
    assert not (run_dir / EXPORTS["int8"]).exists()

    second = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "Epoch 1/4" not in second.stdout and "Epoch 4/4" in second.stdout
    assert epochs_logged() == [0, 1, 2, 3]
    assert operator_names((run_dir / EXPORTS["int8"]).read_bytes()) == LEAN_OPS
