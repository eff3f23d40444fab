"""Training and validation data: image pairs, a decoded-image cache and the tf.data patch pipeline.

Sources are either folders of HR images (LR made with MATLAB-compatible bicubic x3, so results
compare with published tables) or the DIV2K layout (``X_HR/NAME.png`` next to
``X_LR_bicubic/X3/NAMEx3.png``). Every image is decoded once into a cache of ``.npy`` files that
later runs memory-map, so neither PNG decoding nor holding DIV2K in RAM limits training.
TensorFlow is imported only inside ``make_dataset``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np

from abpn import SCALE
from abpn.errors import AbpnError
from abpn.core.files import file_sha256, write_atomically
from abpn.core.images import IMAGE_SUFFIXES, READ_FORMATS, read_rgb
from abpn.core.imresize import imresize_bicubic, to_uint8

log = logging.getLogger(__name__)

LR_PATCH = 64
# Bump when the decoding or the LR generation changes, so old cache entries are not reused.
_CACHE_FORMAT = 1
_SKIP_HINT = "pass --skip-bad to skip unreadable images"

# Colour photographs bundled inside the scikit-image wheel (no pooch download). Coffee is held
# out for validation; the motorcycle stereo pair stays together on the training side.
_EMBEDDED_TRAIN = ("astronaut.png", "chelsea.png", "hubble_deep_field.jpg", "motorcycle_left.png",
                   "motorcycle_right.png", "rocket.jpg")
_EMBEDDED_VAL = ("coffee.png",)

PathLike = Union[str, os.PathLike]
Example = tuple  # (lr uint8 (h, w, 3), hr uint8 (3h, 3w, 3))


@dataclass(frozen=True)
class Pair:
    """One training image: an HR file and, in the DIV2K layout, its LR file (else LR is computed)."""

    hr: Path
    lr: Path | None = None
    group: str = ""  # the HR folder name in the DIV2K layout (e.g. "DIV2K_valid_HR"), else ""


@dataclass
class DataSplit:
    train: list  # list[Example]
    val: list  # list[Example]
    description: str  # one line for logs and run metadata
    # What a run folder is keyed on: a hash of the files and of every option that changes the examples
    # (see data_fingerprint). Empty for splits built by hand, which then resume on the description.
    fingerprint: str = ""
    # LR patch size for training images too small for the main patch (None: such images are skipped).
    small_patch: int | None = None


# ----------------------------------------------------------------------------------------------
# Decoding


def load_image(path: PathLike) -> np.ndarray:
    """Decode an image file to uint8 RGB (H, W, 3) (abpn.core.images.read_rgb)."""
    return read_rgb(path)


def modcrop(img: np.ndarray, scale: int = SCALE) -> np.ndarray:
    """Crop from the bottom and right so height and width are multiples of ``scale``."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def make_lr(hr: np.ndarray) -> np.ndarray:
    """The x3 LR input for a modcropped uint8 HR image, as MATLAB ``imresize(hr, 1/3, 'bicubic')``."""
    return to_uint8(imresize_bicubic(hr, 1 / SCALE))


def load_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Decode one pair to (lr, hr) uint8 with ``hr.shape == 3 * lr.shape`` (height and width)."""
    hr = modcrop(load_image(pair.hr))
    if pair.lr is None:
        if hr.size == 0:  # under 3 pixels: nothing to downscale; the size rule drops it with a warning
            return np.zeros((0, 0, 3), np.uint8), hr
        return make_lr(hr), hr
    lr = load_image(pair.lr)
    lh, lw = lr.shape[:2]
    if hr.shape[:2] != (SCALE * lh, SCALE * lw):
        raise AbpnError(f"{pair.lr} is {lw}x{lh} but its HR {pair.hr} is {hr.shape[1]}x{hr.shape[0]}; "
                        f"an x{SCALE} LR must be one third of the HR size. Fix the pair.")
    return lr, hr


# ----------------------------------------------------------------------------------------------
# Finding pairs


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def _resolved(path: Path) -> Path | None:
    """The file a path ends at after every link, or None for a broken or looping link."""
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None


def _warn_bad_links(bad: Sequence[Path]) -> None:
    if bad:
        log.warning("%d link(s) lead nowhere (broken, or a loop) and are left out: %s", len(bad),
                    ", ".join(map(str, bad[:10])) + (" …" if len(bad) > 10 else ""))


def _images_under(folder: Path) -> list[Path]:
    """Image files under `folder`, hidden folders skipped. Links are followed, but a folder reached again
    (a link such as `up -> ..`) is not walked twice, and links that lead nowhere are named in a warning."""
    found, walked, bad = [], set(), []
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in walked:
            dirs[:] = []
            continue
        walked.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # skips caches such as .abpn_cache
        for name in sorted(files):
            path = Path(root) / name
            # os.walk lists a link it cannot follow (broken, or a loop) among the files.
            if path.is_symlink() and _resolved(path) is None:
                bad.append(path)
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                found.append(path)
    _warn_bad_links(bad)
    return found


def _once(pairs: Sequence[Pair]) -> list[Pair]:
    """Each image file once, by the file it resolves to: two links (or two --data folders) reaching one
    picture would otherwise weigh it twice in training, or put it in training and validation both."""
    kept, seen, repeated = [], set(), 0
    for pair in pairs:
        key = (pair.hr.resolve(), pair.lr.resolve() if pair.lr else None)
        if key in seen:
            repeated += 1
            continue
        seen.add(key)
        kept.append(pair)
    if repeated:
        log.warning("%d image path(s) lead to a file already listed (through links or repeated folders); each "
                    "file is used once", repeated)
    return kept


def _div2k_lr_dir(hr_dir: Path) -> Path | None:
    if not hr_dir.name.endswith("_HR"):
        return None
    lr_dir = hr_dir.with_name(hr_dir.name[: -len("_HR")] + "_LR_bicubic") / f"X{SCALE}"
    return lr_dir if lr_dir.is_dir() else None


def _div2k_pairs(hr_dir: Path, lr_dir: Path) -> list[Pair]:
    _warn_bad_links([p for p in sorted([*lr_dir.iterdir(), *hr_dir.iterdir()])
                     if p.is_symlink() and _resolved(p) is None])
    lr_by_stem = {p.stem: p for p in sorted(lr_dir.iterdir()) if _is_image(p)}
    pairs, missing = [], []
    for hr in sorted(p for p in hr_dir.iterdir() if _is_image(p)):
        lr = lr_by_stem.get(f"{hr.stem}x{SCALE}")
        if lr is None:
            missing.append(hr.name)
        else:
            pairs.append(Pair(hr, lr, hr_dir.name))
    if missing:
        log.warning("%d HR images in %s have no LR file NAMEx%d in %s and are left out (first: %s)",
                    len(missing), hr_dir, SCALE, lr_dir, missing[0])
    return pairs


def find_pairs(sources: PathLike | Sequence[PathLike]) -> list[Pair]:
    """List the training pairs in one folder or several.

    A folder that is, or directly contains, ``X_HR`` with a sibling ``X_LR_bicubic/X3`` is read
    in the DIV2K layout (``NAME.ext`` pairs with ``NAMEx3.ext``). Any other folder is searched
    recursively for image files (abpn.core.images.IMAGE_SUFFIXES; hidden folders skipped), each an HR
    image whose LR is computed. Each file is listed once, by the path it resolves to (see _once).
    Raises AbpnError for a missing folder, a folder without images or without pairs.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    pairs: list[Pair] = []
    for source in map(Path, sources):
        if not source.is_dir():
            raise AbpnError(f"data folder not found: {source}" if not source.exists()
                            else f"{source} is not a folder; pass a folder of images")
        candidates = [source] + sorted(p for p in source.iterdir() if p.is_dir())
        div2k = [(hr, lr) for hr in candidates if (lr := _div2k_lr_dir(hr))]
        if div2k:
            found = [p for hr, lr in div2k for p in _div2k_pairs(hr, lr)]
            if not found:
                raise AbpnError(f"{source} has the DIV2K layout ({', '.join(str(h) for h, _ in div2k)}) "
                                f"but no HR image has a matching NAMEx{SCALE} LR file; is the download "
                                f"complete? (abpn-tool data div2k --dest DIR)")
        else:
            found = [Pair(p) for p in _images_under(source)]
            if not found:
                raise AbpnError(f"no {READ_FORMATS} images in {source} (searched recursively for "
                                f"{', '.join(IMAGE_SUFFIXES)}); point --data at a folder of HR images or at a DIV2K "
                                "download")
        pairs.extend(found)
    if not pairs:
        raise AbpnError("no data folder given")
    return _once(pairs)


def embedded_default_pairs() -> tuple[list[Pair], list[Pair]]:
    """(train, val) pairs of colour photos shipped inside the scikit-image wheel; no download."""
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    train = [Pair(folder / name) for name in _EMBEDDED_TRAIN]
    val = [Pair(folder / name) for name in _EMBEDDED_VAL]
    missing = [p.hr for p in train + val if not p.hr.is_file()]
    if missing:
        raise AbpnError(f"scikit-image does not ship {missing[0]} here; reinstall scikit-image or "
                        f"pass --data DIR")
    return train, val


def embedded_default_images() -> list[np.ndarray]:
    """All embedded default photos (train then val), decoded to uint8 RGB."""
    train, val = embedded_default_pairs()
    return [load_image(p.hr) for p in train + val]


def hold_out(pairs: Sequence[Pair], every: int = 10) -> tuple[list[Pair], list[Pair]]:
    """Split into (train, val): every ``every``-th pair by sorted HR path, counted from the last.

    At least one pair goes to validation and at least one stays for training.
    """
    if len(pairs) < 2:
        raise AbpnError("only one training image: add images or give a validation folder with --val")
    ordered = sorted(pairs, key=lambda p: str(p.hr))
    val_idx = set(range(len(ordered) - 1, -1, -every))
    return ([p for i, p in enumerate(ordered) if i not in val_idx],
            [p for i, p in enumerate(ordered) if i in val_idx])


# ----------------------------------------------------------------------------------------------
# Decoded-image cache


def default_cache_dir() -> Path:
    """``$ABPN_CACHE_DIR``, else ``$XDG_CACHE_HOME/abpn/decoded``, else ``~/.cache/abpn/decoded``."""
    if os.environ.get("ABPN_CACHE_DIR"):
        return Path(os.environ["ABPN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "abpn" / "decoded"


def _fingerprint(path: Path) -> list:
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


class DecodedCache:
    """Decoded (lr, hr) pairs as ``.npy`` files, one name per source path.

    The file name holds a hash of the sources' path, size and mtime, so a changed file misses the
    cache and its stale entry is replaced. Hits come back memory-mapped (read-only).
    """

    def __init__(self, folder: PathLike):
        self.folder = Path(folder)
        self.write_failed = False

    def _names(self, pair: Pair) -> tuple[str, str]:
        hr, lr = pair.hr.resolve(), pair.lr.resolve() if pair.lr else None
        ident = hashlib.sha256(json.dumps([str(hr), str(lr)]).encode()).hexdigest()[:24]
        state = [_CACHE_FORMAT, SCALE, _fingerprint(hr), _fingerprint(lr) if lr else None]
        version = hashlib.sha256(json.dumps(state).encode()).hexdigest()[:16]
        return ident, version

    def get(self, pair: Pair) -> tuple[np.ndarray, np.ndarray]:
        ident, version = self._names(pair)
        stem = self.folder / f"{ident}-{version}"
        lr_file, hr_file = stem.with_suffix(".lr.npy"), stem.with_suffix(".hr.npy")
        if lr_file.is_file() and hr_file.is_file():
            try:
                return np.load(lr_file, mmap_mode="r"), np.load(hr_file, mmap_mode="r")
            except (OSError, ValueError):
                log.warning("cache entry %s is damaged; decoding %s again", stem, pair.hr)
        lr, hr = load_pair(pair)
        if lr.size == 0:
            return lr, hr  # an empty .npy cannot be memory-mapped back
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in self.folder.glob(f"{ident}-*.npy"):
                old.unlink(missing_ok=True)
            for file, array in ((lr_file, lr), (hr_file, hr)):
                write_atomically(file, write=lambda f, array=array: np.save(f, array))
        except OSError as error:
            if not self.write_failed:
                log.warning("cannot write the decoded-image cache in %s (%s); continuing without it "
                            "(choose another folder with --cache-dir)", self.folder, error)
            self.write_failed = True
        return lr, hr


def _allow_open_files(count: int) -> None:
    # Each memory-mapped cache entry keeps a file descriptor; DIV2K needs ~1600.
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        target = count if hard == resource.RLIM_INFINITY else min(count, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# ----------------------------------------------------------------------------------------------
# Loading sets


def load_examples(pairs: Iterable[Pair], *, skip_bad: bool = False, cache_dir: PathLike | None = None,
                  cache: bool = True, min_lr_size: int = 1, progress: bool = True,
                  role: str = "training") -> list[Example]:
    """Decode pairs to (lr, hr) uint8 examples, through the cache unless ``cache=False``.

    A file that cannot be decoded raises AbpnError naming it as a ``role`` ("training" or
    "validation") image, or with ``skip_bad`` is skipped with a warning naming it; a warning then
    says how many of the set were skipped. Images whose LR is smaller than ``min_lr_size`` in either
    dimension are skipped with a warning. Raises AbpnError when nothing is left.
    """
    from tqdm import tqdm

    pairs = list(pairs)
    store = DecodedCache(cache_dir or default_cache_dir()) if cache else None
    if store:
        _allow_open_files(2 * len(pairs) + 256)
    examples, bad, small = [], [], []
    for pair in tqdm(pairs, desc=f"decoding {role} images", unit="img", disable=not progress or len(pairs) < 2):
        try:
            lr, hr = store.get(pair) if store else load_pair(pair)
        except AbpnError as error:
            if not skip_bad:
                raise AbpnError(f"{role} image: {error} Or {_SKIP_HINT}.") from error
            bad.append(pair.hr)
            log.warning("skipping a %s image: %s", role, error)
            continue
        if min(lr.shape[:2]) < min_lr_size:
            small.append(pair.hr)
            # hr is cropped to a multiple of the scale: a 2x2 image is 0x0 here, so its LR is what explains it.
            log.warning("skipping %s image %s: its x%d LR is %dx%d, smaller than the %dx%d the %s set needs "
                        "(an HR image of at least %dx%d)", role, pair.hr, SCALE, lr.shape[1], lr.shape[0],
                        min_lr_size, min_lr_size, role, SCALE * min_lr_size, SCALE * min_lr_size)
            continue
        examples.append((lr, hr))
    if bad and examples:
        log.warning("%d of %d %s images were unreadable and skipped (--skip-bad); the %s set has %d",
                    len(bad), len(pairs), role, role, len(examples))
    if not examples:
        reasons = []
        if bad:
            reasons.append(f"{len(bad)} unreadable")
        if small:
            reasons.append(f"{len(small)} smaller than {SCALE * min_lr_size}x{SCALE * min_lr_size} HR")
        raise AbpnError(f"no usable {role} images among {len(pairs)} ({', '.join(reasons)})")
    return examples


def load_training_set(sources: PathLike | Sequence[PathLike], *, skip_bad: bool = False,
                      cache_dir: PathLike | None = None, cache: bool = True, min_lr_size: int = LR_PATCH,
                      progress: bool = True) -> list[Example]:
    """``find_pairs`` + ``load_examples`` with the training-patch size rule."""
    return load_examples(find_pairs(sources), skip_bad=skip_bad, cache_dir=cache_dir, cache=cache,
                         min_lr_size=min_lr_size, progress=progress, role="training")


def _under(path: Path, folders: Sequence[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(folder) for folder in folders)


def _disjoint(train: Sequence[Pair], val: Sequence[Pair]) -> tuple[list[Pair], list[Pair]]:
    """Training without the files validation uses (compared by resolved path, so a link or another
    spelling of a validation image does not stay in training)."""
    held = {p.hr.resolve() for p in val}
    kept = [p for p in train if p.hr.resolve() not in held]
    if len(kept) < len(train):
        log.warning("%d training image(s) are also validation images (the same files); they are left out of "
                    "training", len(train) - len(kept))
    if not kept:
        raise AbpnError("every training image is also a validation image: give --val a folder of other images")
    return kept, list(val)


def validation_pairs(val: PathLike | Sequence[PathLike] | None, train_pairs: Sequence[Pair],
                     hold_out_from: Sequence[PathLike] = ()) -> tuple[list[Pair], list[Pair]]:
    """(train, val) pairs: ``val`` folders when given, else DIV2K's ``*valid*_HR`` folder when the
    training source holds both train and valid, else every 10th training image held out: from the
    ``hold_out_from`` folders only when given (so that validation images are new to a model trained
    on the other folders), else from all of them. DIV2K's valid split is never trained on, even
    beside ``val``: it is the set results are reported on."""
    if hold_out_from:
        if val is not None:
            raise AbpnError("--hold-out-from and --val both choose the validation images: give one of them")
        folders = [Path(f).resolve() for f in hold_out_from]
        candidates = [p for p in train_pairs if _under(p.hr, folders)]
        if not candidates:
            raise AbpnError(f"no --data image lies under --hold-out-from {', '.join(map(str, hold_out_from))}")
        kept, held = hold_out(candidates)
        return [p for p in train_pairs if not _under(p.hr, folders)] + kept, held
    groups = {p.group for p in train_pairs}
    valid_groups = {g for g in groups if "valid" in g.lower()}
    if valid_groups and valid_groups != groups:
        train = [p for p in train_pairs if p.group not in valid_groups]
        div2k_valid = [p for p in train_pairs if p.group in valid_groups]
        return _disjoint(train, div2k_valid if val is None else find_pairs(val))
    if val is not None:
        return _disjoint(train_pairs, find_pairs(val))
    return hold_out(train_pairs)


def _given(sources):
    """None for no folders (None or an empty list), else the sources unchanged."""
    if sources is None or (not isinstance(sources, (str, os.PathLike)) and len(sources) == 0):
        return None
    return sources


def check_rescale(factors: Sequence[float]) -> tuple[float, ...]:
    factors = tuple(float(f) for f in factors)
    bad = [f for f in factors if not 0 < f < 1]
    if bad:
        raise AbpnError(f"--rescale factors must lie between 0 and 1 (exclusive), got {bad[0]:g}")
    return factors


def rescaled_copies(examples: Sequence[Example], factors: Sequence[float], *,
                    min_lr_size: int = LR_PATCH) -> list[Example]:
    """Each HR image shrunk by each factor (MATLAB bicubic), with its own x3 LR: the way VDSR and
    FSRCNN stretched small sets such as T91 + BSD200. Copies smaller than a patch are left out."""
    factors = check_rescale(factors)
    copies = []
    for _, hr in examples:
        for factor in factors:
            smaller = modcrop(to_uint8(imresize_bicubic(hr, factor)))
            lr = make_lr(smaller)
            if min(lr.shape[:2]) >= min_lr_size:
                copies.append((lr, smaller))
    return copies


def data_fingerprint(train_pairs: Sequence[Pair], val_pairs: Sequence[Pair], options: dict) -> str:
    """A hash of the sorted training and validation files' names, sizes and contents, and of the
    options that change the examples. A run folder resumes only on the same fingerprint: the same
    files reached by another spelling of the path, or copied anew (a new clone, a fresh copy of a
    dataset, with new modification times), resume; other files with the same counts do not."""
    def listing(pairs):
        files = sorted({f.resolve() for p in pairs for f in (p.hr, p.lr) if f is not None})
        return sorted([f.name, f.stat().st_size, file_sha256(f)] for f in files)

    state = {"train": listing(train_pairs), "val": listing(val_pairs), "options": options,
             "format": _CACHE_FORMAT, "scale": SCALE}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def check_small_patch(small_patch: int | None, patch: int) -> int | None:
    if small_patch is None:
        return None
    if not 0 < small_patch < patch or patch % small_patch:
        raise AbpnError(f"--small-patch must divide the {patch}x{patch} LR patch and be smaller "
                        f"(e.g. {patch // 2}); got {small_patch}")
    return small_patch


def check_validation_sizes(examples: Sequence[Example]) -> None:
    """Validation images must be large enough for SSIM after the border crop; found now rather than
    at the end of the first epoch."""
    from abpn.core.metrics import min_size

    if not examples:
        return
    _, hr = min(examples, key=lambda example: min(example[1].shape[:2]))
    side = min_size(SCALE)
    if min(hr.shape[:2]) < side:
        raise AbpnError(f"a {hr.shape[1]}x{hr.shape[0]} validation image is too small to score (at least "
                        f"{side}x{side} pixels are needed); remove it from the validation images")


def prepare_data(data: PathLike | Sequence[PathLike] | None = None,
                 val: PathLike | Sequence[PathLike] | None = None, *, skip_bad: bool = False,
                 cache_dir: PathLike | None = None, cache: bool = True, patch: int = LR_PATCH,
                 rescale: Sequence[float] = (), small_patch: int | None = None,
                 hold_out_from: Sequence[PathLike] = (), progress: bool = True) -> DataSplit:
    """Everything ``train`` needs before building the pipeline: decoded train and val examples,
    plus ``rescaled_copies`` of the training images for each ``rescale`` factor.

    ``small_patch`` (an LR size dividing ``patch``) keeps training images too small for ``patch``:
    they are trained on with patches of that size (see PatchSampler). ``hold_out_from`` names the
    ``data`` folders validation images are held out from.

    With ``data=None`` the embedded scikit-image photos are used. All input errors (missing or
    empty folders, no pairs, bad files without ``skip_bad``, validation images too small for
    SSIM) surface here, before any training.
    """
    rescale = check_rescale(rescale)
    small_patch = check_small_patch(small_patch, patch)
    data, val = _given(data), _given(val)
    hold_out_from = list(hold_out_from or ())
    if data is None:
        if hold_out_from:
            raise AbpnError("--hold-out-from needs --data")
        train_pairs, val_pairs = embedded_default_pairs()
        if val is not None:
            train_pairs, val_pairs = _disjoint(train_pairs, find_pairs(val))
        origin = "scikit-image sample photos (no --data given)"
    else:
        train_pairs, val_pairs = validation_pairs(val, find_pairs(data), hold_out_from)
        origin = ", ".join(map(str, [data] if isinstance(data, (str, os.PathLike)) else data))
    common = dict(skip_bad=skip_bad, cache_dir=cache_dir, cache=cache, progress=progress)
    val_examples = load_examples(val_pairs, role="validation", **common)
    check_validation_sizes(val_examples)
    train = load_examples(train_pairs, min_lr_size=small_patch or patch, role="training", **common)
    description = f"{origin}: {len(train)} training and {len(val_examples)} validation images"
    if len(val_examples) < len(val_pairs):
        description += f" ({len(val_pairs) - len(val_examples)} unreadable validation images skipped)"
    if small_patch:
        small = sum(min(lr.shape[:2]) < patch for lr, _ in train)
        description += f" ({small} of them trained with {small_patch}x{small_patch} patches)"
    if rescale:
        copies = rescaled_copies(train, rescale, min_lr_size=small_patch or patch)
        train = train + copies
        description += f", plus {len(copies)} copies rescaled by {', '.join(f'{f:g}' for f in rescale)}"
    options = {"rescale": list(rescale), "small_patch": small_patch, "patch": patch, "skip_bad": skip_bad}
    fingerprint = data_fingerprint(train_pairs, val_pairs, options)
    return DataSplit(train, val_examples, description, fingerprint, small_patch)


# ----------------------------------------------------------------------------------------------
# tf.data pipeline


def _pixel_view(img: np.ndarray) -> np.ndarray:
    """(..., H, W) view of a C-contiguous uint8 (..., H, W, 3) array, one void item per pixel."""
    return np.ascontiguousarray(img).view(np.dtype((np.void, 3)))[..., 0]


class PatchSampler:
    """Makes uint8 batches of aligned random LR/HR patches with flips and transpose, in numpy.

    Batch ``i`` depends only on (seed, i), so a parallel, out-of-order producer still yields the
    same stream for the same seed.

    With ``small_patch``, images too small for ``patch`` are kept: a batch is drawn from them with
    probability (their count / all images), and such a batch holds (patch / small_patch)**2 times
    as many patches of ``small_patch`` pixels. Every image is then picked equally often and every
    batch has the same number of pixels, so the L1 loss weighs each pixel as before.
    """

    def __init__(self, examples: Sequence[Example], *, patch: int = LR_PATCH, batch: int = 16,
                 seed: int | None = None, augment: bool = True, small_patch: int | None = None):
        if not examples:
            raise AbpnError("no training images")
        smallest = small_patch or patch
        for lr, hr in examples:
            if min(lr.shape[:2]) < smallest:
                raise ValueError(f"an LR image of {lr.shape[1]}x{lr.shape[0]} is smaller than the "
                                 f"{smallest}x{smallest} patch; load_examples(min_lr_size=patch) drops these")
            if hr.shape[:2] != (SCALE * lr.shape[0], SCALE * lr.shape[1]):
                raise ValueError(f"HR {hr.shape} is not {SCALE}x LR {lr.shape}")
        # Pixels viewed as single 3-byte items: flipped and transposed copies move a third as many
        # elements (a transposed HR patch copies in ~140 us instead of ~210 us).
        pixels = [(_pixel_view(lr), _pixel_view(hr)) for lr, hr in examples]
        self.pixels = [px for px in pixels if min(px[0].shape) >= patch]
        self.small_pixels = [px for px in pixels if min(px[0].shape) < patch]
        self.patch, self.batch, self.augment, self.small_patch = patch, batch, augment, small_patch
        self.seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)

    def __call__(self, index) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, int(index)])
        pool, p, batch = self.pixels, self.patch, self.batch
        # Drawn only when there are small images, so streams without them are unchanged.
        if self.small_pixels and (not self.pixels or
                                  rng.random() < len(self.small_pixels) / (len(self.small_pixels) + len(self.pixels))):
            pool, p = self.small_pixels, self.small_patch
            batch = self.batch * (self.patch // self.small_patch) ** 2
        hp = SCALE * p
        lr_out = np.empty((batch, p, p, 3), np.uint8)
        hr_out = np.empty((batch, hp, hp, 3), np.uint8)
        lr_px, hr_px = _pixel_view(lr_out), _pixel_view(hr_out)
        picks = rng.integers(len(pool), size=batch)
        flips = rng.integers(2, size=(batch, 3)) if self.augment else np.zeros((batch, 3), int)
        for b, (k, (flip_v, flip_h, transpose)) in enumerate(zip(picks, flips)):
            lr, hr = pool[k]
            y = int(rng.integers(lr.shape[0] - p + 1))
            x = int(rng.integers(lr.shape[1] - p + 1))
            lr_patch = lr[y:y + p, x:x + p]
            hr_patch = hr[SCALE * y:SCALE * y + hp, SCALE * x:SCALE * x + hp]
            if flip_v:
                lr_patch, hr_patch = lr_patch[::-1], hr_patch[::-1]
            if flip_h:
                lr_patch, hr_patch = lr_patch[:, ::-1], hr_patch[:, ::-1]
            if transpose:
                lr_patch, hr_patch = lr_patch.T, hr_patch.T
            lr_px[b] = lr_patch
            hr_px[b] = hr_patch
        return lr_out, hr_out


def make_dataset(examples: Sequence[Example], *, patch: int = LR_PATCH, batch: int = 16,
                 seed: int | None = None, augment: bool = True, start: int = 0,
                 small_patch: int | None = None):
    """An infinite ``tf.data.Dataset`` of (lr, hr) float32 batches in 0..255.

    Shapes ``[batch, patch, patch, 3]`` and ``[batch, 3*patch, 3*patch, 3]``. Each example is a
    uniformly chosen image, a random aligned crop (HR offset = 3 x LR offset) and, with
    ``augment``, random vertical/horizontal flips and transpose applied to LR and HR alike. The
    same ``seed`` gives the same batches; ``seed=None`` draws a fresh one. ``start`` skips to that
    batch index, so a resumed run sees the batches an uninterrupted one would. With ``small_patch``
    some batches hold more, smaller patches (see PatchSampler), so only the channels are fixed.
    """
    import tensorflow as tf

    sampler = PatchSampler(examples, patch=patch, batch=batch, seed=seed, augment=augment,
                           small_patch=small_patch)
    if sampler.small_pixels:
        lr_shape = hr_shape = (None, None, None, 3)
    else:
        lr_shape, hr_shape = (batch, patch, patch, 3), (batch, SCALE * patch, SCALE * patch, 3)

    def produce(index):
        # uint8 out of numpy (a quarter of the bytes through the Python side), cast in the graph
        lr, hr = tf.numpy_function(sampler, [index], (tf.uint8, tf.uint8), stateful=False)
        return (tf.cast(tf.ensure_shape(lr, lr_shape), tf.float32),
                tf.cast(tf.ensure_shape(hr, hr_shape), tf.float32))

    return (tf.data.Dataset.counter(start)
            .map(produce, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))
