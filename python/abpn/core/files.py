"""Writing files so that a crash or a power cut never leaves a partial file under the final name.

A rename alone is not enough: until the file's data and the folder entry reach the disk, a power
cut can leave an empty or missing file after the rename has "succeeded". So the data is fsynced
before the rename and the folder after it, and only then is the write reported done.
"""
import hashlib
import os
import secrets
import tempfile
from pathlib import Path

from abpn.errors import AbpnError


def _fsync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # some platforms (Windows) cannot open a folder; the rename is all they offer
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the data itself is already on disk
    finally:
        os.close(fd)


def write_atomically(path, content=None, *, write=None):
    """Replaces `path` with `content` (bytes or str, str as UTF-8), or with what `write(file)`
    writes into a binary file object. Raises OSError when the folder cannot be written."""
    if (content is None) == (write is None):
        raise TypeError("give either content or write")
    path = Path(path)
    # Created with mode 0666 by os.open, the kernel applies the umask: the file gets the permissions
    # any new file would, without reading the umask (which means setting it, process-wide, under
    # other threads' feet; mkstemp would give 0600). The random name keeps concurrent writers apart,
    # O_EXCL a planted file out.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as file:
            if write is not None:
                write(file)
            else:
                file.write(content.encode("utf-8") if isinstance(content, str) else content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def replace_durably(source, target):
    """Renames the finished file `source` over `target` (same file system) and makes both the data
    and the rename durable."""
    with open(source, "rb") as file:
        os.fsync(file.fileno())
    os.replace(source, target)
    _fsync_folder(Path(target).parent)
    return Path(target)


def check_writable(path, what="output"):
    """Raises AbpnError unless a file can be created beside `path`: called before long work so that
    it does not end in an unwritable destination. Tries for real, since permission bits do not tell
    (root ignores them; a read-only mount does not show in them)."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise AbpnError(f"cannot write the {what} {path}: folder {folder} does not exist; create it or give "
                        "another path.")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".probe")
    except OSError as error:
        raise AbpnError(f"cannot write the {what} {path}: {error.strerror or error}; choose a folder you can "
                        "write to.") from error
    os.close(handle)
    os.unlink(probe)


def file_sha256(path):
    """The SHA-256 of a file's contents, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
