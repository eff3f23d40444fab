"""abpn.core.files: atomic, durable writes and the writability check made before long work."""
import os
import stat

import pytest

from abpn.core import files
from abpn.errors import AbpnError


def _trace(monkeypatch):
    """Records fsync (file or folder) and replace calls in order."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.path.basename(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    return events


def test_the_data_then_the_rename_then_the_folder_reach_the_disk(tmp_path, monkeypatch):
    events = _trace(monkeypatch)
    files.write_atomically(tmp_path / "a.bin", b"\x00\x01")
    assert events == [("fsync", "file"), ("replace", "a.bin"), ("fsync", "folder")]
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"


def test_text_and_writer_callbacks(tmp_path):
    files.write_atomically(tmp_path / "t.txt", "é\n")
    assert (tmp_path / "t.txt").read_bytes() == "é\n".encode()
    files.write_atomically(tmp_path / "w.bin", write=lambda f: f.write(b"xyz"))
    assert (tmp_path / "w.bin").read_bytes() == b"xyz"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")

    def boom(file):
        file.write(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        files.write_atomically(target, write=boom)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_new_files_get_the_umask_permissions_not_mkstemps_0600(tmp_path):
    umask = os.umask(0o022)
    try:
        files.write_atomically(tmp_path / "r.txt", "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "r.txt").stat().st_mode) == 0o644


def test_replace_durably_syncs_the_data_and_the_folder(tmp_path, monkeypatch):
    (tmp_path / "part").write_bytes(b"done")
    events = _trace(monkeypatch)
    files.replace_durably(tmp_path / "part", tmp_path / "final")
    assert events == [("fsync", "file"), ("replace", "final"), ("fsync", "folder")]


def test_check_output_path_tries_for_real_and_creates_nothing(tmp_path):
    files.check_output_path(tmp_path / "out.png")
    files.check_output_path(tmp_path / "new" / "run", folder=True, parents=True)
    assert list(tmp_path.iterdir()) == []  # the probe file is gone, no folder was made
    with pytest.raises(AbpnError, match="does not exist"):
        files.check_output_path(tmp_path / "missing" / "out.png")
    # /proc refuses new files even for root, whose permission bits say nothing
    with pytest.raises(AbpnError, match="cannot write /proc/out.png: /proc refuses new files"):
        files.check_output_path("/proc/out.png")
