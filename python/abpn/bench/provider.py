"""The app's results provider as the host reads it through AOSP's `content` tool (docs/phone-protocol.md):
one run's row, its record (partial while the run goes on) and its error."""
import json
import re
from dataclasses import dataclass

from abpn.bench.device import RESULTS_AUTHORITY
from abpn.errors import AbpnError

PROVIDER_ERROR = "Error while accessing provider:"
# One row of `content query` (cmds/content Content.java: "Row: N " then "name=value" joined by ", "). The
# app's columns come in this order; progress is free text that may hold ", " itself.
_ROW_V2 = (r"^Row: 0 run_id=(?P<run_id>\S+), state=(?P<state>\w+), pid=(?P<pid>-?\d+|NULL), "
           r"progress=(?P<progress>.*), updated_ms=(?P<updated_ms>\d+|NULL)")
_ROW = re.compile(_ROW_V2 + r", provider_pid=(?P<provider_pid>\d+|NULL), now_ms=(?P<now_ms>\d+), "
                  r"quiet_until_ms=(?P<quiet_until_ms>\d+|NULL), rows_done=(?P<rows_done>\d+), "
                  r"rows_total=(?P<rows_total>\d+), started_ms=(?P<started_ms>\d+|NULL)\s*$", re.M)
_OLD_ROW = re.compile(_ROW_V2 + r"\s*$", re.M)


def _number(text):
    return None if text in (None, "NULL") else int(text)


@dataclass(frozen=True)
class RunRow:
    run_id: str
    state: str
    pid: int | None
    progress: str
    updated_ms: int | None
    provider_pid: int | None
    now_ms: int
    quiet_until_ms: int | None
    rows_done: int
    rows_total: int
    started_ms: int | None

    @classmethod
    def parse(cls, match):
        fields = match.groupdict()
        return cls(run_id=fields["run_id"], state=fields["state"], progress=fields["progress"],
                   **{name: _number(fields[name]) for name in ("pid", "updated_ms", "provider_pid", "now_ms",
                                                               "quiet_until_ms", "rows_done", "rows_total",
                                                               "started_ms")})

    @property
    def restarted(self):
        """The run's main process is not the one that answered: it died, and the provider call started a
        new one (protocol v3, "The run's state survives the process")."""
        return self.state == "running" and None not in (self.pid, self.provider_pid) and self.pid != self.provider_pid

    @property
    def quiet_left_s(self):
        """Phone seconds until the host may run commands again, at the moment of this answer; None when the
        app is not measuring."""
        return None if self.quiet_until_ms is None else (self.quiet_until_ms - self.now_ms) / 1000


class ResultsProvider:
    """One run in the app's results provider."""

    def __init__(self, phone, target, run_id):
        self.phone, self.target, self.run_id = phone, target, run_id
        self.uri = f"content://{RESULTS_AUTHORITY}/runs/{run_id}"

    def query(self):
        """The run's row, or None when the app has no such run."""
        answer = self.phone.content_query(self.uri)
        self._refuse_unreadable(answer, self.uri)
        match = _ROW.search(answer.output)
        if match is not None:
            return RunRow.parse(match)
        if _OLD_ROW.search(answer.output):
            raise AbpnError(f"{self.target}: the installed app speaks an older protocol (its results provider has no "
                            "quiet_until_ms, so the host cannot know when to stay quiet). Install the current APK "
                            "with --apk.")
        if "No result found." in answer.output:
            return None
        raise AbpnError(f"{self.target}: the app's results provider answered something unexpected for {self.uri}: "
                        f"{answer.output.strip()[:500]}")

    def record(self):
        """The record as the app last wrote it (partial while the run goes on)."""
        return self._read(f"{self.uri}.json")

    def partial_record(self):
        """The record so far, or None when the app wrote none (no row finished, or an app that writes only at
        the end)."""
        answer = self.phone.content_read(f"{self.uri}.json")
        if "java.io.FileNotFoundException" in answer.output:
            return None
        self._refuse_unreadable(answer, f"{self.uri}.json")
        return answer.output

    def error(self):
        """The app's reason for refusing the run."""
        content = self._read(f"{self.uri}.error.json")
        try:
            return json.loads(content).get("error", content)
        except (ValueError, AttributeError):
            return content

    def _read(self, uri):
        answer = self.phone.content_read(uri)
        self._refuse_unreadable(answer, uri)
        return answer.output

    def _refuse_unreadable(self, answer, uri):
        """`content` prints the provider's exception after "Error while accessing provider:" and exits 0."""
        if PROVIDER_ERROR not in answer.output and answer.ok:
            return
        lines = answer.output.strip().splitlines()
        cause = next((line for line in lines if line.startswith(("java.", "android."))), lines[0] if lines else
                     f"exit status {answer.exit_code}")
        if "Could not find provider" in cause:
            fix = ("the installed app has no results provider: it predates protocol v2. Install the current APK "
                   "with --apk")
        elif "Permission Denial" in cause or "SecurityException" in cause:
            fix = ("the phone refused the shell access to the app's results (they are guarded by "
                   "android.permission.DUMP, which the shell holds on Android phones): check that the installed "
                   "app is this project's, or reinstall it with --apk")
        else:
            fix = "the run may have finished on the phone; its results stay in the app until it is uninstalled"
        raise AbpnError(f"{self.target}: cannot read the result from the phone: `content` could not read {uri} "
                        f"({cause}). This is not a missing result: {fix}.")
