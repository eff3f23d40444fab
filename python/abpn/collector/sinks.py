"""Where a benchmark's records go: a local results database, or a collector over HTTP.

The CLI picks one and hands it to the benchmark commands; they call `check()` before touching a
device and `store(record)` after each record is saved and validated.
"""
import json
import urllib.error
import urllib.request
from pathlib import Path

from abpn.collector.store import Store
from abpn.errors import AbpnError


class DatabaseSink:
    def __init__(self, path):
        self.path = Path(path)
        self._database = Store(self.path)
        self.where = str(self.path)

    def check(self):
        """Nothing to reach: the database file is opened when the sink is made."""

    def store(self, record):
        return self._database.add(record)


class CollectorSink:
    def __init__(self, url, token=None, timeout_s=30.0):
        # Checked here, before any phone runs: urllib would only refuse it when the first result is posted.
        if not url.lower().startswith(("http://", "https://")):
            raise AbpnError(f"--collector {url}: give the collector's URL with its scheme, "
                            "e.g. http://192.168.1.20:8765")
        self.url = url.rstrip("/") + "/api/records"
        self.token = token
        self.timeout_s = timeout_s
        self.where = url

    def check(self):
        """A cheap GET before any phone is touched: a collector that is not there would otherwise only
        show after every phone has run."""
        request = urllib.request.Request(self.url + "?limit=1", method="GET")
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout_s, 10.0)) as response:
                response.read(0)
        except urllib.error.HTTPError as error:
            with error:
                raise AbpnError(f"the collector at {self.where} answered {error.code} to GET {self.url}: is it an "
                                "abpn-tool collector (`abpn-tool serve`)? No phone was touched.") from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise AbpnError(f"cannot reach the collector at {self.where} ({reason}). Start it (`abpn-tool serve`) "
                            "or fix --collector; no phone was touched.") from error

    def store(self, record):
        headers = {"Content-Type": "application/json"}
        if self.token:  # a collector on loopback may run without one
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=json.dumps(record).encode(), method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return "created" if response.status == 201 else "exists"
        except urllib.error.HTTPError as error:
            with error:  # it holds the response's socket
                detail = error.read().decode("utf-8", "replace")[:500]
            hint = " (check --token)" if error.code == 401 else ""
            raise AbpnError(f"the collector at {self.url} answered {error.code}{hint}: {detail}") from error
        except (urllib.error.URLError, OSError) as error:
            raise AbpnError(f"cannot reach the collector at {self.url}: {error}") from error
