import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from click.testing import CliRunner

from abpn.cli import main
from abpn.errors import AbpnError
from abpn.model.schedules import TRAIN_PRESETS, Schedule, resolve_schedule
from abpn.model.train import completed_steps, load_float_model

TINY = ["--preset", "smoke", "--steps-per-epoch", "3", "--batch", "2", "--seed", "5"]


def _train_command(data, run_dir, cache, epochs):
    return [sys.executable, "-m", "abpn", "train", "--data", str(data), "--out", str(run_dir),
            "--cache-dir", str(cache), "--epochs", str(epochs), *TINY]


def _log_rows(run_dir):
    path = run_dir / "log.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _compiled_abpn():
    import tf_keras as keras

    from abpn.model.architecture import build_abpn

    model = build_abpn()
    model.compile(optimizer=keras.optimizers.Adam(), loss="mae")
    return model


def _steps_done(run_dir):
    return completed_steps(run_dir / "backup", _compiled_abpn())


def test_paper_preset_is_the_paper_schedule():
    paper = TRAIN_PRESETS["paper"]
    assert (paper.epochs, paper.steps_per_epoch, paper.learning_rate, paper.halve_every) == (1000, 1000, 1e-3, 200)
    assert (paper.batch, paper.patch) == (16, 64)
    assert [paper.learning_rate_at(e) for e in (0, 199, 200, 400, 999)] == [1e-3, 1e-3, 5e-4, 2.5e-4, 6.25e-5]


def test_overrides_and_bad_values():
    schedule = resolve_schedule(TRAIN_PRESETS, "paper", epochs=3, steps_per_epoch=None, halve_every=2)
    assert schedule.epochs == 3 and schedule.steps_per_epoch == 1000
    assert [schedule.learning_rate_at(e) for e in range(3)] == [1e-3, 1e-3, 5e-4]
    with pytest.raises(AbpnError, match="--steps-per-epoch must be at least 1"):
        resolve_schedule(TRAIN_PRESETS, "paper", steps_per_epoch=0)
    with pytest.raises(AbpnError, match="--lr must be a number above 0 and at most 1"):
        resolve_schedule(TRAIN_PRESETS, "paper", learning_rate=0.0)
    with pytest.raises(AbpnError, match="unknown preset"):
        resolve_schedule(TRAIN_PRESETS, "fast")


def test_sigkill_then_the_same_command_resumes(photo_folder, tmp_path):
    """Kill a real training process mid-run; re-running the command finishes the remaining epochs
    with the learning rate where the schedule says (smoke halves it after epoch 6), and a third
    run does nothing."""
    run_dir, cache = tmp_path / "run", tmp_path / "cache"
    command = _train_command(photo_folder, run_dir, cache, epochs=8)
    with open(tmp_path / "first.log", "w") as first_log:
        process = subprocess.Popen(command, stdout=first_log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        while len(_log_rows(run_dir)) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert process.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    completed_before = {int(row["epoch"]) for row in _log_rows(run_dir)}
    assert 2 <= len(completed_before) < 8

    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "Epoch 1/8" not in second.stdout  # resumed, not restarted
    assert "Epoch 8/8" in second.stdout

    rows = _log_rows(run_dir)
    assert [int(row["epoch"]) for row in rows] == list(range(8))
    schedule = Schedule(epochs=8, steps_per_epoch=3, learning_rate=1e-3, halve_every=6, batch=2)
    for row in rows:
        assert float(row["lr"]) == pytest.approx(schedule.learning_rate_at(int(row["epoch"])))
    assert (run_dir / "best.keras").is_file()
    assert any((run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    assert "PSNR-Y" in second.stdout

    assert _steps_done(run_dir) == 8 * 3

    third = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0 and "Epoch " not in third.stdout


def test_an_epoch_logged_but_not_backed_up_is_logged_once_after_resume(photo_folder, tmp_path):
    """The window a SIGKILL can hit between the epoch's log row and its backup, made certain: a file
    where the backup's folder should be makes the first backup fail after the first epoch is logged."""
    run_dir, cache = tmp_path / "run", tmp_path / "cache"
    (run_dir / "backup").mkdir(parents=True)
    (run_dir / "backup" / "chief").write_text("in the way")
    args = ["train", "--data", str(photo_folder), "--out", str(run_dir), "--cache-dir", str(cache),
            "--epochs", "3", *TINY]
    assert CliRunner().invoke(main, args).exit_code != 0
    assert [int(row["epoch"]) for row in _log_rows(run_dir)] == [0]

    (run_dir / "backup" / "chief").unlink()
    assert CliRunner().invoke(main, args, catch_exceptions=False).exit_code == 0
    assert [int(row["epoch"]) for row in _log_rows(run_dir)] == [0, 1, 2]


def test_init_starts_from_the_given_weights(photo_folder, tmp_path, float_keras_model):
    init = tmp_path / "init.keras"
    float_keras_model.save(init)
    run_dir = tmp_path / "run"
    args = ["train", "--data", str(photo_folder), "--out", str(run_dir), "--cache-dir", str(tmp_path / "cache"),
            "--init", str(init), "--epochs", "1", *TINY, "--lr", "1e-12"]
    assert CliRunner().invoke(main, args, catch_exceptions=False).exit_code == 0
    trained = load_float_model(run_dir)
    for started, ended in zip(float_keras_model.get_weights(), trained.get_weights()):
        np.testing.assert_allclose(started, ended, atol=1e-6)  # lr 1e-12: one epoch cannot move them


def test_bad_init_and_rescale_values_fail_before_training(photo_folder, tmp_path):
    run_dir = tmp_path / "run"
    not_a_model = tmp_path / "notes.keras"
    not_a_model.write_text("not a model")
    base = ["train", "--data", str(photo_folder), "--out", str(run_dir), *TINY]
    result = CliRunner().invoke(main, [*base, "--init", str(not_a_model)])
    assert result.exit_code == 2 and "is not a Keras checkpoint" in result.output
    result = CliRunner().invoke(main, [*base, "--rescale", "0.9,big"])
    assert result.exit_code == 2 and "separated by commas" in result.output
    result = CliRunner().invoke(main, [*base, "--rescale", "2"])
    assert result.exit_code == 2 and "between 0 and 1" in result.output
    assert not run_dir.exists()


def test_fine_tune_resume_follows_the_checkpoints_contents_not_its_path(photo_folder, tmp_path, float_keras_model):
    """Issue 18, point 15: new weights at the same path start a new run (refused in this folder); the same
    file under another spelling resumes."""
    from abpn.model import train as training
    from abpn.model.architecture import build_abpn

    init = tmp_path / "init.keras"
    float_keras_model.save(init)
    split = _tiny_split(photo_folder, tmp_path)
    schedule = Schedule(epochs=1, steps_per_epoch=1, learning_rate=1e-3, halve_every=10, batch=2)
    run_dir = tmp_path / "run"
    training.train(split, run_dir, schedule, seed=2, verbose=0, init=init)
    (tmp_path / "alias.keras").symlink_to(init)
    for spelling in (tmp_path / "alias.keras", tmp_path / "run" / ".." / "init.keras"):
        training.train(split, run_dir, schedule, seed=2, verbose=0, init=spelling)  # finished: nothing to do
    build_abpn().save(init)  # other weights, same path
    with pytest.raises(AbpnError, match="init_sha256 differ"):
        training.train(split, run_dir, schedule, seed=2, verbose=0, init=init)


def test_runs_keyed_on_the_checkpoint_path_before_still_resume_on_it(tmp_path):
    """run.json files written before the sha256 key held the path text; they resume on that text."""
    from abpn.model import train as training

    run_dir = tmp_path / "qat"
    run_dir.mkdir()
    (run_dir / training.RUN_CONFIG).write_text(json.dumps(
        {"stage": "qat", "float_checkpoint": "runs/float", "data_fingerprint": "f", "data": "notes"}))
    config = {"stage": "qat", "float_checkpoint_sha256": "abc", "data_fingerprint": "f"}
    training._check_run_config(run_dir, config, {"data": "notes", "float_checkpoint": "runs/float"})
    with pytest.raises(AbpnError, match="float_checkpoint differ"):
        training._check_run_config(run_dir, config, {"data": "notes", "float_checkpoint": "runs/other"})


def test_a_resumed_patch_stream_continues_where_it_stopped(photo_folder):
    from abpn.model.data import make_dataset, prepare_data

    examples = prepare_data(str(photo_folder), cache=False, progress=False).train
    whole = [lr.numpy() for lr, _ in make_dataset(examples, batch=2, seed=9).take(5)]
    resumed = [lr.numpy() for lr, _ in make_dataset(examples, batch=2, seed=9, start=3).take(2)]
    assert all((a == b).all() for a, b in zip(whole[3:], resumed))
    assert not (whole[0] == resumed[0]).all()


def test_resuming_with_other_settings_is_refused(photo_folder, tmp_path):
    run_dir, cache = tmp_path / "run", tmp_path / "cache"
    args = ["train", "--data", str(photo_folder), "--out", str(run_dir), "--cache-dir", str(cache), *TINY]
    assert CliRunner().invoke(main, [*args, "--epochs", "1"]).exit_code == 0
    result = CliRunner().invoke(main, [*args, "--epochs", "2"])
    assert result.exit_code != 0
    assert "other settings (schedule differ)" in result.output and "choose a new --out" in result.output


def test_an_empty_folder_fails_before_anything_is_written(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--data", str(empty), "--out", str(run_dir), *TINY])
    assert result.exit_code != 0 and str(empty) in result.output
    assert not run_dir.exists()


def test_trains_under_mirrored_strategy_on_two_logical_cpus(photo_folder, tmp_path):
    script = textwrap.dedent(f"""
        import abpn, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        from abpn.model.data import prepare_data
        from abpn.model.schedules import Schedule
        from abpn.model.train import train
        split = prepare_data({str(photo_folder)!r}, cache=False, progress=False)
        scores = train(split, {str(tmp_path / "run")!r},
                       Schedule(epochs=1, steps_per_epoch=3, learning_rate=1e-3, halve_every=10, batch=4),
                       seed=1, strategy=strategy, verbose=2)
        print("REPLICAS", strategy.num_replicas_in_sync, "PSNR", scores["model"]["psnr_y"])
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "REPLICAS 2" in result.stdout
    assert (tmp_path / "run" / "best.keras").is_file()


# ---------------------------------------------------------------------------------------------- issue 12/13


def _tiny_split(photo_folder, tmp_path):
    from abpn.model.data import prepare_data

    return prepare_data(str(photo_folder), cache_dir=tmp_path / "cache", progress=False)


def _read_ckpt_weights(run_dir):
    model = _compiled_abpn()
    completed_steps(run_dir / "backup", model)
    return model.get_weights()


def test_ema_validates_and_keeps_the_average_also_across_a_resume(photo_folder, tmp_path, float_keras_model,
                                                                   monkeypatch):
    """Momentum 1.0 freezes the average at the starting weights: every epoch, before and after a
    resume, must then score exactly the starting model while the trained weights move."""
    from abpn.model import train as training

    init = tmp_path / "init.keras"
    float_keras_model.save(init)
    split = _tiny_split(photo_folder, tmp_path)
    start_score = training.keras_quality(float_keras_model, split.val)["psnr_y"]
    run_dir = tmp_path / "run"
    schedule = Schedule(epochs=2, steps_per_epoch=3, learning_rate=1e-2, halve_every=10, batch=2)

    calls, mean_quality = [], training.mean_quality

    def interrupted_at_the_second_validation(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("interrupted")
        return mean_quality(*args)

    monkeypatch.setattr(training, "mean_quality", interrupted_at_the_second_validation)
    with pytest.raises(RuntimeError, match="interrupted"):
        training.train(split, run_dir, schedule, seed=2, verbose=0, init=init, ema=1.0)
    monkeypatch.undo()
    assert _steps_done(run_dir) == 3
    training.train(split, run_dir, schedule, seed=2, verbose=0, init=init, ema=1.0)  # resumes epoch 2
    assert _steps_done(run_dir) == 6
    assert [float(row["val_psnr_y"]) for row in _log_rows(run_dir)] == pytest.approx([start_score] * 2, abs=1e-9)
    for started, best in zip(float_keras_model.get_weights(), load_float_model(run_dir).get_weights()):
        np.testing.assert_array_equal(started, best)
    trained = _read_ckpt_weights(run_dir)
    assert any(not np.allclose(a, b) for a, b in zip(float_keras_model.get_weights(), trained))


def test_ema_with_momentum_zero_is_plain_training(photo_folder, tmp_path):
    """The swap around validation puts back exactly the trained weights: with momentum 0 the
    average is the weights, so the run equals one without EMA."""
    from abpn.model.train import train

    split = _tiny_split(photo_folder, tmp_path)
    schedule = Schedule(epochs=2, steps_per_epoch=2, learning_rate=1e-3, halve_every=10, batch=2)
    train(split, tmp_path / "plain", schedule, seed=2, verbose=0)
    train(split, tmp_path / "ema0", schedule, seed=2, verbose=0, ema=0.0)
    for a, b in zip(_read_ckpt_weights(tmp_path / "plain"), _read_ckpt_weights(tmp_path / "ema0")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_run_folder_resumes_on_the_same_files_however_spelled_and_refuses_others(photo_folder, tmp_path,
                                                                                     monkeypatch):
    import shutil

    from PIL import Image

    from conftest import synthetic_photo

    monkeypatch.chdir(photo_folder.parent)
    run_dir, cache = tmp_path / "run", tmp_path / "cache"

    def args(data, epochs):
        return ["train", "--data", data, "--out", str(run_dir), "--cache-dir", str(cache), "--epochs", str(epochs),
                *TINY]

    assert CliRunner().invoke(main, args("photos", 1), catch_exceptions=False).exit_code == 0
    again = CliRunner().invoke(main, args("./photos/", 1), catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "Epoch " not in again.output  # the same run, already finished
    assert [int(row["epoch"]) for row in _log_rows(run_dir)] == [0]

    other = tmp_path / "other"
    shutil.copytree(photo_folder, other)
    Image.fromarray(synthetic_photo(240, 246, seed=99)).save(other / "photo0.png")  # same names and counts
    refused = CliRunner().invoke(main, args(str(other), 1))
    assert refused.exit_code != 0 and "data_fingerprint differ" in refused.output


def test_completed_steps_comes_from_the_optimizer_not_a_checkpoint_key(tmp_path):
    """A legacy Keras optimizer names its step counter differently in the checkpoint
    (`optimizer/iter`); reading `iterations` through the object graph finds it all the same."""
    import tf_keras as keras

    from abpn.model.architecture import build_abpn

    def compiled():
        model = build_abpn()
        model.compile(optimizer=keras.optimizers.legacy.Adam(1e-4), loss="mae")
        return model

    x = np.zeros((2, 8, 8, 3), np.float32)
    y = np.zeros((2, 24, 24, 3), np.float32)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    compiled().fit(x, y, batch_size=1, epochs=3, callbacks=[backup], verbose=0)
    assert completed_steps(tmp_path / "backup", compiled()) == 6


@pytest.mark.parametrize("command", ["train", "quantize"])
def test_out_under_a_file_fails_before_any_work(photo_folder, tmp_path, command, float_keras_model):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    checkpoint = tmp_path / "float.keras"
    float_keras_model.save(checkpoint)
    head = ["train"] if command == "train" else ["quantize", str(checkpoint)]
    result = CliRunner().invoke(main, [*head, "--data", str(photo_folder), "--out", str(blocker / "run"), *TINY])
    assert result.exit_code != 0
    assert f"{blocker} is a file, not a folder" in " ".join(result.output.split()) and result.exit_code == 2
    assert "data:" not in result.output and "Traceback" not in result.output


def test_reparam_option_trains_branches_and_saves_a_plain_abpn(photo_folder, tmp_path):
    from abpn.model.architecture import PARAMETERS

    run_dir = tmp_path / "run"
    args = ["train", "--data", str(photo_folder), "--out", str(run_dir), "--cache-dir", str(tmp_path / "cache"),
            "--reparam", "--epochs", "1", *TINY]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert '"reparam": true' in (run_dir / "run.json").read_text()
    plain = load_float_model(run_dir)
    assert plain.count_params() == PARAMETERS
    assert [type(layer).__name__ for layer in plain.layers].count("Conv2D") == 7


def test_reparam_from_random_weights_starts_as_a_plain_random_abpn():
    """With every branch at its own random start, the merged convs had activations 10-15 times a
    plain ABPN's on 0..255 inputs and conv6's ReLUs died within 100 steps at any rate from 1e-4 to
    1e-3 (issue 21's pilot b). The start must be a plain random ABPN's, split into branches."""
    import skimage.data
    import tf_keras as keras

    from abpn.model.architecture import build_abpn, is_reparam
    from abpn.model.train import start_model

    x = skimage.data.astronaut()[100:160, 150:230][None].astype(np.float32)
    keras.utils.set_random_seed(5)
    plain = build_abpn()
    keras.utils.set_random_seed(5)
    model = start_model(reparam=True)
    assert is_reparam(model)
    np.testing.assert_allclose(model(x).numpy(), plain(x).numpy(), atol=1e-2)


def test_l2_loss_option_trains_on_squared_error(photo_folder, tmp_path):
    losses = {}
    for loss in ("l1", "l2"):
        run_dir = tmp_path / loss
        args = ["train", "--data", str(photo_folder), "--out", str(run_dir), "--cache-dir", str(tmp_path / "cache"),
                "--loss", loss, "--epochs", "1", *TINY]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        losses[loss] = float(_log_rows(run_dir)[0]["loss"])
    assert '"loss": "l2"' in (tmp_path / "l2" / "run.json").read_text()
    # errors of several grey levels: the mean square is far above the mean absolute value
    assert losses["l1"] > 2 and losses["l2"] > 2 * losses["l1"]


def test_a_diverged_checkpoint_is_refused_before_any_work(tmp_path, float_keras_model):
    """Issue 18: `train --lr nan` used to leave NaN weights that `quantize` then died on with an
    AssertionError. Such weights are refused where any checkpoint is loaded."""
    import tf_keras as keras

    from abpn.model.architecture import CUSTOM_OBJECTS

    diverged = keras.models.clone_model(float_keras_model)
    with keras.utils.custom_object_scope(CUSTOM_OBJECTS):
        diverged.set_weights([np.full_like(w, np.nan) for w in float_keras_model.get_weights()])
    diverged.save(tmp_path / "best.keras")
    result = CliRunner().invoke(main, ["quantize", str(tmp_path / "best.keras"), "--out", str(tmp_path / "qat")])
    assert result.exit_code == 1 and "NaN or infinite weights" in result.output, result.output
    assert not (tmp_path / "qat").exists()
