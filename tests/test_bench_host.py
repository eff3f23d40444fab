import json

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner

from abpn.bench import record
from abpn.bench.host import _delegation, real_image
from abpn.cli import main
from conftest import TEST_TILE_HW


def _bench(*args):
    run = CliRunner().invoke(main, ["bench-host", *map(str, args)])
    assert run.exit_code == 0, run.output
    return run


def test_json_record_matches_the_schema(float_tflite_fixed, float_tflite_dynamic):
    run = _bench(float_tflite_fixed, "--runs", 4, "--warmup", 1, "--threads", 1,
                 "--reference", float_tflite_dynamic, "--json")
    rec = json.loads(run.stdout)
    jsonschema.Draft202012Validator(record.load_schema()).validate(rec)
    assert rec["device"]["kind"] == "host"
    assert rec["model"]["file_name"] == float_tflite_fixed.name
    assert rec["model"]["input_shape"] == [1, *TEST_TILE_HW, 3]
    (result,) = rec["results"]
    assert result["accelerator"] == "cpu" and result["status"] == "ok"
    assert result["options"]["threads"] == 1 and result["options"]["delegate"] == "xnnpack"
    assert result["runs"] == 4 and len(result["samples_ms"]) == 4 and result["warmup_runs"] == 1
    stats = result["latency_ms"]
    assert stats["min"] <= stats["median"] <= stats["p90"] <= stats["max"]
    assert stats["min"] == min(result["samples_ms"])
    # The fixed model on one tile is exactly the dynamic model on the same photo.
    assert result["output_check"]["passed"] and result["output_check"]["psnr_db"] is None
    assert float_tflite_dynamic.name in result["notes"]
    assert 0 < result["delegation"]["delegated_nodes"] <= result["delegation"]["total_nodes"]
    timing = result["timing"]
    assert len(timing["wall_samples_ms"]) == 4  # the wall time adds the input/output copies to invoke()
    assert all(wall >= native for wall, native in zip(timing["wall_samples_ms"], result["samples_ms"]))


def test_dynamic_model_at_a_chosen_size_and_human_summary(float_tflite_dynamic):
    run = _bench(float_tflite_dynamic, "--runs", 2, "--warmup", 0, "--input-size", "24x48")
    assert "median" in run.stdout and "output check: identical" in run.stdout
    assert "own first output" in run.stdout  # no --reference: says the check is determinism only
    rec = json.loads(_bench(float_tflite_dynamic, "--runs", 1, "--input-size", "24x48", "--json").stdout)
    assert rec["model"]["input_shape"] == [1, 24, 48, 3] and rec["model"]["output_shape"] == [1, 72, 144, 3]


def test_fixed_model_refuses_another_input_size(float_tflite_fixed):
    run = CliRunner().invoke(main, ["bench-host", str(float_tflite_fixed), "--input-size", "360x640"])
    assert run.exit_code == 1 and "takes 36x64 inputs only" in run.output
    run = CliRunner().invoke(main, ["bench-host", str(float_tflite_fixed), "--input-size", "big"])
    assert run.exit_code == 2 and "HEIGHTxWIDTH" in run.output


def test_a_wrong_reference_fails_the_output_check(float_tflite_fixed, tmp_path):
    from abpn.model.architecture import build_abpn

    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(99)  # other weights: the outputs must disagree
    other = tmp_path / "other.tflite"
    other.write_bytes(tf.lite.TFLiteConverter.from_keras_model(build_abpn()).convert())
    rec = json.loads(_bench(float_tflite_fixed, "--runs", 1, "--reference", other, "--json").stdout)
    check = rec["results"][0]["output_check"]
    assert not check["passed"] and check["psnr_db"] < check["threshold_db"]


@pytest.mark.parametrize("hw", [(36, 64), (360, 640), (100, 20), (7, 7)])
def test_real_image_has_the_input_size(hw):
    img = real_image(hw)
    assert img.shape == (*hw, 3) and img.dtype == np.uint8
    assert img.std() > 10  # a photo, not a flat fill


def test_delegation_counts_ops_inside_delegate_partitions():
    ops = [
        {"index": 0, "op_name": "CONCATENATION", "inputs": np.array([0, 0]), "outputs": np.array([5])},
        {"index": 1, "op_name": "CONV_2D", "inputs": np.array([5, 1, 2]), "outputs": np.array([6])},
        {"index": 2, "op_name": "ADD", "inputs": np.array([6, 5]), "outputs": np.array([7])},
        {"index": 3, "op_name": "DELEGATE", "inputs": np.array([5, 1, 2]), "outputs": np.array([7])},
    ]

    class Interpreter:
        def _get_ops_details(self):
            return ops

    delegated, total, evidence = _delegation(Interpreter())
    assert (delegated, total) == (2, 3)
    assert "CONCATENATION" in evidence
