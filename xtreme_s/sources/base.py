"""The adapter base and the common schema every source is mapped to.

Common schema, one row per utterance: `id` (str), `language` (str), `audio` ({bytes, path}, never decoded
here), `duration` (seconds, from metadata or file headers; -1 where the header is unreadable), `target` (the
column the task predicts), plus the XTREME-S columns the source has (`transcription`, `translation`,
`intent_class`, `lang_id`, ...) and optional `segment_start` / `segment_end` (seconds) for sources cut from
long recordings.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datasets
from datasets import Dataset

from ..audio import AudioDecodeError, audio_info
from ..errors import UserError

SPLITS = ("train", "validation", "test")
MIRROR_ENV = "XTREME_S_MIRROR_ROOT"
LAYOUTS = ("auto", "parquet", "raw")
# The bundled mini benchmark (a Hub mirror, hand-downloaded layouts and tiny models), read by --mini.
MINI_ROOT = Path(__file__).resolve().parents[2] / "mini_benchmark"


class SourceError(UserError, RuntimeError):
    """The data cannot be found or read; the message says what to download and where to put it."""


class LanguageUnavailable(SourceError):
    """This source does not publish this language (e.g. MLS English is not in facebook/multilingual_librispeech)."""


class HubFilesNotFound(SourceError):
    """A layout is not there (no file matches, or the revision, e.g. a deleted parquet branch, does not exist)."""


@dataclass
class LoadContext:
    """What adapters need from the command line."""

    mirror_root: str | None = None
    data_dir: str | None = None
    revision: str | None = None  # overrides the adapter's pinned revision
    cache_dir: str | None = None
    token: str | bool | None = None
    num_proc: int | None = None
    # "auto": the parquet files, else the original tar shards + TSVs (FLEURS, VoxPopuli); "parquet"; "raw".
    source_layout: str = "auto"
    mls_english_train_ids: str | None = None  # file of MLS English 9-hour training ids (parler-tts/mls_eng has none)
    splits: tuple[str, ...] = ()  # every split this run loads (set by load_splits)
    record: dict = field(default_factory=dict)  # files, revisions and layouts actually read, for results.json
    resolved: dict = field(default_factory=dict)  # (repo, requested revision) -> commit, resolved once per run
    allow_skipping: bool = False  # --allow_skipping_eval_items: evaluation rows may be left out (and counted)
    train_split: str | None = "train"  # the split trained on: its rows may always be left out (and counted)
    skipped: dict = field(default_factory=dict)  # split -> reason -> rows the sources left out, for results.json
    # A second read of a folder for some of its languages (retrieval keys): the other rows are read and scored by
    # the run's main load, so they are left out here without counting.
    select_languages: bool = False

    @property
    def mirror(self) -> str | None:
        return self.mirror_root or os.environ.get(MIRROR_ENV) or None


def header_durations(batch: dict) -> dict:
    """A batch's durations from its audio headers (no decoding), or from its segment bounds; -1 where unreadable."""
    out = []
    for audio, start, end in zip(batch["audio"], batch.get("segment_start") or [None] * len(batch["audio"]),
                                 batch.get("segment_end") or [None] * len(batch["audio"]), strict=True):
        if start is not None and end is not None:
            out.append(float(end - start))
            continue
        try:
            out.append(audio_info(audio).duration)
        except AudioDecodeError:
            out.append(-1.0)
    return {"duration": out}


def add_header_durations(ds: Dataset, ctx: LoadContext) -> Dataset:
    """Durations from file headers (no decoding). Cached by `datasets` for Arrow-backed data: the cache
    holds one float per row, never audio."""
    cols = [c for c in ("audio", "segment_start", "segment_end") if c in ds.column_names]
    durations = ds.select_columns(cols).map(header_durations, batched=True, batch_size=256,
                                            remove_columns=cols, desc="Reading audio headers",
                                            num_proc=ctx.num_proc)
    return datasets.concatenate_datasets([ds, durations], axis=1)


def to_common_schema(ds: Dataset, language: str, id_column: str | None, rename: dict[str, str],
                     keep: list[str], duration: Callable[[Dataset], Dataset] | None, ctx: LoadContext) -> Dataset:
    """Map source columns to the common schema; metadata-only operations except the duration pass."""
    ds = ds.rename_columns({k: v for k, v in rename.items() if k in ds.column_names and k != v})
    if id_column is not None and id_column != "id":
        if "id" in ds.column_names:
            ds = ds.rename_column("id", "source_id")
        ds = ds.rename_column(id_column, "id")
    if "language" in ds.column_names:
        ds = ds.rename_column("language", "source_language")
    ds = ds.add_column("language", [language] * len(ds))
    if "id" in ds.column_names and ds.features["id"].dtype != "string":
        # add_column, not cast_column: a cast would rewrite every column, audio bytes included, into the cache
        ids = [str(i) for i in ds["id"]]
        ds = ds.remove_columns("id").add_column("id", ids)
    ds = ds.select_columns([c for c in ["id", "language", "audio", *keep] if c in ds.column_names])
    if duration is not None:
        ds = duration(ds)
    else:
        ds = add_header_durations(ds, ctx)
    return ds


def require_data_dir(ctx: LoadContext, task: str, instructions: str) -> Path:
    """The --data_dir of a hand-downloaded corpus, or the error that says how to get it."""
    if not ctx.data_dir:
        raise SourceError(f"{task} needs a manual download: {instructions} Then pass --data_dir=<that folder>.")
    root = Path(ctx.data_dir).expanduser()
    if not root.is_dir():
        raise SourceError(f"--data_dir {root} does not exist. {task}: {instructions}")
    return root


class SourceAdapter:
    """One corpus: everything about it (where it is, how it is split and routed, its --mini defaults) is said here.

    `load` returns one language's split in the common schema."""

    name = ""
    repo: str | None = None  # its Hub repository; None: only a manual download exists
    column_aliases: dict[str, str] = {}  # XTREME-S column name -> our name, where the two differ
    # --data_dir is this corpus's hand-downloaded layout (read by the adapter), not a plain local folder, unless it
    # holds <split>.tsv / <split>*.parquet for every split.
    manual_download = False
    mini_data_dir: str | None = None  # --mini: its hand-downloaded layout in the mini benchmark (under MINI_ROOT)

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        raise NotImplementedError

    def route(self, language: str, ctx: LoadContext) -> SourceAdapter:
        """The adapter that reads this language (another repository, for some corpora's languages)."""
        return self

    def mini_defaults(self) -> dict[str, str]:
        """--mini: the LoadContext settings that read this corpus from the bundled mini benchmark."""
        out = {"mirror_root": str(MINI_ROOT / "hub")}
        if self.mini_data_dir is not None:
            out["data_dir"] = str(MINI_ROOT / self.mini_data_dir)
        return out
