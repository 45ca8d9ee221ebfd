"""`xtreme-s compare RUN_DIR... [--baseline RUN_DIR]`: a leaderboard of runs with bootstrap intervals and paired
significance, recomputed from each run's predictions with the run's own metric code.

Rows are systems (an encoder under a protocol and seed; runs of several tasks of one system form one row, or name
rows yourself with LABEL=RUN_DIR), columns tasks and their languages on the scored split. Every cell is
recomputed from the run's predictions file with `xtreme_s.metrics` and must equal the run's results.json; its
interval, the macro average over languages, the overall XTREME-S score (where a system has every task of it) and the
paired differences against the baseline come from one paired bootstrap per (task, language): every system is
resampled on the same draws of the same utterances (`xtreme_s.stats`). Runs that scored different utterances are
refused, unless `--intersection` scores every system on the utterances they all have (its size is reported).
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import stats
from ..errors import UsageError
from ..metrics import SCORERS, language_groups
from ..registry import TASKS
from ..results import PREDICTIONS_FILE, load_results
from .provenance import data_source
from .score import SCORE_TASKS, as_percent, task_metrics, xtreme_s_score

PREDICTION_FILES = (PREDICTIONS_FILE, f"eval_{PREDICTIONS_FILE}")
SCHEMA_VERSION = 1
BLOCK_FIELDS = ("speaker_id", "sentence_id")  # what runs write beside predictions where the data has it
# A difference is marked significant when its paired p-value is below this and its 95 % interval excludes 0 (no
# correction for multiple comparisons).
ALPHA = 0.05


@dataclass
class Run:
    """One run directory: what results.json says and the scored rows of its predictions file."""

    path: Path
    results: dict
    task: str
    split: str
    predictions_file: str
    rows: list[dict]  # id, language, prediction, reference (+ speaker_id where the data has it), scored rows only
    label: str = ""

    @property
    def protocol(self) -> str:
        return str((self.results.get("protocol") or {}).get("name") or "finetune")

    @property
    def encoder(self) -> str:
        model = str(self.results.get("model"))
        # A local folder is named by its last part: absolute paths say nothing to a reader of the leaderboard.
        return f"local checkpoint {Path(model).name}" if model.startswith(("/", ".")) else model

    @property
    def seed(self) -> Any:
        return (self.results.get("hyperparameters") or {}).get("seed")

    def metrics(self) -> list[str]:
        """The metrics the run reports per language, as far as they have sufficient statistics."""
        table = self.results["splits"][self.split].get("per_language") or {}
        first = next(iter(table.values()), {})
        return [m for m in first if m in stats.METRICS]


@dataclass
class System:
    label: str
    runs: dict[str, Run] = field(default_factory=dict)  # task -> run


def _read_rows(path: Path, family: str) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise UsageError(f"{path}:{n}: not JSON ({err.msg}); the predictions file is damaged.") from None
            if family == "retrieval" and row.get("prediction") is None:
                continue  # keys and distractors: only queries are scored (RetrievalFamily.score)
            rows.append(row)
    return rows


def _matches(run_table: dict, rows: list[dict], metric_names: list[str], scorer: Any) -> bool:
    by_lang = {lang: [rows[i] for i in idx] for lang, idx in language_groups([r["language"] for r in rows]).items()}
    if set(by_lang) != set(run_table):
        return False
    for lang, rs in by_lang.items():
        got = scorer([r["reference"] for r in rs], [r["prediction"] for r in rs])
        if not all(_same(got[m], run_table[lang].get(m)) for m in metric_names):
            return False
    return True


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None or (isinstance(a, float) and not math.isfinite(a)):
        return (a is None or not math.isfinite(a)) and (b is None or not math.isfinite(b))
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def load_run(arg: str, split: str) -> Run:
    """A run from `RUN_DIR` or `LABEL=RUN_DIR`: its results.json and the predictions file of `split`."""
    label, _, raw = arg.rpartition("=")  # no "=": ("", "", arg)
    file, results = load_results(raw)  # refuses a missing, damaged or too new results.json in one line
    path = file.parent
    task = results.get("task")
    if task not in TASKS:
        raise UsageError(f"{file}: unknown task {task!r}.")
    splits = results.get("splits") or {}
    if split not in splits:
        raise UsageError(f"{file}: no scored split '{split}' (it has: {', '.join(splits) or 'none'}); "
                         "pass --split, or run it with --do_predict.")
    family = results.get("family") or TASKS[task].family
    recorded = splits[split].get("predictions_file")
    table = splits[split].get("per_language") or {}
    primary = results.get("primary_metric") or TASKS[task].primary_metric
    scorer = SCORERS[primary]
    names = [m for m in (next(iter(table.values()), {})) if m != "num_examples"]
    candidates = [recorded] if recorded else [f for f in PREDICTION_FILES if (path / f).is_file()]
    for name in candidates:
        if not (path / name).is_file():
            continue
        rows = _read_rows(path / name, family)
        if recorded or _matches(table, rows, names, scorer):
            return Run(path, results, task, split, name, rows, label)
    raise UsageError(f"{path}: no predictions file of split '{split}' matching its results.json "
                     f"(looked for {', '.join(candidates) or ', '.join(PREDICTION_FILES)}).")


def group_systems(runs: list[Run]) -> list[System]:
    """Runs of one system (same model, protocol and seed, or the same LABEL=) form one row; two runs of one task in
    one row are refused."""
    systems: dict[str, System] = {}
    for run in runs:
        if not run.label:
            run.label = f"{Path(str(run.results.get('model'))).name} · {run.protocol} · seed {run.seed}"
        sys_ = systems.setdefault(run.label, System(run.label))
        if run.task in sys_.runs:
            raise UsageError(f"two runs of {run.task} for one row '{run.label}': {sys_.runs[run.task].path} and "
                             f"{run.path}; name them apart with LABEL=RUN_DIR.")
        sys_.runs[run.task] = run
    return list(systems.values())


def _keyed(rows: list[dict]) -> dict[tuple, dict]:
    """(language, id, occurrence) -> row: ids repeated within a language stay apart."""
    seen: Counter = Counter()
    out = {}
    for r in rows:
        k = (r["language"], str(r["id"]))
        out[(*k, seen[k])] = r
        seen[k] += 1
    return out


def align(task: str, systems: list[System], intersection: bool) -> tuple[dict[str, dict[str, list[dict]]], dict]:
    """The scored utterances common to every system of `task`, grouped by language in one order (language ->
    system label -> rows); refuse differing sets (or references) unless `intersection`. Also returns the sizes."""
    keyed = {s.label: _keyed(s.runs[task].rows) for s in systems}
    sets = {label: set(k) for label, k in keyed.items()}
    first = systems[0].label
    common = set.intersection(*sets.values())
    info = {"utterances": len(common), "per_run": {label: len(s) for label, s in sets.items()}}
    differing = [label for label, s in sets.items() if s != sets[first]]
    if differing and not intersection:
        other = differing[0]
        only_a, only_b = sets[first] - sets[other], sets[other] - sets[first]
        example = sorted(only_a or only_b)[0]
        raise UsageError(f"{task}: runs scored different utterances: '{first}' has {len(sets[first])}, '{other}' "
                         f"{len(sets[other])} ({len(only_a)} only in the first, {len(only_b)} only in the second, "
                         f"e.g. {example[1]} ({example[0]})); compare runs of one test set, or pass --intersection.")
    by_lang: dict[str, dict[str, list[dict]]] = defaultdict(lambda: {s.label: [] for s in systems})
    for key in sorted(common):
        for label, rows in keyed.items():
            by_lang[key[0]][label].append(rows[key])
        ref = keyed[first][key]["reference"]
        other = next((label for label, rows in keyed.items() if rows[key]["reference"] != ref), None)
        if other is not None:
            raise UsageError(f"{task}: utterance {key[1]} ({key[0]}) has another reference in '{other}' than in "
                             f"'{first}' ({keyed[other][key]['reference']!r} vs {ref!r}): the runs normalised or "
                             "read their references differently, so their scores are not comparable.")
    return dict(sorted(by_lang.items())), {**info, "intersection": bool(differing)}


@dataclass
class Cell:
    """One (task, language): every system's point estimate and resampled values, per metric."""

    points: dict[str, dict[str, float]]  # label -> metric -> value
    samples: dict[str, dict[str, np.ndarray]]  # label -> metric -> (B,)
    n: int


def score_cell(task: str, lang: str, systems: list[System], rows: dict[str, list[dict]], metric_names: list[str],
               resampling: stats.Resampling, unit: str = "utterance") -> Cell:
    """Point estimates with the run's own scorer; resampled values from one paired bootstrap of every system and
    metric of the cell. `rows`: each system's rows of this language, aligned."""
    points = {}
    base_rows = rows[systems[0].label]
    refs = [r["reference"] for r in base_rows]
    preds = {s.label: [r["prediction"] for r in rows[s.label]] for s in systems}
    for s in systems:
        scorer = SCORERS[s.runs[task].results.get("primary_metric") or TASKS[task].primary_metric]
        points[s.label] = {m: v for m, v in scorer(refs, preds[s.label]).items() if m in metric_names}
    blocks_of = [r.get(unit) for r in base_rows] if unit != "utterance" else None
    resampled = stats.resampled_metrics(metric_names, refs, list(preds.values()), resampling.n_resamples,
                                        resampling.rng(task, lang), blocks_of)
    return Cell(points, dict(zip(preds, resampled, strict=True)), len(base_rows))


def _est(value: float, samples: np.ndarray, base: tuple | None, resampling: stats.Resampling) -> dict:
    e = stats.estimate(value, samples, resampling.confidence, *(base or (None, None)))
    out = e.to_json()
    if base is not None:
        # sacreBLEU's p-value centres |d|, so it behaves as a one-sided test: alone it would mark differences whose
        # two-sided 95 % interval still holds 0. A cell is marked when both say so.
        excludes_zero = out["diff_low"] is not None and (out["diff_low"] > 0 or out["diff_high"] < 0)
        out["significant"] = out["p_value"] is not None and out["p_value"] < ALPHA and excludes_zero
    return out


def compare(run_args: list[str], baseline: str | None = None, split: str = "test", intersection: bool = False,
            resampling: stats.Resampling | None = None) -> dict:
    """The leaderboard (leaderboard.json's content) of the runs; the first system is the baseline unless named."""
    resampling = resampling or stats.Resampling()
    runs = [load_run(a, split) for a in run_args]
    base_run = None
    if baseline is not None:
        base_run = load_run(baseline, split)
        same = [r for r in runs if r.path.resolve() == base_run.path.resolve()]
        if same:
            base_run = same[0]
        else:
            runs.insert(0, base_run)
    systems = group_systems(runs)
    base_label = base_run.label if base_run else systems[0].label
    systems.sort(key=lambda s: s.label != base_label)  # the baseline first
    tasks = sorted({t for s in systems for t in s.runs}, key=lambda t: list(TASKS).index(t))
    out_tasks, per_system = {}, {s.label: {"cells": {}, "macro": {}} for s in systems}
    macro_samples: dict[str, dict[str, dict[str, np.ndarray]]] = defaultdict(dict)
    macro_points: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for task in tasks:
        having = [s for s in systems if task in s.runs]
        by_lang, info = align(task, having, intersection)
        metric_names = [m for m in having[0].runs[task].metrics() if all(m in s.runs[task].metrics() for s in having)]
        primary = having[0].runs[task].results.get("primary_metric") or TASKS[task].primary_metric
        languages = list(by_lang)
        unit = resampling_unit([s.runs[task] for s in having], resampling.unit)
        cells = {lang: score_cell(task, lang, having, by_lang[lang], metric_names, resampling, unit)
                 for lang in languages}
        if not info["intersection"]:
            _check_points(task, having, cells, metric_names)
        base_here = base_label if any(s.label == base_label for s in having) else None
        for s in having:
            row = per_system[s.label]
            row["cells"][task] = {}
            for lang, cell in cells.items():
                row["cells"][task][lang] = {
                    m: _est(cell.points[s.label][m], cell.samples[s.label][m],
                            (cell.points[base_here][m], cell.samples[base_here][m]) if base_here else None,
                            resampling) for m in metric_names}
            row["macro"][task] = {}
            for m in metric_names:
                point = float(np.mean([cells[lang].points[s.label][m] for lang in languages]))
                samples = np.mean([cells[lang].samples[s.label][m] for lang in languages], axis=0)
                macro_points[s.label].setdefault(task, {})[m] = point
                macro_samples[s.label].setdefault(task, {})[m] = samples
            for m in metric_names:
                base = ((macro_points[base_here][task][m], macro_samples[base_here][task][m]) if base_here else None)
                row["macro"][task][m] = _est(macro_points[s.label][task][m], macro_samples[s.label][task][m], base,
                                             resampling)
        out_tasks[task] = {"metric": primary, "metrics": metric_names,
                           "greater_is_better": TASKS[task].greater_is_better, "languages": languages,
                           "utterances_per_language": {lang: c.n for lang, c in cells.items()},
                           "baseline_present": base_here is not None, "resampling_unit": unit,
                           "data": sorted({data_source(s.runs[task].results)["kind"] for s in having}), **info}
    scores = _scores(systems, base_label, macro_points, macro_samples, resampling)
    return {
        "schema_version": SCHEMA_VERSION, "split": split, "baseline": base_label, "alpha": ALPHA,
        "resampling": resampling.to_json(), "tasks": out_tasks,
        "systems": [{"label": s.label, "protocol": _one(s, "protocol"), "encoder": _one(s, "encoder"),
                     "seed": _one(s, "seed"), "runs": {t: str(r.path) for t, r in s.runs.items()},
                     **per_system[s.label], **scores[s.label]} for s in systems],
        "score_formula": "0.4*(100 - mean(FLEURS CER, MLS WER, VoxPopuli WER %)) + 0.4*CoVoST-2 BLEU "
                         "+ 0.2*mean(FLEURS-LangID, MInDS-14 accuracy %) (xtreme_s.reports.score), per resample",
    }


def _one(system: System, attr: str) -> Any:
    values = {getattr(r, attr) for r in system.runs.values()}
    return values.pop() if len(values) == 1 else " / ".join(sorted(map(str, values)))


def resampling_unit(runs: list[Run], requested: str) -> str:
    """The resampling unit of one task: `auto` takes the first of speaker_id, sentence_id that every scored row of
    every run carries (runs write them where the data has them), else single utterances."""
    def carried(field_: str) -> bool:
        return all(r.get(field_) not in (None, "") for run in runs for r in run.rows)

    if requested == "auto":
        return next((f for f in BLOCK_FIELDS if carried(f)), "utterance")
    if requested != "utterance" and not carried(requested):
        run = next(run for run in runs if any(r.get(requested) in (None, "") for r in run.rows))
        raise UsageError(f"{run.path / run.predictions_file}: rows without '{requested}', so they cannot be "
                         f"resampled in blocks of it; use --unit auto or utterance.")
    return requested


def _check_points(task: str, systems: list[System], cells: dict[str, Cell], metric_names: list[str]) -> None:
    """Every recomputed cell equals the run's results.json: else the predictions are not those of the run."""
    for s in systems:
        table = s.runs[task].results["splits"][s.runs[task].split]["per_language"]
        for lang, cell in cells.items():
            for m in metric_names:
                if not _same(cell.points[s.label][m], table.get(lang, {}).get(m)):
                    raise UsageError(f"{s.runs[task].path}: {task} {lang} {m} recomputed from "
                                     f"{s.runs[task].predictions_file} is {cell.points[s.label][m]!r} but "
                                     f"results.json says {table.get(lang, {}).get(m)!r}; the files are not of one run.")


def _scores(systems: list[System], base_label: str, points: dict, samples: dict,
            resampling: stats.Resampling) -> dict[str, dict]:
    """The overall XTREME-S score per resample, for systems with every task of it (the same draws per task)."""
    metric_of = task_metrics()
    out, score_samples, score_points = {}, {}, {}
    for s in systems:
        missing = [t for t in SCORE_TASKS if metric_of[t] not in points[s.label].get(t, {})]
        out[s.label] = {"score": None, "score_missing_tasks": missing}
        if missing:
            continue
        score_points[s.label] = xtreme_s_score({t: as_percent(metric_of[t], points[s.label][t][metric_of[t]])
                                                for t in SCORE_TASKS})
        score_samples[s.label] = xtreme_s_score({t: as_percent(metric_of[t], samples[s.label][t][metric_of[t]])
                                                 for t in SCORE_TASKS})
    for label in score_points:
        base = ((score_points[base_label]["score"], score_samples[base_label]["score"])
                if base_label in score_points else None)
        out[label]["score"] = _est(score_points[label]["score"], score_samples[label]["score"], base, resampling)
    return out


def main(argv: list[str] | None = None) -> int:
    from ..errors import ScriptArgumentParser
    from .leaderboard import to_markdown, write_all

    parser = ScriptArgumentParser("compare", prog="xtreme-s compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR",
                        help="run output directories (or LABEL=RUN_DIR to name the row; runs with one label form "
                             "one row)")
    parser.add_argument("--baseline", default=None, metavar="RUN_DIR",
                        help="the run whose system the others are compared with (default: the first RUN_DIR)")
    parser.add_argument("--output_dir", default="leaderboard",
                        help="where leaderboard.md/.json/.html and the charts go (default: ./leaderboard)")
    parser.add_argument("--split", default="test", help="which scored split of each run (default: test)")
    parser.add_argument("--intersection", action="store_true",
                        help="score every system on the utterances all runs of a task scored (else such runs are "
                             "refused); the size is reported")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=12345, help="bootstrap seed (default 12345, sacreBLEU's)")
    parser.add_argument("--unit", default="auto",
                        help="resampling unit: auto (default: speakers where the runs recorded speaker ids, else "
                             "sentences where they recorded sentence ids, else utterances), utterance, or a field of "
                             "the predictions rows (speaker_id, sentence_id) whose blocks are drawn whole")
    args = parser.parse_args(argv)
    if args.resamples < 10:
        raise UsageError(f"--resamples {args.resamples}: use at least 10 (1000 for reported intervals).")
    board = compare(args.runs, args.baseline, args.split, args.intersection,
                    stats.Resampling(n_resamples=args.resamples, seed=args.seed, unit=args.unit))
    written = write_all(board, Path(args.output_dir))
    print(to_markdown(board))
    print("Wrote " + ", ".join(str(p) for p in written.values()))
    return 0
