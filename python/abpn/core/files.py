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


# SQLite keeps a database's journal beside it under these suffixes and deletes or replays a file found there
# when the database is next opened: nothing else may be written under such a name.
SQLITE_SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite_database(path):
    try:
        with open(path, "rb") as file:
            return file.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def _probe(folder, path):
    """Creates and removes a file in `folder`: permission bits do not tell (root ignores them; a read-only
    mount or /proc does not show in them)."""
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=f".{Path(path).name[:40]}.", suffix=".probe")
    except OSError as error:
        raise AbpnError(f"cannot write {path}: {folder} refuses new files ({error.strerror or error}); choose a "
                        "place you can write to.") from error
    os.close(handle)
    os.unlink(probe)


def check_output_path(path, *, folder=False, parents=False, database=False):
    """Raises AbpnError, saying what to do, unless `path` can be written as a file (or, with `folder`, a
    folder) by a command that creates missing folders on the way only with `parents`. Called before any
    work, so that nothing is created and no time is spent before a destination that cannot be used; it
    creates nothing itself. `database`: `path` is an SQLite database the command opens (an existing one
    is fine); any other file output may not replace a database."""
    path = Path(path)
    if not str(path).strip():
        raise AbpnError("an empty path; give a file or folder name")
    if path.name.endswith(SQLITE_SIDE_SUFFIXES):
        raise AbpnError(f"{path}: SQLite keeps a database's own journal under a name ending in "
                        f"{', '.join(SQLITE_SIDE_SUFFIXES)}, and deletes or replays such a file when the database "
                        "is opened; choose another name.")
    if path.exists():
        if folder and not path.is_dir():
            raise AbpnError(f"{path} is a file, not a folder; give a folder (new or existing).")
        if not folder and path.is_dir():
            raise AbpnError(f"{path} is a folder; give a file name (inside it, for example).")
        if not folder and not database and is_sqlite_database(path):
            raise AbpnError(f"{path} is an SQLite database; writing there would replace it. Give another file name.")
        if folder:
            _probe(path, path)
        else:
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_APPEND))  # opens for writing, changes nothing
            except OSError as error:
                raise AbpnError(f"cannot write {path} ({error.strerror or error}); choose a file you can write "
                                "to.") from error
        return
    if path.is_symlink():
        raise AbpnError(f"{path} is a broken link; remove it or give another name.")
    existing = path.parent
    while not existing.exists() and not existing.is_symlink() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        what = "a broken link" if existing.is_symlink() and not existing.exists() else "a file, not a folder"
        raise AbpnError(f"cannot write {path}: {existing} is {what}; give a path under a folder.")
    if existing != path.parent and not parents:
        raise AbpnError(f"cannot write {path}: folder {path.parent} does not exist; create it or give another path.")
    _probe(existing, path)


def file_sha256(path):
    """The SHA-256 of a file's contents, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
