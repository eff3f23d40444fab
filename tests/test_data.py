"""abpn.model.data: decoding, pairing, cache, skip rules, defaults and the tf.data patch pipeline."""
import logging
import os
import shutil

import numpy as np
import pytest
from PIL import Image, ImageFile

from abpn.model import data
from abpn.model.data import Pair
from abpn.errors import AbpnError
from conftest import synthetic_photo


def _save(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


# ---------------------------------------------------------------------------------------------- decoding


def test_load_image_formats_and_modes(tmp_path):
    rgb = synthetic_photo(30, 40)
    for suffix in ("png", "bmp"):
        assert np.array_equal(data.load_image(_save(tmp_path / f"a.{suffix}", rgb)), rgb)
    jpeg = data.load_image(_save(tmp_path / "a.jpg", rgb, quality=95))
    assert jpeg.shape == (30, 40, 3) and jpeg.dtype == np.uint8
    assert np.abs(jpeg.astype(int) - rgb).mean() < 4

    gray = rgb[..., 0]
    loaded = data.load_image(_save(tmp_path / "g.png", gray))
    assert loaded.shape == (30, 40, 3) and all(np.array_equal(loaded[..., c], gray) for c in range(3))

    rgba = np.dstack([rgb, np.full((30, 40), 7, np.uint8)])
    assert np.array_equal(data.load_image(_save(tmp_path / "a_rgba.png", rgba)), rgb)

    palette = Image.fromarray(rgb).quantize(16)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "p.png", transparency=0)
    expected = np.asarray(palette.convert("RGB"))
    assert np.array_equal(data.load_image(tmp_path / "p.png"), expected)

    sixteen = np.array([[0, 257 * 100, 65535]], np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "deep.png")
    assert data.load_image(tmp_path / "deep.png")[0, :, 0].tolist() == [0, 100, 255]


def test_load_image_applies_exif_orientation(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)  # 20 rows, 40 columns, red block top-left
    stored[:10, :10] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    Image.fromarray(stored).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    shown = data.load_image(tmp_path / "rot.jpg")
    assert shown.shape == (40, 20, 3)
    assert shown[2:8, -8:-2, 0].mean() > 200 and shown[2:8, 2:8, 0].mean() < 50  # now top-right


def test_truncated_and_non_image_files_fail_naming_the_file(tmp_path):
    good = _save(tmp_path / "whole.png", synthetic_photo(200, 200))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    for path in (truncated, not_image):
        with pytest.raises(AbpnError, match="cannot decode") as info:
            data.load_image(path)
        assert str(path) in str(info.value)
    # even when another library asked PIL to accept truncated files
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        with pytest.raises(AbpnError, match="truncated"):
            data.load_image(truncated)
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False


def test_modcrop():
    img = np.zeros((200, 203, 3), np.uint8)
    assert data.modcrop(img).shape == (198, 201, 3)
    assert data.modcrop(img[:198, :201]).shape == (198, 201, 3)


# ---------------------------------------------------------------------------------------------- pairs


def _div2k_tree(root, names=("0001", "0002"), split="train", hr_size=(198, 216)):
    for i, name in enumerate(names):
        hr = synthetic_photo(*hr_size, seed=i)
        _save(root / f"DIV2K_{split}_HR" / f"{name}.png", hr)
        _save(root / f"DIV2K_{split}_LR_bicubic" / "X3" / f"{name}x3.png", data.make_lr(hr))
    return root


def test_find_pairs_in_a_folder_of_hr_images_recursively(tmp_path):
    _save(tmp_path / "b.png", synthetic_photo(9, 9))
    _save(tmp_path / "sub" / "a.JPG", synthetic_photo(9, 9))
    _save(tmp_path / ".abpn_cache" / "hidden.png", synthetic_photo(9, 9))
    (tmp_path / "readme.txt").write_text("ignored")
    pairs = data.find_pairs(tmp_path)
    assert [p.hr.relative_to(tmp_path).as_posix() for p in pairs] == ["b.png", "sub/a.JPG"]
    assert all(p.lr is None for p in pairs)


def test_find_pairs_div2k_layout(tmp_path):
    root = _div2k_tree(tmp_path / "div2k")
    _save(root / "DIV2K_train_HR" / "0003.png", synthetic_photo(198, 216))  # LR missing: left out
    for source in (root, root / "DIV2K_train_HR"):
        pairs = data.find_pairs(source)
        assert [(p.hr.name, p.lr.name, p.group) for p in pairs] == [
            ("0001.png", "0001x3.png", "DIV2K_train_HR"), ("0002.png", "0002x3.png", "DIV2K_train_HR")]
    lr, hr = data.load_pair(pairs[0])
    assert lr.shape == (66, 72, 3) and hr.shape == (198, 216, 3)


def test_find_pairs_several_sources(tmp_path):
    _save(tmp_path / "t91" / "t1.bmp", synthetic_photo(9, 9))
    _div2k_tree(tmp_path / "div2k")
    pairs = data.find_pairs([tmp_path / "t91", str(tmp_path / "div2k")])
    assert [p.hr.name for p in pairs] == ["t1.bmp", "0001.png", "0002.png"]


def test_find_pairs_errors(tmp_path):
    with pytest.raises(AbpnError, match="not found"):
        data.find_pairs(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AbpnError, match="no PNG, JPEG, BMP, WebP, TIFF or PPM/PGM images"):
        data.find_pairs(tmp_path / "empty")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("x")
    with pytest.raises(AbpnError, match="no PNG, JPEG, BMP, WebP, TIFF or PPM/PGM images"):
        data.find_pairs(tmp_path / "docs")
    unpaired = tmp_path / "unpaired"
    _save(unpaired / "X_HR" / "0001.png", synthetic_photo(9, 9))
    _save(unpaired / "X_LR_bicubic" / "X3" / "0002x3.png", synthetic_photo(3, 3))
    with pytest.raises(AbpnError, match="no HR image has a matching"):
        data.find_pairs(unpaired)
    file = _save(tmp_path / "single.png", synthetic_photo(9, 9))
    with pytest.raises(AbpnError, match="not a folder"):
        data.find_pairs(file)


def test_mismatched_lr_size_is_a_bad_pair(tmp_path):
    root = tmp_path / "d"
    _save(root / "X_HR" / "0001.png", synthetic_photo(198, 198))
    _save(root / "X_LR_bicubic" / "X3" / "0001x3.png", synthetic_photo(60, 66))
    with pytest.raises(AbpnError, match="one third"):
        data.load_pair(data.find_pairs(root)[0])


# ---------------------------------------------------------------------------------------------- loading sets


def test_load_training_set_skip_rules(tmp_path, cache_dir, caplog):
    folder = tmp_path / "imgs"
    _save(folder / "big.png", synthetic_photo(200, 203))
    _save(folder / "small.png", synthetic_photo(150, 400))  # LR 50 rows: smaller than a 64x64 patch
    _save(folder / "tiny.png", synthetic_photo(2, 2))  # not even one LR pixel
    bad = folder / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)

    with pytest.raises(AbpnError, match="training image: .*bad.png.*--skip-bad"):
        data.load_training_set(folder, cache_dir=cache_dir, progress=False)

    with caplog.at_level(logging.WARNING, logger="abpn.model.data"):
        examples = data.load_training_set(folder, skip_bad=True, cache_dir=cache_dir, progress=False)
    assert len(examples) == 1
    lr, hr = examples[0]
    assert hr.shape == (198, 201, 3) and lr.shape == (66, 67, 3)
    assert np.array_equal(hr, synthetic_photo(200, 203)[:198, :201])
    assert np.array_equal(lr, data.make_lr(hr))
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "bad.png" in messages and "small.png" in messages and "tiny.png" in messages and "64x64" in messages
    # The LR explains the skip: a 2x2 image is 0x0 once cropped to a multiple of 3.
    assert "tiny.png: its x3 LR is 0x0, smaller than the 64x64 the training set needs (an HR image of at least 192x192)" \
        in messages

    bad.unlink()
    (folder / "big.png").unlink()
    with pytest.raises(AbpnError, match="no usable training images among 2 .2 smaller than 192x192"):
        data.load_training_set(folder, cache_dir=cache_dir, progress=False)


def test_cache_hit_and_invalidation(tmp_path, cache_dir):
    image = _save(tmp_path / "imgs" / "a.png", synthetic_photo(198, 198, seed=1))
    first = data.load_training_set(tmp_path / "imgs", cache_dir=cache_dir, progress=False)
    assert len(list(cache_dir.glob("*.npy"))) == 2
    second = data.load_training_set(tmp_path / "imgs", cache_dir=cache_dir, progress=False)
    assert isinstance(second[0][1], np.memmap)  # served from the cache, not decoded
    assert np.array_equal(first[0][1], second[0][1]) and np.array_equal(first[0][0], second[0][0])

    # same size, new content, new mtime: must be decoded again and the stale entry dropped
    _save(image, synthetic_photo(198, 198, seed=2))
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = data.load_training_set(tmp_path / "imgs", cache_dir=cache_dir, progress=False)
    assert np.array_equal(third[0][1], synthetic_photo(198, 198, seed=2))
    assert len(list(cache_dir.glob("*.npy"))) == 2

    uncached = data.load_training_set(tmp_path / "imgs", cache=False, progress=False)
    assert not isinstance(uncached[0][1], np.memmap)
    assert np.array_equal(uncached[0][1], third[0][1])


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("ABPN_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.default_cache_dir() == tmp_path / "xdg" / "abpn" / "decoded"
    monkeypatch.setenv("ABPN_CACHE_DIR", str(tmp_path / "mine"))
    assert data.default_cache_dir() == tmp_path / "mine"


def test_hold_out_is_deterministic_and_keeps_both_sides():
    pairs = [Pair(data.Path(f"/x/{i:02d}.png")) for i in range(25)]
    train, val = data.hold_out(list(reversed(pairs)))
    assert [p.hr.name for p in val] == ["04.png", "14.png", "24.png"]
    assert len(train) == 22 and not set(train) & set(val)
    train, val = data.hold_out(pairs[:2])
    assert len(train) == len(val) == 1
    with pytest.raises(AbpnError, match="--val"):
        data.hold_out(pairs[:1])


def test_prepare_data_uses_div2k_valid_split_or_val_folder(tmp_path, cache_dir):
    root = _div2k_tree(tmp_path / "div2k", names=("0001", "0002"))
    _div2k_tree(root, names=("0801",), split="valid")
    split = data.prepare_data(root, cache_dir=cache_dir, progress=False)
    assert len(split.train) == 2 and len(split.val) == 1
    assert "2 training and 1 validation" in split.description

    val_folder = tmp_path / "val"
    _save(val_folder / "tiny.png", synthetic_photo(30, 30))  # validation images need no minimum size
    split = data.prepare_data([root], val=[val_folder], cache_dir=cache_dir, progress=False)
    assert len(split.train) == 2 and [v[1].shape for v in split.val] == [(30, 30, 3)]  # 0801 not trained on


def test_rescaled_copies_are_shrunk_hr_with_their_own_lr():
    hr = data.modcrop(synthetic_photo(300, 240, seed=2))
    example = (data.make_lr(hr), hr)
    copies = data.rescaled_copies([example], [0.9, 0.5, 0.2], min_lr_size=32)
    assert [c[1].shape for c in copies] == [(270, 216, 3), (150, 120, 3)]  # 0.2 gives a 20x16 LR: left out
    for lr, smaller in copies:
        assert smaller.shape[0] % 3 == 0 and smaller.shape[1] % 3 == 0
        assert np.array_equal(lr, data.make_lr(smaller))
    with pytest.raises(AbpnError, match="between 0 and 1"):
        data.rescaled_copies([example], [1.5])


def test_prepare_data_adds_rescaled_copies_to_training_only(photo_folder, cache_dir):
    plain = data.prepare_data(photo_folder, cache_dir=cache_dir, progress=False)
    split = data.prepare_data(photo_folder, cache_dir=cache_dir, rescale=[0.8], progress=False)
    assert len(split.train) == 2 * len(plain.train) and len(split.val) == len(plain.val)
    assert split.description.endswith(f"plus {len(plain.train)} copies rescaled by 0.8")


def test_embedded_default_needs_no_download(cache_dir):
    train, val = data.embedded_default_pairs()
    assert len(train) >= 5 and len(val) >= 1 and not set(train) & set(val)
    split = data.prepare_data([], val=[], cache_dir=cache_dir, progress=False)
    assert len(split.train) == len(train) and len(split.val) == len(val)
    for lr, hr in split.train + split.val:
        assert hr.shape[:2] == (3 * lr.shape[0], 3 * lr.shape[1]) and min(lr.shape[:2]) >= 64
        assert hr.dtype == np.uint8 and hr.shape[2] == 3
        assert hr.std(axis=(0, 1)).min() > 10 and np.abs(np.diff(hr.astype(int), axis=2)).mean() > 1  # colour
    assert len(data.embedded_default_images()) == len(train) + len(val)


# ---------------------------------------------------------------------------------------------- pipeline


def _coordinate_examples():
    """HR pixels encode (row, col); LR is the centre sample of each 3x3 block, so alignment and the
    orientation of every patch can be read back exactly."""
    examples = []
    for h, w in [(70, 90), (64, 64), (100, 80)]:
        rows, cols = np.mgrid[0 : 3 * h, 0 : 3 * w]
        hr = np.dstack([rows % 256, cols % 256, (rows // 256) * 16 + cols // 256]).astype(np.uint8)
        examples.append((hr[1::3, 1::3].copy(), hr))
    return examples


def _orientation(hr_patch):
    rows, cols = hr_patch[..., 0].astype(int), hr_patch[..., 1].astype(int)
    transposed = rows[0, 0] == rows[1, 0]  # the row coordinate varies along the patch's columns
    along0, along1 = (cols, rows) if transposed else (rows, cols)
    # coordinates are stored mod 256: a step of -1 shows as 255
    return (bool(transposed), bool((along0[1, 0] - along0[0, 0]) % 256 == 255),
            bool((along1[0, 1] - along1[0, 0]) % 256 == 255))


def test_make_dataset_shapes_alignment_and_augmentation():
    examples = _coordinate_examples()
    ds = data.make_dataset(examples, seed=3)
    orientations = set()
    for lr, hr in ds.take(4):
        assert lr.shape == (16, 64, 64, 3) and hr.shape == (16, 192, 192, 3)
        assert lr.dtype.name == "float32" and hr.dtype.name == "float32"
        lr, hr = lr.numpy(), hr.numpy()
        assert np.array_equal(lr, hr[:, 1::3, 1::3])  # aligned, same flips/transpose on both
        orientations |= {_orientation(p) for p in hr}
    assert len(orientations) == 8

    plain = data.make_dataset(examples, seed=3, augment=False, batch=4, patch=32)
    for lr, hr in plain.take(2):
        assert lr.shape == (4, 32, 32, 3) and hr.shape == (4, 96, 96, 3)
        assert {_orientation(p) for p in hr.numpy()} == {(False, False, False)}


def test_make_dataset_is_deterministic_with_a_seed():
    examples = _coordinate_examples()

    def first_batches(seed):
        return [hr.numpy() for _, hr in data.make_dataset(examples, seed=seed).take(3)]

    a, b, c = first_batches(11), first_batches(11), first_batches(12)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_make_dataset_rejects_images_smaller_than_the_patch():
    lr = np.zeros((40, 80, 3), np.uint8)
    with pytest.raises(ValueError, match="smaller than the 64x64 patch"):
        data.make_dataset([(lr, np.zeros((120, 240, 3), np.uint8))])
    with pytest.raises(AbpnError):
        data.make_dataset([])


def test_unwritable_cache_falls_back_to_decoding(tmp_path, caplog):
    _save(tmp_path / "imgs" / "a.png", synthetic_photo(198, 198))
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="abpn.model.data"):
        examples = data.load_training_set(tmp_path / "imgs", cache_dir=blocker, progress=False)
    assert len(examples) == 1 and "--cache-dir" in caplog.text


# ---------------------------------------------------------------------------------------------- more data


def _small_and_large_examples():
    examples = _coordinate_examples()  # LR 70x90, 64x64, 100x80
    rows, cols = np.mgrid[0:3 * 40, 0:3 * 50]
    hr = np.dstack([rows % 256, cols % 256, np.full_like(rows, 200)]).astype(np.uint8)  # blue 200 marks it
    return examples + [(hr[1::3, 1::3].copy(), hr)]


def test_small_images_are_trained_with_more_smaller_patches():
    examples = _small_and_large_examples()
    sampler = data.PatchSampler(examples, seed=4, small_patch=32)
    shapes = {}
    for index in range(200):
        lr, hr = sampler(index)
        assert lr.size == 16 * 64 * 64 * 3  # every batch weighs the same in the loss
        assert np.array_equal(lr, hr[:, 1::3, 1::3])
        small = lr.shape[1] == 32
        shapes[small] = shapes.get(small, 0) + 1
        # small batches come only from the small image, large ones never from it
        assert ((hr[..., 2] == 200).all() if small else not (hr[..., 2] == 200).all(axis=(1, 2)).any())
        assert lr.shape == ((64, 32, 32, 3) if small else (16, 64, 64, 3))
    assert 30 < shapes[True] < 70  # one image in four


def test_make_dataset_with_small_patches_yields_both_shapes():
    ds = data.make_dataset(_small_and_large_examples(), seed=4, small_patch=32)
    shapes = {tuple(lr.shape) for lr, _ in ds.take(20)}
    assert shapes == {(16, 64, 64, 3), (64, 32, 32, 3)}


def test_prepare_data_keeps_small_images_only_with_small_patch(tmp_path, cache_dir):
    _save(tmp_path / "d" / "big.png", synthetic_photo(198, 210))
    _save(tmp_path / "d" / "small.png", synthetic_photo(120, 150, seed=1))
    _save(tmp_path / "v" / "val.png", synthetic_photo(90, 90, seed=2))
    common = dict(cache_dir=cache_dir, progress=False)
    without = data.prepare_data(tmp_path / "d", tmp_path / "v", **common)
    with_small = data.prepare_data(tmp_path / "d", tmp_path / "v", small_patch=32, **common)
    assert len(without.train) == 1 and len(with_small.train) == 2
    assert with_small.small_patch == 32 and "1 of them trained with 32x32 patches" in with_small.description
    assert without.fingerprint != with_small.fingerprint
    with pytest.raises(AbpnError, match="--small-patch must divide"):
        data.prepare_data(tmp_path / "d", tmp_path / "v", small_patch=48, **common)


def test_hold_out_from_takes_validation_images_from_those_folders_only(tmp_path, cache_dir):
    for i in range(4):
        _save(tmp_path / "old" / f"o{i}.png", synthetic_photo(198, 198, seed=i))
    for i in range(12):
        _save(tmp_path / "new" / f"n{i:02d}.png", synthetic_photo(198, 198, seed=10 + i))
    train, val = data.validation_pairs(None, data.find_pairs([tmp_path / "old", tmp_path / "new"]),
                                       hold_out_from=[tmp_path / "new"])
    assert [p.hr.name for p in val] == ["n01.png", "n11.png"]
    assert len(train) == 14 and {p.hr.name for p in train}.isdisjoint({"n01.png", "n11.png"})
    with pytest.raises(AbpnError, match="give one of them"):
        data.validation_pairs(tmp_path / "old", data.find_pairs(tmp_path / "new"), hold_out_from=[tmp_path / "new"])
    with pytest.raises(AbpnError, match="no --data image lies under"):
        data.validation_pairs(None, data.find_pairs(tmp_path / "old"), hold_out_from=[tmp_path / "new"])


def test_fingerprint_follows_the_files_not_the_spelling(tmp_path, cache_dir, monkeypatch):
    for i in range(3):
        _save(tmp_path / "a" / f"img{i}.png", synthetic_photo(198, 198, seed=i))
        _save(tmp_path / "b" / f"img{i}.png", synthetic_photo(198, 198, seed=20 + i))
    monkeypatch.chdir(tmp_path)
    common = dict(cache_dir=cache_dir, progress=False)
    plain, dotted, absolute = (data.prepare_data(path, **common).fingerprint
                               for path in ("a", "./a", str(tmp_path / "a")))
    assert plain == dotted == absolute
    other = data.prepare_data("b", **common)  # same names and counts, other pixels
    assert other.fingerprint != plain
    # A fresh copy (a new clone, a dataset copied anew) has new modification times: it still resumes.
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    os.utime(tmp_path / "copy" / "img0.png", ns=(1, 1))
    assert data.prepare_data("copy", **common).fingerprint == plain
    _save(tmp_path / "a" / "img0.png", synthetic_photo(198, 198, seed=40))  # a changed file
    assert data.prepare_data("a", **common).fingerprint != plain


def test_a_validation_image_too_small_to_score_fails_before_training(tmp_path, cache_dir):
    _save(tmp_path / "d" / "big.png", synthetic_photo(198, 210))
    _save(tmp_path / "v" / "tiny.png", synthetic_photo(15, 90))
    with pytest.raises(AbpnError, match="too small to score"):
        data.prepare_data(tmp_path / "d", tmp_path / "v", cache_dir=cache_dir, progress=False)


# ---------------------------------------------------------------------------------------------- links


def test_links_in_a_data_folder_list_each_picture_once_and_name_the_links_that_lead_nowhere(tmp_path, caplog):
    folder = tmp_path / "d"
    for i in range(3):
        _save(folder / f"p{i}.png", synthetic_photo(9, 9, seed=i))
    (folder / "up").symlink_to("..")  # the folder itself, again and again
    (folder / "again").symlink_to(".")
    (folder / "alias.png").symlink_to("p0.png")
    (folder / "loop.png").symlink_to("loop.png")
    (folder / "broken.png").symlink_to("gone.png")
    with caplog.at_level(logging.WARNING, logger="abpn.model.data"):
        pairs = data.find_pairs(folder)
    assert sorted(p.hr.resolve().name for p in pairs) == ["p0.png", "p1.png", "p2.png"]
    assert "loop.png" in caplog.text and "broken.png" in caplog.text and "lead nowhere" in caplog.text


def test_the_same_file_twice_through_two_folders_counts_once(tmp_path):
    _save(tmp_path / "d" / "a.png", synthetic_photo(9, 9))
    (tmp_path / "link").symlink_to(tmp_path / "d")
    assert len(data.find_pairs([tmp_path / "d", tmp_path / "link"])) == 1


def test_validation_stays_disjoint_from_training_by_resolved_path(tmp_path, caplog):
    for i in range(3):
        _save(tmp_path / "train" / f"t{i}.png", synthetic_photo(9, 9, seed=i))
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "v.png").symlink_to(tmp_path / "train" / "t1.png")  # the same picture by another name
    with caplog.at_level(logging.WARNING, logger="abpn.model.data"):
        train, val = data.validation_pairs(tmp_path / "val", data.find_pairs(tmp_path / "train"))
    assert sorted(p.hr.name for p in train) == ["t0.png", "t2.png"] and [p.hr.name for p in val] == ["v.png"]
    assert "also validation images" in caplog.text


def test_bad_validation_images_are_named_as_such_and_skipping_them_is_reported(tmp_path, cache_dir, caplog):
    _save(tmp_path / "d" / "t.png", synthetic_photo(240, 246))
    for i in range(2):
        _save(tmp_path / "v" / f"v{i}.png", synthetic_photo(60, 60, seed=i))
    (tmp_path / "v" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    common = dict(cache_dir=cache_dir, progress=False)
    with pytest.raises(AbpnError, match="^validation image: .*bad.png.*Or pass --skip-bad"):
        data.prepare_data(tmp_path / "d", tmp_path / "v", **common)
    with caplog.at_level(logging.WARNING, logger="abpn.model.data"):
        split = data.prepare_data(tmp_path / "d", tmp_path / "v", skip_bad=True, **common)
    assert "1 unreadable validation images skipped" in split.description and len(split.val) == 2
    assert "skipping a validation image" in caplog.text and "1 of 3 validation images" in caplog.text
    assert "--skip-bad to skip" not in caplog.text  # it was given: the warning does not suggest it again
