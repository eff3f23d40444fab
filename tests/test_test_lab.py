"""Firebase Test Lab: the gcloud line `test-lab run` prints, `test-lab collect` on a results tree laid out as
Test Lab lays it out (tests/fixtures/test_lab/README.md cites the layout), and the loop declarations of the
APK that android/build-offline built, read back with aapt2."""
import importlib.util
import json
import shlex
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from abpn.bench import test_lab
from abpn.cli import main
from apk_helpers import write_apk
from abpn.collector.report import report_text
from abpn.collector.sinks import DatabaseSink
from abpn.errors import AbpnError
from abpn.record.build import record_errors

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "tests" / "fixtures" / "test_lab" / "abpn-20261206-010000"
GOOD, CRASHED, TIMED_OUT = "redfin-30-en-portrait", "a51-31-en-portrait", "oriole-33-en-portrait"
OUT = ROOT / "android" / "offline-out"

# gcloud's documented flags of `gcloud firebase test android run` that a game-loop run uses, with the
# form of their values (cloud.google.com/sdk/gcloud/reference/firebase/test/android/run, SYNOPSIS:
# [--app=APP] [--device=DIMENSION=VALUE,[…]] [--timeout=TIMEOUT] [--type=TYPE] [--results-bucket=RESULTS_BUCKET]
# [--results-dir=RESULTS_DIR] [--scenario-labels=LABEL,[LABEL,…]] [--scenario-numbers=int,[int,…]]; --type is
# one of instrumentation, robo, game-loop; --device's dimensions are model, version, locale, orientation;
# --timeout a duration such as 30m; --project is gcloud's global flag).
DOCUMENTED = {
    "--type": r"game-loop",
    "--app": r".+\.apk",
    "--device": r"(model|version|locale|orientation)=[\w.-]+(,(model|version|locale|orientation)=[\w.-]+)*",
    "--scenario-numbers": r"\d+(,\d+)*",
    "--scenario-labels": r"[\w.]+(,[\w.]+)*",
    "--timeout": r"\d+[smh]?",
    "--results-bucket": r"[a-z0-9][a-z0-9._-]+",
    "--results-dir": r"[\w./-]+",
    "--project": r"([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]",  # a project id, domain-scoped ones included
}
REPEATABLE = {"--device"}


def _flags(argv):
    import re

    assert argv[:5] == ["gcloud", "firebase", "test", "android", "run"]
    rest, seen = argv[5:], {}
    assert len(rest) % 2 == 0, rest
    for flag, value in zip(rest[::2], rest[1::2]):
        assert flag in DOCUMENTED, f"{flag} is not a documented game-loop flag"
        assert re.fullmatch(DOCUMENTED[flag], value), f"{flag} {value!r}"
        assert flag in REPEATABLE or flag not in seen, f"{flag} given twice"
        seen.setdefault(flag, []).append(value)
    return seen


# ---------------------------------------------------------------- run


def test_the_gcloud_line_uses_only_documented_game_loop_flags():
    argv = test_lab.gcloud_command("android/offline-out/abpn.apk",
                                   ["model=redfin,version=30", "model=SC-51E,version=34,locale=de,orientation=landscape"],
                                   results_bucket="gs://abpn-results", results_dir="abpn-20261206-010000",
                                   scenarios=[1, 5], project="abpn-bench")
    flags = _flags(argv)
    assert flags["--type"] == ["game-loop"]
    assert flags["--device"] == ["model=redfin,version=30", "model=SC-51E,version=34,locale=de,orientation=landscape"]
    assert flags["--scenario-numbers"] == ["1,5"]
    assert "--scenario-labels" not in flags
    assert flags["--results-bucket"] == ["abpn-results"]
    assert flags["--timeout"] == ["30m"]


def test_by_default_the_apk_runs_what_it_can_run_through_its_manifest_label():
    argv = test_lab.gcloud_command("abpn-noqnn.apk", ["model=oriole,version=33"], results_bucket="b-1", results_dir="r")
    assert _flags(argv)["--scenario-labels"] == ["abpn_runnable"]
    # The label the APK declares for each build (android/offline/apk_checks.py reads it back from the APK).
    checks = _apk_checks()
    assert all(test_lab.DEFAULT_LABEL in v["labels"] for v in checks.EXPECTED_LOOPS.values())
    assert checks.EXPECTED_LOOPS["noqnn"]["labels"][test_lab.DEFAULT_LABEL] == "1-3,5"


@pytest.mark.parametrize("spec, words", [
    ("redfin", "model=MODEL_ID,version=VERSION_ID"),
    ("model=redfin", "lacks version"),
    ("model=redfin,version=30,colour=red", "model=MODEL_ID"),
    ("model=redfin,version=30,orientation=sideways", "portrait or landscape"),
    ("model=red fin,version=30", "is not an id"),
])
def test_a_bad_device_says_what_to_give(spec, words):
    with pytest.raises(AbpnError, match=words):
        test_lab.gcloud_command("a.apk", [spec], results_bucket="bucket", results_dir="r")


def test_bad_scenarios_timeouts_and_folders_are_refused():
    with pytest.raises(AbpnError, match="--scenario 6 is not a scenario: 1 cpu, 2 gpu"):
        test_lab.gcloud_command("a.apk", ["model=a,version=1"], results_bucket="bucket", results_dir="r", scenarios=[6])
    with pytest.raises(AbpnError, match="30m"):
        test_lab.gcloud_command("a.apk", ["model=a,version=1"], results_bucket="bucket", results_dir="r", timeout="half")
    with pytest.raises(AbpnError, match="inside the bucket"):
        test_lab.gcloud_command("a.apk", ["model=a,version=1"], results_bucket="bucket", results_dir="../x")


@pytest.mark.parametrize("project", ["-x", "a;b", "My Project", "abc", "1abcdef", "abcdef-"])
def test_a_project_gcloud_would_misread_is_refused(project):
    """"-x" would reach gcloud as a flag of its own; the rule is Google Cloud's project id rule."""
    with pytest.raises(AbpnError, match="is not a Google Cloud project id"):
        test_lab.gcloud_command("a.apk", ["model=a,version=1"], results_bucket="bucket", results_dir="r", project=project)


def test_project_ids_old_and_new_pass():
    for project in ["abpn-bench", "example.com:abpn-bench"]:
        argv = test_lab.gcloud_command("a.apk", ["model=a,version=1"], results_bucket="b-1", results_dir="r", project=project)
        assert _flags(argv)["--project"] == [project]


def test_a_label_cannot_smuggle_a_second_one():
    with pytest.raises(AbpnError, match="--label 'abpn_runnable,abpn_single'"):
        test_lab.gcloud_command("a.apk", ["model=a,version=1"], results_bucket="b-1", results_dir="r",
                                labels=["abpn_runnable,abpn_single"])


def test_run_prints_the_command_and_how_to_collect(tmp_path):
    apk = write_apk(tmp_path / "abpn.apk")
    result = CliRunner().invoke(main, ["test-lab", "run", "--apk", str(apk), "--device", "model=redfin,version=30",
                                       "--results-bucket", "abpn-results", "--results-dir", "run-1"])
    assert result.exit_code == 0, result.output
    first, *rest = result.output.splitlines()
    _flags(shlex.split(first))
    assert "gsutil -m cp -r gs://abpn-results/run-1 test-lab-results" in result.output
    assert "abpn-tool test-lab collect test-lab-results" in result.output


def test_execute_without_gcloud_says_how_to_install_it(tmp_path, monkeypatch):
    apk = write_apk(tmp_path / "abpn.apk")
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no gcloud on it
    result = CliRunner().invoke(main, ["test-lab", "run", "--apk", str(apk), "--device", "model=redfin,version=30",
                                       "--results-bucket", "abpn-results", "--execute"])
    assert result.exit_code == 1
    assert "gcloud is not on PATH. Install the Google Cloud CLI" in result.output
    assert result.output.startswith("gcloud firebase test android run --type game-loop")


# ---------------------------------------------------------------- collect


def test_collect_stores_the_good_device_and_names_the_others_with_test_labs_reason(tmp_path):
    db = tmp_path / "results.sqlite"
    outcomes = {o.device_id: o for o in test_lab.collect(TREE.parent, DatabaseSink(db), out_dir=tmp_path / "out",
                                                         matrix_id="matrix-3fj2k1x9q0")}
    assert sorted(outcomes) == sorted([GOOD, CRASHED, TIMED_OUT])
    assert outcomes[GOOD].ok and outcomes[GOOD].stored == [(5, "5e1f0c3a-7b2d-4c8e-9a10-2b3c4d5e6f70", "created")]
    crashed = outcomes[CRASHED].problems
    assert crashed[0][0] == 5
    assert "the loop wrote nothing to results_scenario_5.json (Test Lab: Application crashed.;" in crashed[0][1]
    assert "java.lang.OutOfMemoryError: Failed to allocate" in crashed[0][1]
    assert outcomes[TIMED_OUT].problems == [(5, "the loop wrote nothing to results_scenario_5.json (Test Lab: Test timed out.)")]

    stored = json.loads((tmp_path / "out" / "raw" / "5e1f0c3a-7b2d-4c8e-9a10-2b3c4d5e6f70.json").read_text())
    assert stored["source"] == {"kind": "test-lab", "runner": "org.abpn.app 0.1.0", "scenario": 5,
                                "device_id": GOOD, "matrix_id": "matrix-3fj2k1x9q0"}
    assert record_errors(stored) == []
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from records").fetchone()[0] == 1


def test_collect_cli_then_report_shows_the_test_lab_phone_as_a_chipset_row(tmp_path):
    db = tmp_path / "results.sqlite"
    runner = CliRunner()
    result = runner.invoke(main, ["test-lab", "collect", str(TREE), "--db", str(db), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert f"[{GOOD}] scenario 5: stored 5e1f0c3a-7b2d-4c8e-9a10-2b3c4d5e6f70 (created)" in result.output
    assert f"[{CRASHED}] scenario 5: the loop wrote nothing" in result.output
    assert f"[{TIMED_OUT}] scenario 5: the loop wrote nothing to results_scenario_5.json (Test Lab: Test timed out.)" in result.output
    assert "1 record(s) stored" in result.output
    assert f"2 of 3 device(s) have no complete result: {CRASHED}, {TIMED_OUT}" in result.output
    report = report_text(db, "md")
    assert "SM7250" in report or "Snapdragon 765" in report, report
    # Collected twice, stored once: run_id is the key.
    again = runner.invoke(main, ["test-lab", "collect", str(TREE), "--db", str(db), "--out", str(tmp_path / "out")])
    assert f"[{GOOD}] scenario 5: stored 5e1f0c3a-7b2d-4c8e-9a10-2b3c4d5e6f70 (exists)" in again.output


def test_collect_posts_to_a_collector_with_its_token(tmp_path):
    from collector_helpers import live_server

    token = "t" * 24
    db = tmp_path / "collector.sqlite"
    with live_server(db, token=token) as url:
        result = CliRunner().invoke(main, ["test-lab", "collect", str(TREE), "--collector", url, "--token", token,
                                           "--out", str(tmp_path / "out")])
        assert f"[{GOOD}] scenario 5: stored 5e1f0c3a-7b2d-4c8e-9a10-2b3c4d5e6f70 (created)" in result.output
        refused = CliRunner().invoke(main, ["test-lab", "collect", str(TREE), "--collector", url, "--token", "wrong" * 4,
                                            "--out", str(tmp_path / "out")])
        assert "refuses writes with this token (401)" in refused.output
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from records").fetchone()[0] == 1


def test_a_record_that_breaks_the_schema_or_an_error_file_is_named(tmp_path):
    tree = tmp_path / "run"
    bad = tree / "b0q-33-en-portrait" / "game_loop_results"
    bad.mkdir(parents=True)
    (bad / "results_scenario_1.json").write_text(json.dumps({"run_id": "5e1f0c3a-7b2d-4c8e-9a10-2b3c4d5e6f71",
                                                              "schema_version": 3}))
    (bad / "results_scenario_2.json").write_text(json.dumps({"run_id": "x", "error": "this APK lacks abpn_x3_int8.tflite"}))
    empty = tree / "x1q-29-en-landscape"
    empty.mkdir()
    [outcome_b0q, outcome_x1q] = test_lab.collect(tree, DatabaseSink(tmp_path / "db.sqlite"), out_dir=tmp_path / "out")
    assert "does not match the schema" in outcome_b0q.problems[0][1]
    assert outcome_b0q.problems[1] == (2, "the app could not make a record: this APK lacks abpn_x3_int8.tflite")
    assert outcome_x1q.problems == [(None, "no game_loop_results/results_scenario_N.json: the loop did not run")]


def test_a_folder_without_test_labs_layout_is_refused(tmp_path):
    with pytest.raises(AbpnError, match="no Test Lab device folder"):
        test_lab.collect(tmp_path, DatabaseSink(tmp_path / "db.sqlite"), out_dir=tmp_path / "out")


# ---------------------------------------------------------------- what android/build-offline built


def _apk_checks():
    spec = importlib.util.spec_from_file_location("apk_checks", ROOT / "android" / "offline" / "apk_checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


needs_build = pytest.mark.skipif(not (OUT / "abpn.apk").is_file() or shutil.which("aapt2") is None,
                                 reason="run android/build-offline first (make test does); needs aapt2")


@needs_build
def test_the_built_apk_declares_the_loops_as_test_lab_reads_them():
    checks = _apk_checks()
    apks = {"abpn.apk": None, "abpn-noqnn.apk": "noqnn"}
    for name, variant in apks.items():
        apk = OUT / name
        if not apk.is_file():
            continue
        loop = checks.game_loop(checks.linked_manifest(str(apk)))
        assert {"actions": ["com.google.intent.action.TEST_LOOP"], "categories": ["android.intent.category.DEFAULT"],
                "mime_types": ["application/javascript"]} in loop["filters"]
        assert loop["loops"] == 5
        # abpn.apk is the QNN build where the QNN AARs resolve, else the build without QNN (android/README.md).
        variant = variant or ("qnn" if (OUT / "abpn-noqnn.apk").is_file() else "noqnn")
        assert loop["labels"] == checks.EXPECTED_LOOPS[variant]["labels"]
        assert checks.check_game_loop(checks.linked_manifest(str(apk)), variant) == []


@needs_build
def test_kotlin_game_loop_records_are_valid_and_collect_stores_them(tmp_path):
    records = OUT / "kotlin-records"
    lab = json.loads((records / "test-loop-lab.json").read_text())
    refused = json.loads((records / "test-loop-refused.json").read_text())
    assert record_errors(lab) == [] and record_errors(refused) == []
    assert refused["results"] == [] and refused["complete"] is False
    assert refused["incomplete_reason"].startswith("unknown scenario 9")
    device = tmp_path / "run" / "husky-34-en-portrait" / "game_loop_results"
    device.mkdir(parents=True)
    (device / "results_scenario_5.json").write_text(json.dumps(lab))
    (device / "results_scenario_9.json").write_text(json.dumps(refused))
    [outcome] = test_lab.collect(tmp_path / "run", DatabaseSink(tmp_path / "db.sqlite"), out_dir=tmp_path / "out")
    assert [s[0] for s in outcome.stored] == [5, 9]
    assert outcome.problems == [(9, f"incomplete: {refused['incomplete_reason']} (stored)")]


def test_reference_assets_are_the_host_pipelines(tmp_path):
    """The APK's reference is push-and-bench's: the same files prepare_plan makes, under the asset names."""
    from abpn.bench.plan import prepare_plan

    model = ROOT / "models" / "abpn_x3_int8.tflite"
    info, written = test_lab.reference_assets(model, tmp_path / "assets", cache_dir=tmp_path / "cache")
    plan = prepare_plan(model, out_dir=tmp_path / "cache")
    assert [p.name for p in written] == ["abpn_x3_int8.input.bin", "abpn_x3_int8.expected.bin"]
    assert written[0].read_bytes() == plan.input_path.read_bytes()
    assert written[1].read_bytes() == plan.expected_path.read_bytes()
    assert written[0].stat().st_size == 360 * 640 * 3 and written[1].stat().st_size == 1080 * 1920 * 3
    assert info.sha256 == plan.model.sha256
