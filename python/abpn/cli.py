"""abpn-tool: a thin command-line layer over the abpn library.

Each command parses options, calls one library function and prints its result; the work lives in
the module named for the job (data, train, quantize, evaluate, tiling, device, collector, report).
Heavy imports (TensorFlow) happen inside the commands so that `--help` stays instant.
"""
import click

from abpn import __version__
from abpn.bench.host import MAX_INPUT_HW, MAX_RUNS, MAX_THREADS, MAX_WARMUP
from abpn.core.urls import COLLECTOR_URL_EXAMPLE
from abpn.errors import AbpnError
from abpn.model.schedules import QAT_PRESETS, TRAIN_PRESETS, resolve_schedule
from abpn.options import (BoundedInt, FactorList, FiniteFloat, HttpUrl, ImageSize, InputPath, ModelPath, OutputPath,
                          PhoneTarget)

# numpy's seeds (through Keras' set_random_seed) are 32-bit.
SEED = BoundedInt(0, 2**32 - 1)
THREADS = BoundedInt(1, MAX_THREADS)
RUNS = BoundedInt(1, MAX_RUNS)
WARMUP = BoundedInt(0, MAX_WARMUP)
# Far beyond any schedule this tool runs (the paper's is 1000 epochs of 1000 iterations).
COUNT = BoundedInt(1, 1_000_000)
# A batch of 1024 64x64 patches already takes gigabytes of activations.
BATCH = BoundedInt(1, 1024)
SECONDS = 24 * 3600


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AbpnError as error:
            raise click.ClickException(str(error)) from error


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="abpn-tool")
def main():
    """Train, quantize and benchmark ABPN x3 super-resolution on phones."""


def _data_options(command):
    """Options shared by train and quantize: where the images come from and how to treat bad ones."""
    options = [
        click.option("--data", "data_dirs", multiple=True, type=InputPath(folder=True),
                     help="Folder of HR images, or a DIV2K-layout folder (repeatable). "
                          "Default: photos shipped with scikit-image."),
        click.option("--val", "val_dirs", multiple=True, type=InputPath(folder=True),
                     help="Validation folder (repeatable); its images are never trained on. Default: DIV2K's valid "
                          "split when --data holds it, else every 10th --data image."),
        click.option("--skip-bad", is_flag=True, help="Skip unreadable images with a warning instead of stopping."),
        click.option("--cache-dir", type=OutputPath(folder=True, parents=True), default=None,
                     help="Where decoded images are cached (default: $ABPN_CACHE_DIR, else "
                          "$XDG_CACHE_HOME/abpn/decoded, else ~/.cache/abpn/decoded)."),
        click.option("--seed", type=SEED, default=None, help="Seed for weights and patches (deterministic runs)."),
        click.option("--rescale", type=FactorList(0, 1), default="", metavar="F,F,...",
                     help="Also train on every image shrunk by these factors (e.g. 0.9,0.8,0.7,0.6), "
                          "which stretches small sets like T91 + BSD200. Each between 0 and 1 (exclusive)."),
        click.option("--small-patch", type=BoundedInt(1, 63), default=None, metavar="N",
                     help="Also train on images too small for a 64x64 LR patch, with NxN patches "
                          "(N divides 64, e.g. 32). Default: skip them."),
        click.option("--hold-out-from", "hold_out_dirs", multiple=True, type=InputPath(folder=True),
                     help="Hold every 10th image of this --data folder out for validation (repeatable), "
                          "instead of every 10th of all --data images."),
        click.option("--ema", is_flag=True,
                     help="Average the weights (exponential moving average, momentum 0.999); validate "
                          "and keep the average."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _schedule_options(presets, what):
    """--preset and its overrides, with the presets described from their own values (abpn.model.schedules)."""
    described = "; ".join(f"{name}: {schedule.describe()}" for name, schedule in presets.items())

    def decorate(command):
        options = [
            click.option("--preset", type=click.Choice(list(presets)), default="paper", show_default=True,
                         help=f"{what} schedule. {described}."),
            click.option("--epochs", type=COUNT, default=None, help="Override the preset's epoch count."),
            click.option("--steps-per-epoch", type=COUNT, default=None,
                         help="Iterations per epoch (the authors' code uses 1000)."),
            click.option("--batch", type=BATCH, default=None, help="Patches per batch."),
            click.option("--lr", "learning_rate", type=FiniteFloat(0, 1, min_open=True), default=None,
                         help="Initial learning rate."),
            click.option("--halve-every", type=COUNT, default=None, help="Halve the learning rate every N epochs."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _load_data(data_dirs, val_dirs, skip_bad, cache_dir, patch, rescale, small_patch, hold_out_dirs):
    from abpn.model.data import prepare_data

    split = prepare_data(list(data_dirs) or None, list(val_dirs) or None, skip_bad=skip_bad,
                         cache_dir=cache_dir, patch=patch, rescale=rescale, small_patch=small_patch,
                         hold_out_from=list(hold_out_dirs))
    click.echo(f"data: {split.description}")
    return split


def _print_scores(title, scores):
    for name, value in scores.items():
        click.echo(f"{title} {name:>8}: PSNR-Y {value['psnr_y']:.2f} dB  PSNR-RGB {value['psnr_rgb']:.2f} dB  "
                   f"SSIM-Y {value['ssim_y']:.4f}")


@main.command()
@_data_options
@_schedule_options(TRAIN_PRESETS, "Float training")
@click.option("--out", "run_dir", type=OutputPath(folder=True, parents=True), default="runs/float", show_default=True,
              help="Run folder: checkpoints, logs, best model. Re-running the same command resumes it.")
@click.option("--init", "init_checkpoint", type=InputPath(kind="keras", file_or_folder=True), default=None,
              help="Start from these float weights (a best.keras or its run folder) instead of random ones: fine-tuning.")
@click.option("--reparam", is_flag=True,
              help="Train each conv as parallel branches (3x3, 1x1+3x3, Sobel/Laplacian, identity) merged into "
                   "one 3x3 conv at every step; the saved model loads as the plain ABPN.")
@click.option("--loss", type=click.Choice(["l1", "l2"]), default="l1", show_default=True,
              help="Training loss: the paper's L1, or L2 for a short final fine-tune at a low rate.")
def train(data_dirs, val_dirs, skip_bad, cache_dir, seed, rescale, small_patch, hold_out_dirs, ema, preset, epochs,
          steps_per_epoch, batch, learning_rate, halve_every, run_dir, init_checkpoint, reparam, loss):
    """Train float ABPN x3 (Adam; the paper's schedule and L1 loss by default). Interrupt any time; re-run the
    same command to resume."""
    from abpn.model import train as training

    schedule = resolve_schedule(TRAIN_PRESETS, preset, epochs=epochs, steps_per_epoch=steps_per_epoch, batch=batch,
                                learning_rate=learning_rate, halve_every=halve_every)
    if init_checkpoint:
        from abpn.model.inference import load_float_model

        load_float_model(init_checkpoint)  # a wrong file fails now, not after loading the data
    split = _load_data(data_dirs, val_dirs, skip_bad, cache_dir, schedule.patch, rescale, small_patch, hold_out_dirs)
    click.echo(f"schedule: {schedule}")
    scores = training.train(split, run_dir, schedule, seed=seed, init=init_checkpoint,
                            ema=training.EMA_MOMENTUM if ema else None, reparam=reparam, loss=loss)
    _print_scores("validation", scores)
    click.echo(f"best model: {run_dir}/{training.BEST_MODEL}")


@main.command()
@click.argument("checkpoint", type=InputPath(kind="keras", file_or_folder=True))
@_data_options
@_schedule_options(QAT_PRESETS, "Quantization-aware training")
@click.option("--out", "run_dir", type=OutputPath(folder=True, parents=True), default="runs/qat", show_default=True,
              help="Run folder: QAT checkpoints, logs and the exported .tflite files. Re-run to resume.")
def quantize(checkpoint, data_dirs, val_dirs, skip_bad, cache_dir, seed, rescale, small_patch, hold_out_dirs, ema,
             preset, epochs, steps_per_epoch, batch, learning_rate, halve_every, run_dir):
    """Quantization-aware training from a float CHECKPOINT (a best.keras or its run folder), then export
    the 360x640 INT8 deployment model with uint8 I/O and with int8 I/O, a dynamic-shape INT8 model,
    and FP32 and FP16 models."""
    from abpn.model import quantize as quantization
    from abpn.model import train as training

    schedule = resolve_schedule(QAT_PRESETS, preset, epochs=epochs, steps_per_epoch=steps_per_epoch, batch=batch,
                                learning_rate=learning_rate, halve_every=halve_every)
    training.load_float_model(checkpoint)  # a wrong file fails now, not after loading the data
    split = _load_data(data_dirs, val_dirs, skip_bad, cache_dir, schedule.patch, rescale, small_patch, hold_out_dirs)
    click.echo(f"schedule: {schedule}")
    result = quantization.quantize(checkpoint, split, run_dir, schedule, seed=seed,
                                   ema=training.EMA_MOMENTUM if ema else None)
    _print_scores("validation", result.scores)
    for name, path in result.exports.items():
        click.echo(f"{name:>12}: {path}")


@main.command()
@click.option("--out", "out_dir", type=OutputPath(folder=True, parents=True), default="quickstart-out",
              show_default=True, help="Folder for every artifact (runs, .tflite exports, benchmark record).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed for weights and patches.")
def quickstart(out_dir, seed):
    """The main job on the embedded photos: smoke-train, QAT, INT8 export, eval and a host benchmark
    (about 3 minutes on 2 cores). Re-run to resume after an interruption."""
    from abpn.quickstart import failed_checks, run_quickstart, summary_table

    scores, records = run_quickstart(out_dir, seed=seed, echo=click.echo)
    click.echo("")
    click.echo(summary_table(scores, records))
    click.echo(f"\nartifacts in {out_dir}/ (deployment model: {out_dir}/qat/abpn_x3_int8.tflite)")
    failed = failed_checks(records)
    if failed:
        raise AbpnError(f"the output check of the {' and '.join(failed)} INT8 model failed (see the table above)")


@main.group()
def data():
    """Get training data."""


@data.command("div2k")
@click.option("--dest", required=True, type=OutputPath(folder=True, parents=True), help="Folder to download into.")
@click.option("--base-url", default=None, type=HttpUrl("http://mirror.example/div2k"),
              help="Mirror serving the DIV2K zip files (default: the official site).")
@click.option("--only", type=click.Choice(["train", "valid"]), default=None, help="Fetch one split only.")
@click.option("--keep-archives", is_flag=True, help="Keep the zip files after unpacking.")
def data_div2k(dest, base_url, only, keep_archives):
    """Download DIV2K HR and bicubic x3 LR (800 train + 100 valid images, about 4.5 GB).

    Resumes interrupted downloads; re-running after completion does nothing. Afterwards train
    with `--data DEST` (the valid split becomes the validation set).
    """
    from abpn.model.div2k import DIV2K_BASE_URL, download_div2k

    folders = download_div2k(dest, base_url=base_url or DIV2K_BASE_URL, only=only, keep_archives=keep_archives)
    for folder in folders:
        click.echo(folder)


@main.command()
@click.option("--db", required=True, type=OutputPath(parents=True, database=True),
              help="SQLite file to store records in (created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; anything but loopback needs --token.")
@click.option("--port", default=8765, show_default=True, type=BoundedInt(0, 65535), help="TCP port (0: any free one).")
@click.option("--token", envvar="ABPN_COLLECTOR_TOKEN", default=None,
              help="Bearer token that writes must carry (or set ABPN_COLLECTOR_TOKEN; at least 16 characters).")
@click.option("--connections-per-client", default=20, show_default=True, type=BoundedInt(1, 100),
              help="Open connections one client address may hold (of 100); raise it for many phones behind one NAT.")
def serve(db, host, port, token, connections_per_client):
    """Collect result records over HTTP and show them on a dashboard.

    POST records to /api/records; the dashboard is at /, the OpenAPI document at /openapi.json.
    """
    from abpn.collector.app import serve as run_collector

    run_collector(db, host=host, port=port, token=token, connections_per_client=connections_per_client)


@main.command()
@click.option("--db", required=True, type=InputPath(kind="sqlite"), help="The collector's SQLite file.")
@click.option("--format", "fmt", type=click.Choice(["table", "md", "csv", "html"]), default="table", show_default=True,
              help="md is ready to paste into a README; html embeds the plots.")
@click.option("--out", type=OutputPath(), default=None, help="Write to this file instead of stdout.")
def report(db, fmt, out):
    """Per-chipset table of the collected results: chipsets as rows, accelerators as columns."""
    from abpn.collector.report import report_text, write_report

    if out:
        write_report(db, fmt, out)
        click.echo(f"Wrote {out}", err=True)
    else:
        click.echo(report_text(db, fmt), nl=False)


def _results_options(command):
    """Where a benchmark command's records go: --db, or --collector with --token."""
    command = click.option("--token", envvar="ABPN_COLLECTOR_TOKEN",
                           help="The collector's bearer token ($ABPN_COLLECTOR_TOKEN).")(command)
    command = click.option("--collector", metavar="URL", type=HttpUrl(COLLECTOR_URL_EXAMPLE),
                           help="Post the records to this collector instead of --db.")(command)
    return click.option("--db", default="abpn-results.sqlite", show_default=True,
                        type=OutputPath(parents=True, database=True),
                        help="SQLite file the records are stored in (ignored with --collector).")(command)


def _results_sink(db, collector, token):
    from abpn.collector.sinks import CollectorSink, DatabaseSink

    return CollectorSink(collector, token) if collector else DatabaseSink(db)


def _fail_if_any(outcomes, devices):
    """Exit 1 naming the devices whose run failed; each one's details were printed as it ran."""
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise AbpnError(f"{len(failed)} of {len(outcomes)} {devices} failed: "
                        f"{', '.join(o.target for o in failed)} (details above)")


def _threads_option(default=None):
    return click.option("--threads", default=default, show_default=default is not None, type=THREADS,
                        help="TFLite CPU threads (XNNPACK).")


@main.command("eval")
@click.argument("model", type=ModelPath())
@click.option("--hr", "hr_dir", required=True, type=InputPath(folder=True), help="Folder of HR images.")
@click.option("--lr", "lr_dir", default=None, type=InputPath(folder=True),
              help="Folder of x3 LR inputs (e.g. ../shared/datasets/LR_bicubic_X3/Set5); "
                   "default: made from the HR images with MATLAB-compatible bicubic.")
@_threads_option()
@click.option("--json", "as_json", is_flag=True, help="Print per-image and mean scores as JSON.")
def eval_command(model, hr_dir, lr_dir, threads, as_json):
    """PSNR and SSIM of MODEL on HR images: RGB (1-pixel crop) and Y (BT.601, 3-pixel crop; single-channel
    files, gray with alpha and 16-bit gray included, are scored on their gray value).

    MODEL is a .tflite, a Keras checkpoint (.keras/.h5, or a training run folder), or the word
    `bicubic` for the MATLAB bicubic baseline of the published tables.
    """
    import json

    from abpn.model.evaluate import evaluate, format_scores

    result = evaluate(model, hr_dir, lr_dir, threads=threads)
    click.echo(json.dumps(result, indent=2) if as_json else format_scores(result))


@main.command()
@click.argument("model", type=ModelPath())
@click.argument("src", metavar="IN", type=InputPath())
@click.argument("dst", metavar="[OUT]", required=False, type=OutputPath())
@_threads_option()
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists (never IN).")
@click.option("--max-megapixels", default=16.0, show_default=True, type=FiniteFloat(0, 1000, min_open=True),
              help="Refuse larger inputs: the x3 result of N MP takes about N x 27 MB twice over.")
def upscale(model, src, dst, threads, overwrite, max_megapixels):
    """Upscale the image IN x3 with MODEL into OUT (default: IN's name + _x3.png).

    Any size up to --max-megapixels: a fixed-shape model runs in overlapping tiles whose result
    equals the whole-image run. Any format PIL reads (16-bit gray is scaled to 8 bits; 32-bit
    integer and floating-point pixels are refused: they state no white level); OUT's extension
    picks the format. Alpha is kept, EXIF rotation applied. OUT is checked before the work starts.
    """
    from abpn.model.upscale import upscale_file

    out = upscale_file(model, src, dst, threads=threads, overwrite=overwrite, max_megapixels=max_megapixels)
    click.echo(f"Wrote {out}", err=True)


@main.command("bench-host")
@click.argument("model", required=False, type=InputPath(kind="tflite"))
@_threads_option(default=2)
@click.option("--runs", default=20, show_default=True, type=RUNS, help="Timed runs.")
@click.option("--warmup", default=3, show_default=True, type=WARMUP, help="Untimed runs after the first.")
@click.option("--input-size", "input_hw", default=None, type=ImageSize(MAX_INPUT_HW), metavar="HxW",
              help=f"Input size for a dynamic-shape model (default 360x640; at most "
                   f"{MAX_INPUT_HW[0]}x{MAX_INPUT_HW[1]} pixels).")
@click.option("--reference", default=None, type=ModelPath(),
              help="Model whose output the check compares with (e.g. the dynamic-shape .tflite of the same weights).")
@click.option("--json", "as_json", is_flag=True, help="Print the result record (result_record.schema.json).")
def bench_host(model, threads, runs, warmup, input_hw, reference, as_json):
    """Time MODEL (.tflite) on this computer's CPU and check its output on a real photo.

    Without MODEL, the shipped deployment model (abpn_x3_int8.tflite) is timed and checked against
    the shipped dynamic-shape model. Exits 1 when the output check fails (the record is printed
    first)."""
    import json

    from abpn.bench.host import bench_host as run_bench, check_failure, format_summary

    rec = run_bench(model, threads=threads, runs=runs, warmup=warmup, input_hw=input_hw, reference=reference)
    click.echo(json.dumps(rec, indent=2) if as_json else format_summary(rec))
    failure = check_failure(rec)
    if failure:
        raise AbpnError(failure)


@main.command("push-and-bench")
@click.option("--device", "devices", multiple=True, metavar="D", type=PhoneTarget(),
              help="USB serial or HOST:PORT (ADB over TCP, `adb tcpip 5555`; IPv6 as [ADDR]:PORT); repeat for several phones, run at once. "
                   "Default: $ANDROID_SERIAL.")
@click.option("--model", required=True, type=InputPath(kind="tflite"),
              help="Fixed-shape x3 .tflite (e.g. from `abpn-tool quantize`).")
@click.option("--apk", type=InputPath(kind="apk"),
              help="The app's APK (org.abpn.app): installed when the app is missing or its APK differs.")
@click.option("--accelerators", default="cpu,gpu,nnapi,qnn_htp", show_default=True,
              help="Comma-separated, from cpu, gpu, nnapi, qnn_htp, qnn_dsp.")
@click.option("--runs", default=20, show_default=True, type=RUNS, help="Timed inferences per accelerator.")
@click.option("--warmup", default=3, show_default=True, type=WARMUP, help="Warm-up inferences after the first one.")
@click.option("--threads", type=THREADS,
              help="CPU (XNNPACK) threads [default: the app's, as benchmark_model: TFLite chooses].")
@click.option("--cooldown", default=0, show_default=True, type=BoundedInt(0, 3600),
              help="Seconds to rest before each accelerator after the first.")
@click.option("--cooldown-max", default=60, show_default=True, type=BoundedInt(0, 3600),
              help="Then wait until the phone's thermal status is none, at most this many seconds.")
@click.option("--warmup-min-ms", default=500, show_default=True, type=BoundedInt(0, 600_000),
              help="Warm up at least this long (and --warmup runs).")
@click.option("--run-min-ms", default=1000, show_default=True, type=BoundedInt(0, 600_000),
              help="Time at least this long (and --runs runs).")
@click.option("--require-full-delegation", is_flag=True,
              help="An accelerator that takes only part of the graph is 'failed' instead of timed.")
@click.option("--nnapi-accelerator", metavar="NAME", help="The NNAPI device to use, e.g. qti-htp.")
@click.option("--allow-locked", is_flag=True, help="Run on a phone whose lock screen is showing instead of refusing.")
@_results_options
@click.option("--out", default="abpn-results", show_default=True, type=OutputPath(folder=True, parents=True),
              help="Folder for the raw result files and the reference input/output.")
@click.option("--timeout", "result_timeout", default=600.0, show_default=True,
              type=FiniteFloat(0, SECONDS, min_open=True),
              help="Seconds to wait for a phone's result before giving up (and showing its logcat).")
@click.option("--auth-timeout", default=60.0, show_default=True, type=FiniteFloat(0, SECONDS, min_open=True),
              help="Seconds to wait for someone to accept the 'Allow USB debugging?' prompt.")
@click.option("--accelerator-timeout", type=BoundedInt(1, 3600), metavar="SECONDS",
              help="Seconds the app gives one accelerator before it kills its process and marks it failed "
                   "[default: --timeout / number of accelerators, from 30 to 120].")
def push_and_bench(devices, model, apk, accelerators, runs, warmup, threads, cooldown, cooldown_max, warmup_min_ms,
                   run_min_ms, require_full_delegation, nnapi_accelerator, allow_locked, db, collector, token, out,
                   result_timeout, auth_timeout, accelerator_timeout):
    """Benchmark the --model on phones over ADB and store one result record per phone.

    Uses the ADB key ~/.android/adbkey (created if missing), so phones that trust this computer's adb
    trust this tool. A USB phone cannot be used while an adb server holds it: `adb kill-server` first.
    """
    import os

    from abpn.bench.device import parse_target
    from abpn.bench.phone import push_and_bench as run
    from abpn.bench.plan import prepare_plan

    targets = list(devices)
    if not targets:
        serial = os.environ.get("ANDROID_SERIAL", "")
        parse_target(serial)  # --device's values were checked as they were parsed; this one was not
        targets = [serial]
    plan = prepare_plan(model, apk=apk, accelerators=accelerators, runs=runs, warmup=warmup, threads=threads,
                        cooldown_s=cooldown, result_timeout_s=result_timeout, out_dir=out, cooldown_max_s=cooldown_max,
                        warmup_min_ms=warmup_min_ms, run_min_ms=run_min_ms,
                        require_full_delegation=require_full_delegation, nnapi_accelerator=nnapi_accelerator,
                        allow_locked=allow_locked, accelerator_timeout_s=accelerator_timeout)
    sink = _results_sink(db, collector, token)
    outcomes = run(targets, plan, sink, auth_timeout_s=auth_timeout)
    _fail_if_any(outcomes, "phone(s)")


@main.command("hub-bench")
@click.argument("model", required=False, type=InputPath(kind="tflite"))
@click.option("--hub-device", "hub_devices", multiple=True, metavar="NAME",
              help="An AI Hub device name, e.g. \"Samsung Galaxy S24 (Family)\", or a chipset: attribute, e.g. "
                   "chipset:qualcomm-snapdragon-8gen3; repeat for several.")
@click.option("--list-devices", is_flag=True, help="List the Android devices AI Hub offers, with chipset and OS.")
@click.option("--accelerators", default="cpu,gpu,qnn_htp", show_default=True,
              help="Comma-separated, from cpu, gpu, qnn_htp (AI Hub's NPU through the QNN delegate).")
@_results_options
@click.option("--out", default="abpn-results", show_default=True, type=OutputPath(folder=True, parents=True),
              help="Folder for the raw result files, AI Hub's raw answers and the reference input/output.")
@click.option("--timeout", "result_timeout", default=1800.0, show_default=True,
              type=FiniteFloat(0, SECONDS, min_open=True),
              help="Seconds to wait for AI Hub's jobs; a job still running then gets a failed row with its URL.")
def hub_bench(model, hub_devices, list_devices, accelerators, db, collector, token, out, result_timeout):
    """Benchmark MODEL on Qualcomm AI Hub's Snapdragon phones (its TFLite runner: CPU, GPU, NPU) and store
    one result record per device.

    Needs the AI Hub client and a token, once: pip install 'abpn-tool[hub]', then
    qai-hub configure --api_token YOUR_TOKEN.
    """
    from abpn.bench import hub

    if list_devices:
        click.echo(hub.list_devices_table(hub.connect()))
        return
    if not model:
        raise AbpnError("give the MODEL to benchmark (a fixed-shape x3 .tflite), or --list-devices")

    sink = _results_sink(db, collector, token)
    outcomes = hub.hub_bench(model, list(hub_devices), sink, accelerators=accelerators, out_dir=out,
                             timeout_s=result_timeout)
    _fail_if_any(outcomes, "AI Hub device(s)")


@main.group("test-lab")
def test_lab():
    """Run the app's game loop on Firebase Test Lab's phones and collect the records."""


@test_lab.command("run")
@click.option("--apk", required=True, type=InputPath(kind="apk"),
              help="The app's APK (android/offline-out/abpn.apk), with the bundled model and its reference.")
@click.option("--device", "devices", multiple=True, required=True, metavar="model=ID,version=N",
              help="A Test Lab device, e.g. model=redfin,version=30 (repeatable; ids from "
                   "`gcloud firebase test android models list`). Optional locale=, orientation=.")
@click.option("--scenario", "scenarios", multiple=True, type=BoundedInt(1, 5), metavar="N",
              help="1 cpu, 2 gpu, 3 nnapi, 4 qnn_htp, 5 all (repeatable). Default: every scenario the APK can run.")
@click.option("--label", "labels", multiple=True, metavar="LABEL",
              help="A scenario label of the APK's manifest: abpn_runnable, abpn_single (repeatable).")
@click.option("--results-bucket", required=True, help="Cloud Storage bucket for Test Lab's raw results.")
@click.option("--results-dir", default=None, help="Folder in the bucket, unique per run (default: abpn-<UTC time>).")
@click.option("--timeout", default="30m", show_default=True, help="Test Lab's limit for each device's run.")
@click.option("--project", default=None, help="The Firebase project (default: gcloud's configured one).")
@click.option("--execute", is_flag=True, help="Run the command (needs gcloud on PATH) instead of only printing it.")
def test_lab_run(apk, devices, scenarios, labels, results_bucket, results_dir, timeout, project, execute):
    """Print (or run) the gcloud command that runs the game loop on Test Lab's devices."""
    import subprocess
    import time

    from abpn.bench import test_lab as lab

    results_dir = results_dir or time.strftime("abpn-%Y%m%d-%H%M%S", time.gmtime())
    argv = lab.gcloud_command(apk, list(devices), results_bucket=results_bucket, results_dir=results_dir,
                              scenarios=list(scenarios), labels=list(labels), timeout=timeout, project=project)
    click.echo(lab.command_line(argv))
    click.echo("then:\n  " + lab.copy_down_command(results_bucket, results_dir, "test-lab-results") +
               "\n  abpn-tool test-lab collect test-lab-results --db abpn-results.sqlite")
    if not execute:
        return
    if lab.gcloud_path() is None:
        raise AbpnError(lab.GCLOUD_INSTALL)
    completed = subprocess.run(argv, check=False)
    if completed.returncode != 0:
        raise AbpnError(f"gcloud exited {completed.returncode}; its outcome table above names each device's result")


@test_lab.command("collect")
@click.argument("results", type=InputPath(folder=True))
@_results_options
@click.option("--out", default="abpn-results", show_default=True, type=OutputPath(folder=True, parents=True),
              help="Folder for the raw records as stored.")
@click.option("--matrix-id", default=None, help="Test Lab's matrix id (gcloud prints it), kept in each record.")
def test_lab_collect(results, db, collector, token, out, matrix_id):
    """Store the records of a Test Lab results folder (gsutil -m cp -r gs://BUCKET/FOLDER RESULTS) and name
    every device whose loop crashed, timed out or wrote nothing."""
    from abpn.bench.test_lab import collect, summary_lines

    sink = _results_sink(db, collector, token)
    sink.check()
    outcomes = collect(results, sink, out_dir=out, matrix_id=matrix_id)
    for line in summary_lines(outcomes):
        click.echo(line)
    failed = [o.device_id for o in outcomes if not o.ok]
    stored = sum(len(o.stored) for o in outcomes)
    click.echo(f"{stored} record(s) stored in {sink.where} from {len(outcomes)} device(s)")
    if failed:
        raise AbpnError(f"{len(failed)} of {len(outcomes)} device(s) have no complete result: {', '.join(failed)} "
                        "(reasons above)")


@test_lab.command("assets")
@click.argument("model", type=InputPath(kind="tflite"))
@click.argument("out", type=OutputPath(folder=True, parents=True))
@click.option("--cache", default="abpn-results", show_default=True, type=OutputPath(folder=True, parents=True),
              help="Where the reference is computed and kept (keyed by the model's SHA-256).")
def test_lab_assets(model, out, cache):
    """Write MODEL's reference input and expected output into OUT, the APK's assets (the builds call this)."""
    from abpn.bench.test_lab import reference_assets

    info, written = reference_assets(model, out, cache_dir=cache)
    for path in written:
        click.echo(f"{path} ({path.stat().st_size} bytes, model {info.sha256[:12]})")
