import json

import numpy as np
import pytest
from click.testing import CliRunner

from abpn.record import build as record
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
    assert record.record_errors(rec) == []
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
    # the float ABPN: every node, the anchor's 1x1 conv included
    assert (result["delegation"]["delegated_nodes"], result["delegation"]["total_nodes"]) == (12, 12)
    memory = result["memory"]  # this process: TensorFlow, both models and the feature maps
    assert 0 < memory["rss_before_bytes"] <= memory["peak_rss_bytes"] < 8 * 2**30, memory
    assert "over the timed runs" in memory["source"] and memory["arena_bytes"] is None
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
    run = CliRunner().invoke(main, ["bench-host", str(float_tflite_fixed), "--runs", "1", "--reference", str(other),
                                    "--json"])
    assert run.exit_code == 1, run.output  # a failed check is a failed command
    assert "output check FAILED" in run.stderr
    check = json.loads(run.stdout)["results"][0]["output_check"]  # the record is still printed
    assert not check["passed"] and check["psnr_db"] < check["threshold_db"]


def test_a_bad_reference_is_refused_before_the_timed_runs(float_tflite_fixed, tmp_path, monkeypatch):
    from abpn.bench import host

    def never(hw):
        raise AssertionError("timing started before the reference was checked")

    monkeypatch.setattr(host, "real_image", never)
    (tmp_path / "ref.tflite").write_text("not a model")
    run = CliRunner().invoke(main, ["bench-host", str(float_tflite_fixed), "--reference", str(tmp_path / "ref.tflite")])
    assert run.exit_code == 2 and "not a TFLite model" in run.output, run.output


@pytest.mark.parametrize("args, message", [
    (["--threads", "100000"], "1<=x<=64"),
    (["--runs", "100000000"], "1<=x<=10000"),
    (["--warmup", "100000000"], "0<=x<=1000"),
    (["--input-size", "100000x100000"], "at most 8294400 pixels"),
])
def test_option_values_that_would_exhaust_the_machine_are_refused(float_tflite_dynamic, args, message):
    run = CliRunner().invoke(main, ["bench-host", str(float_tflite_dynamic), *args])
    assert run.exit_code == 2 and message in run.output, run.output


def test_the_library_refuses_them_too(float_tflite_dynamic):
    from abpn.bench.host import bench_host
    from abpn.errors import AbpnError

    with pytest.raises(AbpnError, match="--threads must be 1..64"):
        bench_host(float_tflite_dynamic, threads=100_000)
    with pytest.raises(AbpnError, match="4K"):
        bench_host(float_tflite_dynamic, input_hw=(100_000, 100_000))


def test_xnnpack_takes_every_node_of_the_int8_io_model_and_all_but_quantize_of_the_uint8_one():
    """Measured with TFLite 2.21: XNNPACK takes the anchor's 1x1 conv, the 7 convs, the ADD and
    DEPTH_TO_SPACE of the lean INT8 graph; of the uint8-I/O model, the uint8<->int8 QUANTIZE ops
    stay on TFLite's own kernels (XNNPACK converts float to int8, not uint8 to int8). A change in
    either count is a change in what the benchmark measures."""
    from abpn import SHIPPED_INT8, SHIPPED_INT8_INT8IO
    from abpn.model.modelfile import TFLiteRunner

    runner = TFLiteRunner(SHIPPED_INT8, threads=1)
    delegated, total, evidence = _delegation(runner.interpreter)
    assert (delegated, total) == (10, 12), evidence
    assert evidence.endswith("on the TFLite CPU kernels: QUANTIZE")
    runner = TFLiteRunner(SHIPPED_INT8_INT8IO, threads=1)
    delegated, total, evidence = _delegation(runner.interpreter)
    assert (delegated, total) == (10, 10), evidence


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


def test_an_installed_wheel_ships_the_model_bench_host_times_by_default(tmp_path):
    """`pip install` of the wheel, outside the checkout: bench-host with no MODEL must still work."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(repo), "--no-deps", "-w", str(tmp_path / "dist")], check=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("abpn_tool-*.whl")
    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run(
        [sys.executable, "-c", "import abpn; print(abpn.__file__)"], cwd=elsewhere, env=env,
        capture_output=True, text=True, check=True,
    )
    assert Path(run.stdout.strip()).is_relative_to(target)  # the wheel's code, not the checkout's
    run = subprocess.run([sys.executable, "-m", "abpn", "bench-host", "--runs", "1", "--warmup", "0"],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "abpn_x3_int8.tflite (uint8 360x640)" in run.stdout and "-> passed" in run.stdout
    assert "abpn_x3_int8_dynamic.tflite" in run.stdout
