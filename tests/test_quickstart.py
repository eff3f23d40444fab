import json

from click.testing import CliRunner

from abpn import SHIPPED_INT8
from abpn.record.build import validate_record
from abpn.cli import main
from abpn.core.files import file_sha256
from abpn.model.schedules import Schedule
from abpn.quickstart import run_quickstart, summary_table


def test_quickstart_runs_every_stage_and_benchmarks_the_model_it_made(tmp_path):
    """The main job's wiring on tiny schedules (the real presets are timed in benchmarks/)."""
    tiny = Schedule(epochs=1, steps_per_epoch=2, learning_rate=1e-3, halve_every=1, batch=2)
    lines = []
    scores, records = run_quickstart(tmp_path, echo=lines.append, train_schedule=tiny, qat_schedule=tiny, bench_runs=2)
    assert [line[:5] for line in lines] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert {"bicubic", "float", "int8 dynamic", "int8 360x640 tiled", "shipped int8"} <= set(scores)
    # The validation photo is smaller than a 360x640 tile, so it is edge-padded: close, not exact
    # (exactness on images of at least a tile is tested in test_tiling).
    assert abs(scores["int8 360x640 tiled"]["psnr_y"] - scores["int8 dynamic"]["psnr_y"]) < 0.01
    # The model just trained is the one timed, its record beside the shipped model's.
    made = tmp_path / "qat" / "abpn_x3_int8.tflite"
    assert records["trained"]["model"]["sha256"] == file_sha256(made)
    assert records["shipped"]["model"]["sha256"] == file_sha256(SHIPPED_INT8)
    for record in records.values():
        validate_record(record)
        assert record["results"][0]["output_check"]["passed"]
    assert json.loads((tmp_path / "bench-host.json").read_text()) == records["trained"]
    assert json.loads((tmp_path / "bench-host-shipped.json").read_text()) == records["shipped"]
    for name in ("abpn_x3_int8.tflite", "abpn_x3_int8_dynamic.tflite", "abpn_x3_fp32.tflite", "abpn_x3_fp16.tflite"):
        assert (tmp_path / "qat" / name).is_file()
    table = summary_table(scores, records)
    assert "vs bicubic" in table and "\ntrained abpn_x3_int8.tflite" in table and "\nshipped abpn_x3_int8.tflite" in table


def test_an_unwritable_out_is_refused_before_training(monkeypatch):
    from abpn.model import train

    monkeypatch.setattr(train, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained first")))
    run = CliRunner().invoke(main, ["quickstart", "--out", "/proc/abpn-quickstart"])
    assert run.exit_code == 2 and isinstance(run.exception, SystemExit), run.output
    assert "cannot write /proc/abpn-quickstart: /proc refuses new files" in run.output


def test_a_failed_output_check_fails_the_quickstart(monkeypatch, tmp_path):
    import abpn.quickstart as quickstart

    def record(passed):
        return {"results": [{"output_check": {"passed": passed, "psnr_db": 12.0, "threshold_db": 40.0,
                                              "max_abs_diff": 90}}]}

    records = {"trained": record(False), "shipped": record(True)}
    assert quickstart.failed_checks(records) == ["trained"]
    monkeypatch.setattr(quickstart, "run_quickstart", lambda *a, **k: ({}, records))
    monkeypatch.setattr(quickstart, "summary_table", lambda scores, recs: "table")
    run = CliRunner().invoke(main, ["quickstart", "--out", str(tmp_path)])
    assert run.exit_code == 1 and "the output check of the trained INT8 model failed" in run.output
