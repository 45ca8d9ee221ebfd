"""Hub sources: file resolution at a pinned revision, parquet loading, and the adapter base of every Hub corpus.

No loading scripts: datasets >= 4 refuses them, and `google/xtreme_s` is one. Hub sources are read with the
`parquet` builder from explicit `hf://datasets/<repo>@<revision>/...` files; a local *mirror root* with the
same repository layout (`<root>/<org>/<repo>/<path>`) replaces `hf://datasets/` so the same code runs offline.
Where a parquet layout is gone, the original tar shards + TSVs are converted once (raw_layout.py).
"""

from __future__ import annotations

import glob
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Audio, Dataset

from .. import parquet_audio
from .base import (
    LAYOUTS,
    MIRROR_ENV,
    HubFilesNotFound,
    LanguageUnavailable,
    LoadContext,
    SourceAdapter,
    SourceError,
)
from .raw_layout import RawLayoutError, conversion_dir, convert_shards
from .tsv import ManifestError, integer_cells, read_manifest

logger = logging.getLogger(__name__)


def hub_fs(ctx: LoadContext):
    """The Hub as a file system, with the run's token."""
    from huggingface_hub import HfFileSystem

    return HfFileSystem(token=ctx.token)


def hf_open(ctx: LoadContext) -> Callable:
    """`open` for `hf://` paths (text mode)."""
    fs = hub_fs(ctx)
    return lambda path, encoding="utf-8": fs.open(path.removeprefix("hf://"), "r", encoding=encoding)


def resolve_hub_files(repo: str, revision: str | None, patterns: list[str], ctx: LoadContext) -> list[str]:
    """Files of `repo` matching the first pattern that matches anything, on the mirror or the Hub."""
    if ctx.mirror:
        base = Path(ctx.mirror) / repo
        for pattern in patterns:
            files = sorted(glob.glob(str(base / pattern), recursive=True))
            if files:
                return files
        raise HubFilesNotFound(f"No files for {repo} under the mirror root {ctx.mirror} (looked for "
                          f"{', '.join(str(base / p) for p in patterns)}). The mirror must keep the repository "
                          f"layout: <mirror_root>/{repo}/<path in repo>.")
    fs = hub_fs(ctx)
    sha = resolve_revision(repo, revision or "main", ctx)
    root = f"datasets/{repo}@{sha}"
    for pattern in patterns:
        try:
            files = sorted(fs.glob(f"{root}/{pattern}"))
        except Exception as err:  # network, auth, missing revision
            raise SourceError(f"Cannot list hf://{root}/{pattern}: {err}. Offline? Point --mirror_root (or "
                              f"${MIRROR_ENV}) at a local copy with the same layout.") from err
        if files:
            if "partial-" in pattern:
                logger.warning("Only a PARTIAL parquet export exists for hf://%s/%s: results will not be "
                               "comparable to the full split.", root, pattern)
            return [f"hf://{f}" for f in files]
    raise HubFilesNotFound(f"No files match {patterns} in hf://{root} ({repo} @ {revision}). The Hub layout may have "
                      "changed; pass --dataset_revision to pin another revision, or use --data_dir with a local copy.")


_SHA = re.compile(r"^[0-9a-f]{40}$")


def resolve_revision(repo: str, revision: str, ctx: LoadContext) -> str:
    """Turn a branch (such as the bot's `refs/convert/parquet`) into its commit once per run.

    Every file of the run is then read at that one commit, even if the bot rewrites the branch meanwhile, and
    results.json records it, so a run can be repeated exactly with `--dataset_revision <sha>`.
    """
    revisions = ctx.record.setdefault("revisions", {})
    if (repo, revision) in ctx.resolved:  # once per run, also when two layouts of a repo alternate
        revisions[repo] = {"requested": revision, "commit": ctx.resolved[repo, revision]}
        return ctx.resolved[repo, revision]
    if _SHA.match(revision):
        sha = revision
    else:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import RevisionNotFoundError

        try:
            sha = HfApi(token=ctx.token).dataset_info(repo, revision=revision).sha
        except RevisionNotFoundError as err:  # e.g. a refs/convert/parquet branch the Hub deleted
            raise HubFilesNotFound(f"{repo} has no revision {revision} on the Hub") from err
        except Exception as err:
            raise SourceError(f"Cannot resolve {repo} @ {revision} on the Hub: {err}. Offline? Point --mirror_root "
                              f"(or ${MIRROR_ENV}) at a local copy with the same layout.") from err
    revisions[repo] = {"requested": revision, "commit": sha}
    ctx.resolved[repo, revision] = sha
    return sha


def _undecoded_features(path: str) -> datasets.Features:
    """The file's own features (from its parquet footer: ClassLabel names etc.), Audio columns `decode=False`."""
    features = datasets.Features.from_arrow_schema(pq.read_schema(path))
    for name, feature in features.items():
        if isinstance(feature, Audio):
            features[name] = Audio(sampling_rate=feature.sampling_rate, decode=False)
        elif name == "audio" and isinstance(feature, dict) and set(feature) == {"bytes", "path"}:
            # A struct of bytes + path written without the `huggingface` metadata: the same cells, read as audio.
            features[name] = Audio(decode=False)
        elif name == "audio" and getattr(feature, "dtype", None) in ("binary", "large_binary"):
            features[name] = Audio(decode=False)  # encoded audio as plain bytes: read in place like a struct
    return features


def local_file(path: str, ctx: LoadContext) -> str:
    """A local copy of a parquet file: mirror files as they are; `hf://` files downloaded once into the Hub cache at
    their resolved commit (the bytes the `parquet` builder's download step fetched before; raw data, not a cache)."""
    if not path.startswith("hf://"):
        return path
    from huggingface_hub import hf_hub_download

    resolved = hub_fs(ctx).resolve_path(path.removeprefix("hf://"))
    try:
        return hf_hub_download(resolved.repo_id, resolved.path_in_repo, repo_type=resolved.repo_type,
                               revision=resolved.revision, cache_dir=ctx.cache_dir, token=ctx.token)
    except Exception as err:  # network, auth, disk
        raise SourceError(f"Cannot download {path}: {err}. Offline? Point --mirror_root (or ${MIRROR_ENV}) at a "
                          "local copy with the same layout.") from err


def load_parquet_files(files: list[str], ctx: LoadContext) -> Dataset:
    """Explicit parquet files as a metadata-only Dataset (xtreme_s.parquet_audio).

    Every column but the audio is read; each Audio cell becomes a reference to its (file, row), read in place when
    a clip is decoded. The metadata is written once to a small Arrow file in the datasets cache, so maps over it
    (header durations, evaluation pre-flight) are cached and other processes reuse them; it holds no audio bytes.
    """
    if not files:
        raise SourceError("no parquet files to load")
    local = [local_file(f, ctx) for f in files]
    try:
        features = _undecoded_features(local[0])
        return parquet_audio.metadata_dataset(local, features, ctx.cache_dir or datasets.config.HF_DATASETS_CACHE)
    except (OSError, pa.ArrowException) as err:
        raise SourceError(f"Cannot read the parquet files {', '.join(files[:3])}{' ...' if len(files) > 3 else ''}: "
                          f"{err}") from err


def parquet_export_patterns(config: str, split: str, prefix: str) -> list[str]:
    """The bot's parquet layouts, newest first (they were renamed over time), then a partial export."""
    return [f"{config}/{split}/*.parquet", f"{config}/{prefix}-{split}*.parquet", f"{config}/partial-{split}/*.parquet"]


@dataclass
class SourcePlan:
    """Where one language/split of a hub source is read from: what `xtreme-s sources` reports and results.json keeps."""

    repo: str
    requested: str | None  # the revision asked for (pinned, or --dataset_revision)
    commit: str | None  # what it resolved to (None on a mirror: it has no revisions)
    layout: str  # "parquet export", "parquet", "raw fallback"
    files: list[str]
    warnings: list[str] = field(default_factory=list)
    where: str = "hub"  # "hub" or "mirror <root>"


@dataclass
class SplitSurvey:
    """What `xtreme-s sources` reports of one language/split, read without converting or decoding anything."""

    plan: SourcePlan
    rows: int
    seconds: float | None  # None where the files carry no durations (read from audio headers at load time)


def _natural(path: str) -> list:
    """Sort key with numbers compared as numbers (train_part_2 before train_part_10, as the loaders counted)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def _open_parquet(path: str, ctx: LoadContext) -> pq.ParquetFile:
    """The file's footer; a truncated or damaged file is one SourceError naming it."""
    try:
        if path.startswith("hf://"):  # footer and one column read by range requests, not the whole file
            return pq.ParquetFile(hub_fs(ctx).open(path.removeprefix("hf://"), "rb"))
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise SourceError(f"{path} is not a readable parquet file ({' '.join(str(err).split())}); it is probably "
                          "truncated (an interrupted download or copy): delete it and fetch it again.") from None


def parquet_stats(files: list[str], ctx: LoadContext) -> tuple[int, float | None]:
    """Rows (from the footers) and seconds (from a duration column, if the files have one) of parquet files."""
    rows, seconds = 0, 0.0
    for f in files:
        pf = _open_parquet(f, ctx)
        rows += pf.metadata.num_rows
        names = pf.schema_arrow.names
        if seconds is not None and "num_samples" in names:
            seconds += sum(pf.read(columns=["num_samples"]).column(0).to_pylist()) / 16_000
        elif seconds is not None and "audio_duration" in names:
            seconds += sum(pf.read(columns=["audio_duration"]).column(0).to_pylist())
        else:
            seconds = None
    return rows, seconds


class HubAdapter(SourceAdapter):
    """A corpus on the Hub: its repository, pinned revisions, file patterns and, where there is one, raw layout."""

    repo: str
    revision: str | None = None
    parquet_layout = "parquet"  # "parquet export" where the files are the bot's refs/convert/parquet
    raw_revision: str | None = None  # a commit on main holding the original tar shards + TSVs, where there are any
    raw_tsv_columns: tuple[str, ...] | None = None  # the raw TSV's columns when it has no header row
    raw_integer_columns: tuple[str, ...] = ()  # raw TSV columns that must hold integers
    raw_features: datasets.Features | None = None  # features of the converted parquet (= the export's)
    split_names = {"train": "train", "validation": "validation", "test": "test"}

    def parquet_patterns(self, language: str, split: str) -> list[str]:
        raise NotImplementedError

    def raw_patterns(self, language: str, split: str) -> tuple[list[str], list[str]]:
        """(transcript TSV patterns, tar shard patterns) of the raw layout."""
        raise NotImplementedError

    def language_folders(self, language: str) -> list[str]:
        """Folders of the parquet layout whose presence on a mirror says the language is there at all (else:
        LanguageUnavailable); the raw layout's is `data/<language>`."""
        return [language]

    def plan(self, language: str, split: str, ctx: LoadContext) -> SourcePlan:
        """Find the files of one language/split: the parquet layout, else (or on request) the raw layout."""
        mode = ctx.source_layout or "auto"
        if mode not in LAYOUTS:
            raise SourceError(f"--source_layout {mode!r}: choose one of {', '.join(LAYOUTS)}.")
        if mode == "raw" and self.raw_revision is None:
            raise SourceError(f"--source_layout raw: {self.repo} has no raw layout (only FLEURS and VoxPopuli do); "
                              "use auto or parquet.")
        where = f"mirror {ctx.mirror}" if ctx.mirror else "hub"
        tried: list[str] = []
        folders: list[str] = []
        if mode != "raw":
            folders += self.language_folders(language)
            revision = ctx.revision or self.revision
            try:
                files = resolve_hub_files(self.repo, revision, self.parquet_patterns(language, split), ctx)
                warnings = [f"PARTIAL parquet export for {language} {split}: metrics are not comparable"] \
                    if any("/partial-" in f for f in files) else []
                return SourcePlan(self.repo, revision, ctx.resolved.get((self.repo, revision)), self.parquet_layout,
                                  files, warnings, where)
            except HubFilesNotFound as err:
                tried.append(f"{self.parquet_layout} @ {revision}: {err}")
        if mode != "parquet" and self.raw_revision is not None:
            folders.append(f"data/{language}")
            revision = ctx.revision or self.raw_revision
            tsv_patterns, shard_patterns = self.raw_patterns(language, split)
            try:
                tsv = resolve_hub_files(self.repo, revision, tsv_patterns, ctx)[:1]
                shards = sorted(resolve_hub_files(self.repo, revision, shard_patterns, ctx), key=_natural)
                if mode == "auto":
                    logger.warning("%s %s %s: no parquet files, reading the original tar shards and TSV (raw "
                                   "fallback) at %s", self.repo, language, split, revision)
                return SourcePlan(self.repo, revision, ctx.resolved.get((self.repo, revision)), "raw fallback",
                                  tsv + shards, [], where)
            except HubFilesNotFound as err:
                tried.append(f"raw fallback @ {revision}: {err}")
        if ctx.mirror and not any((Path(ctx.mirror) / self.repo / folder).is_dir() for folder in folders):
            raise LanguageUnavailable(f"{language} is not in the mirror {ctx.mirror}/{self.repo}")
        raise SourceError(f"No {self.repo} files for {language} {split}. Tried: " + " | ".join(tried))

    def survey(self, language: str, split: str, ctx: LoadContext) -> SplitSurvey:
        """Files, rows and seconds of one language/split, from parquet footers or the raw TSV (`xtreme-s sources`)."""
        plan = self.plan(language, split, ctx)
        if plan.layout == "raw fallback":
            tsv = local_file(plan.files[0], ctx)
            try:
                rows = read_manifest(tsv, columns=self.raw_tsv_columns)
                counts = integer_cells(tsv, rows, "num_samples") if rows and "num_samples" in rows[0] else [None]
            except ManifestError as err:
                raise SourceError(f"{plan.repo} (raw layout): {err}") from None
            return SplitSurvey(plan, len(rows), None if None in counts else sum(counts) / 16_000)
        return SplitSurvey(plan, *parquet_stats(plan.files, ctx))

    def convert_raw(self, plan: SourcePlan, language: str, split: str, ctx: LoadContext) -> list[str]:
        """The raw layout converted once into local parquet (raw_layout.py); returns the parquet files."""
        local = [local_file(f, ctx) for f in plan.files]
        try:
            rows = read_manifest(local[0], columns=self.raw_tsv_columns)
            for column in self.raw_integer_columns:  # checked before any audio is read
                integer_cells(local[0], rows, column)
            dest = conversion_dir(ctx.cache_dir or datasets.config.HF_DATASETS_CACHE, plan.repo, language, split,
                                  local)
            files, summary = convert_shards(
                local[1:], dest, self.raw_features, self.raw_row_maker(rows, language),
                f"Converting {plan.repo} {language} {split} tar shards to parquet")
        except (RawLayoutError, ManifestError) as err:
            raise SourceError(f"{plan.repo} {language} {split} (raw layout): {err}") from err
        missing = len(rows) - summary["rows"]
        if missing > 0:
            logger.warning("%s %s %s: %d of %d transcripts in %s have no audio in the tar shards (left out, counted "
                           "in results.json)", plan.repo, language, split, missing, len(rows), plan.files[0])
            ctx.record.setdefault("raw_transcripts_without_audio", {})[f"{plan.repo} {language} {split}"] = missing
        return files

    def raw_row_maker(self, rows: list[dict[str, str]], language: str) -> Callable[[str, bytes], dict | None]:
        raise NotImplementedError

    def read_hub(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        """One language/split as found by `plan` (the raw layout converted first), recorded for results.json."""
        plan = self.plan(language, split, ctx)
        files = self.convert_raw(plan, language, split, ctx) if plan.layout == "raw fallback" else plan.files
        _record(ctx, plan, language)
        return load_parquet_files(files, ctx)


def _record(ctx: LoadContext, plan: SourcePlan, language: str) -> None:
    """results.json: which files, layout and revision each source was read at."""
    ctx.record.setdefault("files", []).extend(plan.files)
    if ctx.mirror:
        ctx.record.setdefault("revisions", {})[plan.repo] = {"requested": plan.requested, "commit": None,
                                                              "mirror": ctx.mirror}
    layouts = ctx.record.setdefault("layouts", {}).setdefault(plan.repo, {})
    entry = layouts.setdefault(plan.layout, {"revision": plan.requested, "commit": plan.commit, "where": plan.where,
                                             "languages": []})
    if language not in entry["languages"]:
        entry["languages"].append(language)
    for warning in plan.warnings:
        if warning not in ctx.record.setdefault("source_warnings", []):
            ctx.record["source_warnings"].append(warning)
