"""Data sources: each XTREME-S source as it exists today, mapped to one common schema.

No loading scripts: datasets >= 4 refuses them, and `google/xtreme_s` is one. Hub sources are read with the
`parquet` builder from explicit `hf://datasets/<repo>@<revision>/...` files; a local *mirror root* with the
same repository layout (`<root>/<org>/<repo>/<path>`) replaces `hf://datasets/` so the same code runs offline.
CoVoST-2 and BABEL come from folders the user downloaded by hand (spec 3.5), and any task can read a plain
local folder (`<split>.tsv` manifest + audio files, or `<split>/*.parquet`).

Common schema, one row per utterance: `id` (str), `language` (str), `audio` ({bytes, path}, never decoded
here), `duration` (seconds, from metadata or file headers; -1 where the header is unreadable), `target` (the
column the task predicts), plus the XTREME-S columns the source has (`transcription`, `translation`,
`intent_class`, `lang_id`, ...) and optional `segment_start` / `segment_end` (seconds) for sources cut from
long recordings.
"""

from __future__ import annotations

import glob
import logging
import os
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Audio, ClassLabel, Dataset

from . import parquet_audio, raw_layout
from .audio import AudioDecodeError, audio_info
from .errors import UserError
from .manifest import ManifestError, read_manifest
from .registry import FLEURS_GROUPS, FLEURS_LOCALES, ResolvedTask

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
MIRROR_ENV = "XTREME_S_MIRROR_ROOT"


class SourceError(UserError, RuntimeError):
    """The data cannot be found or read; the message says what to download and where to put it."""


class LanguageUnavailable(SourceError):
    """This source does not publish this language (e.g. MLS English is not in facebook/multilingual_librispeech)."""


class HubFilesNotFound(SourceError):
    """A layout is not there (no file matches, or the revision, e.g. a deleted parquet branch, does not exist)."""


LAYOUTS = ("auto", "parquet", "raw")


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


# ----------------------------------------------------------------------------------------------------------
# Hub files: resolution, loading, and header-derived durations (shared by every hub adapter)
# ----------------------------------------------------------------------------------------------------------


def _hub_fs(ctx: LoadContext):
    from huggingface_hub import HfFileSystem

    return HfFileSystem(token=ctx.token)


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
    fs = _hub_fs(ctx)
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


def _local_file(path: str, ctx: LoadContext) -> str:
    """A local copy of a parquet file: mirror files as they are; `hf://` files downloaded once into the Hub cache at
    their resolved commit (the bytes the `parquet` builder's download step fetched before; raw data, not a cache)."""
    if not path.startswith("hf://"):
        return path
    from huggingface_hub import hf_hub_download

    resolved = _hub_fs(ctx).resolve_path(path.removeprefix("hf://"))
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
    local = [_local_file(f, ctx) for f in files]
    try:
        features = _undecoded_features(local[0])
        return parquet_audio.metadata_dataset(local, features, ctx.cache_dir or datasets.config.HF_DATASETS_CACHE)
    except (OSError, pa.ArrowException) as err:
        raise SourceError(f"Cannot read the parquet files {', '.join(files[:3])}{' ...' if len(files) > 3 else ''}: "
                          f"{err}") from err


def _header_durations(batch: dict) -> dict:
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
    durations = ds.select_columns(cols).map(_header_durations, batched=True, batch_size=256,
                                            remove_columns=cols, desc="Reading audio headers",
                                            num_proc=ctx.num_proc)
    return datasets.concatenate_datasets([ds, durations], axis=1)


def _finish(ds: Dataset, language: str, id_column: str | None, rename: dict[str, str],
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


# ----------------------------------------------------------------------------------------------------------
# Adapters
# ----------------------------------------------------------------------------------------------------------


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


def _natural(path: str) -> list:
    """Sort key with numbers compared as numbers (train_part_2 before train_part_10, as the loaders counted)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


class SourceAdapter:
    """One data source. `load` returns one language's split in the common schema."""

    name = ""
    repo: str | None = None
    revision: str | None = None
    parquet_layout = "parquet"  # "parquet export" where the files are the bot's refs/convert/parquet
    raw_revision: str | None = None  # a commit on main holding the original tar shards + TSVs, where there are any
    raw_tsv_columns: tuple[str, ...] | None = None  # the raw TSV's columns when it has no header row
    raw_features: datasets.Features | None = None  # features of the converted parquet (= the export's)
    split_names = {"train": "train", "validation": "validation", "test": "test"}
    column_aliases: dict[str, str] = {}  # XTREME-S column name -> our name, where the two differ

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        raise NotImplementedError

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
        assert self.repo is not None
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
                return SourcePlan(self.repo, revision, _commit(ctx, self.repo, revision), self.parquet_layout, files,
                                  warnings, where)
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
                return SourcePlan(self.repo, revision, _commit(ctx, self.repo, revision), "raw fallback",
                                  tsv + shards, [], where)
            except HubFilesNotFound as err:
                tried.append(f"raw fallback @ {revision}: {err}")
        if ctx.mirror and not any((Path(ctx.mirror) / self.repo / folder).is_dir() for folder in folders):
            raise LanguageUnavailable(f"{language} is not in the mirror {ctx.mirror}/{self.repo}")
        raise SourceError(f"No {self.repo} files for {language} {split}. Tried: " + " | ".join(tried))

    def convert_raw(self, plan: SourcePlan, language: str, split: str, ctx: LoadContext) -> list[str]:
        """The raw layout converted once into local parquet (xtreme_s.raw_layout); returns the parquet files."""
        local = [_local_file(f, ctx) for f in plan.files]
        try:
            rows = read_manifest(local[0], columns=self.raw_tsv_columns)
            dest = raw_layout.conversion_dir(ctx.cache_dir or datasets.config.HF_DATASETS_CACHE, plan.repo, language,
                                             split, local)
            files, summary = raw_layout.convert_shards(
                local[1:], dest, self.raw_features, self.raw_row_maker(rows, language),
                f"Converting {plan.repo} {language} {split} tar shards to parquet")
        except (raw_layout.RawLayoutError, ManifestError) as err:
            raise SourceError(f"{plan.repo} {language} {split} (raw layout): {err}") from err
        missing = len(rows) - summary["rows"]
        if missing > 0:
            logger.warning("%s %s %s: %d of %d transcripts in %s have no audio in the tar shards (left out, counted "
                           "in results.json)", plan.repo, language, split, missing, len(rows), plan.files[0])
            ctx.record.setdefault("raw_transcripts_without_audio", {})[f"{plan.repo} {language} {split}"] = missing
        return files

    def raw_row_maker(self, rows: list[dict[str, str]], language: str) -> Callable[[str, bytes], dict | None]:
        raise NotImplementedError

    def _hub(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        plan = self.plan(language, split, ctx)
        files = self.convert_raw(plan, language, split, ctx) if plan.layout == "raw fallback" else plan.files
        _record(ctx, plan, language)
        return load_parquet_files(files, ctx)


def _commit(ctx: LoadContext, repo: str, revision: str | None) -> str | None:
    return ctx.resolved.get((repo, revision))


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


def _parquet_export_patterns(config: str, split: str, prefix: str) -> list[str]:
    """The bot's parquet layouts, newest first (they were renamed over time), then a partial export."""
    return [f"{config}/{split}/*.parquet", f"{config}/{prefix}-{split}*.parquet", f"{config}/partial-{split}/*.parquet"]


FLEURS_GENDERS = ("male", "female", "other")
# The export's features (google/fleurs refs/convert/parquet), which the raw fallback writes too.
FLEURS_FEATURES = datasets.Features({
    "id": datasets.Value("int32"), "num_samples": datasets.Value("int32"), "path": datasets.Value("string"),
    "audio": Audio(sampling_rate=16_000), "transcription": datasets.Value("string"),
    "raw_transcription": datasets.Value("string"), "gender": ClassLabel(names=list(FLEURS_GENDERS)),
    "lang_id": ClassLabel(names=list(FLEURS_LOCALES)), "language": datasets.Value("string"),
    "lang_group_id": ClassLabel(names=list(FLEURS_GROUPS)),
})


def fleurs_lang_ids(ds: Dataset) -> Dataset:
    """`lang_id` over exactly the 102 FLEURS locales, whatever label list the source carries (the original loader's
    list ends with "all", so a Hub export may hold 103 names): ids are remapped by name."""
    feature = ds.features.get("lang_id")
    if not isinstance(feature, ClassLabel) or list(feature.names) == list(FLEURS_LOCALES):
        return ds
    index = {i: FLEURS_LOCALES.index(n) for i, n in enumerate(feature.names) if n in FLEURS_LOCALES}
    ids = ds["lang_id"]
    unknown = sorted({feature.names[i] for i in set(ids) if i not in index})
    if unknown:
        raise SourceError(f"FLEURS rows labelled {', '.join(unknown)}, which is not one of the 102 FLEURS locales.")
    ds = ds.add_column("lang_id_102", [index[i] for i in ids], feature=ClassLabel(names=list(FLEURS_LOCALES)))
    return ds.remove_columns("lang_id").rename_column("lang_id_102", "lang_id")


class FleursAdapter(SourceAdapter):
    name = "fleurs"
    repo = "google/fleurs"
    # FLEURS' `id` is the sentence id shared by parallel recordings; our `id` names one utterance.
    column_aliases = {"id": "sentence_id"}
    # The script-free parquet export. It is a bot branch that can move: results.json records what was read.
    revision = "refs/convert/parquet"
    parquet_layout = "parquet export"
    # A commit of main whose fleurs.py history ends with "get back script" (4fcbd85: the script reading
    # data/<locale>/audio/<split>.tar.gz + data/<locale>/<split>.tsv, after the Dec 2022 data commits 2523a62 "all
    # audio data" / ef1f61e "add all meta"), seen at huggingface.co/datasets/google/fleurs/commits/4683b04.../fleurs.py.
    # UNCONFIRMED that the data/ files are at this exact commit: --dataset_revision <sha> overrides it.
    raw_revision = "4683b04af03d2d9549064c7d72060a9a94bb6046"
    raw_splits = {"train": "train", "validation": "dev", "test": "test"}
    # fleurs.py reads <split>.tsv without a header: id, file name, raw and normalised transcription, a tokenised
    # form (unused), num_samples, gender (MALE/FEMALE/OTHER).
    raw_tsv_columns = ("id", "file_name", "raw_transcription", "transcription", "words", "num_samples", "gender")
    raw_features = FLEURS_FEATURES

    def parquet_patterns(self, language: str, split: str) -> list[str]:
        return _parquet_export_patterns(language, self.split_names[split], "fleurs")

    def raw_patterns(self, language: str, split: str) -> tuple[list[str], list[str]]:
        s = self.raw_splits[split]
        return [f"data/{language}/{s}.tsv"], [f"data/{language}/audio/{s}.tar.gz", f"data/{language}/audio/{s}/*.tar*"]

    def raw_row_maker(self, rows: list[dict[str, str]], language: str) -> Callable[[str, bytes], dict | None]:
        by_name = {r["file_name"]: r for r in rows}
        group = next(i for i, members in enumerate(FLEURS_GROUPS.values()) if language in members)

        def row_for(member: str, data: bytes) -> dict | None:
            name = os.path.basename(member)
            r = by_name.get(name)
            if r is None:
                return None
            gender = r["gender"].strip().lower()
            return {"id": int(r["id"]), "num_samples": int(r["num_samples"]), "path": name,
                    "audio": {"bytes": data, "path": name}, "transcription": r["transcription"],
                    "raw_transcription": r["raw_transcription"],
                    "gender": FLEURS_GENDERS.index(gender) if gender in FLEURS_GENDERS else 2,
                    "lang_id": FLEURS_LOCALES.index(language), "language": language, "lang_group_id": group}

        return row_for

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        ds = fleurs_lang_ids(self._hub(language, split, ctx))
        ds = ds.rename_columns({"id": "sentence_id"})
        # The utterance id is the file name: the export's `path` is the converter machine's absolute path, the raw
        # TSV's the bare name; both layouts then give the same ids.
        ds = ds.add_column("utterance", [os.path.basename(p) for p in ds["path"]])
        return _finish(ds, language, "utterance", {}, ["transcription", "raw_transcription", "lang_id",
                                                       "sentence_id", "lang_group_id", "gender", "num_samples"],
                       _fleurs_durations, ctx)


def _fleurs_durations(ds: Dataset) -> Dataset:
    """From `num_samples` (16 kHz) where the row has it; from the audio header where it is missing or null."""
    counts = ds["num_samples"] if "num_samples" in ds.column_names else [None] * len(ds)
    if all(n is not None for n in counts):
        return ds.add_column("duration", [n / 16_000 for n in counts])
    logger.warning("FLEURS: %d of %d rows have no num_samples; reading their audio headers instead.",
                   sum(n is None for n in counts), len(ds))
    headers = _header_durations({"audio": ds.select([i for i, n in enumerate(counts) if n is None])["audio"]})
    fill = iter(headers["duration"])
    return ds.add_column("duration", [n / 16_000 if n is not None else next(fill) for n in counts])


class MlsAdapter(SourceAdapter):
    name = "mls"
    repo = "facebook/multilingual_librispeech"
    # "mls_without_script (#15)": the script-free parquet layout on main.
    revision = "2e83e61823b4c47dcbcb1980bb88601274127609"
    # XTREME-S trains on the 9 h limited-supervision split (spec 3.4).
    split_names = {"train": "9_hours", "validation": "dev", "test": "test"}
    folders = {"de": "german", "en": "english", "es": "spanish", "fr": "french", "it": "italian", "nl": "dutch",
               "pl": "polish", "pt": "portuguese"}

    def parquet_patterns(self, language: str, split: str) -> list[str]:
        folder, s = self.folders[language], self.split_names[split]
        return [f"{folder}/{s}-*.parquet", f"{folder}/{s}/*.parquet"]

    def language_folders(self, language: str) -> list[str]:
        return [self.folders[language]]

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        if language == "en" and not (ctx.mirror and (Path(ctx.mirror) / self.repo / "english").is_dir()):
            return MLS_ENGLISH.load(language, split, ctx)
        ds = self._hub(language, split, ctx)
        return _mls_finish(ds, language, ctx)


def _mls_finish(ds: Dataset, language: str, ctx: LoadContext) -> Dataset:
    duration = (lambda d: d.rename_column("audio_duration", "duration")) if "audio_duration" in \
        ds.column_names else None
    return _finish(ds, language, "id", {"transcript": "transcription"},
                   ["transcription", "speaker_id", "audio_duration"], duration, ctx)


class MlsEnglishAdapter(SourceAdapter):
    """MLS English, which facebook/multilingual_librispeech lacks: dev and test from parler-tts/mls_eng (its splits
    match MLS English dev/test: 3.81k/3.77k rows); training only on the 9-hour ids the user provides, since that repo
    has the full 44k-hour train split and no limited-supervision list."""

    name = "mls-en"
    repo = "parler-tts/mls_eng"
    # UNCONFIRMED pin: no commit of its main was found in public evidence, so the branch is pinned by name and the
    # commit it resolves to is recorded in results.json (repeat a run with --dataset_revision <that sha>).
    revision = "main"
    split_names = {"train": "train", "validation": "dev", "test": "test"}

    def parquet_patterns(self, language: str, split: str) -> list[str]:
        s = self.split_names[split]
        return [f"data/{s}-*.parquet", f"data/{s}/*.parquet", f"{s}/*.parquet", f"default/{s}/*.parquet"]

    def language_folders(self, language: str) -> list[str]:
        return ["."]

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        if "train" in ctx.splits and not ctx.mls_english_train_ids:
            raise LanguageUnavailable(
                "MLS English has no 9-hour training split on the Hub (facebook/multilingual_librispeech has no "
                "English; parler-tts/mls_eng has dev/test and the full train split only). Pass "
                "--mls_english_train_ids FILE with the ids of MLS English train/limited_supervision/9hr, or train "
                "without English.")
        try:
            ds = self._hub(language, split, ctx)
        except LanguageUnavailable as err:
            raise LanguageUnavailable(
                f"MLS English is not part of facebook/multilingual_librispeech (7 languages); its dev/test come from "
                f"{self.repo}: {err}. Or run mls.en from a local folder with --data_dir.") from err
        if "id" not in ds.column_names:
            names = ds["file"] if "file" in ds.column_names else \
                [(parquet_audio.parse_ref(a["path"]) or (None, None, None, a["path"]))[3] for a in ds["audio"]]
            ds = ds.add_column("id", [os.path.splitext(os.path.basename(n or ""))[0] for n in names])
        if split == "train":
            path = Path(ctx.mls_english_train_ids or "")
            if not path.is_file():
                raise SourceError(f"--mls_english_train_ids {path}: no such file (one MLS utterance id per line, "
                                  "e.g. 10214_10108_000000).")
            wanted = {line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
            idx = [i for i, u in enumerate(ds["id"]) if u in wanted]
            if not idx:
                raise SourceError(f"None of the {len(wanted)} ids of {path} is in {self.repo} train.")
            if len(idx) < len(wanted):
                logger.warning("MLS English: %d of %d training ids of %s are not in %s", len(wanted) - len(idx),
                               len(wanted), path, self.repo)
            ds = ds.select(idx)
        return _mls_finish(ds, language, ctx)


MLS_ENGLISH = MlsEnglishAdapter()

# facebook/voxpopuli's `language` ClassLabel (voxpopuli.py: the 16 ASR languages, then en_accented).
VOXPOPULI_LANGS = ("en", "de", "fr", "es", "pl", "it", "ro", "hu", "cs", "nl", "fi", "hr", "sk", "sl", "et", "lt",
                   "en_accented")
VOXPOPULI_FEATURES = datasets.Features({
    "audio_id": datasets.Value("string"), "language": ClassLabel(names=list(VOXPOPULI_LANGS)),
    "audio": Audio(sampling_rate=16_000), "raw_text": datasets.Value("string"),
    "normalized_text": datasets.Value("string"), "gender": datasets.Value("string"),
    "speaker_id": datasets.Value("string"), "is_gold_transcript": datasets.Value("bool"),
    "accent": datasets.Value("string"),
})


class VoxPopuliAdapter(SourceAdapter):
    name = "voxpopuli"
    repo = "facebook/voxpopuli"
    revision = "refs/convert/parquet"
    parquet_layout = "parquet export"
    # main after "change base data dir so that it points to this repo" (huggingface.co/datasets/facebook/voxpopuli/
    # tree/719aaef...): data/<lang>/<split>/<split>_part_<n>.tar.gz + data/<lang>/asr_<split>.tsv.
    raw_revision = "719aaef8225945c0d80b277de6c79aa42ab053d5"
    raw_splits = {"train": "train", "validation": "dev", "test": "test"}
    raw_features = VOXPOPULI_FEATURES

    def parquet_patterns(self, language: str, split: str) -> list[str]:
        return _parquet_export_patterns(language, self.split_names[split], "voxpopuli")

    def raw_patterns(self, language: str, split: str) -> tuple[list[str], list[str]]:
        s = self.raw_splits[split]
        return [f"data/{language}/asr_{s}.tsv"], [f"data/{language}/{s}/*.tar.gz", f"data/{language}/{s}/*.tar"]

    def raw_row_maker(self, rows: list[dict[str, str]], language: str) -> Callable[[str, bytes], dict | None]:
        if rows and not {"raw_text", "normalized_text"} <= set(rows[0]):
            raise raw_layout.RawLayoutError(f"the VoxPopuli TSV has columns {', '.join(rows[0])}; expected id, "
                                            "raw_text, normalized_text, speaker_id, gender, is_gold_transcript, accent")
        by_id = {r.get("id") or r.get("audio_id"): r for r in rows}

        def row_for(member: str, data: bytes) -> dict | None:
            name = os.path.basename(member)
            r = by_id.get(os.path.splitext(name)[0])
            if r is None:
                return None
            return {"audio_id": os.path.splitext(name)[0], "language": VOXPOPULI_LANGS.index(language),
                    "audio": {"bytes": data, "path": name}, "raw_text": r["raw_text"],
                    "normalized_text": r["normalized_text"], "gender": r.get("gender", ""),
                    "speaker_id": r.get("speaker_id", ""),
                    "is_gold_transcript": r.get("is_gold_transcript", "").lower() == "true",
                    "accent": r.get("accent", "")}

        return row_for

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        ds = self._hub(language, split, ctx)
        return _finish(ds, language, "audio_id",
                       {"normalized_text": "transcription", "raw_text": "raw_transcription"},
                       ["transcription", "raw_transcription", "speaker_id", "gender"], None, ctx)


class Minds14Adapter(SourceAdapter):
    name = "minds14"
    repo = "PolyAI/minds14"
    # Pinned by public code that loads it (e.g. `SAMPLE_DATASET_REVISION = '40ce77cb...'`, and dataset-card links at
    # huggingface.co/datasets/PolyAI/minds14/tree/40ce77cb32a384e4d50a568e1ec39ac804019d33); the per-locale
    # `<locale>/train-00000-of-00001.parquet` files are read there.
    revision = "40ce77cb32a384e4d50a568e1ec39ac804019d33"
    # The XTREME-S train/dev/test membership lives in the google/xtreme_s repo, not in PolyAI/minds14.
    splits_repo = "google/xtreme_s"
    splits_revision = "6689ba8f1044a59f860da50852eca5f09a01f8f2"
    split_names = {"train": "train", "validation": "dev", "test": "test"}

    def parquet_patterns(self, language: str, split: str) -> list[str]:
        return [f"{language}/*.parquet", f"{language}/**/*.parquet", f"data/{language}*.parquet"]

    def _split_ids(self, language: str, split: str, ctx: LoadContext) -> set[str]:
        name = f"minds14_splits/{self.split_names[split]}_{language}.tsv"
        (path,) = resolve_hub_files(self.splits_repo, self.splits_revision, [name], ctx)
        opener = open if ctx.mirror else _hf_open(ctx)
        with opener(path, encoding="utf-8") as f:
            return {line.split("\t")[0].strip() for line in f if line.strip()}

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        # One file holds every row of a locale: the same for each split, the ids below choose.
        ds = self._hub(language, "train", ctx)
        keep = self._split_ids(language, split, ctx)
        rel = ["/".join(p.replace("\\", "/").split("/")[-2:]) for p in ds["path"]]
        ds = ds.add_column("rel_path", rel)
        idx = [i for i, r in enumerate(rel) if r in keep]
        if not idx:
            raise SourceError(f"No MInDS-14 {language} rows match the {split} ids of {self.splits_repo}.")
        ds = ds.select(idx)
        return _finish(ds, language, "rel_path", {},
                       ["transcription", "english_transcription", "intent_class", "lang_id"], None, ctx)


def _hf_open(ctx: LoadContext) -> Callable:
    fs = _hub_fs(ctx)
    return lambda path, encoding="utf-8": fs.open(path.removeprefix("hf://"), "r", encoding=encoding)


# ---- sources downloaded by hand ----------------------------------------------------------------------------


def _typed(path: Path, rows: list[dict[str, str]], column: str, kind: type) -> list:
    """A manifest column as numbers, each bad cell reported with its line (header = line 1, blank lines aside)."""
    out = []
    for k, r in enumerate(rows):
        try:
            out.append(kind(r[column]))
        except ValueError:
            raise SourceError(f"{path}: row {k + 1} (after the header), column {column!r}: {r[column]!r} is not "
                              f"{'an integer' if kind is int else 'a number'}.") from None
    return out


def _require_dir(ctx: LoadContext, task: str, instructions: str) -> Path:
    if not ctx.data_dir:
        raise SourceError(f"{task} needs a manual download: {instructions} Then pass --data_dir=<that folder>.")
    root = Path(ctx.data_dir).expanduser()
    if not root.is_dir():
        raise SourceError(f"--data_dir {root} does not exist. {task}: {instructions}")
    return root


class Covost2Adapter(SourceAdapter):
    name = "covost2"
    # The 21 X->en directions as parquet, one config per direction (`fr_en`, `zh-CN_en`, ...), files
    # `<config>/<split>-NNNNN-of-NNNNN.parquet`, splits train (= CoVoST train + train_covost)/validation/test. Pinned
    # to the commit public code downloads from (`SOURCE_REVISION="17c8c81e..."`, zh-CN_en/validation-0000N-of-00008).
    repo = "fixie-ai/covost2"
    revision = "17c8c81e331e7a6929118121771a58c7ef7331d8"
    cv_names = {"zh": "zh-CN", "sv": "sv-SE"}  # Common Voice 4 folder names differ for these two
    # Column variants: the covost2 loading script's `sentence`/`translation`/`file`/`id`, and other spellings.
    transcription_columns = ("sentence", "transcription")
    translation_columns = ("translation",)
    file_columns = ("file", "path")
    instructions = ("download Common Voice v4 (cv-corpus-4-2019-12-10) for the source language and extract it "
                    "so that <data_dir>/<lang>/clips/*.mp3 and <data_dir>/<lang>/validated.tsv exist (lang as "
                    "Common Voice names it: fr, de, zh-CN, sv-SE, ...), and put the CoVoST-2 file "
                    "covost_v2.<lang>_en.tsv (from covost_v2.<lang>_en.tsv.tar.gz) in <data_dir>.")

    def config(self, language: str) -> str:
        return f"{self.cv_names.get(language, language)}_en"

    def parquet_patterns(self, language: str, split: str) -> list[str]:
        config, s = self.config(language), self.split_names[split]
        return [f"{config}/{s}-*.parquet", f"{config}/{s}/*.parquet"]

    def language_folders(self, language: str) -> list[str]:
        return [self.config(language)]

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        if not ctx.data_dir:
            return self.load_hub(language, split, ctx)
        return self.load_manual(language, split, ctx)

    def load_hub(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        try:
            ds = self._hub(language, split, ctx)
        except LanguageUnavailable as err:
            raise LanguageUnavailable(f"CoVoST-2 {language}->en: {err}. Without the Hub, {self.instructions} Then "
                                      "pass --data_dir=<that folder>.") from err
        cols = ds.column_names
        where = f"{self.repo} {self.config(language)} {split}"

        def pick(names: tuple[str, ...], what: str) -> str:
            found = next((c for c in names if c in cols), None)
            if found is None:
                raise SourceError(f"{where}: no {what} column (looked for {', '.join(names)}; the files have "
                                  f"{', '.join(cols)}). Pin another --dataset_revision, or use --data_dir with "
                                  "Common Voice 4.")
            return found

        if "audio" not in cols or not isinstance(ds.features["audio"], Audio):
            raise SourceError(f"{where}: no audio column of bytes + path (columns: {', '.join(cols)}).")
        transcription, translation = pick(self.transcription_columns, "transcript"), \
            pick(self.translation_columns, "translation")
        if "id" not in cols:
            names = ds[pick(self.file_columns, "id or file")]
            ds = ds.add_column("id", [os.path.splitext(os.path.basename(n or ""))[0] for n in names])
        ds = ds.rename_columns({k: v for k, v in ((transcription, "transcription"), (translation, "translation"))
                                if k != v})
        return _finish(ds, language, None, {}, ["transcription", "translation"], None, ctx)

    def load_manual(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        root = _require_dir(ctx, "CoVoST-2", self.instructions)
        cv = self.cv_names.get(language, language)
        lang_dir = root / cv
        covost = next((p for p in (root / f"covost_v2.{cv}_en.tsv", lang_dir / f"covost_v2.{cv}_en.tsv")
                       if p.is_file()), None)
        if not lang_dir.exists() and covost is None:
            # Not downloaded at all: covost2.all leaves it out (recorded as languages_missing); a single
            # direction still fails with the instructions.
            raise LanguageUnavailable(f"CoVoST-2 {language}->en: neither {lang_dir} nor covost_v2.{cv}_en.tsv is "
                                      f"in {root}. {self.instructions}")
        if not (lang_dir / "validated.tsv").is_file() or covost is None:
            raise SourceError(f"CoVoST-2 {language}->en: missing {lang_dir / 'validated.tsv'} or "
                              f"covost_v2.{cv}_en.tsv. {self.instructions}")
        sentences = {r["path"]: r for r in read_manifest(lang_dir / "validated.tsv", "\\", ("path", "sentence"))}
        wanted = {"train": ("train", "train_covost"), "validation": ("dev",), "test": ("test",)}[split]
        rows = [r for r in read_manifest(covost, "\\", ("path", "translation", "split"))
                if r["split"] in wanted and r["path"] in sentences]
        if not rows:
            raise SourceError(f"CoVoST-2 {language}->en {split}: no rows of {covost} join {lang_dir/'validated.tsv'}.")
        ctx.record.setdefault("files", []).append(str(covost))
        ds = Dataset.from_dict({
            "id": [r["path"] for r in rows],
            "audio": [{"bytes": None, "path": str(lang_dir / "clips" / r["path"])} for r in rows],
            "transcription": [sentences[r["path"]]["sentence"] for r in rows],
            "translation": [r["translation"] for r in rows],
        })
        return _finish(ds, language, None, {}, ["transcription", "translation"], None, ctx)


# Noise and event tags removed from BABEL transcripts, as the reference loader did (spec 3.4).
BABEL_TAGS = ("(()) <no-speech> <sta> <int> <hes> <laugh> <breath> <foreign> <cough> <lipsmack> <click> <prompt> "
              "<dtmf> <overlap> <ring> <male-to-female> <female-to-male>").split()
BABEL_LDC = {"as": "IARPA_BABEL_OP1_102_LDC2016S06", "ka": "IARPA_BABEL_OP3_404_LDC2016S12",
             "lo": "IARPA_Babel_203_LDC2017S08", "sw": "IARPA_BABEL_OP2_202_LDC2017S05",
             "tl": "IARPA_BABEL_BP_106_LDC2016S13"}


def parse_babel_transcript(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) segments of a BABEL transcription: alternating `[time]` and text lines."""
    times: list[float] = []
    texts: list[str] = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        line = line.strip()
        if k % 2 == 0:
            if not (line.startswith("[") and line.endswith("]")):
                raise SourceError(f"{path}:{k + 1}: expected a [time] line, got {line!r}")
            times.append(float(line[1:-1]))
        else:
            for tag in BABEL_TAGS:
                line = line.replace(tag, " ")
            texts.append(re.sub(r"\s+", " ", line).strip())
    return [(times[i], times[i + 1], t) for i, t in enumerate(texts) if t and i + 1 < len(times)]


class BabelAdapter(SourceAdapter):
    name = "babel"

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        ldc = BABEL_LDC[language]
        instructions = (f"get {ldc.split('_')[-1]} from https://catalog.ldc.upenn.edu/{ldc.split('_')[-1]} and "
                        f"extract {ldc}.zip so that <data_dir>/conversational/{{training,dev}}/{{audio,"
                        "transcription}} exist (or <data_dir>/<package folder>/conversational/...).")
        root = _require_dir(ctx, f"BABEL {language}", instructions)
        conv = root / "conversational"
        if not conv.is_dir():
            found = sorted(root.glob("*/conversational"))
            if not found:
                raise SourceError(f"No conversational/ folder under {root}. {instructions}")
            conv = found[0]
        part = "dev" if split == "test" else "training"
        segments = []
        for trans in sorted((conv / part / "transcription").glob("*.txt")):
            audio = next((p for p in (conv / part / "audio" / (trans.stem + ext) for ext in (".sph", ".wav", ".flac"))
                          if p.is_file()), None)
            if audio is None:
                raise SourceError(f"BABEL: no audio (.sph/.wav) for {trans} in {conv / part / 'audio'}")
            for k, (start, end, text) in enumerate(parse_babel_transcript(trans)):
                segments.append((f"{trans.stem}_{k + 1}", str(audio), start, end, text))
        if split != "test":
            # The reference loader: shuffle training segments with seed 42, first 90 % train, last 10 % dev.
            random.Random(42).shuffle(segments)
            cut = int(0.9 * len(segments))
            segments = segments[:cut] if split == "train" else segments[cut:]
        ds = Dataset.from_dict({
            "id": [s[0] for s in segments],
            "audio": [{"bytes": None, "path": s[1]} for s in segments],
            "segment_start": [s[2] for s in segments],
            "segment_end": [s[3] for s in segments],
            "transcription": [s[4] for s in segments],
        })
        return _finish(ds, language, None, {}, ["transcription", "segment_start", "segment_end"],
                       lambda d: d.add_column("duration", [e - s for s, e in zip(d["segment_start"],
                                                                                 d["segment_end"], strict=True)]), ctx)


class LocalFolderAdapter(SourceAdapter):
    """A plain folder: `<split>.tsv` (audio `path` + XTREME-S columns, optional `language`, `id`, `duration`)
    or `<split>/*.parquet` / `<split>*.parquet` with XTREME-S columns."""

    name = "local"

    def __init__(self, single_language: str | None):
        self.single_language = single_language

    @staticmethod
    def parquet_files(root: Path, split: str) -> list[str]:
        return sorted(glob.glob(str(root / split / "*.parquet"))) or sorted(glob.glob(str(root / f"{split}*.parquet")))

    @classmethod
    def detect(cls, root: Path, split: str) -> bool:
        return (root / f"{split}.tsv").is_file() or bool(cls.parquet_files(root, split))

    def load_split(self, split: str, ctx: LoadContext) -> Dataset:
        root = Path(ctx.data_dir or ".")
        tsv = root / f"{split}.tsv"
        if tsv.is_file():
            try:
                rows = read_manifest(tsv, required=("path",))
            except ManifestError as err:
                if "needs the column(s) 'path'" in str(err):
                    raise SourceError(f"{tsv} needs a 'path' column (audio file, relative to {root}); "
                                      f"{err}") from None
                raise
            if not rows:
                raise SourceError(f"{tsv}: no rows after the header.")
            cols = {k: [r[k] for r in rows] for k in rows[0] if k != "path"}
            for k in ("intent_class", "lang_id"):
                # Ids, or class names (mapped to ids by the classification family, which knows the label list).
                if k in cols and all(v.strip().lstrip("-").isdigit() for v in cols[k]):
                    cols[k] = [int(v) for v in cols[k]]
            if "duration" in cols:
                cols["duration"] = _typed(tsv, rows, "duration", float)
            audio = [{"bytes": None, "path": _resolve(root, r["path"], tsv, k)} for k, r in enumerate(rows)]
            ds = Dataset.from_dict({"audio": audio, **cols})
            ctx.record.setdefault("files", []).append(str(tsv))
        else:
            files = self.parquet_files(root, split)
            if not files:
                raise SourceError(f"{root}: no {split}.tsv, {split}/*.parquet or {split}*.parquet for split '{split}'.")
            ds = load_parquet_files(files, ctx)
            if "audio" not in ds.column_names:
                raise SourceError(f"{files[0]}: no 'audio' column (columns: {', '.join(ds.column_names)}). A local "
                                  "parquet needs the audio in a column named 'audio' (an Audio struct with bytes "
                                  "and path, or plain bytes).")
            ctx.record.setdefault("files", []).extend(files)
        if "language" not in ds.column_names:
            if not self.single_language:
                raise SourceError(f"{root}/{split}: a multi-language config needs a 'language' column.")
            ds = ds.add_column("language", [self.single_language] * len(ds))
        if "id" not in ds.column_names:
            ds = ds.add_column("id", [f"{split}-{i}" for i in range(len(ds))])
        if "duration" not in ds.column_names:
            ds = add_header_durations(ds, ctx)
        return ds


def _resolve(root: Path, rel: str, manifest: Path, row: int) -> str:
    try:
        return str((root / rel).resolve())
    except (OSError, RuntimeError) as err:  # a symlink loop
        raise SourceError(f"{manifest}: row {row + 1} (after the header): cannot resolve {rel!r}: {err}.") from None


ADAPTERS: dict[str, SourceAdapter] = {
    a.name: a for a in (FleursAdapter(), MlsAdapter(), VoxPopuliAdapter(), Minds14Adapter(), Covost2Adapter(),
                        BabelAdapter())
}


def with_target(ds: Dataset, column: str, source: str, where: str) -> Dataset:
    """Add the common `target` column: a copy of the XTREME-S column the task predicts."""
    column = ADAPTERS[source].column_aliases.get(column, column) if source in ADAPTERS else column
    if column not in ds.column_names:
        raise SourceError(f"{where} has no column '{column}' to predict (columns: {', '.join(ds.column_names)}). "
                          "Check --target_column_name.")
    if "target" in ds.column_names:
        ds = ds.remove_columns("target")
    return ds.add_column("target", ds[column], feature=ds.features[column])


def _languages_of_task(ds: Dataset, split: str, task: ResolvedTask, ctx: LoadContext) -> Dataset:
    """Keep the rows in the task's languages; never drop an evaluation row silently.

    Codes are matched case-insensitively where that is unambiguous (`PL` is `pl`). Rows of other languages are
    left out of a training split and counted; in an evaluation split they are an error unless
    --allow_skipping_eval_items, and then counted under `skipped.<split>` in results.json."""
    wanted = set(task.languages)
    by_fold: dict[str, set[str]] = {}
    for lang in task.languages:
        by_fold.setdefault(lang.casefold(), set()).add(lang)
    found = set(ds.unique("language"))
    rename = {f: next(iter(by_fold[f.casefold()])) for f in found - wanted
              if len(by_fold.get(f.casefold(), ())) == 1}
    if rename:
        logger.warning("%s %s: language code(s) %s read as %s (case-insensitive match).", ctx.data_dir, split,
                       ", ".join(sorted(rename)), ", ".join(rename[k] for k in sorted(rename)))
        ds = ds.map(lambda lang: {"language": rename.get(lang, lang)}, input_columns=["language"],
                    desc="Language codes")
        found = {rename.get(f, f) for f in found}
    if not found & wanted:
        raise SourceError(f"{ctx.data_dir} {split}: no row is in the languages of {task.config_name} "
                          f"(found {', '.join(sorted(found)) or 'none'}; codes must match, e.g. "
                          f"{', '.join(task.languages[:3])}).")
    outside = found - wanted
    if not outside:
        return ds
    languages = ds["language"]
    counts = Counter(lang for lang in languages if lang not in wanted)
    listing = ", ".join(f"{lang} ({n})" for lang, n in sorted(counts.items()))
    if ctx.select_languages:
        return ds.filter(lambda lang: lang in wanted, input_columns=["language"])
    is_train = split == ctx.train_split
    if not is_train and not ctx.allow_skipping:
        raise SourceError(f"{ctx.data_dir} {split}: {sum(counts.values())} row(s) are in languages outside "
                          f"{task.config_name}: {listing}. Evaluation rows are never dropped silently: fix their "
                          "'language' codes, pick a config with those languages, or pass --allow_skipping_eval_items "
                          "to leave them out (counted in results.json).")
    key = "train" if is_train else split
    for lang, n in counts.items():
        ctx.skipped.setdefault(key, Counter())[f"language {lang} not in {task.config_name}"] += n
    logger.warning("%s %s: LEAVING OUT rows of languages outside %s (counted in results.json): %s", ctx.data_dir,
                   split, task.config_name, listing)
    return ds.select([i for i, lang in enumerate(languages) if lang in wanted])


def load_splits(task: ResolvedTask, splits: list[str], ctx: LoadContext,
                target_column: str | None = None) -> tuple[dict[str, Dataset], list[str]]:
    """Every requested split of a task, all its languages concatenated, in the common schema.

    `target` holds the task's target column (or `target_column`). Returns the splits and the languages that had
    to be left out (a `.all` config whose source lacks a language, e.g. MLS English); a single-language config
    raises instead.
    """
    target_column = target_column or task.spec.target_column
    adapter = ADAPTERS[task.spec.source]
    local = None
    manual = task.spec.source in ("covost2", "babel")  # their --data_dir is the hand-downloaded layout
    if ctx.data_dir and (not manual or all(LocalFolderAdapter.detect(Path(ctx.data_dir), s) for s in splits)):
        local = LocalFolderAdapter(task.languages[0] if len(task.languages) == 1 else None)
    out: dict[str, Dataset] = {}
    missing: list[str] = []
    ctx.splits = tuple(splits)
    for split in splits:
        if split not in SPLITS:
            raise SourceError(f"Unknown split '{split}'; XTREME-S splits are {', '.join(SPLITS)}.")
        if local is not None:
            ds = _languages_of_task(local.load_split(split, ctx), split, task, ctx)
            out[split] = with_target(ds, target_column, "local", f"{ctx.data_dir} {split}")
            continue
        parts = []
        for lang in task.languages:
            if lang in missing:
                continue
            try:
                parts.append(adapter.load(lang, split, ctx))
            except LanguageUnavailable as err:
                if len(task.languages) == 1:
                    raise
                logger.debug("Leaving %s out of %s: %s", lang, task.config_name, err)
                missing.append(lang)
        if not parts:
            raise SourceError(f"No data for {task.config_name} {split}: none of its languages was found.")
        ds = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
        out[split] = with_target(ds, target_column, task.spec.source, f"{task.config_name} {split}")
    for split, ds in out.items():  # a language found missing in a later split leaves every split
        if local is None and missing and set(ds.unique("language")) & set(missing):
            out[split] = ds.filter(lambda lang: lang not in missing, input_columns=["language"])
    if missing:
        logger.warning("%s: %d of %d languages are not available and are LEFT OUT (recorded in results.json as "
                       "languages_missing): %s", task.config_name, len(missing), len(task.languages),
                       " ".join(missing))
    return out, missing
