"""Download DIV2K (HR and bicubic x3 LR, train and valid) into the layout ``abpn.model.data`` reads.

Each archive is fetched into ``DEST/.downloads/NAME.zip.part`` with HTTP Range resume (across
dropped connections and across runs), checked against the server's announced size and the known
size and sha256 of the official file (or, for an unknown archive, the zip's own CRCs),
unpacked into a temporary folder after every member name has been vetted, then moved into place
and recorded in ``DEST/.downloads/NAME.done``. A re-run skips recorded archives.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import stat
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from abpn.core.files import replace_durably
from abpn.errors import AbpnError

log = logging.getLogger(__name__)

DIV2K_BASE_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
# archive -> the folder it must create (the DIV2K layout abpn.model.data.find_pairs expects)
ARCHIVES = {
    "train": {"DIV2K_train_HR.zip": "DIV2K_train_HR",
              "DIV2K_train_LR_bicubic_X3.zip": "DIV2K_train_LR_bicubic/X3"},
    "valid": {"DIV2K_valid_HR.zip": "DIV2K_valid_HR",
              "DIV2K_valid_LR_bicubic_X3.zip": "DIV2K_valid_LR_bicubic/X3"},
}
# (size in bytes, sha256) of the official archives, as recorded in TensorFlow Datasets'
# url_checksums/div2k.txt.
KNOWN_ARCHIVES = {
    "DIV2K_train_HR.zip": (3530603713, "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335"),
    "DIV2K_train_LR_bicubic_X3.zip": (427847282, "ad5c8e5507e2765823d3c2c5bd0934842efcd487c5370604c224090898b3163a"),
    "DIV2K_valid_HR.zip": (448993893, "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc"),
    "DIV2K_valid_LR_bicubic_X3.zip": (54513392, "04b9a2ed3b4a0715d3924d3ae8514830c3328fac8d30512ce716d6f419e052a3"),
}
_CHUNK = 1 << 20
_ATTEMPTS = 6
_TIMEOUT_S = 60
# Busy or restarting servers and proxies answer these; a later attempt usually succeeds.
_TRANSIENT_HTTP = {408, 429, 500, 502, 503, 504}


def _total_from_headers(response, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range")
    if content_range:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range.strip())
        if not match or int(match.group(1)) != offset:
            raise AbpnError(f"server answered an unexpected range {content_range!r} for byte {offset}")
        return int(match.group(3))
    length = response.headers.get("Content-Length")
    return int(length) if length is not None else None


def _download_once(url: str, part: Path, progress) -> bool:
    """One request, appending to ``part``; True when the file is complete."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        with error:  # an HTTPError is also the open response
            if error.code == 416 and offset:  # asked past the end: the part file is already whole
                total = error.headers.get("Content-Range", "").rpartition("/")[2]
                if total.isdigit() and int(total) == offset:
                    return True
                part.unlink()  # larger than the file on the server: cannot be a prefix of it
                return False
            raise
    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored Range: start over
        total = _total_from_headers(response, offset)
        if total is not None:
            progress.total = total
        progress.n = offset
        progress.refresh()
        with _open_for_writing(part, "ab" if offset else "wb") as out:
            while chunk := response.read(_CHUNK):
                _write(out, chunk, part)
                progress.update(len(chunk))
        size = part.stat().st_size
    if total is None:
        return True  # no size announced: the zip check below is the only verification
    if size > total:
        part.unlink()
        raise AbpnError(f"{url}: received {size} bytes, more than the announced {total}; "
                        f"the partial file was deleted, run the command again")
    return size == total


def _cannot_write(path: Path, error: OSError) -> AbpnError:
    """Local disk problems are not worth retrying, unlike network ones (also OSErrors)."""
    return AbpnError(f"cannot write {path}: {error.strerror or error}; free some space or choose a --dest "
                     f"you can write to (what was downloaded so far is kept and will be resumed)")


def _open_for_writing(path: Path, mode: str):
    try:
        return open(path, mode)
    except OSError as error:
        raise _cannot_write(path, error) from error


def _write(out, chunk: bytes, path: Path) -> None:
    try:
        out.write(chunk)
    except OSError as error:
        raise _cannot_write(path, error) from error


def download(url: str, target: Path, *, progress: bool = True) -> Path:
    """Fetch ``url`` to ``target`` via ``target.part``, resuming and retrying on dropped connections."""
    from tqdm import tqdm

    part = target.with_name(target.name + ".part")
    with tqdm(desc=target.name, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress) as bar:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                if _download_once(url, part, bar):
                    break
                reason = "connection closed early"
            except urllib.error.HTTPError as error:
                if error.code not in _TRANSIENT_HTTP or attempt == _ATTEMPTS:
                    raise AbpnError(f"cannot download {url}: HTTP {error.code} {error.reason}") from error
                reason = f"HTTP {error.code} {error.reason}"
            except (OSError, http.client.HTTPException) as error:
                if isinstance(error, urllib.error.URLError) and not part.exists():
                    raise AbpnError(f"cannot reach {url}: {error.reason}; check the network or "
                                    f"--base-url") from error
                reason = str(error)
            if attempt < _ATTEMPTS:
                log.warning("%s: %s; resuming (attempt %d of %d)", target.name, reason, attempt + 1,
                            _ATTEMPTS)
                time.sleep(min(2 ** attempt, 30) * 0.1)
        else:
            raise AbpnError(f"download of {url} did not complete after {_ATTEMPTS} attempts; run the "
                            f"command again to resume from {part}")
    replace_durably(part, target)
    return target


def _sha256(path: Path, progress: bool) -> str:
    from tqdm import tqdm

    digest = hashlib.sha256()
    with open(path, "rb") as f, tqdm(desc=f"checking {path.name}", total=path.stat().st_size, unit="B",
                                     unit_scale=True, unit_divisor=1024, disable=not progress) as bar:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def verify_archive(path: Path, expected: tuple[int, str] | None = None, *, progress: bool = True) -> None:
    """Raise AbpnError (and delete the file) unless it has the ``expected`` (size, sha256), or,
    when nothing is expected, unless every zip member passes its CRC check."""
    if expected is not None:
        size, sha256 = expected
        actual_size = path.stat().st_size
        if actual_size != size:
            problem = f"{actual_size} bytes instead of {size}"
        elif _sha256(path, progress) != sha256:
            problem = "sha256 mismatch"
        else:
            return
    else:
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            problem = str(error)
        else:
            if bad is None:
                return
            problem = f"member {bad} fails its CRC check"
    path.unlink()
    raise AbpnError(f"{path.name} is corrupted ({problem}); it was deleted, run the command again "
                    f"to download it afresh")


def _vet_members(archive: zipfile.ZipFile, root: Path) -> None:
    root = root.resolve()
    for info in archive.infolist():
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        mode = info.external_attr >> 16
        if (name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts
                or stat.S_ISLNK(mode) or not (root / name).resolve().is_relative_to(root)):
            raise AbpnError(f"refusing to unpack {archive.filename}: member {name!r} would land outside "
                            f"{root} or is a link; this is not a genuine DIV2K archive. Delete it and "
                            f"check --base-url")


def _move_into(src: Path, dst: Path) -> None:
    """Move the tree ``src`` into ``dst``, merging folders that already exist there."""
    if dst.is_dir() and src.is_dir():
        for child in src.iterdir():
            _move_into(child, dst / child.name)
        src.rmdir()
    else:
        if dst.exists():
            shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
        os.replace(src, dst)


def unpack(archive_path: Path, dest: Path, expected: str) -> None:
    """Extract safely into ``dest``; ``expected`` (e.g. ``DIV2K_train_HR``) appears only when done."""
    staging = dest / ".downloads" / (archive_path.stem + ".unpacking")
    if staging.exists():
        shutil.rmtree(staging)  # left by an interrupted run
    staging.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive_path) as archive:
            _vet_members(archive, staging)
            archive.extractall(staging)
        if not (staging / expected).is_dir():
            raise AbpnError(f"{archive_path.name} does not contain {expected}/; not the DIV2K layout. "
                            f"Delete {archive_path} and check --base-url")
    except AbpnError:
        shutil.rmtree(staging)
        raise
    _move_into(staging, dest)  # the final rename of `expected` makes it appear complete at once


def download_div2k(dest, *, base_url: str = DIV2K_BASE_URL, only: str | None = None,
                   keep_archives: bool = False, checksums: dict | None = None,
                   progress: bool = True) -> list[Path]:
    """Download and unpack DIV2K train/valid HR and bicubic x3 LR under ``dest``.

    ``checksums`` maps archive names to (size, sha256); default ``KNOWN_ARCHIVES``. Archives
    without an entry are checked with their zip CRCs instead.

    ``only`` is "train" or "valid" (default both). Returns the unpacked folders. Interrupted runs
    resume; completed archives are skipped.
    """
    if only not in (None, "train", "valid"):
        raise AbpnError(f"--only must be train or valid, not {only!r}")
    checksums = KNOWN_ARCHIVES if checksums is None else checksums
    dest = Path(dest)
    downloads = dest / ".downloads"
    try:
        downloads.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _cannot_write(downloads, error) from error
    folders = []
    for split, archives in ARCHIVES.items():
        if only and split != only:
            continue
        for name, folder in archives.items():
            done = downloads / (name + ".done")
            folders.append(dest / folder)
            if done.exists() and (dest / folder).is_dir():
                log.info("%s already unpacked in %s", name, dest / folder)
                continue
            archive = downloads / name
            if not archive.exists():
                download(base_url.rstrip("/") + "/" + name, archive, progress=progress)
            verify_archive(archive, checksums.get(name), progress=progress)
            unpack(archive, dest, folder)
            done.write_text("ok\n")
            if not keep_archives:
                archive.unlink()
    return folders
