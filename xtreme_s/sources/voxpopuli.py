"""VoxPopuli (facebook/voxpopuli): the script-free parquet export, else the original tar shards + TSVs on main."""

from __future__ import annotations

import os
from collections.abc import Callable

import datasets
from datasets import Audio, ClassLabel, Dataset

from .base import LoadContext, to_common_schema
from .hub import HubAdapter, parquet_export_patterns
from .raw_layout import RawLayoutError

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


class VoxPopuliAdapter(HubAdapter):
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
        return parquet_export_patterns(language, self.split_names[split], "voxpopuli")

    def raw_patterns(self, language: str, split: str) -> tuple[list[str], list[str]]:
        s = self.raw_splits[split]
        return [f"data/{language}/asr_{s}.tsv"], [f"data/{language}/{s}/*.tar.gz", f"data/{language}/{s}/*.tar"]

    def raw_row_maker(self, rows: list[dict[str, str]], language: str) -> Callable[[str, bytes], dict | None]:
        if rows and not {"raw_text", "normalized_text"} <= set(rows[0]):
            raise RawLayoutError(f"the VoxPopuli TSV has columns {', '.join(rows[0])}; expected id, "
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
        ds = self.read_hub(language, split, ctx)
        return to_common_schema(ds, language, "audio_id",
                                {"normalized_text": "transcription", "raw_text": "raw_transcription"},
                                ["transcription", "raw_transcription", "speaker_id", "gender"], None, ctx)
