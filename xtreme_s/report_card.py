"""Results people can read and publish: results.md, a bar chart per split, the model card, the Hub upload.

Everything here reads the run's `results.json` payload (and predictions.jsonl for ASR samples), so it describes
exactly what the score and the tests see. Publishing goes through the Trainer's own `create_model_card` and
`push_to_hub`; our section (task, config, languages, per-language metrics, hyperparameters) is appended to the
card the Trainer drafts.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from . import reporting

logger = logging.getLogger(__name__)

REPORT_FILE = "results.md"
CARD_FILE = "README.md"
HUB_TASKS = {"ctc": "automatic-speech-recognition", "seq2seq": "automatic-speech-recognition",
             "classification": "audio-classification", "retrieval": "feature-extraction"}
ASR_METRICS = ("wer", "cer")


def protect_token(training_args: Any) -> None:
    """Keep `--hub_token` out of everything a run writes.

    The Trainer pickles its arguments whole into training_args.bin (`to_dict`/`__str__` redact `*_token`, the
    pickle does not). The token moves to this process's HF_TOKEN, which huggingface_hub reads whenever a call
    passes no token, so downloads and the upload still authenticate.
    """
    token = getattr(training_args, "hub_token", None)
    if token:
        os.environ["HF_TOKEN"] = token
        training_args.hub_token = None


def _chart_path(out_dir: Path, split: str) -> Path:
    return Path(out_dir) / f"results_{split}.png"


def _sorted_rows(res: dict, metric: str, greater_is_better: bool) -> list[tuple[str, dict]]:
    rows = [(lang, row) for lang, row in res.get("per_language", {}).items() if row.get(metric) is not None]
    return sorted(rows, key=lambda r: r[1][metric], reverse=greater_is_better)


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend: runs write image files and never need a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_chart(path: Path, res: dict, metric: str, greater_is_better: bool, title: str) -> Path | None:
    """Horizontal bars of `metric` per language, best on top, with the macro average as a dashed line."""
    plt = pyplot()
    rows = _sorted_rows(res, metric, greater_is_better)
    if not rows:
        return None
    langs = [lang for lang, _ in rows][::-1]
    values = [row[metric] for _, row in rows][::-1]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.22 * len(rows)))
    ax.barh(langs, values, color="#4c72b0")
    macro = res.get("macro", {}).get(metric)
    label = f"{metric} ({'higher' if greater_is_better else 'lower'} is better)"
    if macro is not None:
        ax.axvline(macro, color="#c44e52", linestyle="--")
        label += f"; dashed line: macro average {macro:.3f}"
    ax.set_xlabel(label)
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=7 if len(rows) > 30 else 9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _split_table(res: dict, metric: str, greater_is_better: bool) -> list[str]:
    metrics = list(res.get("macro", {}))
    lines = ["| language | " + " | ".join(metrics) + " | n |", "|---|" + "---|" * len(metrics) + "---|"]
    for lang, row in _sorted_rows(res, metric, greater_is_better):
        lines.append(f"| {lang} | " + " | ".join(_fmt(row.get(m)) for m in metrics) + f" | {row['num_examples']} |")
    lines.append("| **macro average** | " + " | ".join(f"**{_fmt(res['macro'].get(m))}**" for m in metrics) + " | |")
    if res.get("pooled"):
        lines.append("| pooled (all utterances) | " + " | ".join(_fmt(res["pooled"].get(m)) for m in metrics) + " | |")
    return lines


def _asr_details(res: dict, metric: str, predictions: list[dict], worst: int = 3, samples: int = 3) -> list[str]:
    """The worst languages and a few of their predictions next to the references."""
    rows = _sorted_rows(res, metric, greater_is_better=False)[::-1][:worst]
    if not rows:
        return []
    lines = ["", f"Worst languages by {metric.upper()}: " + ", ".join(f"{lang} ({row[metric]:.3f})"
                                                                     for lang, row in rows)]
    for lang, _ in rows:
        picked = [p for p in predictions if p.get("language") == lang][:samples]
        if picked:
            lines += ["", f"Sample predictions, {lang}:", "", "| reference | prediction |", "|---|---|"]
            lines += [f"| {_cell(p['reference'])} | {_cell(p['prediction'])} |" for p in picked]
    return lines


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ") or "(empty)"


LAYER_WEIGHTS_CHART = "layer_weights.png"


def protocol_lines(payload: dict, out_dir: Path | None = None) -> list[str]:
    """What was trained, with parameter counts (and a probe's learned layer weights), for results.md and the card."""
    protocol = payload.get("protocol")
    if not protocol:
        return []
    trainable, total = protocol.get("trainable_parameters"), protocol.get("total_parameters")
    lines = [f"- Protocol: **{protocol['name']}**"
             + (f", {trainable:,} of {total:,} parameters trained ({100 * trainable / total:.2f}%)"
                if trainable is not None and total else "")]
    details = {k: v for k, v in protocol.items() if k not in (
        "name", "trainable_parameters", "total_parameters", "trainable_fraction", "layer_weights")}
    if details:
        lines.append("- Protocol details: " + "; ".join(f"{k}: {v}" for k, v in details.items()))
    weights = protocol.get("layer_weights")
    if weights:
        top = sorted(range(len(weights)), key=lambda i: -weights[i])[:3]
        lines.append(f"- Learned layer weights ({len(weights)} hidden states, 0 = input to the first layer; largest: "
                     + ", ".join(f"{i} ({weights[i]:.3f})" for i in top) + ")")
        if out_dir is not None and (Path(out_dir) / LAYER_WEIGHTS_CHART).exists():
            lines += ["", f"![learned layer weights]({LAYER_WEIGHTS_CHART})"]
    return lines


def results_markdown(out_dir: Path, payload: dict, prediction_files: dict[str, Path]) -> str:
    metric = payload["primary_metric"]
    better = bool(payload.get("greater_is_better"))
    lines = [f"# XTREME-S {payload['task']} ({payload['config_name']})", "",
             f"Model: `{payload['model']}`  ", f"Languages: {len(payload.get('languages', []))}"
             + (f" (group {payload['language_group']})" if payload.get("language_group") else "")]
    if payload.get("languages_missing"):
        lines.append(f"  \n**Not covered** ({len(payload['languages_missing'])} missing from the data): "
                     + " ".join(payload["languages_missing"]))
    protocol = protocol_lines(payload, out_dir)
    if protocol:
        lines += ["", *protocol]
    units = payload.get("metric_units")
    lines += ["", f"Primary metric: **{metric}** ({'higher' if better else 'lower'} is better; {units})."]
    for split, res in payload.get("splits", {}).items():
        chart = _chart_path(out_dir, split)
        lines += ["", f"## {split} ({res.get('num_examples')} utterances)", ""]
        if chart.exists():
            lines += [f"![{metric} per language, {split}]({chart.name})", ""]
        lines += _split_table(res, metric, better)
        retrieval = payload.get("notes", {}).get("retrieval", {}).get(split)
        if retrieval:
            lines += ["", f"{retrieval['queries']} queries against {retrieval['keys']} {retrieval['key_language']} "
                          f"keys + {retrieval['distractors']} distractors; chance P@1 "
                          f"{retrieval['chance_precision_at_1']:.3f}; {retrieval['similarity']} similarity, "
                          f"{retrieval['pooling']}-pooled layer {retrieval['layer']}."]
        if metric in ASR_METRICS:
            lines += _asr_details(res, metric, _read_jsonl(prediction_files.get(split, Path("/nonexistent"))))
    for split, counts in payload.get("skipped", {}).items():
        lines += ["", f"Skipped in {split}: " + ", ".join(f"{n} {reason}" for reason, n in counts.items())]
    return "\n".join(lines) + "\n"


def write_report(out_dir: Path, payload: dict, roles: dict[str, str]) -> Path:
    """results.md and one results_<split>.png per scored split. `roles` maps eval/predict to split names."""
    out_dir = Path(out_dir)
    files: dict[str, Path] = {}
    if "eval" in roles:
        files[roles["eval"]] = out_dir / f"eval_{reporting.PREDICTIONS_FILE}"
    if "predict" in roles:  # the same split under both roles: its predict file wins
        files[roles["predict"]] = out_dir / reporting.PREDICTIONS_FILE
    metric = payload["primary_metric"]
    for split, res in payload.get("splits", {}).items():
        bar_chart(_chart_path(out_dir, split), res, metric, bool(payload.get("greater_is_better")),
                  f"{payload['task']} ({payload['config_name']}), {split}: {metric} per language")
    weights = (payload.get("protocol") or {}).get("layer_weights")
    if weights:
        from .protocols.probe import plot_layer_weights

        plot_layer_weights(weights, out_dir / LAYER_WEIGHTS_CHART,
                           f"{payload['task']} ({payload['config_name']}): learned layer weights, {payload['model']}")
    path = out_dir / REPORT_FILE
    path.write_text(results_markdown(out_dir, payload, files), encoding="utf-8")
    return path


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
        lines += ["", f"### Results on `{split}`", ""] + _split_table(res, payload["primary_metric"], better)
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
