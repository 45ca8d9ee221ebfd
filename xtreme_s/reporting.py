"""What a run leaves behind for people and for the score: results.json and predictions beside references."""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.jsonl"


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
                      references: Sequence) -> None:
    """One JSON object per line, in dataset order: id, language, prediction, reference."""
    with open(path, "w", encoding="utf-8") as f:
        for row in zip(ids, languages, predictions, references, strict=True):
            f.write(json.dumps(dict(zip(("id", "language", "prediction", "reference"), row, strict=True)),
                               ensure_ascii=False) + "\n")


def write_results(output_dir: Path, payload: dict) -> Path:
    path = Path(output_dir) / RESULTS_FILE
    path.write_text(json.dumps(_clean(payload), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def format_summary(payload: dict) -> str:
    """A short plain-text table for the log: per-language metrics of each scored split."""
    lines = [f"XTREME-S {payload['task']} ({payload['config_name']}), model {payload['model']}"]
    if payload.get("languages_missing"):
        lines.append(f"  NOT COVERED ({len(payload['languages_missing'])} languages missing from the data): "
                     + " ".join(payload["languages_missing"]))
    for split, counts in payload.get("skipped", {}).items():
        lines.append(f"  skipped in {split}: " + ", ".join(f"{n} {reason}" for reason, n in counts.items()))
    for split, res in payload.get("splits", {}).items():
        metrics = [k for k in res["macro"]]
        lines.append(f"  [{split}] {res['num_examples']} utterances")
        lines.append("    " + "language".ljust(14) + "".join(m.rjust(10) for m in metrics) + "n".rjust(8))
        for lang, row in res["per_language"].items():
            lines.append("    " + lang.ljust(14) + "".join(f"{row[m]:10.4f}" for m in metrics)
                         + f"{row['num_examples']:8d}")
        lines.append("    " + "macro avg".ljust(14) + "".join(f"{res['macro'][m]:10.4f}" for m in metrics))
        lines.append("    " + "pooled".ljust(14) + "".join(f"{res['pooled'][m]:10.4f}" for m in metrics))
    return "\n".join(lines)
