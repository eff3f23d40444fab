"""Starting the benchmark activity (docs/phone-protocol.md, "Starting a run"): the one `am start` command
line, and what its answer means. am start exits 0 even when it starts nothing, so its text decides."""
from abpn.bench.device import BENCHMARK_ACTIVITY, PACKAGE, quote_command

# ActivityManagerShellCommand.runStartActivity prints these and still exits 0: each means no new run.
AM_START_NOT_STARTED = {
    "Warning: Activity not started, its current task has been brought to the front":
        "the app's task was still open, so Android only brought it to the front",
    "Warning: Activity not started, intent has been delivered to currently running top-most instance.":
        "Android handed the request to the benchmark screen already open",
    "Warning: Activity not started because the  current activity is being kept for the user.":
        "the phone kept its current screen for the user",
    "Warning: Activity not started because intent should be handled by the caller":
        "Android returned the request to the caller",
}


def am_start_argv(request):
    """The one `am start` the host runs (tests/fixtures/am_start_benchmark.txt holds it for a fixed request,
    for the app's own test). -S force-stops the app first: on a live task, am start without it starts
    nothing. -W waits until the activity is up, so the run is registered when it returns."""
    argv = ["am", "start", "-S", "-W", "-n", BENCHMARK_ACTIVITY,
            "--es", "run_id", request.run_id,
            "--es", "model", request.model,
            "--es", "input", request.input]
    if request.expected:
        argv += ["--es", "expected", request.expected]
    argv += ["--es", "accelerators", ",".join(request.accelerators)]
    # Without it the app picks as benchmark_model does (num_threads -1: TFLite's own choice).
    if request.threads is not None:
        argv += ["--ei", "threads", request.threads]
    argv += ["--ei", "warmup", request.warmup, "--ei", "runs", request.runs,
             "--ei", "warmup_min_ms", request.warmup_min_ms, "--ei", "run_min_ms", request.run_min_ms,
             "--ei", "cooldown_s", request.cooldown_s, "--ei", "cooldown_max_s", request.cooldown_max_s,
             "--ei", "accelerator_timeout_s", request.accelerator_timeout_s,
             "--ez", "require_full_delegation", "true" if request.require_full_delegation else "false"]
    if request.nnapi_accelerator:
        argv += ["--es", "nnapi_accelerator", request.nnapi_accelerator]
    return [str(arg) for arg in argv]


def am_start_command(request):
    """The command line as the phone's shell receives it (every value quoted)."""
    return quote_command(*am_start_argv(request))


def am_start_problem(result):
    """What went wrong in `am start`'s answer, or None when the activity was launched. am start exits 0 even
    when it prints "Error: ..." (ActivityManagerShellCommand.runStartActivity), so its text decides."""
    lines = [line.strip() for line in result.output.splitlines()]
    for line in lines:
        if line in AM_START_NOT_STARTED:
            return (f"Android did not start the benchmark: {AM_START_NOT_STARTED[line]} (am start printed "
                    f"\"{line}\"). No run was started. Close the app (`adb shell am force-stop {PACKAGE}`) and run again.")
    errors = [line for line in lines if line.startswith(("Error", "Exception", "java.", "Warning"))]
    if any("does not exist" in line for line in errors):
        return (f"the installed app has no benchmark activity ({'; '.join(errors)}): install the current APK "
                "with --apk")
    if errors or not result.ok or "Complete" not in lines:
        shown = "; ".join(errors) or result.output.strip() or "no answer"
        return f"the phone could not start the benchmark (am start exit status {result.exit_code}): {shown}"
    return None
