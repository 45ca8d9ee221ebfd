"""The model card and the Hub upload: a card that states only what is true (reports.provenance: the real base
model, "fine-tuned from" / "probed on" / "LoRA on", the real data source, a smoke test said so, model-index metrics
only for the benchmark's real test data) with our section (task, config, languages, per-language metrics with
intervals, hyperparameters, data revisions), published through the Trainer's own `push_to_hub`. Reads only the
run's results.json record (`xtreme_s.results`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import atomic
from .provenance import card_intro, card_metadata, data_source
from .results_md import lm_lines, protocol_lines, split_table, units

CARD_FILE = "README.md"


def card_section(payload: dict) -> str:
    """Our part of the model card: what was run, on what, with which settings, and the numbers per language."""
    lines = ["", "## XTREME-S evaluation", "",
             f"- Task: `{payload['task']}` ({payload['family']} head), config `{payload['config_name']}`",
             f"- Languages ({len(payload.get('languages', []))}): " + " ".join(payload.get("languages", []))]
    if payload.get("languages_missing"):
        lines.append(f"- Not covered ({len(payload['languages_missing'])}): " + " ".join(payload["languages_missing"]))
    reported = list(next(iter(payload.get("splits", {}).values()), {}).get("macro", {})) or [payload["primary_metric"]]
    with_ci = any(r.get("intervals") for r in payload.get("splits", {}).values())
    lines.append(f"- Metric: {payload['primary_metric']} ({units(reported)}"
                 + ("; in brackets: 95 % bootstrap intervals)" if with_ci else ")"))
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
    repositories = data_source(payload)["repositories"]
    if repositories:
        lines += ["", "### Data revisions read", "", "| repository | revision |", "|---|---|"]
        lines += [f"| {repo} | {rev or 'not recorded'} |" for repo, rev in repositories.items()]
    lines += ["", "Produced by the xtreme-s runner; `results.json` in this repository holds every number above."]
    return "\n".join(lines) + "\n"


def card_text(payload: dict, name: str) -> str:
    """The whole card, ours: metadata (huggingface_hub ModelCardData; model-index only for real test results),
    what the model is and was made from, the data, and the XTREME-S section. Not the Trainer's draft, which says
    "trained from scratch" of any local checkpoint, names the benchmark of a smoke test, and puts whatever an
    evaluation logged into the model-index."""
    return f"---\n{card_metadata(payload, name).to_yaml()}\n---\n\n{card_intro(payload, name)}{card_section(payload)}"


def _create_card(trainer: Any, payload: dict, **kwargs: Any) -> None:
    name = kwargs.get("model_name") or Path(trainer.args.output_dir).name
    atomic.write_text(Path(trainer.args.output_dir, CARD_FILE), card_text(payload, name))


def write_model_card(trainer: Any, payload: dict) -> Path:
    """README.md in output_dir (offline)."""
    _create_card(trainer, payload)
    return Path(trainer.args.output_dir, CARD_FILE)


def push_to_hub(trainer: Any, payload: dict) -> Any:
    """The Trainer's own upload (model, processor, output_dir files incl. results.json/results.md/charts).

    `Trainer.push_to_hub` redraws the card just before uploading; this instance's `create_model_card` is replaced
    so that the uploaded card is ours.
    """
    original = trainer.create_model_card
    trainer.create_model_card = lambda **kw: _create_card(trainer, payload, **kw)
    try:
        return trainer.push_to_hub(commit_message=f"XTREME-S {payload['task']} ({payload['config_name']})")
    finally:
        trainer.create_model_card = original
