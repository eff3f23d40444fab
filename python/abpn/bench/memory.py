"""Resident memory of this process around a measurement: the `memory` section of a result record.

Linux keeps the peak resident set (VmHWM) for the life of the process, and this process loaded
TensorFlow long before the interpreter existed. Writing "5" to /proc/self/clear_refs (Linux 4.0+,
proc(5)) resets that peak to the current resident set, so the peak read after the timed runs is
the peak over those runs. Where the reset is refused, the lifetime peak (VmHWM, or getrusage's
ru_maxrss) is reported and `source` says so.
"""
import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_RESET_PEAK = "5"


def _status_bytes(field):
    """A `kB` field of /proc/self/status in bytes, or None where there is no such file (not Linux)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_peak():
    try:
        _CLEAR_REFS.write_text(_RESET_PEAK)
        return True
    except OSError:
        return False


class PeakMemory:
    """`start()` before the interpreter exists, `begin_timed()` just before the timed runs,
    `section()` just after them."""

    def __init__(self):
        self.rss_before = None
        self.peak_reset = False

    def start(self):
        self.rss_before = _status_bytes("VmRSS")
        return self

    def begin_timed(self):
        self.peak_reset = _reset_peak()

    def section(self, arena_bytes=None, arena_note=None):
        peak = _status_bytes("VmHWM")
        if peak is not None:
            source = ("VmHWM of /proc/self/status over the timed runs (peak reset through /proc/self/clear_refs "
                      "before them)" if self.peak_reset else
                      "VmHWM of /proc/self/status: the process's lifetime peak (the reset was refused)")
        else:
            # ru_maxrss is in kilobytes on Linux (getrusage(2)); the lifetime peak as well.
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            source = "getrusage ru_maxrss: the process's lifetime peak"
        source += "; the process holds the TensorFlow runtime too"
        if arena_note:
            source += f"; {arena_note}"
        return {"peak_rss_bytes": peak, "rss_before_bytes": self.rss_before, "arena_bytes": arena_bytes,
                "source": source[:200]}
