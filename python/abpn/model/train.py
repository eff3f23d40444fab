"""Float training of ABPN the way the paper does it, resumable after any interruption.

The loop is plain `keras.Model.fit` with Keras' own callbacks: BackupAndRestore makes a killed run
continue from its last completed epoch (optimizer state and learning-rate schedule included),
ModelCheckpoint keeps the best model by validation PSNR, CSVLogger and TensorBoard keep the logs.
Quantization-aware training (quantize.py) runs through the same `fit_resumable`.
"""
import csv
import dataclasses
import io
import json
import logging
import sys
from pathlib import Path

import numpy as np

import abpn  # noqa: F401  (selects the Keras 2 API before TensorFlow loads)
from abpn import SCALE
from abpn.core.files import check_output_path, file_sha256, write_atomically
from abpn.errors import AbpnError
from abpn.model.inference import BEST_MODEL, load_float_model, upscale_with

log = logging.getLogger(__name__)

RUN_CONFIG = "run.json"
LOG_CSV = "log.csv"
MONITOR = "val_psnr_y"
LOSSES = {"l1": "mean_absolute_error", "l2": "mean_squared_error"}
# The usual weight-averaging rate of SR training configs (e.g. BasicSR's ema_decay 0.999).
EMA_MOMENTUM = 0.999


def default_strategy():
    """MirroredStrategy when several GPUs are visible, else the default (single device)."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    return tf.distribute.get_strategy()


def mean_quality(upscale, examples):
    """Mean PSNR/SSIM (RGB crop 1, Y crop 3) of `upscale` over (lr, hr) examples."""
    from abpn.core.metrics import quality

    scores = [quality(upscale(lr), hr, SCALE) for lr, hr in examples]
    return {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}


def bicubic_quality(examples):
    from abpn.core.imresize import imresize_bicubic, to_uint8

    return mean_quality(lambda lr: to_uint8(imresize_bicubic(lr, SCALE)), examples)


def keras_quality(model, examples):
    return mean_quality(lambda lr: upscale_with(model, lr), examples)


def _validation_callback(examples, score):
    import tf_keras as keras

    class ValidationPSNR(keras.callbacks.Callback):
        """Full-image PSNR on the validation set at the end of each epoch (logged as val_psnr_*),
        which ModelCheckpoint then uses to keep the best model."""

        def on_epoch_end(self, epoch, logs=None):
            scores = score(self.model, examples)
            logs["val_psnr_rgb"] = scores["psnr_rgb"]
            logs["val_psnr_y"] = scores["psnr_y"]
            logs["val_ssim_y"] = scores["ssim_y"]

    return ValidationPSNR()


def _averaged_weights_callbacks():
    """Two callbacks around the epoch-end callbacks that validate and save: the first puts the
    optimizer's moving average of the weights into the model, the second puts the trained weights
    back before BackupAndRestore saves the state (which holds both, so a resumed run keeps its
    average)."""
    import tf_keras as keras

    class SwapInAverage(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.trained = [v.numpy() for v in self.model.trainable_variables]
            self.model.optimizer.finalize_variable_values(self.model.trainable_variables)

    class SwapBack(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            for variable, value in zip(self.model.trainable_variables, swap_in.trained):
                variable.assign(value)

    swap_in = SwapInAverage()
    return swap_in, SwapBack()


def _best_so_far(run_dir, best_path):
    """After a restart ModelCheckpoint forgets its best value; the CSV log remembers it."""
    path = run_dir / LOG_CSV
    if not (best_path.exists() and path.exists()):
        return None
    with open(path, newline="") as f:
        values = [float(row[MONITOR]) for row in csv.DictReader(f) if row.get(MONITOR)]
    return max(values, default=None)


# Runs started before checkpoints were keyed on their contents kept the checkpoint's path text under the
# second name; they resume on it as before.
_LEGACY_KEYS = {"init_sha256": "init", "float_checkpoint_sha256": "float_checkpoint"}


def checkpoint_key(path):
    """What a run started from a checkpoint is keyed on: the sha256 of the checkpoint file (the best model
    of a run folder), so that new weights at the same path start a new run and the same file under another
    spelling resumes."""
    from abpn.core.filekinds import keras_checkpoint_file

    return file_sha256(keras_checkpoint_file(path))


def _check_run_config(run_dir, config, notes):
    """A run folder belongs to one configuration: resuming it with other settings would silently
    mix two schedules. `notes` are saved beside it for people (such as the data description and
    checkpoint paths) but not compared."""
    path = run_dir / RUN_CONFIG
    if path.exists():
        saved = json.loads(path.read_text())
        legacy = {old for new, old in _LEGACY_KEYS.items() if new in config and new not in saved and old in saved}
        if legacy:
            config = {k: v for k, v in config.items() if _LEGACY_KEYS.get(k) not in legacy}
            config.update({old: notes[old] for old in legacy})
        if "data_fingerprint" not in saved:
            # A run started before data fingerprints: its key was the description.
            config = {**{k: v for k, v in config.items() if k != "data_fingerprint"}, "data": notes["data"]}
        else:
            saved = {k: v for k, v in saved.items() if k not in notes or k in legacy}
        if saved != config:
            changed = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
            raise AbpnError(
                f"{run_dir} holds a run started with other settings ({', '.join(changed)} differ). "
                "Re-run with the same options to resume it, or choose a new --out."
            )
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps({**config, **notes}, indent=2, sort_keys=True))


def _forget_unfinished_epochs(log_path, completed_epochs):
    """Drops log rows of epochs the backup does not hold. The log is written before the backup, so
    a run killed between the two re-runs that epoch; without this it would appear twice."""
    if not log_path.exists():
        return
    with open(log_path, newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    kept = [row for row in rows if int(row["epoch"]) < completed_epochs]
    if fields is None or len(kept) == len(rows):
        return
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(kept)
    write_atomically(log_path, text.getvalue())


def completed_steps(backup_dir, model):
    """Training steps a BackupAndRestore checkpoint has done (0 when there is none): where the
    patch stream must continue for a resumed run to see what an uninterrupted one would. `model`
    is the compiled model the checkpoint belongs to: the checkpoint is read into it (as
    BackupAndRestore does) and the count comes from its optimizer's `iterations`."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(Path(backup_dir) / "chief"))
    if latest is None:
        return 0
    tf.train.Checkpoint(model=model).read(latest).expect_partial()
    return int(model.optimizer.iterations.numpy())


def fit_resumable(build_model, data, run_dir, schedule, *, config, seed=None, strategy=None,
                  best_name=BEST_MODEL, save_weights_only=False, verbose=None, ema=None, score=keras_quality,
                  loss="l1", notes=None):
    """Trains `build_model()` on `data` (abpn.model.data.DataSplit) with L1 loss and Adam, resuming from
    run_dir/backup when a previous run of the same configuration was interrupted.

    With `ema` (a momentum such as EMA_MOMENTUM) the optimizer keeps a moving average of the
    weights, and validation, the best checkpoint and the final weights are the average's.
    `score(model, examples)` gives the validation scores (default: the Keras model itself).
    `loss` is "l1" (the paper's) or "l2" (for a short final fine-tune at a low rate). `notes` are saved in
    run.json for people but not compared when resuming (see _check_run_config).

    Returns the Keras History (empty when the run had already finished)."""
    import tf_keras as keras

    from abpn.model.data import make_dataset

    run_dir = Path(run_dir)
    check_output_path(run_dir, folder=True, parents=True)
    config = {**config, "schedule": dataclasses.asdict(schedule), "seed": seed}
    notes = {**(notes or {}), "data": data.description}
    if data.fingerprint:
        config["data_fingerprint"] = data.fingerprint
    else:
        config["data"] = data.description
    if ema is not None:
        config["ema"] = ema
    if loss not in LOSSES:
        raise AbpnError(f"--loss must be one of {', '.join(LOSSES)} (got {loss!r})")
    if loss != "l1":
        config["loss"] = loss
    _check_run_config(run_dir, config, notes)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    strategy = strategy or default_strategy()
    with strategy.scope():
        model = build_model()
        optimizer = (keras.optimizers.Adam(schedule.learning_rate) if ema is None else
                     keras.optimizers.Adam(schedule.learning_rate, use_ema=True, ema_momentum=ema))
        model.compile(optimizer=optimizer, loss=LOSSES[loss])
    backup_dir = run_dir / "backup"
    start = completed_steps(backup_dir, model)
    dataset = make_dataset(data.train, patch=schedule.patch, batch=schedule.batch, seed=seed, start=start,
                           small_patch=data.small_patch)
    best_path = run_dir / best_name
    # Read before the log is trimmed: best_path may hold a re-run epoch's weights and its score.
    best_so_far = _best_so_far(run_dir, best_path)
    _forget_unfinished_epochs(run_dir / LOG_CSV, start // schedule.steps_per_epoch)
    swap_in, swap_back = _averaged_weights_callbacks() if ema is not None else (None, None)
    callbacks = [
        keras.callbacks.LearningRateScheduler(schedule.learning_rate_at),
        swap_in,
        _validation_callback(data.val, score),
        keras.callbacks.ModelCheckpoint(
            str(best_path), monitor=MONITOR, mode="max", save_best_only=True,
            save_weights_only=save_weights_only, initial_value_threshold=best_so_far,
        ),
        keras.callbacks.CSVLogger(str(run_dir / LOG_CSV), append=True),
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False, profile_batch=0),
        swap_back,
        # Last, so that an epoch is only counted done once everything above has recorded it; kept
        # after the last epoch so that re-running a finished command does nothing.
        keras.callbacks.BackupAndRestore(str(backup_dir), delete_checkpoint=False),
    ]
    callbacks = [callback for callback in callbacks if callback is not None]
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    history = model.fit(
        dataset, epochs=schedule.epochs, steps_per_epoch=schedule.steps_per_epoch,
        callbacks=[keras.callbacks.TerminateOnNaN(), *callbacks], verbose=verbose,
    )
    losses = history.history.get("loss") or []
    if losses and not np.isfinite(losses[-1]):
        raise AbpnError(f"training diverged: the loss became {losses[-1]} (learning rate {schedule.learning_rate:g}), "
                        f"so {run_dir} holds no usable model. Start again with a lower --lr and a new --out.")
    return history


def start_model(init=None, reparam=False):
    """The model a float run starts from: random weights, or the checkpoint `init`'s; plain, or
    with re-parameterized branches (`reparam`).

    From random weights the branches start as a plain ABPN's random convs split into branches
    (the other branches' last factors at zero), not each at its own random start: on 0..255 inputs
    the identity branches stacked on full-scale 3x3 convs give activations 10-15 times a plain
    ABPN's, and conv6's ReLUs all died within 100 steps at any rate from 1e-4 to 1e-3, the model
    stuck at the anchor's output for good (issue 21's pilot b: 26.9 dB, below bicubic). From this
    start they stay alive at 3e-4 and below; at 1e-3 the branches' summed steps still kill them.
    """
    from abpn.model.architecture import build_abpn, reparam_from_plain

    if init is None:
        return reparam_from_plain(build_abpn()) if reparam else build_abpn()
    start = load_float_model(init)
    if reparam:
        return reparam_from_plain(start)
    model = build_abpn()
    model.set_weights(start.get_weights())
    return model


def train(data, run_dir, schedule, *, seed=None, strategy=None, verbose=None, init=None, ema=None, reparam=False,
          loss="l1"):
    """Float ABPN training, from random weights or from the checkpoint `init` (fine-tuning). `data`
    is an abpn.model.data.DataSplit. `ema`: average the weights with this momentum (see
    fit_resumable). `reparam`: train every conv as merged parallel branches (RepConv2D); the best
    model still loads as the plain ABPN (load_float_model merges it). Returns the best validation
    scores and the bicubic scores on the same images."""
    run_dir = Path(run_dir)
    config, notes = {"stage": "float"}, {}
    if init is not None:
        config["init_sha256"] = checkpoint_key(init)
        notes["init"] = str(init)
    if reparam:
        config["reparam"] = True
    fit_resumable(lambda: start_model(init, reparam), data, run_dir, schedule, config=config, seed=seed,
                  strategy=strategy, verbose=verbose, ema=ema, loss=loss, notes=notes)
    best = load_float_model(run_dir / BEST_MODEL)
    return {
        "model": keras_quality(best, data.val),
        "bicubic": bicubic_quality(data.val),
    }
