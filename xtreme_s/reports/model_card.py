"""The model card and the Hub upload: our section (task, config, languages, per-language metrics,
hyperparameters, data revisions) appended to the card the Trainer drafts, published through the Trainer's own
`create_model_card` and `push_to_hub`. Reads only the run's results.json record (`xtreme_s.results`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from .results_md import lm_lines, protocol_lines, split_table

logger = logging.getLogger(__name__)

CARD_FILE = "README.md"
HUB_TASKS = {"ctc": "automatic-speech-recognition", "seq2seq": "automatic-speech-recognition",
             "classification": "audio-classification", "retrieval": "feature-extraction"}


def card_section(payload: dict) -> str:
    """Our part of the model card: what was run, on what, with which settings, and the numbers per language."""
    lines = ["", "## XTREME-S evaluation", "",
             f"- Task: `{payload['task']}` ({payload['family']} head), config `{payload['config_name']}`",
             f"- Base model: `{payload['model']}`",
             f"- Languages ({len(payload.get('languages', []))}): " + " ".join(payload.get("languages", []))]
    if payload.get("languages_missing"):
        lines.append(f"- Not covered ({len(payload['languages_missing'])}): " + " ".join(payload["languages_missing"]))
    lines.append(f"- Metric: {payload['primary_metric']} ({payload.get('metric_units')})")
    lines += protocol_lines(payload)
    better = bool(payload.get("greater_is_better"))
    for split, res in payload.get("splits", {}).items():
        lines += ["", f"### Results on `{split}`", ""] + split_table(res, payload["primary_metric"], better)
        if res.get("lm"):
            lines += ["", "The table above is greedy CTC decoding (no language model). The next one used an n-gram "
                      "LM:"] + lm_lines(res, payload["primary_metric"], better)
    if payload.get("hyperparameters"):
        lines += ["", "### Hyperparameters", "", "| name | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in payload["hyperparameters"].items()]
    if payload.get("data", {}).get("revisions"):
        lines += ["", "### Data revisions read", "", "```json",
                  json.dumps(payload["data"]["revisions"], indent=1), "```"]
    lines += ["", "Produced by the xtreme-s runner; `results.json` in this repository holds every number above."]
    return "\n".join(lines) + "\n"


def card_kwargs(payload: dict) -> dict[str, Any]:
    """Metadata for the Trainer's card: dataset, config, task type, ISO language codes, tags."""
    iso = sorted({lang.split("_")[0].split("-")[0] for lang in payload.get("languages", [])})
    kwargs = dict(dataset="google/xtreme_s", dataset_tags="google/xtreme_s", dataset_args=payload["config_name"],
                  tasks=HUB_TASKS.get(payload["family"]), tags=["xtreme-s", payload["task"]], language=iso or None)
    if payload.get("model") and not Path(str(payload["model"])).is_dir():
        kwargs["finetuned_from"] = payload["model"]
    return kwargs


def _create_card(trainer: Any, payload: dict, create: Any, **kwargs: Any) -> None:
    try:
        create(**{**card_kwargs(payload), **kwargs})
    except Exception as err:  # the draft is a courtesy: our section below is the card's substance
        logger.warning("The Trainer's model card draft failed (%s); writing the XTREME-S section alone.", err)
        Path(trainer.args.output_dir, CARD_FILE).write_text(
            f"---\ntags:\n- xtreme-s\n- {payload['task']}\ndatasets:\n- google/xtreme_s\n---\n\n"
            f"# {Path(trainer.args.output_dir).name}\n", encoding="utf-8")
    path = Path(trainer.args.output_dir, CARD_FILE)
    path.write_text(path.read_text(encoding="utf-8") + card_section(payload), encoding="utf-8")


def write_model_card(trainer: Any, payload: dict) -> Path:
    """README.md in output_dir (offline): the Trainer's draft plus the XTREME-S section."""
    _create_card(trainer, payload, trainer.create_model_card)
    return Path(trainer.args.output_dir, CARD_FILE)


def push_to_hub(trainer: Any, payload: dict) -> Any:
    """The Trainer's own upload (model, processor, output_dir files incl. results.json/results.md/charts).

    `Trainer.push_to_hub` redraws the card just before uploading; this instance's `create_model_card` is wrapped
    so that the uploaded card keeps the XTREME-S section.
    """
    original = trainer.create_model_card
    trainer.create_model_card = lambda **kw: _create_card(trainer, payload, original, **kw)
    try:
        return trainer.push_to_hub(commit_message=f"XTREME-S {payload['task']} ({payload['config_name']})")
    finally:
        trainer.create_model_card = original
