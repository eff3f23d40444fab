"""Valid result records for collector and report tests, built with abpn.record.build (validated on creation)."""
from datetime import datetime

import numpy as np

from abpn.record.build import latency_stats, make_record, timing_section, validate_record

MODEL_SHA = "a1" * 32
OTHER_MODEL_SHA = "b2" * 32


def model_section(sha256=MODEL_SHA, file_name="abpn_x3_int8.tflite"):
    return {"file_name": file_name, "sha256": sha256, "size_bytes": 61_234, "input_shape": [1, 360, 640, 3],
            "input_dtype": "uint8", "output_shape": [1, 1080, 1920, 3], "output_dtype": "uint8"}


def ok_result(accelerator, median_ms, *, runs=20, seed=0, psnr_db=48.0, passed=True, init_ms=35.0):
    """An `ok` result whose samples spread a few percent around `median_ms`."""
    rng = np.random.default_rng(seed)
    samples = [round(float(v), 3) for v in median_ms * (1 + 0.03 * rng.standard_normal(runs)).clip(0.8, 1.5)]
    return {
        "accelerator": accelerator,
        "options": {"threads": 4} if accelerator == "cpu" else {"precision": "int8"},
        "status": "ok",
        "reason": None,
        "init_ms": init_ms,
        "first_inference_ms": median_ms * 1.5,
        "warmup_runs": 3,
        "runs": runs,
        "latency_ms": latency_stats(samples),
        "samples_ms": samples,
        "timing": timing_section(delegate_create_ms=0.0 if accelerator == "cpu" else 20.0,
                                 interpreter_create_ms=init_ms if accelerator == "cpu" else init_ms - 20.0,
                                 warmup_ms=median_ms * 3, wall_samples_ms=[s + 1.0 for s in samples],
                                 warmup_min_ms=500, run_min_ms=1000),
        "delegation": {"delegated_nodes": 12, "total_nodes": 12, "fallback": None,
                       "evidence": "Replacing 12 out of 12 node(s) with delegate"},
        "conditions": {"before": phone_state(), "after": phone_state(thermal_status=1, battery_temp_c=36.0),
                       "cooldown_waited_s": 0.0},
        "output_check": {"psnr_db": psnr_db, "max_abs_diff": 1.0, "threshold_db": 30.0, "passed": passed},
    }


def phone_state(**changes):
    """A phone's state as the app records it before and after each accelerator."""
    return {"screen_on": True, "keyguard_locked": False, "battery_pct": 80, "charging": True, "power_save": False,
            "thermal_status": 0, "thermal_headroom": 0.4, "battery_temp_c": 31.0, **changes}


def failed_result(accelerator, status="unsupported", reason="no such delegate on this phone"):
    return {"accelerator": accelerator, "options": {}, "status": status, "reason": reason}


def phone_record(soc_model="SM8350", results=None, *, manufacturer="Google", model="Pixel Test",
                 board_platform="lahaina", sha256=MODEL_SHA, created_at="2026-11-24T15:04:05Z", run_id=None,
                 app_name="adb-test-phone"):
    device = {
        "kind": "phone", "manufacturer": manufacturer, "model": model, "soc_manufacturer": "QTI",
        "soc_model": soc_model, "board_platform": board_platform, "hardware": "qcom",
        "android_release": "14", "sdk_int": 34, "abi": "arm64-v8a",
    }
    results = results or [ok_result("cpu", 800.0, seed=1), ok_result("gpu", 200.0, seed=2),
                          ok_result("nnapi", 60.0, seed=3), failed_result("qnn_htp")]
    return make_record(device=device, model=model_section(sha256), run_id=run_id, created_at=created_at,
                       app={"name": app_name, "version": "0.1.0", "runtime": "litert", "runtime_version": "1.2.0"},
                       results=results,
                       conditions={"temperature_before_c": 31.0, "temperature_after_c": 38.5,
                                   "temperature_source": "battery", "cooldown_s": 10})


def host_record(cpu_model="Test CPU 9000 @ 3.0GHz", median_ms=900.0, *, sha256=MODEL_SHA, created_at="2026-11-24T12:00:00Z",
                run_id=None):
    return make_record(
        device={"kind": "host", "cpu_model": cpu_model, "cpu_count": 2, "os": "Linux 6.1", "abi": "x86_64"},
        model=model_section(sha256), run_id=run_id, created_at=created_at,
        app={"name": "abpn-tool", "version": "0.1.0", "runtime": "tflite", "runtime_version": "2.21.0"},
        results=[ok_result("cpu", median_ms, seed=9)], conditions={})


def measured_by(record, kind, **fields):
    """`record` as if measured by `kind` (schema v3 source.kind): Test Lab, AI Hub's own runner, ..."""
    record = {**record, "source": {"kind": kind, **fields}}
    validate_record(record)
    return record


def with_memory(result, **memory):
    """`result` with the measuring process's memory (schema v3), e.g. peak_rss_bytes=120_000_000."""
    return {**result, "memory": memory}


def valid_records():
    """A hypothesis strategy for valid records of every kind the collector takes: phones and hosts, every
    accelerator and status, every source, memory or none, names in any script."""
    from hypothesis import strategies as st

    from abpn.record.schemas import default_schemas

    names = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40)

    @st.composite
    def result(draw, accelerator):
        status = draw(st.sampled_from(["ok", "ok", "unsupported", "failed", "not_delegated", "invalid"]))
        if status in ("unsupported", "failed", "not_delegated"):
            return failed_result(accelerator, status, draw(names))
        made = ok_result(accelerator, draw(st.floats(0.5, 5000)), runs=draw(st.integers(1, 40)),
                         seed=draw(st.integers(0, 2 ** 16)), init_ms=draw(st.floats(25, 1e4)))  # a delegate takes 20
        memory = draw(st.sampled_from([None, "rss", "range"]))
        if memory == "rss":
            made = with_memory(made, peak_rss_bytes=draw(st.integers(0, 2 ** 34)))
        elif memory == "range":
            low = draw(st.integers(0, 2 ** 33))
            made = with_memory(made, inference_peak_range_bytes=[low, low + draw(st.integers(0, 2 ** 30))])
        return made if status == "ok" else {**made, "status": "invalid", "reason": draw(names)}

    @st.composite
    def record(draw):
        accelerators = draw(st.lists(st.sampled_from(default_schemas().current_accelerators()), min_size=1,
                                     max_size=5, unique=True))
        results = [draw(result(a)) for a in accelerators]
        moment = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 11, 30)))
        created_at = moment.isoformat(timespec="seconds") + "Z"
        sha256 = draw(st.sampled_from([MODEL_SHA, OTHER_MODEL_SHA]))
        if draw(st.booleans()):
            made = host_record(draw(names), sha256=sha256, created_at=created_at)
            made["results"] = [r for r in results if r["accelerator"] == "cpu"] or made["results"]
        else:
            made = phone_record(draw(st.sampled_from(["SM8650", "sm8350", "Tensor G3", "GS201", "MT6983Z/CZA",
                                                      "SM9999", None])),
                                results, manufacturer=draw(names), model=draw(names),
                                board_platform=draw(st.sampled_from(["pineapple", "zuma", "kona", None])),
                                sha256=sha256, created_at=created_at)
        source = draw(st.sampled_from([None, "bench-host", "push-and-bench", "test-loop", "test-lab", "ai-hub"]))
        return measured_by(made, source) if source else (validate_record(made) or made)

    return record()
