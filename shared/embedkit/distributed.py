"""Bulk embedding past one machine: Ray Data `map_batches` over a pool of `Embedder` actors.

Every actor builds one `Embedder` from the same plain dict of keyword arguments, so the model is
loaded once per actor and every vector comes from the same prefixes, glossary and fingerprint
(each actor checks its fingerprint against the driver's before embedding anything). Output is
Parquet: ``id`` (string), ``vector`` (fixed-size list of float32) and ``fingerprint``, plus an
``_embedkit.json`` manifest. A rerun after a crash re-embeds nothing that was finished: ids
already in the output are skipped, and whatever was embedded but not yet written is a cache hit
(disk cache shared by the actors on one machine; ``cache="redis://..."`` across machines).

Example:
    >>> from embedkit.distributed import embed_dataset  # doctest: +SKIP
    >>> result = embed_dataset("corpus.jsonl", "vectors/", id_column="_id", actors=4,
    ...     embedder={"cache": "redis://redis:6390/0"})  # doctest: +SKIP
    >>> result.stats.misses, result.rows_written  # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .arguments import check_positive_int
from .extras import require
from .errors import FingerprintMismatchError
from .fingerprint import describe_difference
from .glossary import as_glossary
from .roles import ROLES, Role
from .stats import EmbedStats

if TYPE_CHECKING:
    import pyarrow as pa
    import ray.data

MANIFEST = "_embedkit.json"
"""Written beside the Parquet files; the leading underscore keeps Parquet readers off it."""
OUTPUT_COLUMNS = ("id", "vector", "fingerprint")


@dataclass(frozen=True)
class BulkResult:
    """What one `embed_dataset` run did."""

    output: str
    fingerprint: str
    dimension: int
    role: Role
    rows_written: int
    """Rows this run embedded and wrote."""
    rows_skipped: int
    """Input rows whose id was already in the output (finished by an earlier run)."""
    stats: EmbedStats
    """Summed over all actors: ``misses`` are texts sent to the model, ``hits`` cache hits."""
    seconds: float


def embed_dataset(
    data: ray.data.Dataset | str | Path,
    output: str | Path,
    *,
    embedder: Mapping[str, Any] | None = None,
    id_column: str = "id",
    text_column: str = "text",
    role: Role = "document",
    actors: int = 1,
    batch_size: int = 256,
    num_cpus: float = 1,
    num_gpus: float = 0,
    skip_existing: bool = True,
    rows_per_file: int = 10_000,
    address: str | None = None,
    show_progress: bool = False,
) -> BulkResult:
    """Embed a Ray Dataset (or a Parquet / JSONL path) into Parquet files under ``output``.

    Args:
        data: a ``ray.data.Dataset``, or a path (file or folder) of Parquet or JSON-lines files.
        output: folder for the Parquet parts and the manifest (shared storage on a cluster).
        embedder: `Embedder` keyword arguments (``model``, ``glossary``, ``cache``, ...);
            ``cache`` must be True (each machine's disk cache), False, or a ``redis://`` URL.
        id_column, text_column: input columns; ids are written as strings.
        role: ``"document"`` (default) or ``"query"``.
        actors: size of the actor pool (one model copy each).
        batch_size: rows handed to an actor per call (the `Embedder` batches inside).
        num_cpus, num_gpus: resources each actor reserves (``num_gpus=1``: one GPU per actor).
        skip_existing: skip ids already written under ``output`` by an earlier run.
        rows_per_file: rows gathered into one Parquet part (smaller parts lose less to a crash).
        address: Ray cluster address (``"auto"``, ``"ray://head:10001"``); None starts or joins
            the local one (or ``$RAY_ADDRESS``). Ignored when Ray is already initialized.
        show_progress: a progress bar over rows, with cache hits and model calls.

    Raises:
        FingerprintMismatchError: ``output`` holds vectors from another configuration or role.
        ValueError: a missing column, a bad option, or a null / empty text (named by its id).
    """
    ray = require("ray", extra="distributed")
    config = _actor_config(embedder)
    _check_options(role, actors, batch_size, rows_per_file)
    _ensure_ray(ray, address)
    _warn_if_pool_takes_every_cpu(ray, actors, num_cpus)
    started = time.perf_counter()
    dataset = _as_dataset(ray, data)
    _check_columns(dataset, id_column, text_column)
    fingerprint, dimension, description = _probe(config)

    out = _OutputDir(output)
    out.check_manifest(fingerprint, role, description)
    done_parts = out.finished_parts(fingerprint) if skip_existing else []
    out.write_manifest({"fingerprint": fingerprint, "dimension": dimension, "role": role,
                        "columns": list(OUTPUT_COLUMNS), "embedder": description})

    tally = ray.remote(num_cpus=0)(_Tally).remote()
    # Blocks of at most one batch, streamed: a single big file still feeds every actor.
    embedded = dataset.repartition(target_num_rows_per_block=batch_size).map_batches(
        _EmbedBatches,
        fn_constructor_kwargs={
            "config": config, "role": role, "id_column": id_column, "text_column": text_column,
            "fingerprint": fingerprint, "output": out.uri, "done_parts": done_parts,
            "tally": tally},
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_size=batch_size, batch_format="pyarrow", num_cpus=num_cpus, num_gpus=num_gpus)
    # Writing is I/O: it must not wait for CPUs the actors hold for their whole life.
    write = partial(embedded.write_parquet, out.uri, min_rows_per_file=rows_per_file,
                    ray_remote_args={"num_cpus": 0})
    if show_progress:
        _run_with_progress(ray, write, tally, embedded.context, total=_count_rows(dataset))
    else:
        write()
    totals = ray.get(tally.totals.remote())
    return BulkResult(
        output=out.uri, fingerprint=fingerprint, dimension=dimension, role=role,
        rows_written=totals["rows"], rows_skipped=totals["skipped"],
        stats=EmbedStats(**{f.name: totals[f.name] for f in fields(EmbedStats)}),
        seconds=time.perf_counter() - started)


def read_vectors(output: str | Path) -> pa.Table:
    """Everything `embed_dataset` wrote under ``output``: one table of id, vector, fingerprint."""
    pa = require("pyarrow", extra="distributed")
    pq = require("pyarrow.parquet", extra="distributed")
    out = _OutputDir(output)
    tables = [pq.read_table(path, filesystem=out.fs) for path in out.parquet_files()]
    return pa.concat_tables(tables) if tables else pa.table({n: [] for n in OUTPUT_COLUMNS})


# --------------------------------------------------------------------------- actor side
class _EmbedBatches:
    """One actor of the pool: one `Embedder`, reused for every batch it is handed."""

    def __init__(self, config: dict[str, Any], role: Role, id_column: str, text_column: str,
                 fingerprint: str, output: str, done_parts: list[str], tally: Any) -> None:
        import ray

        from .embedder import Embedder

        self.embedder = Embedder(**config)
        if self.embedder.fingerprint != fingerprint:
            raise FingerprintMismatchError(
                f"an actor on node {ray.get_runtime_context().get_node_id()} built an embedder "
                f"with fingerprint {self.embedder.fingerprint}, the driver {fingerprint}: the "
                "model files or package versions differ between machines")
        self.embed = (self.embedder.embed_queries if role == "query"
                      else self.embedder.embed_documents)
        self.role, self.id_column, self.text_column = role, id_column, text_column
        # Each actor reads the finished ids itself: no id set travels through the driver.
        self.done = _OutputDir(output).ids_in(done_parts)
        self.tally = tally

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc
        import ray

        ids = _ids_as_strings(batch[self.id_column])
        received = len(ids)
        if len(self.done):
            keep = pc.invert(pc.is_in(ids, value_set=self.done))
            batch, ids = batch.filter(keep), ids.filter(keep)
        texts = batch[self.text_column].to_pylist()
        _check_texts(ids, texts)
        before = self.embedder.stats
        vectors = self.embed(texts) if texts else None
        delta = _stats_delta(before, self.embedder.stats)
        # Waited for, so no report is lost when Ray retires this actor right after the batch.
        ray.get(self.tally.add.remote(delta, rows=len(texts), skipped=received - len(texts)))
        dimension = self.embedder.dimension
        flat = pa.array(vectors.reshape(-1) if vectors is not None else [], pa.float32())
        return pa.table({
            "id": ids,
            "vector": pa.FixedSizeListArray.from_arrays(flat, dimension),
            "fingerprint": pa.array([self.embedder.fingerprint] * len(texts), pa.string()),
        })


class _Tally:
    """A tiny Ray actor summing what the embedding actors report (stats, rows, skips)."""

    def __init__(self) -> None:
        self._totals: dict[str, float] = {f.name: 0 for f in fields(EmbedStats)}
        self._totals.update(rows=0, skipped=0)

    def add(self, delta: dict[str, float], *, rows: int, skipped: int) -> None:
        for name, value in delta.items():
            self._totals[name] += value
        self._totals["rows"] += rows
        self._totals["skipped"] += skipped

    def totals(self) -> dict[str, float]:
        return dict(self._totals)


def _stats_delta(before: EmbedStats, after: EmbedStats) -> dict[str, float]:
    return {f.name: getattr(after, f.name) - getattr(before, f.name) for f in fields(EmbedStats)}


def _ids_as_strings(column: Any) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if ids.null_count:
        first = pc.index(pc.is_null(ids), True).as_py()
        raise ValueError(f"the id column has a null id (row {first} of a batch); every row "
                         "needs an id")
    return ids.cast(pa.string())


def _check_texts(ids: pa.Array, texts: list[Any]) -> None:
    """Name bad rows by id, since batch positions mean nothing to the user."""
    bad = [(ids[i].as_py(), text) for i, text in enumerate(texts)
           if not isinstance(text, str) or not text.strip()]
    if bad:
        shown = ", ".join(repr(i) for i, _ in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise ValueError(f"{len(bad)} row(s) have a null or empty text, ids {shown}; "
                         "drop or fill them before embedding")


# --------------------------------------------------------------------------- driver side
def _actor_config(embedder: Mapping[str, Any] | None) -> dict[str, Any]:
    config = dict(embedder or {})
    cache = config.get("cache", True)
    if not isinstance(cache, bool | str):
        raise ValueError(
            "embedder['cache'] must be True (each machine's disk cache), False, or a "
            f"redis:// URL in a distributed run, got {type(cache).__name__}: every actor opens "
            "its own connection from the config")
    if isinstance(config.get("glossary"), str | Path):
        # Read once here, so the nodes need not have the file; same terms, same fingerprint.
        config["glossary"] = as_glossary(config["glossary"]).terms
    # Each actor's own bars would garble the driver's output; the driver shows progress.
    config["show_progress"] = False
    return config


def _check_options(role: str, actors: int, batch_size: int, rows_per_file: int) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be 'document' or 'query', got {role!r}")
    for name, value in (("actors", actors), ("batch_size", batch_size),
                        ("rows_per_file", rows_per_file)):
        check_positive_int(name, value)


def _ensure_ray(ray: Any, address: str | None) -> None:
    if not ray.is_initialized():
        ray.init(address=address)


def _warn_if_pool_takes_every_cpu(ray: Any, actors: int, num_cpus: float) -> None:
    """The actors hold their CPUs for the whole run; the tasks that cut the input into batches
    need one too, or the run waits forever."""
    total = ray.cluster_resources().get("CPU", 0)
    if actors * num_cpus > total - 1:
        warnings.warn(
            f"{actors} actor(s) x {num_cpus} CPU leave less than 1 of this Ray cluster's "
            f"{total:g} CPUs for Ray Data's own tasks; unless the cluster autoscales, the run "
            "can stall. Use fewer actors or a fractional num_cpus (e.g. 0.5)",
            UserWarning, stacklevel=3)


def _as_dataset(ray: Any, data: Any) -> ray.data.Dataset:
    """A Dataset as given, or one read from a local path or URI (``s3://...``) by suffix."""
    if not isinstance(data, str | Path):
        return data
    fs_module = require("pyarrow.fs", extra="distributed")
    location = _absolute(data)
    fs, root = fs_module.FileSystem.from_uri(location)
    info = fs.get_file_info(root)
    if info.type == fs_module.FileType.NotFound:
        raise FileNotFoundError(f"input {location!r} does not exist")
    if info.type == fs_module.FileType.Directory:
        names = [i.base_name for i in fs.get_file_info(fs_module.FileSelector(root))]
    else:
        names = [info.base_name]
    # Reading, like writing, reserves no CPU, so it cannot wait behind the actors' CPUs.
    if any(name.endswith(".parquet") for name in names):
        return ray.data.read_parquet(location, num_cpus=0)
    if any(name.endswith(_JSON_SUFFIXES) for name in names):
        return ray.data.read_json(location, lines=True, num_cpus=0)
    raise ValueError(f"input {location!r} has no .parquet or .jsonl files; pass a "
                     "ray.data.Dataset for other formats")


_JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz")


def _absolute(location: str | Path) -> str:
    """Local paths made absolute (pyarrow needs it); URIs left alone."""
    text = str(location)
    return text if "://" in text else str(Path(text).expanduser().resolve())


def _check_columns(dataset: Any, id_column: str, text_column: str) -> None:
    names = list(dataset.schema().names)
    missing = [c for c in (id_column, text_column) if c not in names]
    if missing:
        raise ValueError(f"column(s) {missing} not in the input; it has {names} (set "
                         "id_column= / text_column=)")


def _probe(config: dict[str, Any]) -> tuple[str, int, dict[str, object]]:
    """Fingerprint, dimension and description from one embedder built on the driver.

    It loads the model once here (on CPU, no cache) so that a bad configuration fails before
    any actor starts, and so every actor can be checked against one fingerprint.
    """
    from .embedder import Embedder

    probe_config = {**config, "cache": False}
    if probe_config.get("device"):
        probe_config["device"] = "cpu"  # the device is not part of the fingerprint
    probe = Embedder(**probe_config)
    return probe.fingerprint, probe.dimension, probe.describe()


def _count_rows(dataset: Any) -> int | None:
    try:
        return int(dataset.count())
    except Exception:  # a count is only for the progress bar; never fail the run over it
        return None


def _run_with_progress(ray: Any, write: Any, tally: Any, context: Any, *,
                       total: int | None) -> None:
    """Run the write in a thread and show the tally's row count as a progress bar."""
    from tqdm.auto import tqdm

    failure: list[BaseException] = []

    def target() -> None:
        try:
            write()
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    # One bar, ours (rows, hits, model calls), instead of Ray Data's per-operator bars.
    ray_bars, context.enable_progress_bars = context.enable_progress_bars, False
    worker = threading.Thread(target=target, name="embedkit-bulk-write", daemon=True)
    try:
        worker.start()
        with tqdm(total=total, desc="embedding", unit="row") as bar:
            while worker.is_alive():
                worker.join(timeout=0.5)
                _show(bar, ray.get(tally.totals.remote()))
    finally:
        context.enable_progress_bars = ray_bars
    if failure:
        raise failure[0]


def _show(bar: Any, totals: dict[str, float]) -> None:
    bar.n = int(totals["rows"] + totals["skipped"])
    bar.set_postfix(hits=int(totals["hits"]), model=int(totals["misses"]),
                    skipped=int(totals["skipped"]), refresh=False)
    bar.refresh()


class _OutputDir:
    """The output folder: Parquet parts from every run, and the manifest."""

    def __init__(self, output: str | Path) -> None:
        fs_module = require("pyarrow.fs", extra="distributed")
        self.uri = text = _absolute(output)
        self.fs, self.root = fs_module.FileSystem.from_uri(text)
        self._fs_module = fs_module

    def parquet_files(self) -> list[str]:
        info = self.fs.get_file_info(self._fs_module.FileSelector(self.root, allow_not_found=True))
        return sorted(i.path for i in info
                      if i.type == self._fs_module.FileType.File and i.path.endswith(".parquet"))

    def finished_parts(self, fingerprint: str) -> list[str]:
        """Parts written by earlier runs; an unreadable one (a write cut off by a crash) is
        removed, so its rows are written again (from the cache)."""
        pq = require("pyarrow.parquet", extra="distributed")
        parts: list[str] = []
        for path in self.parquet_files():
            try:
                table = pq.read_table(path, columns=["fingerprint"], filesystem=self.fs)
            except Exception as exc:  # noqa: BLE001 - any unreadable part is a partial write
                warnings.warn(f"removing unreadable output part {path} ({exc}); its rows will "
                              "be written again (from the cache)", UserWarning, stacklevel=3)
                self.fs.delete_file(path)
                continue
            others = set(table["fingerprint"].unique().to_pylist()) - {fingerprint}
            if others:
                raise FingerprintMismatchError(
                    f"{path} holds vectors with fingerprint {sorted(others)[0]}, this run's "
                    f"embedder has {fingerprint}; write to another output folder")
            parts.append(path)
        return parts

    def ids_in(self, parts: list[str]) -> pa.Array:
        """The distinct ids in these parts, as one string array."""
        pa = require("pyarrow", extra="distributed")
        pq = require("pyarrow.parquet", extra="distributed")
        if not parts:
            return pa.array([], pa.string())
        ids = [pq.read_table(p, columns=["id"], filesystem=self.fs)["id"] for p in parts]
        return pa.chunked_array([c for column in ids for c in column.chunks],
                                pa.string()).unique()

    def check_manifest(self, fingerprint: str, role: Role,
                       description: Mapping[str, Any]) -> None:
        manifest = self.read_manifest()
        if manifest is None:
            return
        if manifest.get("fingerprint") != fingerprint:
            raise FingerprintMismatchError(
                f"{self.uri} was written by an embedder with other settings: "
                f"{describe_difference(manifest.get('embedder'), description)} (fingerprint "
                f"{manifest.get('fingerprint')} vs {fingerprint}); write to another output "
                "folder")
        if manifest.get("role") != role:
            raise FingerprintMismatchError(
                f"{self.uri} holds {manifest.get('role')} vectors, this run embeds {role}s; "
                "write to another output folder")

    def read_manifest(self) -> dict[str, Any] | None:
        path = f"{self.root}/{MANIFEST}"
        if self.fs.get_file_info(path).type != self._fs_module.FileType.File:
            return None
        with self.fs.open_input_stream(path) as stream:
            return json.loads(stream.read().decode("utf-8"))

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self.fs.create_dir(self.root, recursive=True)
        with self.fs.open_output_stream(f"{self.root}/{MANIFEST}") as stream:
            stream.write(json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8"))


__all__ = ["BulkResult", "embed_dataset", "read_vectors"]
