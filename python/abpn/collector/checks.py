"""What the schema cannot say: a record's numbers must agree with each other.

A schema-valid record can still lie: 8,000 samples for runs=3, a minimum above the maximum, or
`passed: true` beside a PSNR under its own threshold. The report trusts each result's summary
numbers (it never re-reads raw samples), so the collector refuses records whose numbers do not
add up, with the reason.
"""
import math

from abpn.record.build import latency_stats

# Producers compute the statistics in double precision from the same samples (bench-host with numpy,
# the app with the same definitions in Kotlin); this leaves room for rounding to the microsecond.
ABSOLUTE_TOLERANCE_MS = 1e-3
RELATIVE_TOLERANCE = 1e-6
# The app writes psnr_db rounded to 4 decimals but decides `passed` on the exact value.
PSNR_ROUNDING_DB = 1e-3
STATISTICS = ("min", "median", "mean", "p90", "max", "std")


def _close(a, b):
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE_MS)


def inconsistencies(record):
    """Every internal contradiction of a schema-valid record, as 'path: message' strings."""
    problems = []
    first_index = {}
    for index, result in enumerate(record.get("results", [])):
        where = f"results/{index}"
        accelerator = result.get("accelerator")
        if accelerator in first_index:
            # Otherwise one record could fill a report cell with as many "runs" as it likes.
            problems.append(f"{where}/accelerator: {accelerator} already has a result at results/"
                            f"{first_index[accelerator]}; a record holds one result per accelerator")
        first_index.setdefault(accelerator, index)
        problems += [f"{where}/{p}" for p in _timing_problems(result)]
        problems += [f"{where}/{p}" for p in _node_problems(result)]
        # Schema version 2 keeps more of the same kind of numbers in sub-objects.
        timing, delegation = result.get("timing"), result.get("delegation")
        if isinstance(timing, dict) and isinstance(timing.get("wall_latency_ms"), dict):
            problems += [f"{where}/timing/{p}" for p in _latency_problems(
                timing["wall_latency_ms"], timing.get("wall_samples_ms"), "wall_latency_ms", "wall_samples_ms")]
        if isinstance(delegation, dict):
            problems += [f"{where}/delegation/{p}" for p in _node_problems(delegation)]
        if isinstance(result.get("output_check"), dict):
            problems += [f"{where}/output_check/{p}" for p in _check_problems(result["output_check"])]
    return problems


def _timing_problems(result):
    samples, runs, latency = result.get("samples_ms"), result.get("runs"), result.get("latency_ms")
    problems = []
    if isinstance(samples, list) and isinstance(runs, int) and len(samples) != runs:
        problems.append(f"samples_ms: {len(samples)} samples for runs={runs}; a record carries one sample per "
                        "timed run")
    if isinstance(latency, dict):
        problems += _latency_problems(latency, samples, "latency_ms", "samples_ms")
    return problems


def _latency_problems(latency, samples, name, samples_name):
    if not all(isinstance(latency.get(key), (int, float)) for key in STATISTICS):
        return []  # a shape this code does not know; the schema has had its say
    problems = []
    low, high = latency["min"], latency["max"]
    for key in ("median", "mean", "p90"):
        if not low <= latency[key] <= high:
            problems.append(f"{name}/{key}: {latency[key]} is outside min {low} .. max {high}")
    if latency["median"] > latency["p90"]:
        problems.append(f"{name}/p90: {latency['p90']} is below the median {latency['median']}")
    if latency["std"] > (high - low) / 2 + ABSOLUTE_TOLERANCE_MS:
        problems.append(f"{name}/std: {latency['std']} is more than half the range {low} .. {high} allows")
    if isinstance(samples, list) and samples and not problems:
        actual = latency_stats(samples)
        wrong = [f"{key} {latency[key]} (the samples give {actual[key]:.6g})"
                 for key in STATISTICS if not _close(latency[key], actual[key])]
        if wrong:
            problems.append(f"{name}: does not summarise {samples_name}: " + ", ".join(wrong))
    return problems


def _node_problems(result):
    delegated, total = result.get("delegated_nodes"), result.get("total_nodes")
    if isinstance(delegated, int) and isinstance(total, int) and delegated > total:
        return [f"delegated_nodes: {delegated} is more than total_nodes {total}"]
    return []


def _check_problems(check):
    psnr, threshold, passed = check.get("psnr_db"), check.get("threshold_db"), check.get("passed")
    difference = check.get("max_abs_diff")
    problems = []
    if psnr is None and difference not in (None, 0):
        problems.append(f"psnr_db: null means identical outputs, but max_abs_diff is {difference}")
    if psnr is not None and difference == 0:
        problems.append(f"psnr_db: {psnr} dB with max_abs_diff 0; identical outputs have psnr_db null")
    if isinstance(passed, bool) and isinstance(threshold, (int, float)):
        verdict = psnr is None or psnr >= threshold
        too_close_to_call = psnr is not None and abs(psnr - threshold) <= PSNR_ROUNDING_DB
        if passed != verdict and not too_close_to_call:
            problems.append(f"passed: {str(passed).lower()} contradicts psnr_db "
                            f"{'null (identical)' if psnr is None else psnr} against threshold_db {threshold}")
    return problems
