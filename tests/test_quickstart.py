import json

from abpn.quickstart import run_quickstart, summary_table
from abpn.bench.record import validate_record
from abpn.model.train import Schedule


def test_quickstart_runs_every_stage_and_leaves_its_artifacts(tmp_path):
    """The main job's wiring on tiny schedules (the real presets are timed in benchmarks/)."""
    tiny = Schedule(epochs=1, steps_per_epoch=2, learning_rate=1e-3, halve_every=1, batch=2)
    lines = []
    scores, record = run_quickstart(tmp_path, echo=lines.append, train_schedule=tiny, qat_schedule=tiny, bench_runs=2)
    assert [line[:5] for line in lines] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert {"bicubic", "float", "int8 dynamic", "int8 360x640 tiled"} <= set(scores)
    # The validation photo is smaller than a 360x640 tile, so it is edge-padded: close, not exact
    # (exactness on images of at least a tile is tested in test_tiling).
    assert abs(scores["int8 360x640 tiled"]["psnr_y"] - scores["int8 dynamic"]["psnr_y"]) < 0.01
    validate_record(record)
    assert record["results"][0]["output_check"]["passed"]
    assert json.loads((tmp_path / "bench-host.json").read_text()) == record
    for name in ("abpn_x3_int8.tflite", "abpn_x3_int8_dynamic.tflite", "abpn_x3_fp32.tflite", "abpn_x3_fp16.tflite"):
        assert (tmp_path / "qat" / name).is_file()
    assert "vs bicubic" in summary_table(scores, record)
