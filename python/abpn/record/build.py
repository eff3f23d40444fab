"""The result record: one JSON contract for bench-host, the phone app and the collector.

The JSON Schema file is the contract (the Kotlin app is tested against the same file); this module
builds the pieces every producer shares and validates whole records against it.
"""
import math
import os
import platform
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from abpn import __version__
from abpn.errors import AbpnError
from abpn.record.schemas import default_schemas

# Further than this from the CPU reference, an accelerator computes wrong pixels
# (int8 rounding differences between runtimes stay well above 40 dB).
OUTPUT_CHECK_THRESHOLD_DB = 30.0


def schema_version():
    """The version every record this package builds carries: the current schema file's."""
    return default_schemas().current_version


def accelerators():
    """The accelerator names the current schema allows, in its order."""
    return default_schemas().current_accelerators()


def record_errors(record):
    """Every way `record` breaks the schema of its own schema_version, as 'path: message' strings."""
    return default_schemas().errors(record)


def validate_record(record):
    problems = record_errors(record)
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise AbpnError(f"result record does not match the schema: {shown}{more}")


def new_run_id():
    return str(uuid.uuid4())


def utc_now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def latency_stats(samples_ms):
    """min, median, mean, p90 (linear interpolation), max and population std, in ms.
    The Kotlin app computes the same definitions, so phone and host numbers compare."""
    samples = np.asarray(samples_ms, dtype=np.float64)
    if samples.size == 0:
        raise ValueError("no latency samples")
    return {
        "min": float(samples.min()),
        "median": float(np.median(samples)),
        "mean": float(samples.mean()),
        "p90": float(np.percentile(samples, 90)),
        "max": float(samples.max()),
        "std": float(samples.std()),
    }


def timing_section(*, delegate_create_ms, interpreter_create_ms, warmup_ms, wall_samples_ms, warmup_min_ms=None,
                   run_min_ms=None):
    """A result's `timing`: the stages behind init_ms, and the wall time of each timed run (input and output
    copies included) next to samples_ms, the interpreter's own invoke time."""
    return {
        "delegate_create_ms": delegate_create_ms,
        "interpreter_create_ms": interpreter_create_ms,
        "warmup_ms": warmup_ms,
        "wall_samples_ms": list(wall_samples_ms),
        "wall_latency_ms": latency_stats(wall_samples_ms),
        "warmup_min_ms": warmup_min_ms,
        "run_min_ms": run_min_ms,
    }


def output_check(output, reference, threshold_db=OUTPUT_CHECK_THRESHOLD_DB):
    """Compares an accelerator's uint8 output with the reference output of the same model."""
    output = np.asarray(output, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if output.shape != reference.shape:
        raise ValueError(f"output shape {output.shape} differs from reference {reference.shape}")
    diff = output - reference
    mse = float(np.mean(diff * diff))
    psnr = None if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return {
        "psnr_db": psnr,
        "max_abs_diff": float(np.abs(diff).max()),
        "threshold_db": threshold_db,
        "passed": psnr is None or psnr >= threshold_db,
    }


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_device():
    """The `device` section for a run on this computer."""
    return {
        "kind": "host",
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "abi": platform.machine(),
    }


def tool_app():
    """The `app` section for records made by abpn-tool with the TFLite runtime bundled in TensorFlow."""
    import tensorflow as tf

    return {"name": "abpn-tool", "version": __version__, "runtime": "tflite", "runtime_version": tf.__version__}


def make_record(*, device, model, app, results, conditions=None, run_id=None, created_at=None):
    record = {
        "schema_version": schema_version(),
        "run_id": run_id or new_run_id(),
        "created_at": created_at or utc_now(),
        "device": device,
        "model": model,
        "app": app,
        "results": results,
        "conditions": conditions or {},
    }
    validate_record(record)
    return record
