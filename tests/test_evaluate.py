import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from abpn.cli import main
from abpn.errors import AbpnError
from abpn.model.evaluate import evaluate, pair_images
from conftest import SHARED_DATASETS

needs_datasets = pytest.mark.skipif(not SHARED_DATASETS.is_dir(), reason="needs ../shared/datasets")


def _paths(*names):
    return [Path(n) for n in names]


def test_pairs_selfexsr_names_by_index():
    hr = _paths("img_001_SRF_3_HR.png", "img_002_SRF_3_HR.png")
    lr = _paths("img_001_SRF_3_LR.png", "img_002_SRF_3_LR.png")
    pairs, how = pair_images(hr, lr)
    assert pairs == list(zip(hr, lr)) and how == "by file name"


def test_pairs_div2k_style_names():
    pairs, how = pair_images(_paths("0801.png", "0802.png"), _paths("0802x3.png", "0801x3.png"))
    assert [(h.name, l.name) for h, l in pairs] == [("0801.png", "0801x3.png"), ("0802.png", "0802x3.png")]
    assert how == "by file name"


def test_a_digit_after_an_x_in_a_name_is_not_a_scale():
    pairs, how = pair_images(_paths("box2.png", "box4.png", "lynx3.png"),
                             _paths("box4x3.png", "lynx3_x3.png", "box2_LR.png"))
    assert [(h.name, l.name) for h, l in pairs] == [
        ("box2.png", "box2_LR.png"), ("box4.png", "box4x3.png"), ("lynx3.png", "lynx3_x3.png")]
    assert how == "by file name"


def test_pairs_selfexsr_lr_with_original_hr_names_by_sorted_index():
    hr = _paths("baby_GT.bmp", "bird_GT.bmp", "butterfly_GT.bmp", "head_GT.bmp", "woman_GT.bmp")
    lr = _paths("img_002_SRF_3_LR.png", "img_005_SRF_3_LR.png")  # a subset pairs too
    pairs, how = pair_images(hr, lr)
    assert [h.name for h, _ in pairs] == ["bird_GT.bmp", "woman_GT.bmp"]
    assert "SelfExSR index" in how


def test_two_hr_names_with_one_key_never_share_an_lr_file():
    pairs, how = pair_images(_paths("a_GT.png", "a_HR.png"), _paths("a.png", "b.png"))
    assert [l.name for _, l in pairs] == ["a.png", "b.png"] and "sorted order" in how


def test_pairs_by_sorted_order_when_names_differ_and_counts_agree():
    pairs, how = pair_images(_paths("a.png", "b.png"), _paths("x.png", "y.png"))
    assert [(h.name, l.name) for h, l in pairs] == [("a.png", "x.png"), ("b.png", "y.png")]
    assert "sorted order" in how
    with pytest.raises(AbpnError, match="cannot match 1 LR files with 2 HR files"):
        pair_images(_paths("a.png", "b.png"), _paths("x.png"))
    with pytest.raises(AbpnError, match="x2 LR input"):
        pair_images(_paths("img_001_SRF_2_HR.png"), _paths("img_001_SRF_2_LR.png"))


def _photo(h, w, seed=0):
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[150 + seed * 40 : 150 + seed * 40 + h, 100 : 100 + w])


@pytest.fixture
def hr_dir(tmp_path):
    folder = tmp_path / "hr"
    folder.mkdir()
    # LR larger than the fixed test model's 36x64 tile, so tiling stays exact; one.png needs modcrop.
    Image.fromarray(_photo(122, 200, 0)).save(folder / "one.png")
    Image.fromarray(_photo(111, 195, 1)).save(folder / "two.png")
    return folder


def test_lr_that_is_not_a_third_of_the_hr_is_refused(hr_dir, tmp_path):
    lr_dir = tmp_path / "lr"
    lr_dir.mkdir()
    Image.fromarray(_photo(40, 66)).save(lr_dir / "one.png")
    Image.fromarray(_photo(38, 65)).save(lr_dir / "two.png")
    with pytest.raises(AbpnError, match=r"two.png \(65x38\) is not 1/3 of two.png"):
        evaluate("bicubic", hr_dir, lr_dir, progress=False)


def test_fixed_and_dynamic_models_score_identically(hr_dir, float_tflite_fixed, float_tflite_dynamic):
    runner = CliRunner()
    results = []
    for model in (float_tflite_fixed, float_tflite_dynamic):
        run = runner.invoke(main, ["eval", str(model), "--hr", str(hr_dir), "--json"])
        assert run.exit_code == 0, run.output
        results.append(json.loads(run.stdout))
    fixed, dynamic = results
    assert [row["hr"] for row in fixed["images"]] == ["one.png", "two.png"]
    assert fixed["pairing"].startswith("LR made from each modcropped HR")
    assert fixed["images"] == dynamic["images"]
    assert set(fixed["mean"]) == {"psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y"}


def test_given_lr_folder_equals_generated_lr(hr_dir, tmp_path):
    from abpn.model.data import load_image, make_lr, modcrop

    lr_dir = tmp_path / "lr"
    lr_dir.mkdir()
    for path in hr_dir.iterdir():
        Image.fromarray(make_lr(modcrop(load_image(path)))).save(lr_dir / f"{path.stem}x3.png")
    given = evaluate("bicubic", hr_dir, lr_dir, progress=False)
    generated = evaluate("bicubic", hr_dir, progress=False)
    assert given["pairing"] == "by file name"
    assert given["images"][0]["lr"] == "onex3.png"
    assert given["mean"] == generated["mean"]
    assert 20 < given["mean"]["psnr_y"] < 40


@needs_datasets
@pytest.mark.datasets
def test_bicubic_on_set5_and_set14_matches_the_published_tables():
    runner = CliRunner()
    published = {"Set5": 30.39, "Set14": 27.55}  # bicubic x3, Y, 3-pixel crop
    for name, expected in published.items():
        run = runner.invoke(main, [
            "eval", "bicubic", "--hr", str(SHARED_DATASETS / name),
            "--lr", str(SHARED_DATASETS / "LR_bicubic_X3" / name), "--json",
        ])
        assert run.exit_code == 0, run.output
        result = json.loads(run.stdout)
        assert len(result["images"]) == {"Set5": 5, "Set14": 14}[name]
        assert result["mean"]["psnr_y"] == pytest.approx(expected, abs=0.05), name


@pytest.mark.parametrize("size, refused", [((1, 1), True), ((17, 40), True), ((18, 18), False)])
def test_hr_images_too_small_to_score_are_a_clear_error(tmp_path, size, refused):
    hr_dir = tmp_path / "hr"
    hr_dir.mkdir()
    Image.fromarray(np.full((*size, 3), 128, np.uint8)).save(hr_dir / "tiny.png")
    run = CliRunner().invoke(main, ["eval", "bicubic", "--hr", str(hr_dir)])
    if refused:
        assert run.exit_code == 1 and isinstance(run.exception, SystemExit), run.output
        assert "tiny.png is too small to score" in run.output and "at least 18x18" in run.output
    else:
        assert run.exit_code == 0, run.output
