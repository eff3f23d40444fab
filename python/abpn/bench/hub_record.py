"""AI Hub's answers as a result record: the device block from its device attributes, one result row per
accelerator from its profile and returned output, and where the measurement came from.

Pure functions over plain data (what `qai_hub` returns: Device attributes, the dict of
InferenceJob.download_profile(), the output arrays), so that they are tested without a service.
"""
import re

import numpy as np

from abpn.record.build import latency_stats, output_check
from abpn.record.chipsets import chipset_name

RUNNER = "AI Hub TFLite runner"
# Accelerator (the record's name) -> AI Hub's --compute_unit, and the compute unit its layers report.
COMPUTE_UNITS = {"cpu": "cpu", "gpu": "gpu", "qnn_htp": "npu"}
PROFILE_UNITS = {"cpu": "CPU", "gpu": "GPU", "qnn_htp": "NPU"}
# Android release -> API level, for the device block (AI Hub reports the release only).
SDK_INT = {"10": 29, "11": 30, "12": 31, "13": 33, "14": 34, "15": 35, "16": 36}
_PART_NUMBER = re.compile(r"^(sm|sdm|msm|sc|qcs|sa)\d{3,4}", re.IGNORECASE)
MAX_PROFILE_LAYERS = 4096  # the schema's limit
NOTE = ("measured by Qualcomm AI Hub's own TFLite runner on its phone, not by this project's app: "
        "first_inference_ms is AI Hub's first timed run, warm-up runs are not reported")


def attribute_values(attributes, key):
    """The values of `key:` attributes, in order ("chipset:sm8650" -> "sm8650")."""
    return [a.split(":", 1)[1] for a in attributes if a.startswith(f"{key}:")]


def device_section(name, os_version, attributes):
    """The record's `device` from an AI Hub device: the vendor attribute as manufacturer, the device name as
    model, the chipset from its part-number alias (chipset:sm8650) when it has one."""
    chipsets = attribute_values(attributes, "chipset")
    part = next((c for c in chipsets if _PART_NUMBER.match(c)), None)
    vendor = next(iter(attribute_values(attributes, "vendor")), None)
    major = (os_version or "").split(".")[0]
    return {
        "kind": "phone",
        "manufacturer": vendor.title() if vendor else None,
        "model": name,
        "soc_manufacturer": "Qualcomm" if any(c.startswith("qualcomm-") for c in chipsets) else None,
        "soc_model": part.upper() if part else None,
        "board_platform": None,
        "hardware": None,
        "chipset_name": chipset_name(part.upper() if part else (chipsets[0] if chipsets else None)),
        "android_release": os_version or None,
        "sdk_int": SDK_INT.get(major),
        "abi": "arm64-v8a" if "aarch64-android" in attribute_values(attributes, "abi") else None,
    }


def _ms(microseconds):
    return None if microseconds is None else microseconds / 1000.0


def _byte_range(value):
    """AI Hub's (low, high) pair, or None where it reported none (the client's MISSING_METRIC_VALUE)."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) and v >= 0 for v in value):
        return [int(value[0]), int(value[1])]
    return None


def delegation_section(accelerator, layers):
    """How many layers ran on the accelerator's compute unit, and what ran the others."""
    wanted = PROFILE_UNITS[accelerator]
    counts = {}
    for layer in layers:
        counts[layer["compute_unit"]] = counts.get(layer["compute_unit"], 0) + 1
    others = [unit for unit in ("NPU", "GPU", "CPU") if unit != wanted and counts.get(unit)]
    shown = ", ".join(f"{counts[unit]} {unit}" for unit in sorted(counts, key=lambda u: -counts[u]))
    return {
        "delegated_nodes": counts.get(wanted, 0) if layers else None,
        "total_nodes": len(layers) if layers else None,
        "fallback": "+".join(others) or None,
        "evidence": f"AI Hub's per-layer profile: {shown or 'no layers reported'}",
        "log_readable": None,
    }


def profile_section(layers, job_id):
    rows = [{"name": _text(layer.get("name") or "?"), "type": _text(layer.get("type") or "?"),
             "compute_unit": layer["compute_unit"] if layer.get("compute_unit") in ("CPU", "GPU", "NPU") else "unknown",
             "time_ms": _ms(layer.get("execution_time"))}
            for layer in layers[:MAX_PROFILE_LAYERS]]
    return {"layers": rows, "source": f"AI Hub job {job_id}"}


def _text(value, limit=200):
    """Names as the schema takes them: no control characters, at most `limit` characters."""
    cleaned = re.sub(r"[\x00-\x1f\x7f]", " ", str(value))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def ok_row(accelerator, job, profile, output, expected):
    """The row of a job that finished: every inference time AI Hub measured, its load times and memory
    ranges, the per-layer profile and, when it returned the output, the output check."""
    summary = profile.get("execution_summary") or {}
    layers = profile.get("execution_detail") or []
    samples = [t / 1000.0 for t in summary.get("all_inference_times") or [] if isinstance(t, (int, float))]
    if not samples and isinstance(summary.get("estimated_inference_time"), (int, float)):
        samples = [summary["estimated_inference_time"] / 1000.0]
    if not samples:
        return failed_row(accelerator, job, "AI Hub finished the job but reported no inference time")
    init_ms = _ms(summary.get("first_load_time"))
    row = {
        "accelerator": accelerator,
        "options": _options(accelerator, job),
        "status": "ok",
        "reason": None,
        "notes": NOTE if init_ms is not None else f"{NOTE}; AI Hub reported no load time (init_ms 0)",
        "init_ms": init_ms or 0.0,
        "first_inference_ms": samples[0],
        "warmup_runs": 0,
        "runs": len(samples),
        "latency_ms": latency_stats(samples),
        "samples_ms": samples,
        "delegation": delegation_section(accelerator, layers),
        "memory": {
            "inference_peak_range_bytes": _byte_range(summary.get("inference_memory_peak_range")),
            "first_load_peak_range_bytes": _byte_range(summary.get("first_load_memory_peak_range")),
            "warm_load_peak_range_bytes": _byte_range(summary.get("warm_load_memory_peak_range")),
            "source": "AI Hub profile (peak memory ranges)",
        },
        "profile": profile_section(layers, job["job_id"]),
    }
    warm = _ms(summary.get("warm_load_time"))
    if isinstance(warm, float):
        row["warm_init_ms"] = warm
    delegation = row["delegation"]
    if accelerator != "cpu" and layers and not delegation["delegated_nodes"]:
        row["status"] = "not_delegated"
        row["reason"] = (f"AI Hub ran no layer on the {PROFILE_UNITS[accelerator]}: everything ran on "
                         f"{delegation['fallback'] or 'another unit'}")
    if output is not None and expected is not None:
        try:
            row["output_check"] = output_check(np.asarray(output).reshape(expected.shape), expected)
        except ValueError as error:
            row["notes"] += f"; the returned output could not be compared: {error}"
    else:
        row["notes"] += "; AI Hub returned no output, so there is no output check"
    return row


def failed_row(accelerator, job, reason):
    return {"accelerator": accelerator, "options": _options(accelerator, job), "status": "failed",
            "reason": reason[:2000], "notes": NOTE}


def _options(accelerator, job):
    return {"compute_unit": COMPUTE_UNITS[accelerator], "runtime": "tflite", "profile": True,
            "job_id": job.get("job_id")}


def source_section(jobs):
    """Where the record came from: AI Hub, with each accelerator's job, its URL and its last state."""
    return {"kind": "ai-hub", "runner": RUNNER,
            "jobs": [{"accelerator": j["accelerator"], "job_id": j["job_id"], "url": j["url"], "state": j["state"]}
                     for j in jobs],
            "url": jobs[0]["url"] if jobs else None}


def app_section(hub_version):
    return {"name": RUNNER, "version": _text(hub_version or "unreported"), "runtime": "tflite",
            "runtime_version": "as AI Hub ships it (unreported)"}
