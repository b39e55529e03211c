"""Reading a saved index folder as untrusted input: bounded, validated, never pickled.

A save folder may come from another machine, a broken copy or an attacker. Everything read from
it goes through `SaveFolder`, which

- opens only regular files and real subfolders, never a symlink, FIFO or device
  (`embedkit.atomic_dir.open_regular_file`);
- bounds small JSON files (``manifest.json``, settings) by size and refuses NaN/Infinity;
- parses a ``.npy`` header and checks dtype, shape and byte count against what the other files
  imply *before* reading any data (no pickle, no object arrays, no read past the file);

and `read_manifest` checks every setting against what `HybridIndex.save` writes. Any problem
raises `embedkit.errors.IndexFormatError` naming the file. The folder protocol (``CURRENT``,
versions, the save lock) lives in `embedkit.atomic_dir`.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import stat
from collections.abc import Collection, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..atomic_dir import open_regular_file
from ..errors import IndexFormatError
from .feedback import FEEDBACK_MODES, Feedback
from .hnsw import check_ann
from .fusion import FUSIONS, AutoAlpha
from .policy import SearchPolicy

MANIFEST = "manifest.json"
DOCUMENTS = "documents.jsonl"
VECTORS = "vectors.npy"
BM25_FOLDER = "bm25"
DOCUMENTS_FOLDER = "documents"
VECTORS_FOLDER = "vectors"
INDEX_FORMAT = 2  # 2: rows with tombstones, column chunks, BM25 segments; 1 still read
READABLE_FORMATS = (1, 2)
VECTOR_MODES = ("float32", "int8", "binary")  # embedkit.retrieval.vectors's modes
SMALL_JSON_LIMIT = 1 << 20   # settings files: bytes
MANIFEST_LIMIT = 64 << 20    # the manifest holds the tokenizer's glossary and stopwords
_TOP_KEYS = ("format", "fingerprint", "embedder", "count", "settings", "auto", "tokenizer")
_SETTING_KEYS = ("fusion", "alpha", "rrf_k", "candidates", "store_vectors")
# Written by newer saves only; a save without them loads with the defaults.
_OPTIONAL_TOP_KEYS = ("policy", "extra")
_OPTIONAL_SETTING_KEYS = ("feedback", "vectors", "rescore", "ann", "ann_min_rows", "ef_search")


class SaveFolder:
    """Read-only, validated access to the files under one folder of a save.

    Args:
        root: the folder (a version folder, or a subfolder reached through `folder`).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def error(self, name: str, problem: str) -> IndexFormatError:
        """An `IndexFormatError` naming ``name`` inside this folder."""
        return IndexFormatError(f"{self.root / name}: {problem}")

    def has(self, name: str) -> bool:
        return os.path.lexists(self.root / name)

    def folder(self, name: str) -> SaveFolder:
        """A subfolder; refused when missing, a symlink or not a folder."""
        try:
            mode = os.lstat(self.root / name).st_mode
        except FileNotFoundError:
            raise self.error(name, "missing") from None
        if stat.S_ISLNK(mode):
            raise self.error(name, "is a symlink; a save holds real folders")
        if not stat.S_ISDIR(mode):
            raise self.error(name, "is not a folder")
        return SaveFolder(self.root / name)

    def open(self, name: str) -> BinaryIO:
        try:
            return open_regular_file(self.root / name)
        except FileNotFoundError:
            raise self.error(name, "missing") from None
        except OSError as exc:
            raise self.error(name, f"cannot be read ({exc.strerror})") from None

    def read_json(self, name: str, limit: int | None = SMALL_JSON_LIMIT) -> Any:
        """The JSON value of a file (at most ``limit`` bytes; None: any regular file)."""
        with self.open(name) as fh:
            data = fh.read() if limit is None else fh.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise self.error(name, f"over {limit} bytes; not a file save writes")
        return self._parse_json(name, data)

    def read_json_lines(self, name: str) -> Iterator[tuple[int, Any]]:
        """(1-based line number, JSON value) of each line of a JSON Lines file."""
        with self.open(name) as fh:
            for number, line in enumerate(fh, start=1):
                yield number, self._parse_json(name, line, f"line {number}: ")

    def read_array(self, name: str, dtype: Any, shape: tuple[int | None, ...], *,
                   mmap_data: bool = False, random_access: bool = False) -> np.ndarray:
        """A ``.npy`` array of exactly ``dtype`` and ``shape`` (None: any length there).

        The header is checked first, so a hostile header never makes us read or allocate more
        than the file holds. ``mmap_data``: map the (already opened and checked) file
        read-only instead of reading it, so pages load on use and are shared between
        processes. ``random_access``: the map is read a row here and there (vectors to
        re-score, hit texts), so the kernel is told not to read ahead from disk around each
        1.5 KB row. Measured on a 1M binary index with the page cache dropped: the first
        search took 0.27-0.33 s against 1.5-2.2 s with read-ahead, and 100 MB were mapped
        after 20 searches against 740 MB; those 20 searches, still cold, took 118-147 ms
        each against 33 ms (read-ahead had pulled their rows in). Warm, no difference.
        """
        with self.open(name) as fh:
            got_shape, fortran, got_dtype = self._npy_header(name, fh)
            if got_dtype != np.dtype(dtype):
                raise self.error(name, f"holds {got_dtype}, expected {np.dtype(dtype)}")
            if len(got_shape) != len(shape) or any(
                    want is not None and got != want for got, want in zip(got_shape, shape)):
                wanted = tuple("any" if w is None else w for w in shape)
                raise self.error(name, f"has shape {got_shape}, expected {wanted}")
            nbytes = math.prod(got_shape) * got_dtype.itemsize
            remaining = os.fstat(fh.fileno()).st_size - fh.tell()
            if remaining != nbytes:
                raise self.error(name, f"holds {remaining} data bytes, its header says {nbytes} "
                                 "(truncated or padded)")
            if mmap_data:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                if random_access and hasattr(mapped, "madvise"):
                    mapped.madvise(mmap.MADV_RANDOM)
                array = np.frombuffer(mapped, dtype=got_dtype, count=math.prod(got_shape),
                                      offset=fh.tell())
                return array.reshape(got_shape, order="F" if fortran else "C")
            buffer = bytearray(nbytes)
            if fh.readinto(buffer) != nbytes:
                raise self.error(name, "changed while being read")
        return np.frombuffer(buffer, dtype=got_dtype).reshape(got_shape,
                                                                order="F" if fortran else "C")

    def _npy_header(self, name: str, fh: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
        fmt = np.lib.format
        try:
            version = fmt.read_magic(fh)
            if version == (1, 0):
                header = fmt.read_array_header_1_0(fh)
            elif version == (2, 0):
                header = fmt.read_array_header_2_0(fh)
            else:
                raise ValueError(f"npy format version {version}")
        except Exception as exc:  # numpy's header parser raises many kinds (tokenize too)
            raise self.error(name, f"not a .npy array save writes ({exc})"[:300]) from None
        shape, fortran, dtype = header
        if dtype.hasobject or dtype.fields is not None:
            raise self.error(name, f"holds {dtype}, not plain numbers")
        return tuple(shape), bool(fortran), dtype

    def _parse_json(self, name: str, data: bytes, where: str = "") -> Any:
        try:
            return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        except UnicodeDecodeError as exc:
            raise self.error(name, f"{where}not UTF-8 ({exc.reason})") from None
        except (ValueError, RecursionError) as exc:
            raise self.error(name, f"{where}not valid JSON ({exc})"[:300]) from None


def read_manifest(folder: SaveFolder) -> dict[str, Any]:
    """``manifest.json`` of a version folder, every field checked against what save writes.

    The tokenizer section is checked by `embedkit.retrieval.tokenizer.Tokenizer.from_dict`.
    """
    manifest = folder.read_json(MANIFEST, MANIFEST_LIMIT)
    check = Checker(folder, MANIFEST)
    check.that(isinstance(manifest, dict), "the manifest is not a JSON object")
    check.that(manifest.get("format") in READABLE_FORMATS,
               f"unsupported index format {manifest.get('format')!r} (this version reads "
               f"{READABLE_FORMATS})")
    version2 = manifest["format"] == 2
    check.keys(manifest, (*_TOP_KEYS, *(("documents",) if version2 else ())), "the manifest",
               optional=(*_OPTIONAL_TOP_KEYS, *(("vectors",) if version2 else ())))
    check.that(isinstance(manifest["fingerprint"], str) and manifest["fingerprint"] != "",
               "fingerprint must be a non-empty string")
    check.that(isinstance(manifest["embedder"], dict), "embedder must be an object")
    check.integer(manifest["count"], "count", minimum=0)
    _check_settings(check, manifest["settings"])
    if version2:
        _check_chunks(check, manifest["documents"], "documents")
        if "vectors" in manifest:
            _check_vectors_entry(check, manifest["vectors"])
    _check_auto(check, manifest["auto"])
    if "policy" in manifest:
        _check_policy(check, manifest["policy"])
    check.that(isinstance(manifest["tokenizer"], dict), "tokenizer must be an object")
    check.that(isinstance(manifest.get("extra", {}), dict), "extra must be an object")
    return manifest


def read_documents(folder: SaveFolder, count: int) -> tuple[list[str], list[str], list[dict]]:
    """(ids, texts, metadatas) from ``documents.jsonl``: ``count`` rows, unique non-empty ids."""
    ids: list[str] = []
    texts: list[str] = []
    metadatas: list[dict] = []
    lines: dict[str, int] = {}
    for number, row in folder.read_json_lines(DOCUMENTS):
        check = Checker(folder, DOCUMENTS, f"line {number}: ")
        check.keys(row, ("id", "text", "metadata"), "a document")
        doc_id = row["id"]
        check.that(isinstance(doc_id, str) and doc_id != "", f"id {doc_id!r} is not a "
                   "non-empty string")
        check.that(doc_id not in lines, f"id {doc_id!r} already on line {lines.get(doc_id)}")
        check.that(isinstance(row["text"], str), "text is not a string")
        check.that(isinstance(row["metadata"], dict), "metadata is not an object")
        lines[doc_id] = number
        ids.append(doc_id)
        texts.append(row["text"])
        metadatas.append(row["metadata"])
    if len(ids) != count:
        raise folder.error(DOCUMENTS, f"{len(ids)} documents, the manifest says {count}")
    return ids, texts, metadatas


def read_vectors(folder: SaveFolder, count: int, dimension: int) -> np.ndarray:
    """The ``(count, dimension)`` float32 matrix; a NaN or infinite row is refused."""
    matrix = folder.read_array(VECTORS, np.float32, (count, dimension))
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise folder.error(VECTORS, f"{bad.size} row(s) hold NaN or infinity (rows "
                           f"{bad[:10].tolist()})")
    return matrix


class Checker:
    """Raises `IndexFormatError` naming one file (and a line) when a check fails."""

    def __init__(self, folder: SaveFolder, name: str, where: str = "") -> None:
        self.folder, self.name, self.where = folder, name, where

    def that(self, condition: bool, problem: str) -> None:
        if not condition:
            raise self.folder.error(self.name, self.where + problem)

    def keys(self, value: Any, expected: Collection[str], what: str,
             optional: Collection[str] = ()) -> None:
        """``value`` is a JSON object with every ``expected`` key, and no key but those and
        ``optional`` ones."""
        self.that(isinstance(value, dict), f"{what} is not a JSON object")
        missing = [k for k in expected if k not in value]
        unknown = sorted(str(k) for k in value if k not in expected and k not in optional)
        self.that(not missing, f"{what} lacks {missing}")
        self.that(not unknown, f"{what} has keys save never writes: {unknown[:10]}")

    def number(self, value: Any, name: str, low: float, high: float) -> None:
        ok = (isinstance(value, int | float) and not isinstance(value, bool)
              and math.isfinite(value) and low <= value <= high)
        self.that(ok, f"{name} must be a number in [{low}, {high}], got {value!r}")

    def integer(self, value: Any, name: str, minimum: int) -> None:
        self.that(isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
                  f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_settings(check: Checker, settings: Any) -> None:
    check.keys(settings, _SETTING_KEYS, "settings", optional=_OPTIONAL_SETTING_KEYS)
    check.that(settings["fusion"] in FUSIONS, f"settings.fusion must be one of {FUSIONS}, "
               f"got {settings['fusion']!r}")
    check.number(settings["alpha"], "settings.alpha", 0.0, 1.0)
    check.number(settings["rrf_k"], "settings.rrf_k", 0.0, math.inf)
    check.integer(settings["candidates"], "settings.candidates", minimum=1)
    check.that(isinstance(settings["store_vectors"], bool), "settings.store_vectors must be "
               f"true or false, got {settings['store_vectors']!r}")
    check.that(settings.get("vectors", "float32") in VECTOR_MODES,
               f"settings.vectors must be one of {VECTOR_MODES}")
    rescore = settings.get("rescore")
    check.that(rescore is None or (isinstance(rescore, int) and not isinstance(rescore, bool)
                                   and rescore >= 1),
               "settings.rescore must be null or an integer >= 1")
    try:
        check_ann(settings.get("ann"), settings.get("ann_min_rows", 0),
                  settings.get("ef_search", 1))
    except ValueError as exc:
        check.that(False, f"settings: {exc}")
    feedback = settings.get("feedback")
    check.that(feedback is None or feedback in FEEDBACK_MODES,
               f"settings.feedback must be null or one of {FEEDBACK_MODES}, got {feedback!r}")


def _check_chunks(check: Checker, chunks: Any, what: str) -> None:
    check.that(isinstance(chunks, list), f"{what} must be a list of chunks")
    for i, chunk in enumerate(chunks):
        check.keys(chunk, ("name", "rows"), f"{what}[{i}]")
        check.that(isinstance(chunk["name"], str) and chunk["name"].isalnum()
                   and chunk["name"].isascii(), f"{what}[{i}].name is not a plain file name")
        check.integer(chunk["rows"], f"{what}[{i}].rows", minimum=0)


def _check_vectors_entry(check: Checker, entry: Any) -> None:
    check.keys(entry, ("mode", "rescore", "chunks"), "vectors", optional=("ann",))
    check.that(entry.get("ann") is None or isinstance(entry["ann"], dict),
               "vectors.ann must be null or an object")
    check.that(entry["mode"] in VECTOR_MODES, f"vectors.mode must be one of {VECTOR_MODES}")
    check.integer(entry["rescore"], "vectors.rescore", minimum=1)
    _check_chunks(check, entry["chunks"], "vectors.chunks")


def _check_auto(check: Checker, auto: Any) -> None:
    check.keys(auto, [f.name for f in fields(AutoAlpha)], "auto")
    for name in ("dense_alpha", "lexical_alpha", "word_weight"):
        check.number(auto[name], f"auto.{name}", 0.0, 1.0)
    check.integer(auto["keyword_length"], "auto.keyword_length", minimum=1)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number save writes")


def _check_policy(check: Checker, policy: Any) -> None:
    check.keys(policy, [f.name for f in fields(SearchPolicy)], "policy")
    for name in ("dense_alpha", "agreement_alpha", "lexical_alpha"):
        check.number(policy[name], f"policy.{name}", 0.0, 1.0)
    check.number(policy["feedback_max_code"], "policy.feedback_max_code", 0.0, 1.01)
    check.integer(policy["agreement_depth"], "policy.agreement_depth", minimum=1)
    feedback = policy["feedback"]
    check.keys(feedback, [f.name for f in fields(Feedback)], "policy.feedback")
    check.integer(feedback["depth"], "policy.feedback.depth", minimum=1)
    check.integer(feedback["terms"], "policy.feedback.terms", minimum=1)
    check.number(feedback["beta"], "policy.feedback.beta", 0.0, 10.0)
    check.number(feedback["weight"], "policy.feedback.weight", 0.0, 1.0)
