"""`xtreme-s compare` through the real entry point, on a mini-benchmark run and runs built from its predictions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
from conftest import ROOT, run_cli, run_user_cli

from xtreme_s.metrics import per_language, wer_cer

QUICK = ["--mini", "--dataset_config_name", "mls.all", "--do_train", "--do_predict", "--max_steps", "1",
         "--per_device_train_batch_size", "2", "--max_train_samples", "2", "--per_device_eval_batch_size", "8",
         "--eval_strategy", "no", "--save_strategy", "no", "--seed", "0"]


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]


def _variant(src: Path, dst: Path, change, seed: int) -> Path:
    """A copy of a run whose predictions `change` rewrote, with results.json rescored as the runner scores."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "*.png"))
    rows = change(_rows(src))
    (dst / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = json.loads((src / "results.json").read_text())
    report = per_language([r["reference"] for r in rows], [r["prediction"] for r in rows],
                          [r["language"] for r in rows], wer_cer)
    res["splits"]["test"].update(report, num_examples=len(rows))
    res["hyperparameters"]["seed"] = seed
    (dst / "results.json").write_text(json.dumps(res))
    return dst


def _compare(args: list[str], out: Path, capsys) -> tuple[int, str, dict | None]:
    code, err = run_user_cli(["compare", *args, "--output_dir", str(out), "--resamples", "1000"], capsys,
                             runner_flags=False)
    board = json.loads((out / "leaderboard.json").read_text()) if (out / "leaderboard.json").exists() else None
    return code, err, board


def _cells(board: dict, label: str) -> list[dict]:
    system = next(s for s in board["systems"] if s["label"] == label)
    return [e["wer"] for langs in system["cells"].values() for e in langs.values()] + \
        [system["macro"]["mls"]["wer"]]


def test_compare_runs_marks_what_is_significant_and_refuses_different_utterances(tmp_path, hf_cache, capsys):
    run = tmp_path / "trained"
    results = run_cli(QUICK, run, hf_cache)
    rows = _rows(run)
    assert results["splits"]["test"]["predictions_file"] == "predictions.jsonl"
    assert all(r.get("speaker_id") for r in rows)  # MLS has speaker ids: written for block resampling
    # Its reports say what it was: a smoke test of a local checkpoint, no absolute path, nothing in the model-index.
    card, page = (run / "README.md").read_text(), (run / "results.md").read_text()
    assert "Smoke test on synthetic data" in card and "Smoke test on synthetic data" in page
    assert "Fine-tuned from local checkpoint `tiny-xls-r`" in card and str(ROOT) not in card + page
    assert "model-index" not in card.split("---")[1] and "trained from scratch" not in card
    perfect = _variant(run, tmp_path / "perfect", lambda rs: [{**r, "prediction": r["reference"]} for r in rs], 1)
    fewer = _variant(run, tmp_path / "fewer", lambda rs: rs[1:], 2)
    renormalised = _variant(run, tmp_path / "renorm", lambda rs: [{**rs[0], "reference": rs[0]["reference"].upper()},
                                                                  *rs[1:]], 3)

    # The run against itself (a copy under another label): zero difference, p = 1, nothing marked.
    code, err, board = _compare([f"A={run}", f"B={run}", f"perfect={perfect}", "--baseline", f"A={run}"],
                                tmp_path / "lb", capsys)
    assert code == 0, err
    assert board["baseline"] == "A" and board["tasks"]["mls"]["resampling_unit"] == "speaker_id"
    for e in _cells(board, "B"):
        assert e["diff"] == 0 and e["p_value"] == 1.0 and not e["significant"]
    # Point estimates are the runs' own results.json values, with an interval around them.
    table = results["splits"]["test"]["per_language"]
    system = next(s for s in board["systems"] if s["label"] == "A")
    for lang, cell in system["cells"]["mls"].items():
        assert cell["wer"]["value"] == table[lang]["wer"] and cell["cer"]["value"] == table[lang]["cer"]
        assert cell["wer"]["low"] <= cell["wer"]["value"] <= cell["wer"]["high"]
    assert system["macro"]["mls"]["wer"]["value"] == results["splits"]["test"]["macro"]["wer"]
    # ... and the run's own results.json carries the same intervals (the same draws), per language and macro.
    intervals = results["splits"]["test"]["intervals"]
    assert intervals["resampling"]["unit"] == "speaker_id" and set(intervals["per_language"]) == set(table)
    for lang, cell in system["cells"]["mls"].items():
        for m in ("wer", "cer"):
            assert intervals["per_language"][lang][m] == [cell[m]["low"], cell[m]["high"]]
    assert intervals["macro"]["cer"] == [system["macro"]["mls"]["cer"]["low"], system["macro"]["mls"]["cer"]["high"]]
    # Transcribing everything right is marked significant wherever the baseline made errors.
    better = next(s for s in board["systems"] if s["label"] == "perfect")
    assert better["macro"]["mls"]["wer"]["value"] == 0 and better["macro"]["mls"]["wer"]["significant"]
    assert better["macro"]["mls"]["wer"]["diff_high"] < 0
    out = tmp_path / "lb"
    schema = json.loads((ROOT / "docs" / "leaderboard.schema.json").read_text())
    jsonschema.validate(board, schema)  # the documented shape
    md, page = (out / "leaderboard.md").read_text(), (out / "leaderboard.html").read_text()
    assert "| perfect |" in md and "\\*" in md and "| B |" in md and "Smoke test on synthetic data" in md
    assert "<script>" in page and "http" not in page.replace("http-equiv", "")  # no network, nothing fetched
    assert "data:image/png;base64," in page and (out / "chart_mls.png").stat().st_size > 0
    assert (out / "chart_differences.png").stat().st_size > 0

    # Different utterance sets: refused in one line naming the difference, unless --intersection.
    code, err, _ = _compare([str(run), str(fewer)], tmp_path / "refused", capsys)
    assert code == 2 and err.count("\n") == 1 and "different utterances" in err and "--intersection" in err
    code, err, _ = _compare([str(run), str(renormalised)], tmp_path / "renorm_lb", capsys)
    assert code == 2 and "another reference" in err and err.count("\n") == 1
    code, err, board = _compare([str(run), str(fewer), "--intersection"], tmp_path / "inter", capsys)
    assert code == 0, err
    info = board["tasks"]["mls"]
    assert info["intersection"] and info["utterances"] == len(rows) - 1
    assert "intersection of the runs' utterances" in (tmp_path / "inter" / "leaderboard.md").read_text()


def _fake_run(out: Path, task: str, rows: list[dict], model: str) -> str:
    """A run's results.json and predictions.jsonl as the runner writes them, scored by the runner's own code."""
    from xtreme_s.metrics import SCORERS
    from xtreme_s.registry import TASKS

    spec = TASKS[task]
    out.mkdir(parents=True)
    (out / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scored = [r for r in rows if r["prediction"] is not None]  # as RetrievalFamily.score
    report = per_language([r["reference"] for r in scored], [r["prediction"] for r in scored],
                          [r["language"] for r in scored], SCORERS[spec.primary_metric])
    (out / "results.json").write_text(json.dumps({
        "task": task, "config_name": f"{spec.prefix}.all", "family": spec.family, "model": model,
        "primary_metric": spec.primary_metric, "protocol": {"name": "finetune"}, "hyperparameters": {"seed": 0},
        "splits": {"test": {"num_examples": len(rows), **report, "predictions_file": "predictions.jsonl"}}}))
    return str(out)


def test_overall_score_with_its_interval_equals_the_score_of_the_runs(tmp_path):
    import random

    from xtreme_s.reports.compare import compare
    from xtreme_s.reports.score import collect
    from xtreme_s.stats import Resampling

    rnd = random.Random(0)
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    runs = {"A": [], "B": []}
    for task, kind in (("fleurs-asr", "text"), ("mls", "text"), ("voxpopuli", "text"), ("covost2", "text"),
                       ("fleurs-lang_id", "label"), ("minds14", "label")):
        refs = [(" ".join(rnd.choices(words, k=6)) if kind == "text" else rnd.choice("abcd"), lang)
                for lang in ("x1", "x2") for _ in range(12)]
        for system, keep in (("A", 0.5), ("B", 0.8)):
            rows = [{"id": f"u{i}", "language": lang, "reference": ref,
                     "prediction": (" ".join(w if rnd.random() < keep else "zzz" for w in ref.split())
                                    if kind == "text" else (ref if rnd.random() < keep else "e"))}
                    for i, (ref, lang) in enumerate(refs)]
            runs[system].append(_fake_run(tmp_path / system / task, task, rows, f"org/{system}"))
    for system, hits in (("A", 3), ("B", 5)):  # retrieval: key rows have no prediction and are not scored
        rows = [{"id": f"q{i}", "language": "x1", "reference": f"s{i}", "prediction": f"s{i}" if i < hits else "s9"}
                for i in range(6)] + [{"id": f"k{i}", "language": "en", "reference": f"s{i}", "prediction": None}
                                      for i in range(6)]
        runs[system].append(_fake_run(tmp_path / system / "retrieval", "fleurs-retrieval", rows, f"org/{system}"))
    board = compare(runs["A"] + runs["B"], resampling=Resampling(n_resamples=300))
    p_at_1 = [s["cells"]["fleurs-retrieval"]["x1"]["precision_at_1"]["value"] for s in board["systems"]]
    assert p_at_1 == [0.5, 5 / 6] and board["tasks"]["fleurs-retrieval"]["languages"] == ["x1"]
    for system, label in (("A", "A · finetune · seed 0"), ("B", "B · finetune · seed 0")):
        row = next(s for s in board["systems"] if s["label"] == label)
        expected = collect(runs[system]).result["score"]
        assert row["score"]["value"] == expected and row["score"]["low"] < expected < row["score"]["high"]
    b = board["systems"][1]
    assert b["score"]["diff"] > 0 and b["score"]["significant"]  # B gets far more right in every task
