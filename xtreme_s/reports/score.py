"""The overall XTREME-S score from the `results.json` of task runs (`xtreme-s score RUN_DIR...`).

score = 0.4 * (100 - mean ASR error of FLEURS, MLS, VoxPopuli) + 0.4 * CoVoST-2 BLEU
      + 0.2 * mean accuracy of FLEURS-LangID and MInDS-14, all in percent (`docs/spec.md` section 2; the
leaderboard's own formula, which reproduces its published scores). BABEL and FLEURS retrieval do not count.

Runs are combined only when they are comparable: one run per task, all of the same pretrained model, each on the
task's full language set (`.all`, nothing missing) and on the same split. Anything else is refused with the
reason, or, with `--force`, scored and flagged in both output files.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import ScriptArgumentParser, UsageError
from ..registry import TASKS
from ..results import ResultsFileError, load_results

# Which number of each task's results.json enters the score, and how.
# FLEURS: the leaderboard labels every ASR column "WER", but FLEURS is scored with a character-level "unit error
# rate" (spec section 1/2, UNCONFIRMED); its published 14.1 / 14.6 are CER-sized. Default CER, `--fleurs_metric`.
ASR_TASKS = ("fleurs-asr", "mls", "voxpopuli")
ST_TASKS = ("covost2",)
CLS_TASKS = ("fleurs-lang_id", "minds14")
SCORE_TASKS = ASR_TASKS + ST_TASKS + CLS_TASKS
WEIGHTS = {"asr": 0.4, "st": 0.4, "cls": 0.2}


def task_metrics(fleurs_metric: str = "cer") -> dict[str, str]:
    return {"fleurs-asr": fleurs_metric, "mls": "wer", "voxpopuli": "wer", "covost2": "bleu",
            "fleurs-lang_id": "accuracy", "minds14": "accuracy"}


def as_percent(metric: str, value: Any) -> Any:
    """results.json keeps the metric's own units: fractions, except BLEU (0-100). `value` may be an array."""
    return value if metric == "bleu" else 100.0 * value


def xtreme_s_score(percent: dict[str, float]) -> dict[str, float]:
    """The weighted score from the six per-task numbers in percent (ASR: error rates; BLEU; accuracies)."""
    missing = [t for t in SCORE_TASKS if t not in percent]
    if missing:
        raise ValueError(f"The XTREME-S score needs all of {', '.join(SCORE_TASKS)}; missing: {', '.join(missing)}")
    asr_error = sum(percent[t] for t in ASR_TASKS) / len(ASR_TASKS)
    bleu = percent["covost2"]
    cls = sum(percent[t] for t in CLS_TASKS) / len(CLS_TASKS)
    score = WEIGHTS["asr"] * (100.0 - asr_error) + WEIGHTS["st"] * bleu + WEIGHTS["cls"] * cls
    return {"score": score, "asr_mean_error": asr_error, "st_bleu": bleu, "cls_mean_accuracy": cls}


@dataclass
class ScoreReport:
    runs: dict[str, dict] = field(default_factory=dict)  # task -> what was read from its results.json
    ignored: list[dict] = field(default_factory=list)  # runs of tasks outside the score (BABEL, retrieval, ...)
    problems: list[str] = field(default_factory=list)  # incompatibilities (refused unless forced)
    missing: list[str] = field(default_factory=list)
    result: dict[str, float] | None = None
    forced: bool = False
    split: str = "test"
    average: str = "macro"

    def to_json(self) -> dict[str, Any]:
        return {"score": None if self.result is None else round(self.result["score"], 2),
                "components": self.result, "complete": not self.missing, "missing_tasks": self.missing,
                "split": self.split, "average": self.average, "forced": self.forced,
                "incompatibilities": self.problems, "runs": self.runs, "ignored_runs": self.ignored,
                "formula": "0.4*(100 - mean(FLEURS, MLS, VoxPopuli error %)) + 0.4*CoVoST-2 BLEU "
                           "+ 0.2*mean(FLEURS-LangID, MInDS-14 accuracy %)"}


def _base_model(res: dict) -> str:
    """The model a run started from: its recorded source (absolute path or Hub id, and config checksum), so the
    same model given by two relative paths is one model and two models of one name are two."""
    source = res.get("model_source")
    if isinstance(source, dict) and (source.get("path") or source.get("hub_id")):
        name = source.get("path") or f"{source['hub_id']}@{source.get('revision') or 'main'}"
        return f"{name} (config {str(source.get('config_sha256'))[:12]})"
    return str(res.get("model"))


def collect(paths: list[str | Path], split: str = "test", fleurs_metric: str = "cer", average: str = "macro",
            force: bool = False) -> ScoreReport:
    """Read the runs, check they may be combined, and compute the score when every task is there."""
    report = ScoreReport(forced=force, split=split, average=average)
    metrics = task_metrics(fleurs_metric)
    models: dict[str, list[str]] = {}
    protocols: dict[str, list[str]] = {}
    for raw in paths:
        try:
            file, res = load_results(raw)
        except ResultsFileError as err:  # one line, named as score's: `xtreme-s: error: score: ...`
            raise UsageError(f"score: {err}") from None
        task = res.get("task")
        if task not in TASKS:
            report.problems.append(f"{file}: unknown task {task!r}")
            continue
        if task not in SCORE_TASKS:
            report.ignored.append({"task": task, "config_name": res.get("config_name"), "path": str(file)})
            continue
        if task in report.runs:
            report.problems.append(f"{task}: two runs ({report.runs[task]['path']} and {file}); pass one per task")
            continue
        models.setdefault(_base_model(res), []).append(task)
        protocol = res.get("protocol") if isinstance(res.get("protocol"), dict) else {}
        protocols.setdefault(str(protocol.get("name", "finetune")), []).append(task)
        prefix = TASKS[task].prefix
        if res.get("config_name") != f"{prefix}.all" or res.get("language_group"):
            report.problems.append(f"{task}: {file} ran {res.get('config_name')}"
                                   f"{' group ' + res['language_group'] if res.get('language_group') else ''}, "
                                   f"not the full {prefix}.all")
        if res.get("languages_missing"):
            report.problems.append(f"{task}: {file} lacks {len(res['languages_missing'])} language(s): "
                                   + " ".join(res["languages_missing"]))
        splits = res.get("splits", {})
        metric = metrics[task]
        value = splits.get(split, {}).get(average, {}).get(metric)
        if value is None:
            report.problems.append(f"{task}: {file} has no {average} '{metric}' on split '{split}' "
                                   f"(splits: {', '.join(splits) or 'none'})")
            continue
        report.runs[task] = {"path": str(file), "model": res.get("model"), "config_name": res.get("config_name"),
                             "metric": metric, "value": value, "percent": as_percent(metric, value),
                             "num_languages": len(res.get("languages", []))}
    if len(models) > 1:
        report.problems.append("runs of different models: " + "; ".join(f"{m}: {', '.join(t)}"
                                                                          for m, t in models.items()))
    if len(protocols) > 1:  # a frozen-encoder probe and fine-tuned runs measure different things
        report.problems.append("runs of different protocols: " + "; ".join(f"{p}: {', '.join(t)}"
                                                                             for p, t in protocols.items()))
    report.missing = [t for t in SCORE_TASKS if t not in report.runs]
    if report.problems and not force:
        return report
    if not report.missing:
        report.result = xtreme_s_score({t: r["percent"] for t, r in report.runs.items()})
    return report


def to_markdown(report: ScoreReport) -> str:
    names = {t: TASKS[t].description for t in SCORE_TASKS}
    lines = ["# XTREME-S score", ""]
    if report.result is not None:
        lines.append(f"**Score: {report.result['score']:.1f}**" + (" (FORCED over incompatibilities, see below)"
                                                                   if report.forced and report.problems else ""))
    else:
        lines.append("**Score: not computed** (" + ("incompatible runs" if report.problems and not report.forced
                                                    else "missing tasks: " + ", ".join(report.missing)) + ")")
    lines += ["", f"Split `{report.split}`, {report.average} average over languages; errors and accuracies in %.",
              "", "| task | metric | value (%) | config | model |", "|---|---|---|---|---|"]
    for t in SCORE_TASKS:
        r = report.runs.get(t)
        if r is None:
            lines.append(f"| {t} | {task_metrics()[t] if t != 'fleurs-asr' else 'cer/wer'} | MISSING | | |")
        else:
            lines.append(f"| {t} | {r['metric']} | {r['percent']:.2f} | {r['config_name']} | {r['model']} |")
    if report.result is not None:
        c = report.result
        lines += ["", f"ASR mean error {c['asr_mean_error']:.2f} -> 0.4 x {100 - c['asr_mean_error']:.2f}; "
                      f"CoVoST-2 BLEU {c['st_bleu']:.2f} -> 0.4 x; classification mean accuracy "
                      f"{c['cls_mean_accuracy']:.2f} -> 0.2 x."]
    if report.missing:
        lines += ["", "Missing tasks: " + ", ".join(f"{t} ({names[t]})" for t in report.missing)]
    if report.problems:
        lines += ["", "Incompatibilities:"] + [f"- {p}" for p in report.problems]
    if report.ignored:
        lines += ["", "Not part of the score (ignored): " + ", ".join(f"{r['task']} ({r['path']})"
                                                                       for r in report.ignored)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = ScriptArgumentParser("score", prog="xtreme-s score", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run output directories (or their results.json), one per task")
    parser.add_argument("--output_dir", default="outputs/score",
                        help="where score.md and score.json are written (default: outputs/score, git-ignored)")
    parser.add_argument("--split", default="test", help="which scored split of each run to use (default: test)")
    parser.add_argument("--average", default="macro", choices=["macro", "pooled"],
                        help="mean over languages (macro, the benchmark's) or corpus-pooled")
    parser.add_argument("--fleurs_metric", default="cer", choices=["cer", "wer"],
                        help="FLEURS-ASR error rate entering the score (default cer, FLEURS' unit error rate)")
    parser.add_argument("--force", action="store_true",
                        help="score even when runs are incompatible (different models or protocols, subsets of "
                             "languages; flagged in score.md/score.json)")
    args = parser.parse_args(argv)
    report = collect(args.runs, args.split, args.fleurs_metric, args.average, args.force)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "score.json", json.dumps(report.to_json(), indent=2) + "\n")
    md = to_markdown(report)
    atomic.write_text(out / "score.md", md)
    print(md)
    print(f"Wrote {out / 'score.md'} and {out / 'score.json'}")
    if report.problems and not args.force:
        print(f"xtreme-s: error: score: the runs cannot be combined: {'; '.join(report.problems)}. Fix them, or pass "
              f"--force to score anyway (flagged in {out / 'score.md'}).", file=sys.stderr)
        return 2
    return 0
