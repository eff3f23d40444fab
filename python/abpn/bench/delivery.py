"""Every benchmark's last step, whatever ran it: keep the raw result, validate it, then store it.

The raw bytes are written first, so that nothing that happens next (bad JSON, a record that breaks
the schema, a collector that is down) loses a run the device already paid for.
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from abpn.core.files import write_atomically
from abpn.errors import AbpnError
from abpn.record.build import record_errors


@dataclass
class Outcome:
    """What one device's benchmark came to, whichever command ran it: its record, where it went, or the error."""

    target: str
    chipset: str | None = None
    record: dict | None = None
    stored: str | None = None
    saved_to: Path | None = None
    error: str | None = None

    @property
    def ok(self):
        return self.error is None


class Delivered(NamedTuple):
    saved_to: Path
    record: dict
    stored: str


def deliver(content, *, out_dir, run_id, sink, label):
    """Saves `content` (the record's bytes) as OUT/raw/<run_id>.json, checks it is a valid record of
    that run_id and stores it with `sink`. Errors name `label` (the device) and the kept file."""
    raw_dir = Path(out_dir) / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    saved = raw_dir / f"{run_id}.json"
    write_atomically(saved, content)
    try:
        record = json.loads(content)
    except ValueError as error:
        raise AbpnError(f"{label}: the result is not JSON ({error}); kept as {saved}") from error
    problems = record_errors(record)
    if not problems and record["run_id"].lower() != run_id.lower():
        problems = [f"run_id {record['run_id']} instead of {run_id}"]
    if problems:
        raise AbpnError(f"{label}: the result does not match the schema ({'; '.join(problems[:5])}); "
                        f"kept as {saved}")
    try:
        stored = sink.store(record)
    except AbpnError as error:
        raise AbpnError(f"{label}: {error}; the result is kept as {saved}") from error
    return Delivered(saved, record, stored)
