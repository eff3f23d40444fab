"""Where a benchmark's records go: a local results database, or a collector over HTTP.

The CLI picks one and hands it to the benchmark commands; they call `check()` before touching a
device and `store(record)` after each record is saved and validated.
"""
import json
from pathlib import Path

import httpx

from abpn.collector.store import Store
from abpn.core.urls import COLLECTOR_URL_EXAMPLE, http_url_problem
from abpn.errors import AbpnError

STORED = {201: "created", 200: "exists"}


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
    """Posts records to `abpn-tool serve`. Never follows a redirect: a client that does turns a POST
    into a GET without the body (and reads the answer as success), or sends the token to whoever the
    Location names. A record counts as stored only when the collector says so: 201 or 200 with the
    record's run_id and "created"/"exists" in the body."""

    def __init__(self, url, token=None, timeout_s=30.0):
        # Checked here, before any phone runs, not when the first result is posted.
        problem = http_url_problem(url)
        if problem:
            raise AbpnError(f"--collector {url}: {problem}; give the collector's URL, e.g. {COLLECTOR_URL_EXAMPLE}")
        self.base = url.rstrip("/")
        self.url = self.base + "/api/records"
        self.token = token
        self.timeout_s = timeout_s
        self.where = url

    def _client(self, timeout_s):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}  # loopback may need none
        return httpx.Client(follow_redirects=False, timeout=timeout_s, headers=headers)

    def check(self):
        """Asks the collector whether a write with this token would be accepted (POST /api/write-access
        stores nothing), before any phone is touched: a wrong token or URL would otherwise show only
        after every phone has run."""
        url = self.base + "/api/write-access"
        try:
            with self._client(min(self.timeout_s, 10.0)) as client:
                response = client.post(url)
        except httpx.HTTPError as error:
            raise AbpnError(f"cannot reach the collector at {self.where} ({error}). Start it (`abpn-tool serve`) "
                            "or fix --collector; no phone was touched.") from error
        if response.status_code == 204:
            return
        if response.is_redirect:
            raise AbpnError(f"the collector at {self.where} redirects to {response.headers.get('location')!r}; "
                            "records are never posted through a redirect. Give the final address in --collector. "
                            "No phone was touched.")
        if response.status_code == 401:
            raise AbpnError(f"the collector at {self.where} refuses writes with this token (401): pass the token it "
                            "was started with (--token or ABPN_COLLECTOR_TOKEN). No phone was touched.")
        if response.status_code == 404:
            raise AbpnError(f"{self.where} has no {url} (404): is it an abpn-tool collector (`abpn-tool serve`) of "
                            "this version? No phone was touched.")
        raise AbpnError(f"the collector at {self.where} answered {response.status_code} to POST {url}: "
                        f"{_detail(response)}. No phone was touched.")

    def store(self, record):
        body = json.dumps(record).encode()
        try:
            with self._client(self.timeout_s) as client:
                response = client.post(self.url, content=body, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as error:
            raise AbpnError(f"cannot reach the collector at {self.url}: {error}") from error
        if response.is_redirect:
            raise AbpnError(f"the collector at {self.url} answered {response.status_code}, a redirect to "
                            f"{response.headers.get('location')!r}; the record was not posted there. Give the "
                            "final address in --collector")
        if response.status_code not in STORED:
            hint = " (check --token)" if response.status_code == 401 else ""
            raise AbpnError(f"the collector at {self.url} answered {response.status_code}{hint}: {_detail(response)}")
        try:
            answer = response.json()
            status, run_id = answer["status"], answer["run_id"]
        except (ValueError, TypeError, KeyError):
            raise AbpnError(f"the collector at {self.url} answered {response.status_code} without saying what it "
                            f"stored ({response.text[:200]!r}); is it an abpn-tool collector?") from None
        if status != STORED[response.status_code] or str(run_id).lower() != str(record.get("run_id")).lower():
            raise AbpnError(f"the collector at {self.url} answered {response.status_code} with {answer!r}, not "
                            f"that run {record.get('run_id')} is stored")
        return status


def _detail(response):
    return response.text[:500]
