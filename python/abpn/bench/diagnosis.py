"""What the phone's logcat says about the app when a run went wrong: only the app's own lines."""
from abpn.bench.device import PACKAGE

LOG_TAGS = ("ABPN", "AndroidRuntime", "DEBUG", "libc")


def relevant_log_lines(lines, limit=30):
    picked = [line for line in lines if any(f" {tag}" in line for tag in LOG_TAGS) or PACKAGE in line]
    return picked[-limit:]


def crash_log(phone):
    """The app's crash as logcat keeps it (the crash buffer first), indented for a message."""
    lines = relevant_log_lines(phone.logcat(200, buffer="crash")) or relevant_log_lines(phone.logcat())
    return "\n".join(f"    {line}" for line in lines) or "    (nothing in logcat)"


def app_log(phone):
    """The app's recent lines from the main buffers, indented for a message."""
    lines = relevant_log_lines(phone.logcat())
    return "\n".join(f"    {line}" for line in lines) or "    (no lines from the app in logcat)"
