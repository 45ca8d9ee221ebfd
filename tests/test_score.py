"""The overall XTREME-S score: the leaderboard's own values from their inputs, and refusal of mixed runs."""

from __future__ import annotations

import json

import pytest

from xtreme_s.cli import main
from xtreme_s.registry import TASKS
from xtreme_s.reports.score import SCORE_TASKS, collect, xtreme_s_score

# Leaderboard results.csv (spec 6.1): FLEURS, MLS, VP error %, CoVoST-2 BLEU, F-LID, M-14 accuracy %, score.
LEADERBOARD = {
    "w2v-bert-51": ((14.1, 9.9, 9.3, 20.4, 71.4, 82.7), 59.1),
    "mSLAM": ((14.6, 10.1, 9.2, 20.6, 73.3, 86.9), 59.7),
}


def _percent(row):
    return dict(zip(SCORE_TASKS, row, strict=True))


@pytest.mark.parametrize("model", sorted(LEADERBOARD))
def test_formula_reproduces_leaderboard(model):
    row, published = LEADERBOARD[model]
    assert round(xtreme_s_score(_percent(row))["score"], 1) == published


def _write_run(root, task, value, model="facebook/w2v-bert", split="test", **overrides):
    """A results.json in the runner's shape with the task's metric (fractions; BLEU 0-100)."""
    spec = TASKS[task]
    metric = {"fleurs-asr": "cer", "mls": "wer", "voxpopuli": "wer", "covost2": "bleu"}.get(task, "accuracy")
    scale = 1.0 if metric == "bleu" else 0.01
    macro = {metric: value * scale}
    if metric in ("wer", "cer"):
        macro = {"wer": 0.99, "cer": 0.99, **macro}  # the other ASR metric must not be picked up
    payload = {"task": task, "config_name": f"{spec.prefix}.all", "family": spec.family, "model": model,
               "languages": list(spec.languages), "languages_missing": [], "language_group": None,
               "primary_metric": spec.primary_metric,
               "splits": {split: {"num_examples": 10, "macro": macro, "pooled": macro, "per_language": {}}}}
    payload.update(overrides)
    out = root / task
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(payload))
    return out


@pytest.mark.parametrize("model", sorted(LEADERBOARD))
def test_score_command_reproduces_leaderboard_from_runs(model, tmp_path, capsys):
    row, published = LEADERBOARD[model]
    runs = [str(_write_run(tmp_path / "runs", t, v)) for t, v in _percent(row).items()]
    runs.append(str(_write_run(tmp_path / "runs", "babel", 30.0, config_name="babel.sw")))  # extra: ignored
    with pytest.raises(SystemExit) as exit_:
        main(["score", *runs, "--output_dir", str(tmp_path / "score")])
    assert exit_.value.code == 0
    result = json.loads((tmp_path / "score" / "score.json").read_text())
    assert round(result["score"], 1) == published and result["complete"] and not result["missing_tasks"]
    assert [r["task"] for r in result["ignored_runs"]] == ["babel"]
    md = (tmp_path / "score" / "score.md").read_text()
    assert f"**Score: {published}**" in md and "babel" in md
    assert f"Score: {published}" in capsys.readouterr().out


def test_missing_tasks_are_named_and_no_score_is_made_up(tmp_path):
    row, _ = LEADERBOARD["mSLAM"]
    runs = [_write_run(tmp_path, t, v) for t, v in _percent(row).items() if t not in ("covost2", "minds14")]
    report = collect(runs)
    assert report.result is None and report.missing == ["covost2", "minds14"] and not report.problems
    assert "MISSING" in __import__("xtreme_s.reports.score", fromlist=["to_markdown"]).to_markdown(report)


@pytest.mark.parametrize("case, overrides, expected", [
    ("different model", {"model": "facebook/other"}, "different models"),
    ("subset config", {"config_name": "mls.pl", "languages": ["pl"]}, "not the full mls.all"),
    ("missing languages", {"languages_missing": ["en"]}, "lacks 1 language"),
    ("validation split only", {"splits": {"validation": {"macro": {"wer": 0.1}}}}, "no macro 'wer' on split 'test'"),
])
def test_incompatible_runs_are_refused_unless_forced(case, overrides, expected, tmp_path):
    row, _ = LEADERBOARD["mSLAM"]
    runs = [_write_run(tmp_path, t, v, **(overrides if t == "mls" else {})) for t, v in _percent(row).items()]
    report = collect(runs)
    assert report.result is None and any(expected in p for p in report.problems), report.problems
    forced = collect(runs, force=True)
    assert forced.problems == report.problems
    if case in ("different model", "subset config", "missing languages"):
        assert forced.result is not None  # forced: scored, problems kept in the output


def test_duplicate_task_runs_are_refused(tmp_path, capsys):
    row, _ = LEADERBOARD["mSLAM"]
    runs = [str(_write_run(tmp_path / "a", t, v)) for t, v in _percent(row).items()]
    runs.append(str(_write_run(tmp_path / "b", "mls", 20.0)))
    with pytest.raises(SystemExit) as exit_:
        main(["score", *runs, "--output_dir", str(tmp_path / "score")])
    assert exit_.value.code == 2
    assert "two runs" in (tmp_path / "score" / "score.md").read_text()
    assert json.loads((tmp_path / "score" / "score.json").read_text())["score"] is None


def test_fleurs_metric_is_selectable(tmp_path):
    row, _ = LEADERBOARD["mSLAM"]
    runs = [_write_run(tmp_path, t, v) for t, v in _percent(row).items()]
    cer = collect(runs).result["score"]
    wer = collect(runs, fleurs_metric="wer").result["score"]  # WER 99 % in the fixture
    assert wer == pytest.approx(cer - 0.4 * (99.0 - 14.6) / 3)
