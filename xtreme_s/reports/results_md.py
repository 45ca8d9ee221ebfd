"""Results people read: results.md and a bar chart per split (and a probe's learned layer weights), and the plain
text summary in the log.

Everything here reads the run's results.json record (`xtreme_s.results`; predictions.jsonl for ASR samples), so
it describes exactly what the score and the tests see.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import atomic
from ..plots import METRIC_NAMES, bar_chart, plot_layer_weights, sorted_rows
from ..results import PREDICTIONS_FILE
from .provenance import base_model, data_line, is_local, model_name, provenance_line, smoke_test_note

REPORT_FILE = "results.md"
ASR_METRICS = ("wer", "cer")
LAYER_WEIGHTS_CHART = "layer_weights.png"


def _chart_path(out_dir: Path, split: str) -> Path:
    return Path(out_dir) / f"results_{split}.png"


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fmt(value: Any, metric: str = "") -> str:
    """A metric in its own units: BLEU (0-100) with 2 decimals, fractions with 4."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.2f}" if metric == "bleu" else f"{value:.4f}"
    return str(value)


def units(metrics: list[str]) -> str:
    """What the numbers are, per metric: BLEU 0-100, the others fractions."""
    bleu = [m for m in metrics if m == "bleu"]
    fractions = [m for m in metrics if m != "bleu"]
    parts = ([f"{', '.join(fractions)} as fractions (0-1)"] if fractions else []) + (["BLEU 0-100"] if bleu else [])
    return "; ".join(parts)


def _with_interval(value: Any, interval: list | None, metric: str) -> str:
    if not interval or interval[0] is None:
        return _fmt(value, metric)
    return f"{_fmt(value, metric)} [{_fmt(interval[0], metric)}, {_fmt(interval[1], metric)}]"


def split_table(res: dict, metric: str, greater_is_better: bool) -> list[str]:
    """Per-language metrics, best first, then the macro average (with 95 % bootstrap intervals where the run has
    them) and the pooled value."""
    metrics = list(res.get("macro", {}))
    ci = res.get("intervals") or {}
    per_lang, macro_ci = ci.get("per_language", {}), ci.get("macro", {})
    head = [f"{m} [95 % CI]" if ci else m for m in metrics]
    lines = ["| language | " + " | ".join(head) + " | n |", "|---|" + "---|" * len(metrics) + "---|"]
    for lang, row in sorted_rows(res, metric, greater_is_better):
        lines.append(f"| {lang} | " + " | ".join(_with_interval(row.get(m), per_lang.get(lang, {}).get(m), m)
                                                  for m in metrics) + f" | {row['num_examples']} |")
    lines.append("| **macro average** | " + " | ".join(
        f"**{_with_interval(res['macro'].get(m), macro_ci.get(m), m)}**" for m in metrics) + " | |")
    if res.get("pooled"):
        lines.append("| pooled (all utterances) | " + " | ".join(_fmt(res["pooled"].get(m), m) for m in metrics)
                     + " | |")
    return lines


def _asr_details(res: dict, metric: str, predictions: list[dict], worst: int = 3, samples: int = 3) -> list[str]:
    """The worst languages and a few of their predictions next to the references."""
    rows = sorted_rows(res, metric, greater_is_better=False)[::-1][:worst]
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


def lm_lines(res: dict, metric: str, greater_is_better: bool) -> list[str]:
    """A split's n-gram LM figures (results.json `splits.<split>.lm`, docs/lm.md): which LM and decoder settings,
    then the per-language table as the greedy one has it."""
    lm = res.get("lm")
    if not lm:
        return []
    d = lm["decoder"]
    files = ", ".join(f"{lang}: {Path(f['path']).name} ({f['order']}-gram, sha256 {f['sha256'][:12]})"
                      for lang, f in lm.get("lm_files", {}).items())
    weights = f"LM weight {d['lm_weight']}" + (f", word score {d['word_score']}" if "word_score" in d else "")
    tuned = f"tuned on {lm['tuned_on']}" if lm.get("tuned_on") else "as given"
    head = (f"With an n-gram LM ({d['mode']} beam search, beam {d['beam_width']}, {weights}, {tuned}; "
            f"greedy {metric} {_fmt(res.get('macro', {}).get(metric))} -> LM {_fmt(lm['macro'].get(metric))} "
            f"macro):")
    return ["", head, "", *split_table(lm, metric, greater_is_better), "", f"LM files: {files}."]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ") or "(empty)"


def _flatten(details: dict, prefix: str = "") -> dict[str, Any]:
    """Nested protocol details as `downstream.pooling`-style rows (a table, not a Python dict in the text)."""
    out: dict[str, Any] = {}
    for k, v in details.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _setting(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, str) and is_local(value):
        return model_name(value)  # a local folder by its name, never the machine's absolute path
    return "none" if value is None or value == {} else str(value)


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
        lines += ["", "| protocol setting | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(_setting(v))} |" for k, v in _flatten(details).items()]
        lines.append("")
    weights = protocol.get("layer_weights")
    if weights:
        top = sorted(range(len(weights)), key=lambda i: -weights[i])[:3]
        lines.append(f"- Learned layer weights ({len(weights)} hidden states, 0 = input to the first layer; largest: "
                     + ", ".join(f"{i} ({weights[i]:.3f})" for i in top) + ")")
        if out_dir is not None and (Path(out_dir) / LAYER_WEIGHTS_CHART).exists():
            lines += ["", f"![learned layer weights]({LAYER_WEIGHTS_CHART})"]
    return lines


def ready_made_lines(res: dict, metric: str) -> list[str]:
    """A ready-made model's split: languages it does not cover, the mean over the covered ones, the normalised
    variant and RTFx (docs/ready-made-models.md); nothing for other runs."""
    lines = []
    coverage = res.get("coverage") or {}
    if coverage.get("not_covered"):
        lines.append(f"- Not covered by the model ({len(coverage['not_covered'])}, counted as errors in the macro "
                     f"average): {' '.join(coverage['not_covered'])}; mean over the covered languages: "
                     f"{_fmt((res.get('macro_covered') or {}).get(metric))}.")
    normalized = res.get("normalized")
    if normalized:
        lines.append(f"- Normalised ({normalized['normalizer']}: Whisper's basic normaliser, marks kept; CER for "
                     f"zh/ja/th/lo/my): macro error rate {_fmt(normalized['macro'].get('error_rate'))}.")
    speed = res.get("speed")
    if speed and speed.get("rtfx"):
        lines.append(f"- RTFx {speed['rtfx']:.1f} ({speed['audio_seconds']:.0f} s of audio in "
                     f"{speed['wall_seconds']:.1f} s; batches of at most {speed.get('per_device_eval_batch_size')} "
                     "clips).")
    return ["", *lines] if lines else []


def results_markdown(out_dir: Path, payload: dict, prediction_files: dict[str, Path]) -> str:
    metric = payload["primary_metric"]
    better = bool(payload.get("greater_is_better"))
    lines = [f"# XTREME-S {payload['task']} ({payload['config_name']})", ""]
    if note := smoke_test_note(payload):
        lines += [note, ""]
    lines += [provenance_line(payload) + "  ", data_line(payload) + "  ",
              f"Languages: {len(payload.get('languages', []))}"
              + (f" (group {payload['language_group']})" if payload.get("language_group") else "")]
    if payload.get("languages_missing"):
        lines.append(f"  \n**Not covered** ({len(payload['languages_missing'])} missing from the data): "
                     + " ".join(payload["languages_missing"]))
    protocol = protocol_lines(payload, out_dir)
    if protocol:
        lines += ["", *protocol]
    reported = list(next(iter(payload.get("splits", {}).values()), {}).get("macro", {})) or [metric]
    lines += ["", f"Primary metric: **{metric}** ({'higher' if better else 'lower'} is better); {units(reported)}."
              + (" In brackets: 95 % bootstrap intervals (docs/compare.md)." if any(
                  r.get("intervals") for r in payload.get("splits", {}).values()) else "")]
    for split, res in payload.get("splits", {}).items():
        chart = _chart_path(out_dir, split)
        lines += ["", f"## {split} ({res.get('num_examples')} utterances)", ""]
        if chart.exists():
            lines += [f"![{metric} per language, {split}]({chart.name})", ""]
        lines += split_table(res, metric, better)
        lines += lm_lines(res, metric, better)
        retrieval = payload.get("notes", {}).get("retrieval", {}).get(split)
        if retrieval:
            lines += ["", f"{retrieval['queries']} queries against {retrieval['keys']} {retrieval['key_language']} "
                          f"keys + {retrieval['distractors']} distractors; chance P@1 "
                          f"{retrieval['chance_precision_at_1']:.3f}; {retrieval['similarity']} similarity, "
                          f"{retrieval['pooling']}-pooled layer {retrieval['layer']}."]
        lines += ready_made_lines(res, metric)
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
        files[roles["eval"]] = out_dir / f"eval_{PREDICTIONS_FILE}"
    if "predict" in roles:  # the same split under both roles: its predict file wins
        files[roles["predict"]] = out_dir / PREDICTIONS_FILE
    metric = payload["primary_metric"]
    for split, res in payload.get("splits", {}).items():
        bar_chart(_chart_path(out_dir, split), res, metric, bool(payload.get("greater_is_better")),
                  f"{payload['task']} ({payload['config_name']}), {split}: {METRIC_NAMES.get(metric, metric)} per "
                  "language")
    weights = (payload.get("protocol") or {}).get("layer_weights")
    if weights:
        base = base_model(payload)
        plot_layer_weights(weights, out_dir / LAYER_WEIGHTS_CHART,
                           f"{payload['task']} ({payload['config_name']}): learned layer weights of the probe on "
                           + model_name(base["name"], base["revision"]).replace("`", ""))
    path = out_dir / REPORT_FILE
    atomic.write_text(path, results_markdown(out_dir, payload, files))
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
            lines.append("    " + lang.ljust(14) + "".join(_fmt(row[m], m).rjust(10) for m in metrics)
                         + f"{row['num_examples']:8d}")
        lines.append("    " + "macro avg".ljust(14) + "".join(_fmt(res['macro'][m], m).rjust(10) for m in metrics))
        lines.append("    " + "pooled".ljust(14) + "".join(_fmt(res['pooled'][m], m).rjust(10) for m in metrics))
    return "\n".join(lines)
