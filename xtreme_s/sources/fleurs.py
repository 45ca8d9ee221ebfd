"""FLEURS (google/fleurs): the script-free parquet export, else the original tar shards + TSVs on main."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import datasets
from datasets import Audio, ClassLabel, Dataset

from ..registry import FLEURS_GROUPS, FLEURS_LOCALES
from .base import LoadContext, SourceError, header_durations, to_common_schema
from .hub import HubAdapter, parquet_export_patterns

logger = logging.getLogger(__name__)

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


def fleurs_durations(ds: Dataset) -> Dataset:
    """From `num_samples` (16 kHz) where the row has it; from the audio header where it is missing or null."""
    counts = ds["num_samples"] if "num_samples" in ds.column_names else [None] * len(ds)
    if all(n is not None for n in counts):
        return ds.add_column("duration", [n / 16_000 for n in counts])
    logger.warning("FLEURS: %d of %d rows have no num_samples; reading their audio headers instead.",
                   sum(n is None for n in counts), len(ds))
    headers = header_durations({"audio": ds.select([i for i, n in enumerate(counts) if n is None])["audio"]})
    fill = iter(headers["duration"])
    return ds.add_column("duration", [n / 16_000 if n is not None else next(fill) for n in counts])


class FleursAdapter(HubAdapter):
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
    raw_integer_columns = ("id", "num_samples")

    def parquet_patterns(self, language: str, split: str) -> list[str]:
        return parquet_export_patterns(language, self.split_names[split], "fleurs")

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
            samples = r["num_samples"].strip()  # checked by convert_raw; empty: from the audio header
            return {"id": int(r["id"]), "num_samples": int(samples) if samples else None, "path": name,
                    "audio": {"bytes": data, "path": name}, "transcription": r["transcription"],
                    "raw_transcription": r["raw_transcription"],
                    "gender": FLEURS_GENDERS.index(gender) if gender in FLEURS_GENDERS else 2,
                    "lang_id": FLEURS_LOCALES.index(language), "language": language, "lang_group_id": group}

        return row_for

    def load(self, language: str, split: str, ctx: LoadContext) -> Dataset:
        ds = fleurs_lang_ids(self.read_hub(language, split, ctx))
        ds = ds.rename_columns({"id": "sentence_id"})
        # The utterance id is the file name: the export's `path` is the converter machine's absolute path, the raw
        # TSV's the bare name; both layouts then give the same ids.
        ds = ds.add_column("utterance", [os.path.basename(p) for p in ds["path"]])
        return to_common_schema(ds, language, "utterance", {}, ["transcription", "raw_transcription", "lang_id",
                                                               "sentence_id", "lang_group_id", "gender",
                                                               "num_samples"],
                                fleurs_durations, ctx)
