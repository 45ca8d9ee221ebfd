"""The original files of FLEURS and VoxPopuli (tar shards + TSV transcripts on the repositories' `main`), converted
once into the parquet layout the runner reads in place.

Why: the Hub deletes a dataset's `refs/convert/parquet` branch on any non-trivial push to `main` and no longer
converts script datasets, so for google/fleurs and facebook/voxpopuli the export may vanish for good, while the
original files stay. A `.tar.gz` shard cannot be read at random, so each one is streamed once into a local parquet
file with the Hub export's columns and features (`<split>/NNNN.parquet`, about 100 rows per row group): the raw data
in another container, not a waveform cache. One output file per input shard, written atomically, makes the
conversion resumable; a file lock lets the first process of a torchrun job convert while the others wait, and later
runs reuse the result. Hand-written: neither datasets (scripts refused since 4.0) nor pyarrow reads these layouts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import pyarrow.parquet as pq

from .. import atomic

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1  # of the converted files; bump to reconvert
ROWS_PER_GROUP = 100  # as the Hub's audio exports
COMPLETE = "_complete.json"


class RawLayoutError(RuntimeError):
    """A raw file is malformed (wrong TSV field count, unreadable tar)."""


def conversion_dir(cache_dir: str | os.PathLike, repo: str, language: str, split: str,
                   sources: Sequence[str]) -> Path:
    """Where one language/split is converted: named by its source files (path, size, mtime), so a changed source
    is converted afresh and every process of a run finds the same folder."""
    stamp = [(os.path.abspath(f), os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in sources]
    key = hashlib.sha256(json.dumps([FORMAT_VERSION, repo, language, split, stamp]).encode()).hexdigest()[:24]
    return Path(cache_dir) / "xtreme_s_raw" / repo.replace("/", "--") / language / split / key


def convert_shards(shards: Sequence[str], dest: Path, features: datasets.Features,
                   row_for: Callable[[str, bytes], dict[str, Any] | None], desc: str) -> tuple[list[str], dict]:
    """Stream each tar shard into `dest/NNNN.parquet` (rows in archive order, as the original loaders yielded them).

    `row_for(member_name, audio_bytes)` returns the row for a member, or None for a member without a transcript.
    Returns the parquet files and a summary {rows, members_without_transcript}. Safe to call from every process:
    the first converts under a file lock, the others wait and read.
    """
    from filelock import FileLock
    from tqdm.auto import tqdm

    dest.mkdir(parents=True, exist_ok=True)
    outputs = [str(dest / f"{i:04d}.parquet") for i in range(len(shards))]
    with FileLock(str(dest) + ".lock"):
        done = dest / COMPLETE
        if done.is_file():
            return outputs, json.loads(done.read_text())
        todo = [i for i, out in enumerate(outputs) if not os.path.exists(out)]
        if len(todo) < len(shards):
            logger.info("%s: resuming, %d of %d shards already converted", desc, len(shards) - len(todo), len(shards))
        summary = {"rows": 0, "members_without_transcript": 0}
        for i in tqdm(todo, desc=desc, unit="shard", disable=not todo):
            rows, skipped = _convert_one(shards[i], row_for)
            summary["members_without_transcript"] += skipped
            table = pa.Table.from_pylist(rows, schema=features.arrow_schema)
            tmp = f"{outputs[i]}.{os.getpid()}.tmp"
            pq.write_table(table, tmp, row_group_size=ROWS_PER_GROUP)
            os.replace(tmp, outputs[i])  # atomic: an interrupted run leaves no half-written shard behind
        summary["rows"] = sum(pq.read_metadata(out).num_rows for out in outputs)
        atomic.write_text(done, json.dumps(summary))
    return outputs, summary


def _convert_one(shard: str, row_for: Callable[[str, bytes], dict[str, Any] | None]) -> tuple[list[dict], int]:
    rows, skipped = [], 0
    try:
        with tarfile.open(shard, mode="r|*") as tar:  # streamed: shards are read front to back once
            for member in tar:
                if not member.isfile():
                    continue
                f = tar.extractfile(member)
                row = row_for(member.name, f.read() if f is not None else b"")
                if row is None:
                    skipped += 1
                else:
                    rows.append(row)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise RawLayoutError(f"cannot read the tar shard {shard}: {err}") from err
    return rows, skipped
