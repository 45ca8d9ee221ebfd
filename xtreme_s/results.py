"""What a run leaves behind for people and for the score: results.json (one typed record, `Results`, built and
written here and nowhere else; read back with `load_results`), predictions beside references, and the tally a run
keeps while it goes (what was skipped, family notes, references, each split's scores).

results.json's shape is published as a JSON Schema, docs/results.schema.json (tests/test_results_schema.py
validates real runs against it), and versioned by `schema_version`: a reader (score, the report card, comparisons)
reads any run whose version it knows. Change the shape only with a new version and the schema beside it.
"""

from __future__ import annotations

import json
import math
import platform
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import atomic_open, write_text
from .errors import UserError

RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.jsonl"
SCHEMA_VERSION = "2"  # 2: base_model, model_source, data.source and .ids_missing_from_data, split intervals and
# predictions_file (all optional)
KNOWN_SCHEMA_VERSIONS = ("1", "2")  # runs written before versioning carry none and have version 1's shape
METRIC_UNITS = "fractions (0-1) as the xtreme_s metric returns them; BLEU 0-100"


@dataclass
class RunTally:
    """What a run learns about its data while it goes, per split name (`train`, `validation`, `test`: the
    --*_split_name values): the runner owns it and hands it to the family, the start-up checks and the sources'
    counts, and reads results.json's `skipped` and `notes` and each split's scores from here."""

    skipped: dict[str, Counter] = field(default_factory=dict)  # split -> reason -> count
    notes: dict[str, Any] = field(default_factory=dict)  # family-specific facts (e.g. OOV rate per split)
    references: dict[str, list] = field(default_factory=dict)  # scored split -> references, in dataset order
    scored: dict[str, Any] = field(default_factory=dict)  # split -> its latest (predictions, report)
    # evaluation-only runs: a line per split naming the clips that could not be scored (the run fails at its end)
    unscored: list[str] = field(default_factory=list)

    def skip(self, split: str, reason: str, n: int = 1) -> None:
        self.skipped.setdefault(split, Counter())[reason] += n

    def skipped_json(self) -> dict[str, dict[str, int]]:
        return {split: dict(c) for split, c in self.skipped.items()}


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf; write them as null (and keep the reason in the text around them)."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("xtreme-s", "torch", "transformers", "datasets", "accelerate", "soundfile", "soxr", "jiwer"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_predictions(path: Path, ids: Sequence[str], languages: Sequence[str], predictions: Sequence,
                      references: Sequence, blocks: dict[str, Sequence] | None = None) -> None:
    """One JSON object per line, in dataset order: id, language, prediction, reference, and the row's speaker_id /
    sentence_id where the data has them (`blocks`: the resampling blocks of `xtreme-s compare`)."""
    blocks = {k: v[: len(ids)] for k, v in (blocks or {}).items()}
    with atomic_open(path) as f:  # whole or not at all: score, compare and later tools read it
        for i, row in enumerate(zip(ids, languages, predictions, references, strict=True)):
            item = dict(zip(("id", "language", "prediction", "reference"), row, strict=True))
            item.update({k: v[i] for k, v in blocks.items()})
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


@dataclass
class SplitResult:
    """One scored split: its size, loss, and the family's scores (`per_language`, `macro`, `pooled`; CoVoST-2 adds
    `groups`), all in the metric's own units."""

    num_examples: int
    loss: float | None
    scores: dict[str, Any]
    predictions_file: str | None = None  # the file of this split's predictions (what `xtreme-s compare` re-scores)
    # 95 % bootstrap intervals of every metric, per language and macro, and how they were made (xtreme_s.stats)
    intervals: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"num_examples": self.num_examples, "loss": self.loss, **self.scores}
        if self.intervals is not None:
            out["intervals"] = self.intervals
        if self.predictions_file is not None:
            out["predictions_file"] = self.predictions_file
        return out


@dataclass
class DataRecord:
    """What the sources read: dataset revisions, how many files, each repository's layout (parquet export /
    parquet / raw fallback, its revision and commit), source warnings, raw transcripts without audio."""

    revisions: dict[str, Any] = field(default_factory=dict)
    num_files: int = 0
    layouts: dict[str, Any] = field(default_factory=dict)
    warnings: list[Any] = field(default_factory=list)
    raw_transcripts_without_audio: dict[str, Any] = field(default_factory=dict)
    # The kind of data: hub, mirror, local (a --data_dir folder) or mini (the bundled synthetic benchmark), and the
    # folder's name; the model card and results.md say which.
    source: dict[str, Any] = field(default_factory=dict)
    ids_missing_from_data: dict[str, int] = field(default_factory=dict)  # id list -> ids the data lacks

    @classmethod
    def of(cls, record: dict[str, Any]) -> DataRecord:
        """From the sources' load record (`LoadContext.record`)."""
        return cls(revisions=record.get("revisions", {}), num_files=len(record.get("files", [])),
                   layouts=record.get("layouts", {}), warnings=record.get("source_warnings", []),
                   raw_transcripts_without_audio=record.get("raw_transcripts_without_audio", {}),
                   ids_missing_from_data=record.get("ids_missing_from_data", {}))

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "revisions": self.revisions, "num_files": self.num_files,
                "layouts": self.layouts, "warnings": self.warnings,
                "raw_transcripts_without_audio": self.raw_transcripts_without_audio,
                "ids_missing_from_data": self.ids_missing_from_data}


@dataclass
class Results:
    """results.json of one run. Field order is the file's key order."""

    task: str
    config_name: str
    family: str
    model: str
    languages: list[str]  # those the data covered
    languages_missing: list[str]
    language_group: str | None
    primary_metric: str
    greater_is_better: bool
    metric_units: str = METRIC_UNITS
    splits: dict[str, SplitResult] = field(default_factory=dict)  # scored split name -> its result
    train: dict[str, Any] | None = None  # the Trainer's training metrics, when the run trained
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> reason -> count
    notes: dict[str, Any] = field(default_factory=dict)  # family-specific facts, per split where they differ
    protocol: dict[str, Any] = field(default_factory=dict)  # what was trained, parameter counts, details
    # Where the pretrained weights came from: {"name", "revision"} (a LoRA directory's base model, else `model`)
    base_model: dict[str, Any] = field(default_factory=dict)
    data: DataRecord = field(default_factory=DataRecord)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    # where the model came from, portably (encoders.model_provenance): absolute path or Hub id, config checksum
    model_source: dict[str, Any] | None = None
    schema_version: str = SCHEMA_VERSION

    def to_json(self, clean: bool = True) -> dict[str, Any]:
        """The results.json object; NaN and infinity as null (JSON has neither) unless `clean` is False (the log
        summary and results.md print them as they are)."""
        out: dict[str, Any] = {"schema_version": self.schema_version}
        for name in ("task", "config_name", "family", "model", "languages", "languages_missing", "language_group",
                     "primary_metric", "greater_is_better", "metric_units"):
            out[name] = getattr(self, name)
            if name == "model" and self.model_source is not None:
                out["model_source"] = self.model_source
        out["splits"] = {split: result.to_json() for split, result in self.splits.items()}
        if self.train is not None:
            out["train"] = self.train
        out.update(skipped=self.skipped, notes=self.notes, protocol=self.protocol, base_model=self.base_model,
                   data=self.data.to_json(),
                   hyperparameters=self.hyperparameters, versions=self.versions)
        return _clean(out) if clean else out

    def write(self, output_dir: Path) -> Path:
        # Whole or not at all: a kill or a full disk mid-write must not leave half a file a rerun reads as finished.
        return write_text(Path(output_dir) / RESULTS_FILE, json.dumps(self.to_json(), indent=2, ensure_ascii=False)
                          + "\n")


class ResultsFileError(UserError, FileNotFoundError):
    """A results.json that is missing, unreadable, or of a schema version this release does not know."""


def load_results(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """A run's results.json (`path`: its output directory or the file) as the JSON object the schema describes,
    with the file it came from. Refuses a file that is missing, not a JSON object, or of an unknown version."""
    path = Path(path)
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.is_file():
        raise ResultsFileError(f"{path}: no results.json (pass a run's --output_dir or its results.json).")
    try:
        content = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ResultsFileError(f"{file}: not readable as JSON ({err}).") from None
    if not isinstance(content, dict):
        raise ResultsFileError(f"{file}: holds no JSON object, so it is not a run's results.json.")
    version = str(content.get("schema_version", "1"))
    if version not in KNOWN_SCHEMA_VERSIONS:
        raise ResultsFileError(f"{file}: results.json schema_version {version} is newer than this release reads "
                               f"({', '.join(KNOWN_SCHEMA_VERSIONS)}); update xtreme-s.")
    return file, content
