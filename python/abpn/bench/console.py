"""What the benchmark commands print: lines from several devices at once, and a record as a table."""
import threading

import click

from abpn.core.table import format_ms, format_table


class Console:
    """Lines from several devices at once, each prefixed with its device."""

    def __init__(self):
        self.lock = threading.Lock()

    def say(self, target, message):
        with self.lock:
            click.echo(f"[{target}] {message}")

    def block(self, text):
        with self.lock:
            click.echo(text)


def delegated_share(result):
    """"7/12 (58%)" from a v2 result's delegation, "-" when unknown: a delegate that took part of the graph
    is not the accelerator's speed, the rest ran on the fallback."""
    delegation = result.get("delegation") or {}
    done, total = delegation.get("delegated_nodes"), delegation.get("total_nodes")
    if done is None or not total:
        return "-"
    return f"{done}/{total}" + ("" if done == total else f" ({100 * done / total:.0f}%)")


def results_table(record):
    """One row per accelerator: status, median/p90 ms, fps, init ms, delegated share, cool-down waited,
    output check (or the reason)."""
    rows = []
    for result in record["results"]:
        latency = result.get("latency_ms") or {}
        median = latency.get("median")
        check = result.get("output_check")
        if check:
            psnr = "identical" if check["psnr_db"] is None else f"{check['psnr_db']:.1f} dB"
            check_text = f"{'passed' if check['passed'] else 'FAILED'} ({psnr})"
        else:
            check_text = "-"
        if result["status"] != "ok":
            check_text = result.get("reason") or "-"
        fps = f"{1000 / median:.1f}" if median else "-"
        waited = (result.get("conditions") or {}).get("cooldown_waited_s")
        rows.append([result["accelerator"], result["status"], format_ms(median), format_ms(latency.get("p90")), fps,
                     format_ms(result.get("init_ms")), delegated_share(result), "-" if waited is None else f"{waited:.0f}",
                     check_text])
    return format_table(["accelerator", "status", "median ms", "p90 ms", "fps", "init ms", "delegated", "cool-down s",
                         "output check / reason"], rows)


def crash_details(record):
    """The top of each accelerator process's crash, under the table."""
    parts = []
    for result in record["results"]:
        crash = result.get("crash")
        if crash:
            shown = "\n".join(f"    {line}" for line in crash["log"][:12])
            parts.append(f"\n{result['accelerator']} crashed ({crash['signal_name'] or 'signal ' + str(crash['signal'])}"
                         f"); the other accelerators ran in processes of their own:\n{shown}")
    return "".join(parts)
