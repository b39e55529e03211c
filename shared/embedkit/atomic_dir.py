"""Crash-safe, concurrency-safe folder saves: write a new version beside the old, flip a pointer.

Layout of a saved folder::

    path/CURRENT        name of the complete version, replaced atomically (os.replace)
    path/v-<hex>/       one complete save
    path/.lock          held (``filelock``, an OS lock) by the one process saving at a time

A crash at any moment leaves ``CURRENT`` naming a complete version: the new one if the flip
happened, else the previous one. Saves to one folder are serialized by the lock, released by the
OS when its holder dies, so a killed writer blocks nobody. After a flip, still under the lock,
every version except the new current one and the one it replaced is removed (older saves and
folders half-written by killed writers): a reader that read ``CURRENT`` just before the flip
still finds its version.

Readers take no lock (a read-only copy of a save must load). `read_current` reads ``CURRENT``,
reads the version it names and, if that version vanished meanwhile (two saves went by during the
read), starts again from the new ``CURRENT``, a bounded number of times. ``CURRENT`` must hold a
plain child folder name of the form ``v-<letters, digits, - or _>``, and the version must be a
real folder, not a symlink: a save folder never sends a reader anywhere else.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from filelock import FileLock, Timeout

from .errors import IndexFormatError

POINTER = "CURRENT"
LOCK = ".lock"
#: What `new_version` names versions (``v-`` + 32 hex digits); a little wider, never a path.
VERSION_NAME = re.compile(r"v-[0-9A-Za-z_-]{1,64}")
LOCK_TIMEOUT = 600.0  # seconds a save waits for another process's save of the same folder
READ_ATTEMPTS = 8     # a reader re-reads CURRENT this often while saves replace its version
_POINTER_LIMIT = 256  # bytes; CURRENT holds one short name

T = TypeVar("T")


@contextlib.contextmanager
def new_version(path: str | Path, *, lock_timeout: float = LOCK_TIMEOUT) -> Iterator[Path]:
    """Yield an empty folder to fill; on success it becomes the current version of ``path``.

    Args:
        path: the save folder (created if absent; must hold nothing but embedkit saves).
        lock_timeout: seconds to wait while another process saves to the same folder;
            then `TimeoutError`.
    """
    root = Path(path).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    _refuse_foreign_folder(root)
    with _save_lock(root, lock_timeout):
        previous = _read_pointer(root, strict=False)
        version = root / f"v-{uuid.uuid4().hex}"
        version.mkdir()
        try:
            yield version
            _fsync_tree(version)
            _flip_pointer(root, version.name)
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
        _remove_stale_versions(root, keep={version.name, previous})


def current_version(path: str | Path) -> Path:
    """The folder of the last complete save at ``path``.

    Raises:
        FileNotFoundError: nothing was ever saved there (no ``CURRENT``).
        IndexFormatError: ``CURRENT`` is not a plain version name, or names a missing folder
            or a symlink.
    """
    root = Path(path).expanduser()
    return _version_folder(root, _read_pointer(root, strict=True))


def read_current(path: str | Path, read: Callable[[Path], T],
                 attempts: int = READ_ATTEMPTS) -> T:
    """``read(current_version(path))``, retried while concurrent saves replace the version.

    A failure (`OSError` or `IndexFormatError`) is retried only when ``CURRENT`` changed
    during the read; a failure of an unchanged version is raised as it is.
    """
    root = Path(path).expanduser()
    for _ in range(attempts):
        name = _read_pointer(root, strict=True)
        try:
            return read(_version_folder(root, name))
        except (OSError, IndexFormatError):
            if _read_pointer(root, strict=False) == name:
                raise
    raise IndexFormatError(f"{root}: {POINTER} changed {attempts} times while loading; "
                           "saves are replacing it faster than it can be read")


@contextlib.contextmanager
def _save_lock(root: Path, timeout: float) -> Iterator[None]:
    lock_file = root / LOCK
    try:
        with FileLock(lock_file, timeout=timeout):
            yield
    except Timeout:
        raise TimeoutError(f"another process has been saving to {root} for over {timeout} s "
                           f"(lock {lock_file})") from None


def _read_pointer(root: Path, *, strict: bool) -> str | None:
    """The version name in ``CURRENT``; None when absent or bad and not ``strict``."""
    pointer = root / POINTER
    try:
        text = _read_small_regular_file(pointer, _POINTER_LIMIT).decode("ascii").strip()
    except FileNotFoundError:
        if strict:
            raise FileNotFoundError(f"no saved index at {root} (missing {POINTER})") from None
        return None
    except (OSError, UnicodeDecodeError, IndexFormatError) as exc:
        if strict:
            raise IndexFormatError(f"{pointer}: unreadable ({exc})") from None
        return None
    if not VERSION_NAME.fullmatch(text):
        if strict:
            raise IndexFormatError(f"{pointer} holds {text[:80]!r}, not the name of a version "
                                   "folder inside the save (v-...)")
        return None
    return text


def _version_folder(root: Path, name: str) -> Path:
    version = root / name
    try:
        mode = os.lstat(version).st_mode
    except FileNotFoundError:
        raise IndexFormatError(f"{root / POINTER} names {name}, which is missing") from None
    if stat.S_ISLNK(mode):
        raise IndexFormatError(f"{version} is a symlink; a save's version is a real folder")
    if not stat.S_ISDIR(mode):
        raise IndexFormatError(f"{version} is not a folder")
    return version


def open_regular_file(file: Path) -> BinaryIO:
    """``file`` opened for binary reading, refusing what a save never holds.

    Never follows a symlink in the last component, never blocks (a FIFO opens without waiting
    and is then refused), and refuses anything but a regular file (``/dev/zero``, a folder).

    Raises:
        FileNotFoundError: the file is missing.
        IndexFormatError: a symlink or not a regular file.
    """
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IndexFormatError(f"{file} is a symlink; a save holds regular files") from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):
            raise IndexFormatError(f"{file} is not a regular file") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IndexFormatError(f"{file} is not a regular file")
    return os.fdopen(fd, "rb")


def _read_small_regular_file(file: Path, limit: int) -> bytes:
    with open_regular_file(file) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise IndexFormatError(f"{file} is over the {limit} bytes expected")
    return data


def _flip_pointer(root: Path, name: str) -> None:
    pointer_tmp = root / f".{POINTER}.{name}"
    pointer_tmp.write_text(name, encoding="utf-8")
    _fsync_file(pointer_tmp)
    os.replace(pointer_tmp, root / POINTER)
    _fsync_dir(root)


def _refuse_foreign_folder(root: Path) -> None:
    foreign = [p.name for p in root.iterdir()
               if p.name not in (POINTER, LOCK) and not p.name.startswith(("v-", f".{POINTER}."))]
    if foreign:
        raise FileExistsError(f"{root} holds files that are not an embedkit save "
                              f"({', '.join(sorted(foreign)[:5])}); choose an empty folder")


def _remove_stale_versions(root: Path, keep: set[str | None]) -> None:
    """Under the save lock: no other process is writing a version of ``root`` now."""
    for entry in root.iterdir():
        if entry.name.startswith("v-") and entry.name not in keep:
            if entry.is_symlink() or not entry.is_dir():
                entry.unlink(missing_ok=True)  # never follow a planted link into rmtree
            else:
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{POINTER}."):
            entry.unlink(missing_ok=True)


def _fsync_tree(folder: Path) -> None:
    for file in folder.rglob("*"):
        if file.is_file():
            _fsync_file(file)
    for sub in [folder, *[d for d in folder.rglob("*") if d.is_dir()]]:
        _fsync_dir(sub)


def _fsync_file(file: Path) -> None:
    with open(file, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
