"""The `memory` section bench-host writes: this process's peak resident set over the timed runs."""
import numpy as np

from abpn.bench.memory import PeakMemory

MB = 2**20


def _touch(megabytes):
    block = np.ones(megabytes * MB, np.uint8)  # ones, not zeros: every page is written, so resident
    return block


def test_the_peak_covers_the_timed_runs_and_not_what_came_before():
    memory = PeakMemory().start()
    before = _touch(300)  # a peak before the timed runs (TensorFlow's import, the reference model)
    del before
    memory.begin_timed()
    during = _touch(100)
    section = memory.section()
    del during
    assert section["rss_before_bytes"] > 0 and section["arena_bytes"] is None
    assert "over the timed runs" in section["source"], section["source"]
    # the 100 MB of the timed runs are in the peak; the 300 MB before them are not
    assert section["rss_before_bytes"] + 90 * MB <= section["peak_rss_bytes"] < section["rss_before_bytes"] + 250 * MB


def test_an_arena_size_and_its_note_go_into_the_section():
    section = PeakMemory().start().section(arena_bytes=123, arena_note="from the runtime")
    assert section["arena_bytes"] == 123 and section["source"].endswith("from the runtime")
    assert len(section["source"]) <= 200
