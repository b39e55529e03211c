"""Crash-safe folder saves: write a new version beside the old, then flip a pointer file.

Layout of a saved folder::

    path/CURRENT        name of the complete version, replaced atomically (os.replace)
    path/v-<hex>/       one complete save

A crash at any moment leaves ``CURRENT`` naming a complete version: the new one if the flip
happened, else the previous one. Versions no longer named are removed after the flip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

POINTER = "CURRENT"


@contextlib.contextmanager
def new_version(path: str | Path) -> Iterator[Path]:
    """Yield an empty folder to fill; on success it becomes the current version of ``path``."""
    root = Path(path).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    _refuse_foreign_folder(root)
    version = root / f"v-{uuid.uuid4().hex}"
    version.mkdir()
    try:
        yield version
        _fsync_tree(version)
        pointer_tmp = root / f".{POINTER}.{version.name}"
        pointer_tmp.write_text(version.name, encoding="utf-8")
        _fsync_file(pointer_tmp)
        os.replace(pointer_tmp, root / POINTER)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    _remove_stale_versions(root, keep=version.name)


def current_version(path: str | Path) -> Path:
    """The folder of the last complete save at ``path``."""
    root = Path(path).expanduser()
    pointer = root / POINTER
    if not pointer.is_file():
        raise FileNotFoundError(f"no saved index at {root} (missing {POINTER})")
    version = root / pointer.read_text(encoding="utf-8").strip()
    if not version.is_dir():
        raise FileNotFoundError(f"{pointer} names {version.name}, which is missing")
    return version


def _refuse_foreign_folder(root: Path) -> None:
    foreign = [p.name for p in root.iterdir()
               if p.name != POINTER and not p.name.startswith(("v-", f".{POINTER}."))]
    if foreign:
        raise FileExistsError(f"{root} holds files that are not an embedkit save "
                              f"({', '.join(sorted(foreign)[:5])}); choose an empty folder")


def _remove_stale_versions(root: Path, keep: str) -> None:
    for entry in root.iterdir():
        if entry.name.startswith("v-") and entry.name != keep:
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
