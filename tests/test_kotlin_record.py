"""Records built by the Android app's Kotlin code conform to the one result-record schema.

android/build-offline compiles the Kotlin core, runs org.abpn.core.SampleRecords and leaves an ok,
an unsupported and a failed record (plus a record-less error file) in
android/offline-out/kotlin-records/. This test validates them with the same JSON Schema the
Python side and the collector use.
"""
import json
import pathlib

import jsonschema
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "python" / "abpn" / "record" / "schema" / "result_record.schema.json"
RECORDS = ROOT / "android" / "offline-out" / "kotlin-records"

pytestmark = pytest.mark.skipif(
    not RECORDS.is_dir(),
    reason=f"{RECORDS.relative_to(ROOT)} does not exist: run android/build-offline first "
    "(make test runs it before pytest)",
)


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


@pytest.mark.parametrize("name", ["ok", "unsupported", "failed", "partial"])
def test_kotlin_record_matches_schema(validator, name):
    record = json.loads((RECORDS / f"{name}.json").read_text())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(record)]
    assert errors == []
    assert record["app"]["name"] == "abpn-android"


def test_statuses_are_the_ones_named():
    statuses = {
        name: {r["status"] for r in json.loads((RECORDS / f"{name}.json").read_text())["results"]}
        for name in ("ok", "unsupported", "failed")
    }
    # The ok sample also holds a delegate that took no node: a status of its own, never "ok".
    assert statuses == {"ok": {"ok", "not_delegated"}, "unsupported": {"unsupported"}, "failed": {"failed"}}
    ok_results = json.loads((RECORDS / "ok.json").read_text())["results"]
    for result in ok_results:
        if result["status"] == "not_delegated":
            assert result["delegation"]["delegated_nodes"] == 0


def test_failed_reason_keeps_the_exception_and_escaping_survives():
    failed = json.loads((RECORDS / "failed.json").read_text())["results"][0]
    assert failed["reason"].startswith('IllegalArgumentException: Internal error: Failed to apply delegate: "quoted"\n')
    assert len(failed["reason"]) == 2000


def test_partial_record_is_marked_and_keeps_v3_fields():
    partial = json.loads((RECORDS / "partial.json").read_text())
    assert partial["complete"] is False and "still going" in partial["incomplete_reason"]
    assert [r["status"] for r in partial["results"]] == ["invalid", "failed"]
    assert partial["results"][0]["delegation"]["log_readable"] is False
    assert partial["results"][0]["process"]["visible_throughout"] is False
    ok = json.loads((RECORDS / "ok.json").read_text())
    assert ok["conditions"]["host_commands_during_runs"] == 0
    assert ok["results"][0]["memory"]["source"] == "/proc/self/status"


def test_record_less_error_file():
    error = json.loads((RECORDS / "error.json").read_text())
    assert set(error) == {"run_id", "error"}


def test_a_broken_kotlin_record_would_be_caught(validator):
    record = json.loads((RECORDS / "ok.json").read_text())
    del record["results"][0]["latency_ms"]
    assert not validator.is_valid(record)
