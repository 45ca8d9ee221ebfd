"""Audio read in place from the source's parquet files: the metadata is loaded, the audio bytes are never copied.

Why: `datasets.load_dataset("parquet")` writes every audio byte of the Hub's exports into its Arrow cache (a second
copy as large as the raw data). Here only the non-audio columns are read; each Audio cell becomes the reference
`<file>::<column>::<row>::<original file name>` (in the Audio dict's `path`, bytes None), which `xtreme_s.audio`
resolves through a per-process reader. Parquet reads whole row groups (the Hub's audio exports hold about 100 rows,
tens of MB, per group), so the reader keeps the last groups it read in a memory-bounded LRU; reading in
row-group-aware order (`xtreme_s.sampling`, `--shuffle_window_row_groups`) then reads each group about once per
epoch. Hand-written because neither datasets nor pyarrow offers random row access with such a cache.
"""

from __future__ import annotations

import logging
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

CACHE_ENV = "XTREME_S_ROW_GROUP_CACHE_MB"  # an environment variable, so DataLoader workers (fork or spawn) see it
DEFAULT_CACHE_MB = 1024  # as --row_group_cache_mb
MAX_OPEN_FILES = 64
FORMAT_VERSION = 1  # of the metadata files and references; bump to invalidate cached metadata
REF = re.compile(r"^(?P<file>.+?\.parquet)::(?P<column>[^:]+)::(?P<row>\d+)::(?P<name>.*)$", re.S)


class ParquetAudioError(RuntimeError):
    """A referenced row cannot be read (file gone, row out of range, no audio in the cell)."""


def make_ref(file: str, column: str, row: int, name: str | None) -> str:
    return f"{file}::{column}::{row}::{name or ''}"


def parse_ref(path: Any) -> tuple[str, str, int, str] | None:
    """(parquet file, column, row, original name) of a reference, or None for an ordinary path."""
    m = REF.match(path) if isinstance(path, str) else None
    return (m["file"], m["column"], int(m["row"]), m["name"]) if m else None


def configure(cache_mb: float | None) -> None:
    """Set the row-group cache size (MiB per process) for this process and the processes it starts."""
    if cache_mb is not None:
        os.environ[CACHE_ENV] = str(cache_mb)
        if _reader is not None:
            _reader.max_bytes = int(float(cache_mb) * 2**20)


class RowGroupReader:
    """Rows of parquet files by (file, row): whole row groups read and kept in an LRU bounded by bytes.

    One per process: after a fork (DataLoader workers) the child starts afresh with its own file handles.
    """

    def __init__(self, max_bytes: int | None = None):
        if max_bytes is None:
            max_bytes = int(float(os.environ.get(CACHE_ENV, DEFAULT_CACHE_MB)) * 2**20)
        self.max_bytes = max_bytes
        self.pid = os.getpid()
        self.files: OrderedDict[str, tuple[pq.ParquetFile, np.ndarray]] = OrderedDict()
        self.groups: OrderedDict[tuple[str, str, int], tuple[pa.StructArray, int]] = OrderedDict()
        self.cached_bytes = 0
        self.group_reads = 0  # row groups read from disk (the cost to keep low)
        self.rows_read = 0

    def _file(self, file: str) -> tuple[pq.ParquetFile, np.ndarray]:
        entry = self.files.get(file)
        if entry is None:
            try:
                pf = pq.ParquetFile(file)
            except Exception as err:
                raise ParquetAudioError(f"cannot open {file}: {err}") from err
            md = pf.metadata
            starts = np.cumsum([0] + [md.row_group(i).num_rows for i in range(md.num_row_groups)])
            entry = self.files[file] = (pf, starts)
            if len(self.files) > MAX_OPEN_FILES:
                self.files.popitem(last=False)  # its cached groups stay valid; the file re-opens when needed
        else:
            self.files.move_to_end(file)
        return entry

    def locate(self, file: str, row: int) -> tuple[int, int]:
        """(row group, position in it) of a row."""
        _, starts = self._file(file)
        if not 0 <= row < starts[-1]:
            raise ParquetAudioError(f"{file} has {starts[-1]} rows, no row {row}")
        group = int(np.searchsorted(starts, row, side="right")) - 1
        return group, row - int(starts[group])

    def read(self, file: str, column: str, row: int) -> tuple[bytes | None, str | None]:
        """The (bytes, path) of one Audio cell."""
        if os.getpid() != self.pid:  # forked: never share file handles or buffers with the parent
            self.__init__(self.max_bytes)
        group, pos = self.locate(file, row)
        key = (file, column, group)
        entry = self.groups.get(key)
        if entry is None:
            pf, _ = self._file(file)
            try:
                table = pf.read_row_group(group, columns=[column], use_threads=False)
            except Exception as err:
                raise ParquetAudioError(f"cannot read column {column!r} of row group {group} of {file}: {err}") from err
            cells = table.column(column).combine_chunks()
            entry = (cells, cells.nbytes)
            self.group_reads += 1
            self.groups[key] = entry
            self.cached_bytes += entry[1]
            while self.cached_bytes > self.max_bytes and len(self.groups) > 1:
                _, (_, nbytes) = self.groups.popitem(last=False)
                self.cached_bytes -= nbytes
        else:
            self.groups.move_to_end(key)
        self.rows_read += 1
        cell = entry[0][pos]
        if not cell.is_valid:
            return None, None
        if not pa.types.is_struct(cell.type):  # a plain bytes column
            return cell.as_py(), None
        data = cell["bytes"].as_py() if "bytes" in cell.keys() else None
        path = cell["path"].as_py() if "path" in cell.keys() else None
        return data, path


_reader: RowGroupReader | None = None


def reader() -> RowGroupReader:
    """This process's reader."""
    global _reader
    if _reader is None or _reader.pid != os.getpid():
        _reader = RowGroupReader()
    return _reader


def reset(max_bytes: int | None = None) -> RowGroupReader:
    """A fresh reader for this process (empty cache, zeroed counters): benchmarks and tests."""
    global _reader
    _reader = RowGroupReader(max_bytes)
    return _reader


def read_ref(path: str) -> tuple[bytes | None, str | None]:
    """(bytes, original path) of the Audio cell a reference names."""
    ref = parse_ref(path)
    if ref is None:
        raise ParquetAudioError(f"{path!r} is not a parquet audio reference")
    file, column, row, _ = ref
    return reader().read(file, column, row)


# -- loading ---------------------------------------------------------------------------------------------------


def _audio_columns(features: Any) -> list[str]:
    from datasets import Audio

    return [name for name, feature in features.items() if isinstance(feature, Audio)]


def _has_bytes(md: pq.FileMetaData, group: int, column: str) -> bool:
    """False only when the footer's statistics prove every `bytes` of the group is null (path-only audio)."""
    rg = md.row_group(group)
    for j in range(rg.num_columns):
        chunk = rg.column(j)
        if chunk.path_in_schema == f"{column}.bytes":
            stats = chunk.statistics
            return not (stats is not None and stats.has_null_count and stats.null_count == rg.num_rows)
    return False  # no bytes field at all


def metadata_table(file: str, features: Any) -> pa.Table:
    """All columns of one local parquet file, each Audio column replaced by references (no audio bytes read)."""
    audio = _audio_columns(features)
    pf = pq.ParquetFile(file)
    names = pf.schema_arrow.names
    other = [n for n in names if n not in audio]
    table = pf.read(columns=other, use_threads=False)
    n = pf.metadata.num_rows
    starts = np.cumsum([0] + [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)])
    columns = {name: table.column(name) for name in other}
    file = os.path.abspath(file)
    for col in audio:
        plain = not pa.types.is_struct(pf.schema_arrow.field(col).type)  # encoded audio as plain bytes
        if plain:
            originals: list[str | None] = [None] * n
        else:
            names_in_file = pf.read(columns=[f"{col}.path"], use_threads=False).column(col).combine_chunks()
            originals = names_in_file.field("path").to_pylist() if names_in_file.type.num_fields else [None] * n
        paths: list[str | None] = []
        for group in range(len(starts) - 1):
            rows = range(int(starts[group]), int(starts[group + 1]))
            if plain or _has_bytes(pf.metadata, group, col):
                paths += [make_ref(file, col, r, originals[r]) for r in rows]
            else:  # the cell names an audio file on disk: keep it as it is
                paths += [originals[r] for r in rows]
        columns[col] = pa.StructArray.from_arrays([pa.nulls(n, pa.binary()), pa.array(paths, pa.string())],
                                                  names=["bytes", "path"])
    return pa.table({name: columns[name] for name in names})


def metadata_dataset(files: Sequence[str], features: Any, cache_dir: str | os.PathLike) -> Any:
    """A `datasets.Dataset` of `metadata_table`s, memory-mapped from `<cache_dir>/xtreme_s_parquet_metadata/`.

    The file is named by the source files (path, size, modification time) and the features, so every process of a
    run (and a later run) finds it, and `datasets` fingerprints maps over it the same way everywhere.
    """
    import hashlib
    import json

    import datasets

    stamp = [(os.path.abspath(f), os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
    key = hashlib.sha256(json.dumps([FORMAT_VERSION, stamp, features.to_dict()], sort_keys=True,
                                    default=str).encode()).hexdigest()[:32]
    path = os.path.join(os.fspath(cache_dir), "xtreme_s_parquet_metadata", f"{key}.arrow")
    if not os.path.exists(path):
        tables = [metadata_table(f, features) for f in files]
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")
        table = table.cast(features.arrow_schema)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)  # atomic: a process never sees a half-written file
    return datasets.Dataset.from_file(path, info=datasets.DatasetInfo(features=features))


def row_group_keys(paths: Sequence[str | None], pseudo_group_rows: int = 100) -> np.ndarray | None:
    """One integer per row naming its (file, row group), numbered in order of first appearance; None when no row
    is a parquet reference. Rows that are not references get pseudo-groups of `pseudo_group_rows` rows."""
    refs = [parse_ref(p) for p in paths]
    if not any(refs):
        return None
    r = reader()
    ids: dict[tuple[str, int], int] = {}
    keys = np.empty(len(refs), dtype=np.int64)
    plain = 0
    for i, ref in enumerate(refs):
        if ref is None:
            key: tuple = ("", plain // pseudo_group_rows)
            plain += 1
        else:
            key = (ref[0], r.locate(ref[0], ref[2])[0])
        keys[i] = ids.setdefault(key, len(ids))
    return keys


def dataset_row_group_keys(dataset: Any) -> np.ndarray | None:
    """`row_group_keys` of a SpeechDataset-like object (its `audio` table), computed once per object."""
    cached = getattr(dataset, "_xtreme_s_row_groups", False)
    if cached is not False:
        return cached
    data = getattr(dataset, "audio", None)
    keys = None
    if data is not None and "audio" in getattr(data, "column_names", ()):
        cells = data.select_columns(["audio"]).with_format("arrow")[:]["audio"].combine_chunks()
        keys = row_group_keys(cells.field("path").to_pylist())
    try:
        dataset._xtreme_s_row_groups = keys
    except AttributeError:
        pass
    return keys
