"""Finding 3: loading must never follow a path out of the save folder, hang, or read without end.

Every case is a save folder an attacker (or a broken copy) could hand us: ``CURRENT`` pointing
elsewhere, version folders and files that are symlinks, a FIFO, ``/dev/zero``.
"""

from __future__ import annotations

import os
import shutil

import pytest

from embedkit import HybridIndex
from embedkit.errors import IndexFormatError

from .conftest import run_loads_in_child, version_folder


@pytest.mark.parametrize("pointer", ["../other/{name}", "{outside}/{name}", "{name}/../{name}",
                                     "", "CURRENT", "."])
def test_current_must_name_a_plain_child_folder(saved, module_embedder, tmp_path, pointer):
    name = version_folder(saved).name
    shutil.copytree(saved, tmp_path / "other")  # a complete, loadable save elsewhere
    text = pointer.format(name=name, outside=tmp_path / "other")
    (saved / "CURRENT").write_text(text)
    with pytest.raises(IndexFormatError, match="CURRENT"):
        HybridIndex.load(saved, module_embedder)


def test_a_version_folder_that_is_a_symlink_is_refused(saved, module_embedder, tmp_path):
    version = version_folder(saved)
    shutil.move(version, tmp_path / "elsewhere")
    version.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(IndexFormatError, match="symlink"):
        HybridIndex.load(saved, module_embedder)


@pytest.mark.parametrize("name", ["manifest.json", "documents.jsonl", "vectors.npy",
                                  "bm25/bm25.json", "bm25/token_ids.npy"])
def test_a_file_that_is_a_symlink_is_refused(saved, module_embedder, tmp_path, name):
    file = version_folder(saved) / name
    shutil.copy(file, tmp_path / "copy")
    file.unlink()
    file.symlink_to(tmp_path / "copy")
    with pytest.raises(IndexFormatError, match=name.split("/")[-1]):
        HybridIndex.load(saved, module_embedder)


def test_a_bm25_subfolder_that_is_a_symlink_is_refused(saved, module_embedder, tmp_path):
    folder = version_folder(saved) / "bm25"
    shutil.move(folder, tmp_path / "bm25")
    folder.symlink_to(tmp_path / "bm25", target_is_directory=True)
    with pytest.raises(IndexFormatError, match="bm25"):
        HybridIndex.load(saved, module_embedder)


def test_fifo_and_dev_zero_are_refused_quickly(saved, tmp_path):
    """A FIFO used to block ``load`` forever; /dev/zero read until MemoryError."""
    fifo_save, zero_save, zero_docs = (tmp_path / n for n in ("fifo", "zero", "zero-docs"))
    for target in (fifo_save, zero_save, zero_docs):
        shutil.copytree(saved, target)
    os.unlink(version_folder(fifo_save) / "manifest.json")
    os.mkfifo(version_folder(fifo_save) / "manifest.json")
    for target, name in ((zero_save, "manifest.json"), (zero_docs, "documents.jsonl")):
        os.unlink(version_folder(target) / name)
        os.symlink("/dev/zero", version_folder(target) / name)

    results = run_loads_in_child([f"attempt({str(p)!r})" for p in (fifo_save, zero_save,
                                                                     zero_docs)])
    print(f"\nhostile files refused in {[round(r['seconds'], 4) for r in results]} s")
    for result, name in zip(results, ("manifest.json", "manifest.json", "documents.jsonl")):
        assert result["outcome"].startswith("embedkit.errors.IndexFormatError"), result
        assert name in result["outcome"]
        assert result["seconds"] < 5
