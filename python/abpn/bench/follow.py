"""Following one run on the phone without disturbing it (docs/phone-protocol.md, "Following the run").

Every shell command is a process on the phone, and `content` boots a whole ART VM (AOSP cmds/content):
during warm-up and the timed runs that shows in the latencies, the frequency and the temperature. So the
host asks the app once, then runs nothing until the app's `quiet_until_ms` (mapped to the host's clock
through the row's `now_ms`); its only liveness check meanwhile is an ADB sync STAT of /proc/<pid>, which
adbd answers itself. A run past its own quiet time is asked again after 1, 2, 4, 8 and then 15 s.
"""
import time
from dataclasses import dataclass

from abpn.bench.provider import RunRow

# Asked again this long after the app's quiet time: its clock and the host's are mapped over a shell
# round trip, and the accelerator's last write lands just after its timed runs.
QUIET_SLACK_S = 1.0
BACKOFF_S = (1, 2, 4, 8, 15)
STAT_EVERY_S = 5.0
PROGRESS_EVERY_S = 10.0


@dataclass
class Followed:
    """How the run ended as the host saw it: `record` is the record's bytes (complete, or the partial
    record of a run that ended early), `problem` None for a finished run, else why it ended."""

    row: RunRow | None
    record: bytes | None = None
    problem: str | None = None
    crashed: bool = False  # the app's main process died: its crash log explains the problem
    timed_out: bool = False
    asks: int = 0
    stats: int = 0


class RunFollower:
    def __init__(self, phone, provider, timeout_s, say, *, clock=time.monotonic, sleep=time.sleep):
        self.phone, self.provider, self.timeout_s, self.say = phone, provider, timeout_s, say
        self.clock, self.sleep = clock, sleep
        self.asks = self.stats = 0
        self.answered_at = None

    def follow(self):
        start = self.clock()
        give_up_at = start + self.timeout_s
        next_report = start + PROGRESS_EVERY_S
        row = self._ask()
        if row is None:
            return self._ended(None, f"the app never started run {self.provider.run_id}: am start returned, "
                                     "but the app has no record of it", crashed=True)
        backoff, progress = 0, None
        while True:
            if row.state == "done":
                return self._ended(row, None, record=self.provider.record().encode())
            if row.state == "error":
                return self._ended(row, f"the app could not run the benchmark: {self.provider.error()}")
            if row.restarted:
                return self._ended(row, f"the app restarted during the run (pid {row.pid} → {row.provider_pid}): its "
                                        "main process died and the results provider started a new one",
                                   crashed=True, partial=True)
            if row.progress != progress:
                progress = row.progress
                self.say(f"  {progress}")
            now = self.clock()
            if now >= give_up_at:
                done = f"{row.rows_done} of {row.rows_total} accelerators measured"
                return self._ended(row, f"no complete result after {self.timeout_s:g} s: the app is still running at "
                                        f"'{row.progress}' ({done}). Raise --timeout for slow phones, or lower "
                                        "--accelerator-timeout", partial=True, timed_out=True)
            if now >= next_report:
                self.say(f"waiting for the result: {now - start:.0f} s (timeout {self.timeout_s:g} s)")
                next_report = now + PROGRESS_EVERY_S
            quiet = row.quiet_left_s
            if quiet is not None and self.answered_at + quiet + QUIET_SLACK_S > now:
                backoff = 0
                until = self.answered_at + quiet + QUIET_SLACK_S
            else:
                until = now + BACKOFF_S[min(backoff, len(BACKOFF_S) - 1)]
                backoff += 1
            self._stay_quiet(min(until, give_up_at), row.pid)
            row = self._ask()
            if row is None:
                return self._ended(None, f"the app lost run {self.provider.run_id}: it restarted and kept no state "
                                         "of the run. Install the current APK with --apk", crashed=True)

    def _ask(self):
        self.asks += 1
        row = self.provider.query()
        self.answered_at = self.clock()
        return row

    def _stay_quiet(self, until, pid):
        """Runs nothing on the phone until `until`; a sync STAT of /proc/<pid> every STAT_EVERY_S ends the
        wait early when the app's main process is gone."""
        while (left := until - self.clock()) > 0:
            self.sleep(min(STAT_EVERY_S, left))
            if pid is not None and until - self.clock() > 0:
                self.stats += 1
                if not self.phone.process_alive(pid):
                    return False
        return True

    def _ended(self, row, problem, *, record=None, crashed=False, partial=False, timed_out=False):
        if partial:
            content = self.provider.partial_record()
            record = content.encode() if content else None
        return Followed(row, record=record, problem=problem, crashed=crashed, timed_out=timed_out, asks=self.asks,
                        stats=self.stats)
