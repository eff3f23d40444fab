"""The per-chipset report: its numbers, its four formats, and records flowing from bench-host and the
test phone through `serve` into `report`."""
import base64
import os
import csv
import io
import json
import re

import httpx
import pytest
from click.testing import CliRunner
from PIL import Image

from abpn.collector import report
from abpn.cli import main
from abpn.collector.store import Store
from apk_helpers import write_apk
from collector_helpers import live_server
from record_samples import OTHER_MODEL_SHA, failed_result, host_record, ok_result, phone_record

TOKEN = "report-test-token-0123456789"


def _report(*records):
    return report.build_report(records)


def _row(rep, chipset, section=0):
    return next(r for r in rep["sections"][section]["rows"] if r["chipset"] == chipset)


def test_each_record_counts_once_in_a_cell():
    first = ok_result("cpu", 100.0, runs=11, seed=1)
    second = ok_result("cpu", 300.0, runs=101, seed=2, init_ms=45.0)  # many samples, still one record
    third = ok_result("cpu", 200.0)
    rep = _report(phone_record(results=[first], model="Phone A"), phone_record(results=[second], model="Phone B"),
                  phone_record(results=[third], model="Phone B"))
    row = _row(rep, "Snapdragon 888")
    assert (row["devices"], row["runs"], row["soc_models"]) == (2, 3, ["SM8350"])
    cell = row["cells"]["cpu"]
    assert cell["median_ms"] == third["latency_ms"]["median"]  # the middle record's own median
    assert cell["p90_ms"] == third["latency_ms"]["p90"]
    assert cell["fps"] == pytest.approx(1000 / cell["median_ms"])
    assert cell["init_ms"] == 35.0 and cell["runs"] == 3 and cell["output_check"] == "passed"
    assert "median over records" in rep["aggregation"] and "median over records" in report.render_table(rep)


def test_one_record_with_thousands_of_fast_samples_cannot_outvote_honest_records():
    """The attack from issue #13: one record with 8,000 samples of 1.0 ms against 2,012 honest ones
    moved the pooled CPU median from 101 ms to 1.0 ms."""
    template = phone_record(results=[ok_result("cpu", 101.0, runs=3)])
    honest = [dict(template, results=[ok_result("cpu", 101.0, runs=3, seed=n)]) for n in range(2012)]
    # Consistent in itself (runs=8000), so the collector's checks let it through: the report must cope.
    flood = phone_record(results=[ok_result("cpu", 1.0, runs=8000)])
    before = _row(_report(*honest), "Snapdragon 888")["cells"]["cpu"]["median_ms"]
    after = _row(_report(*honest, flood), "Snapdragon 888")["cells"]["cpu"]
    assert after["median_ms"] == pytest.approx(before, rel=0.01) and 95 < before < 107
    assert after["runs"] == 2013


def test_output_check_is_the_verdict_of_most_records():
    passing = [phone_record(results=[ok_result("gpu", 200.0, seed=n)]) for n in range(3)]
    failing = phone_record(results=[ok_result("gpu", 190.0, psnr_db=12.0, passed=False)])
    cell = _row(_report(*passing, failing), "Snapdragon 888")["cells"]["gpu"]
    assert (cell["output_check"], cell["checks"], cell["checks_failed"]) == ("passed", 4, 1)
    assert "check ✓ (1 of 4 failed)" in report.render_table(_report(*passing, failing))
    tied = _row(_report(passing[0], failing), "Snapdragon 888")["cells"]["gpu"]
    assert tied["output_check"] == "failed"  # doubt counts against the accelerator


def test_section_title_is_what_most_records_say_about_the_model():
    records = [phone_record() for _ in range(3)]
    renamed = phone_record()
    renamed["model"]["file_name"] = "totally_different_model.tflite"
    rep = _report(renamed, *records)
    assert rep["sections"][0]["model"]["file_name"] == "abpn_x3_int8.tflite"


def test_best_accelerator_skips_failed_output_checks_and_reports_speedup():
    record = phone_record(results=[
        ok_result("cpu", 800.0), ok_result("gpu", 200.0),
        ok_result("nnapi", 50.0, psnr_db=12.0, passed=False),  # fastest, but wrong pixels
        failed_result("qnn_htp", "failed", "delegate crashed")])
    row = _row(_report(record), "Snapdragon 888")
    assert row["best"]["accelerator"] == "gpu"
    assert row["best"]["speedup_vs_cpu"] == pytest.approx(row["cells"]["cpu"]["median_ms"] / row["cells"]["gpu"]["median_ms"])
    assert row["cells"]["nnapi"]["output_check"] == "failed"
    assert row["cells"]["qnn_htp"] == {"status": "failed", "runs": 0, "attempts": 1, "reasons": ["delegate crashed"]}


def test_rows_are_chipsets_hosts_separate_models_separate():
    rep = _report(
        phone_record("SM8650", board_platform="pineapple"),
        phone_record(None, board_platform="kona", model="Old Phone"),  # pre-API-31 phone: platform family only
        host_record("Test CPU 9000"),
        phone_record("SM8350", sha256=OTHER_MODEL_SHA),
    )
    assert len(rep["sections"]) == 2
    rows = rep["sections"][0]["rows"]
    assert [(r["kind"], r["chipset"]) for r in rows] == [
        ("phone", "Snapdragon 8 Gen 3"), ("phone", "Snapdragon 865 / 865+ / 870"), ("host", "Test CPU 9000")]
    assert rep["sections"][0]["accelerators"] == ["cpu", "gpu", "nnapi", "qnn_htp"]
    assert [r["chipset"] for r in rep["sections"][1]["rows"]] == ["Snapdragon 888"]
    assert "samples_ms" not in json.dumps(report.to_json(rep))


def test_markdown_is_a_well_formed_table():
    rep = _report(phone_record(manufacturer="Odd | Maker"), phone_record(None, board_platform="weird|platform"),
                  host_record())
    text = report.render_markdown(rep)
    lines = [line for line in text.splitlines() if line.startswith("|")]
    columns = {len(re.findall(r"(?<!\\)\|", line)) for line in lines}
    assert len(columns) == 1, lines  # every row has the header's number of cells
    assert lines[0] == "| Chipset | Measured by | SoC | Devices | Runs | CPU | GPU | NNAPI | QNN HTP | Best |"
    assert "weird\\|platform" in text
    snapdragon = next(line for line in lines if line.startswith("| Snapdragon 888 "))
    assert "NNAPI (×13." in snapdragon and "check ✓" in snapdragon and "fps" in snapdragon
    assert "| Test CPU 9000 @ 3.0GHz | host (bench-host) |" in text


def test_csv_has_one_line_per_chipset_and_accelerator():
    rows = list(csv.DictReader(io.StringIO(report.render_csv(_report(phone_record(), host_record())))))
    assert [(r["chipset"], r["accelerator"], r["status"]) for r in rows] == [
        ("Snapdragon 888", "cpu", "ok"), ("Snapdragon 888", "gpu", "ok"), ("Snapdragon 888", "nnapi", "ok"),
        ("Snapdragon 888", "qnn_htp", "unsupported"), ("Test CPU 9000 @ 3.0GHz", "cpu", "ok")]
    assert [r["best"] for r in rows] == ["", "", "yes", "", "yes"]
    assert float(rows[2]["best_speedup_vs_cpu"]) > 10
    assert rows[3]["reasons"] == "no such delegate on this phone"


def test_html_escapes_record_text_and_embeds_png_plots():
    hostile = phone_record(None, board_platform="<script>alert(1)</script>", model="$\\frac{1}{0}$ phone")
    page = report.render_html(_report(hostile, host_record("$x^2$ CPU")))
    assert "<script>" not in page and "&lt;script&gt;" in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2  # latency per chipset and accelerator, its spread over records
    for data in images:
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            assert image.width > 300 and image.height > 100


def test_empty_database_says_so(tmp_path):
    Store(tmp_path / "empty.db")
    for fmt in ("table", "md", "html"):
        assert "No records" in report.report_text(tmp_path / "empty.db", fmt)
    assert report.report_text(tmp_path / "empty.db", "csv").splitlines() == [",".join(report.CSV_COLUMNS)]


def test_report_command_errors_cleanly(tmp_path):
    result = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2 and "missing.db: no such file" in result.output and "Traceback" not in result.output
    Store(tmp_path / "r.db")
    result = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "r.db"), "--out", str(tmp_path / "no" / "x.md")])
    assert result.exit_code != 0 and "does not exist" in result.output
    before = (tmp_path / "r.db").read_bytes()
    result = CliRunner().invoke(main, ["report", "--db", str(tmp_path / "r.db"), "--out", str(tmp_path / "r.db")])
    assert result.exit_code == 2 and "r.db is an SQLite database; writing there would replace it" in result.output
    assert (tmp_path / "r.db").read_bytes() == before


def test_bench_host_and_test_phone_records_flow_through_serve_into_every_report_format(
        tmp_path, float_tflite_fixed, monkeypatch):
    from adb_phone import TestPhone
    from abpn.bench.device import load_signer

    db = tmp_path / "results.db"
    bench = CliRunner().invoke(main, ["bench-host", str(float_tflite_fixed), "--runs", "3", "--warmup", "1", "--json"])
    assert bench.exit_code == 0, bench.output
    host = json.loads(bench.stdout)

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    load_signer(tmp_path / ".android" / "adbkey")
    write_apk(tmp_path / "app.apk")  # a zip with the app's binary manifest: push-and-bench checks both
    with live_server(db, token=TOKEN) as url:
        posted = httpx.post(f"{url}/api/records", json=host, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert posted.status_code == 201, posted.text
        with TestPhone() as phone:
            pushed = CliRunner().invoke(main, [
                "push-and-bench", "--device", phone.serial, "--model", str(float_tflite_fixed), "--apk", "app.apk",
                "--runs", "3", "--warmup", "1", "--accelerators", "cpu,gpu", "--collector", url, "--token", TOKEN,
                "--out", "out", "--timeout", "60", "--auth-timeout", "5"])
        assert pushed.exit_code == 0, pushed.output
        dashboard = httpx.get(url, timeout=60).text
    assert "Snapdragon 888" in dashboard and host["device"]["cpu_model"] in dashboard

    outputs = {}
    for fmt in report.FORMATS:
        result = CliRunner().invoke(main, ["report", "--db", str(db), "--format", fmt])
        assert result.exit_code == 0, result.output
        outputs[fmt] = result.stdout
        assert "Snapdragon 888" in outputs[fmt] and host["device"]["cpu_model"] in outputs[fmt], fmt
    assert "| Snapdragon 888 | own phone (push-and-bench) | SM8350 | 1 | 1 |" in outputs["md"]
    assert "host (bench-host)" in outputs["table"]
    rows = list(csv.DictReader(io.StringIO(outputs["csv"])))
    assert {(r["kind"], r["accelerator"], r["status"]) for r in rows} == {
        ("phone", "cpu", "ok"), ("phone", "gpu", "unsupported"), ("host", "cpu", "ok")}
    assert outputs["html"].count("data:image/png;base64,") == 2

    out_file = tmp_path / "report.md"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--format", "md", "--out", str(out_file)])
    assert result.exit_code == 0 and out_file.read_text() == outputs["md"]


def test_charts_say_when_they_leave_rows_out():
    records = [phone_record(f"SM{7000 + n}", board_platform=None, results=[ok_result("cpu", 100.0 + n, runs=3)])
               for n in range(report.MAX_CHART_ROWS + 5)]
    page = report.render_html(_report(*records))
    assert f"first {report.MAX_CHART_ROWS} of {report.MAX_CHART_ROWS + 5} rows" in page
    assert f"first {report.MAX_CHART_ROWS} of {report.MAX_CHART_ROWS + 5} chipset and accelerator pairs" in page


def test_csv_cells_from_phones_cannot_run_as_spreadsheet_formulas():
    record = phone_record(soc_model="=HYPERLINK(\"http://evil\")", results=[ok_result("cpu", 800.0)])
    rows = list(csv.DictReader(io.StringIO(report.render_csv(report.build_report([record])))))
    assert rows and all(not value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())
    assert any(value.startswith("'=HYPERLINK") for row in rows for value in row.values())


def test_written_reports_get_ordinary_permissions_without_touching_the_umask(tmp_path, monkeypatch):
    """Reading the umask means setting it, process-wide: a thread creating a file meanwhile (the
    collector serves from threads) would get the wrong permissions. So the umask stays untouched."""
    from abpn.core.files import write_atomically

    previous = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda *a: pytest.fail("write_atomically changed the process umask"))
        out = tmp_path / "report.md"
        write_atomically(out, "| a |\n")
        write_atomically(out, "| b |\n")  # over an existing report
    finally:
        monkeypatch.undo()
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o640
    assert out.read_text() == "| b |\n" and [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_the_report_and_the_store_load_without_the_web_service():
    """report -> store, app -> report and store, never back: `abpn-tool report` and push-and-bench --db
    load neither the HTTP app nor FastAPI."""
    import subprocess
    import sys

    code = ("import sys, abpn.collector.report, abpn.collector.store; "
            "print(sorted(m for m in ('abpn.collector.app', 'fastapi', 'uvicorn') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert loaded.stdout.strip() == "[]"


# ----------------------------------------------------------------------------------------------- sources, memory


def _sources_and_memory():
    from record_samples import measured_by, with_memory

    own = phone_record("SM8650", [with_memory(ok_result("cpu", 800.0, seed=1), peak_rss_bytes=120_000_000),
                                  ok_result("gpu", 200.0, seed=2)])
    hub = measured_by(phone_record("SM8650", [with_memory(ok_result("cpu", 700.0, seed=3),
                                                          inference_peak_range_bytes=[40_000_000, 52_000_000])],
                                   manufacturer="Samsung", model="Galaxy S24 (Family)"),
                      "ai-hub", runner="AI Hub TFLite runner", jobs=[{"accelerator": "cpu", "job_id": "jabc123"}])
    lab = measured_by(phone_record("SM8650", [ok_result("cpu", 900.0, seed=4)], model="Galaxy S24"),
                      "test-lab", matrix_id="matrix-1", scenario=1)
    return _report(own, hub, lab, host_record())


def test_each_source_is_its_own_row_named_in_every_format():
    rep = _sources_and_memory()
    rows = rep["sections"][0]["rows"]
    assert [(r["chipset"], r["source"]) for r in rows] == [
        ("Snapdragon 8 Gen 3", "push-and-bench"), ("Snapdragon 8 Gen 3", "test-lab"),
        ("Snapdragon 8 Gen 3", "ai-hub"), ("Test CPU 9000 @ 3.0GHz", "bench-host")]
    assert [r["cells"]["cpu"]["median_ms"] for r in rows[:3]] == pytest.approx([800, 900, 700], rel=0.05)

    labels = ["own phone (push-and-bench)", "Firebase Test Lab", "Qualcomm AI Hub", "host (bench-host)"]
    md_rows = [line for line in report.render_markdown(rep).splitlines() if line.startswith("| ")][1:]
    table_rows = [line for line in report.render_table(rep).splitlines() if "Snapdragon" in line or "Test CPU" in line]
    html_rows = report.render_html(rep).split("<tr class=")[1:]
    for lines in (md_rows, table_rows, html_rows):
        assert len(lines) == 4 and all(label in line for label, line in zip(labels, lines)), lines
    csv_rows = list(csv.DictReader(io.StringIO(report.render_csv(rep))))
    assert {(r["chipset"], r["source"]) for r in csv_rows} == {(r["chipset"], r["source"]) for r in rows}
    assert [r["source"] for r in report.to_json(rep)["sections"][0]["rows"]] == [r["source"] for r in rows]


def test_memory_is_shown_beside_latency_in_every_format():
    rep = _sources_and_memory()
    own, _, hub, _ = rep["sections"][0]["rows"]
    assert own["cells"]["cpu"]["peak_memory_bytes"] == [120_000_000, 120_000_000]
    assert hub["cells"]["cpu"]["peak_memory_bytes"] == [40_000_000, 52_000_000]
    assert own["cells"]["gpu"]["peak_memory_bytes"] is None
    for text in (report.render_table(rep), report.render_markdown(rep), report.render_html(rep)):
        assert "peak 120 MB" in text and "peak 40–52 MB" in text
    by_source = {(r["source"], r["accelerator"]): r for r in csv.DictReader(io.StringIO(report.render_csv(rep)))}
    assert (by_source[("ai-hub", "cpu")]["peak_memory_low_bytes"],
            by_source[("ai-hub", "cpu")]["peak_memory_high_bytes"]) == ("40000000", "52000000")
    assert by_source[("push-and-bench", "gpu")]["peak_memory_low_bytes"] == ""
    assert report.to_json(rep)["sections"][0]["rows"][0]["cells"]["cpu"]["peak_memory_bytes"] == [120_000_000] * 2


def test_invalid_results_are_not_measurements(tmp_path):
    invalid = dict(ok_result("gpu", 1.0, seed=5), status="invalid", reason="the app was not visible")
    records = [phone_record(results=[ok_result("gpu", 200.0, seed=6)]),
               phone_record(results=[ok_result("gpu", 210.0, seed=7)]),
               phone_record(results=[invalid, dict(invalid, accelerator="nnapi")])]
    rep = _report(*records)
    gpu = rep["sections"][0]["rows"][0]["cells"]["gpu"]
    assert (gpu["runs"], gpu["attempts"]) == (2, 3) and gpu["median_ms"] == pytest.approx(205, rel=0.05)
    nnapi = rep["sections"][0]["rows"][0]["cells"]["nnapi"]
    assert nnapi["status"] == "invalid" and nnapi["reasons"] == ["the app was not visible"]
    assert "invalid" in report.render_markdown(rep)
    with live_server(tmp_path / "results.db") as url:
        for record in records:
            assert httpx.post(f"{url}/api/records", json=record, timeout=30).status_code == 201
        listed = httpx.get(f"{url}/api/records", timeout=30).json()["records"]
    # The API's summaries carry no number for an invalid result either.
    assert [r["median_ms"] for row in listed for r in row["results"] if r["status"] == "invalid"] == [None, None]
    assert {row["source"] for row in listed} == {"push-and-bench"}  # no source: this project's runner


# ----------------------------------------------------------------------------------------------- old text


def test_control_characters_in_old_records_are_escaped_in_every_format(tmp_path):
    """Schema v3 refuses control characters in names; records stored under v1 may hold them."""
    from collector_helpers import v1_record, v1_result

    record = v1_record([dict(v1_result("cpu")), {"accelerator": "gpu", "options": {}, "status": "failed",
                                                "reason": "crashed\r\n| forged | row |"}])
    record["device"].update(soc_model="SM9999\n| forged | row |", board_platform=None,
                            model="Pixel\u202e 8", manufacturer="Odd\x07Maker")
    db = tmp_path / "results.db"
    Store(db).add(record)
    rep = report.store_report(Store(db))
    assert rep["sections"][0]["rows"][0]["chipset"] == "SM9999\\n| forged | row |"
    control = re.compile("[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
    outputs = {fmt: report.RENDERERS[fmt](rep) for fmt in report.FORMATS}
    outputs["json"] = json.dumps(report.to_json(rep), ensure_ascii=False)
    for fmt, text in outputs.items():
        assert not control.search(text.replace("\n", "")), fmt  # newlines only between rows
    md_rows = [line for line in outputs["md"].splitlines() if line.startswith("|")]
    assert len({len(re.findall(r"(?<!\\)\|", line)) for line in md_rows}) == 1, md_rows
    csv_rows = list(csv.reader(io.StringIO(outputs["csv"])))
    assert len(csv_rows) == 3 and all(len(row) == len(report.CSV_COLUMNS) for row in csv_rows)
    assert "SM9999\\n" in outputs["table"] and "SM9999\\n" in outputs["html"]


def test_report_refuses_another_programs_database_and_leaves_it_as_it_was(tmp_path):
    import sqlite3
    from contextlib import closing

    foreign = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(foreign)) as con:
        con.execute("CREATE TABLE records (x)")  # the same table name, not the collector's
        con.commit()
    before = foreign.read_bytes()
    result = CliRunner().invoke(main, ["report", "--db", str(foreign)])
    assert result.exit_code == 1
    assert "is not a collector database (SQLite, but not written by abpn-tool)" in result.output
    assert foreign.read_bytes() == before and not list(tmp_path.glob("other.sqlite-*"))
