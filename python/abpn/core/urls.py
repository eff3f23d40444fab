"""The one rule for the HTTP addresses a user gives (a collector, a download mirror)."""
from urllib.parse import urlsplit

COLLECTOR_URL_EXAMPLE = "http://192.168.1.20:8765"


def http_url_problem(url):
    """Why `url` cannot be an http(s) address to send requests to, or None when it can."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "it holds spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a port that is not a number in 0..65535
    except ValueError as error:
        return f"it is not a URL ({error})"
    if parts.scheme.lower() not in ("http", "https"):
        return "it needs its scheme, http:// or https://"
    if not parts.hostname:
        return "it names no host"
    return None
