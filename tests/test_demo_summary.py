"""`make demo` ends with scripts/demo_summary.py: it must report what the run recorded, and refuse a run that
did not score the training clips before and after training (rather than print a made-up "before")."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from demo_summary import summary  # noqa: E402


def _run_dir(tmp_path, *, start: bool = True, train_split: bool = True):
    splits = {"test": {"num_examples": 4, "macro": {"wer": 1.0, "cer": 0.81}}}
    if train_split:
        splits["train"] = {"num_examples": 2, "macro": {"wer": 0.5, "cer": 0.12}}
    (tmp_path / "results.json").write_text(json.dumps({"splits": splits}))
    history = [{"step": 0, "eval_cer": 1.51, "eval_wer": 3.08}] if start else []
    history.append({"step": 300, "loss": 0.2})
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 300, "log_history": history}))
    rows = [{"id": "a", "language": "en_us", "prediction": "the river flows", "reference": "the river flows slowly"},
            {"id": "a2", "language": "en_us", "prediction": "the river", "reference": "the river flows slowly"},
            {"id": "b", "language": "en_us", "prediction": "", "reference": "i drink coffee"}]
    (tmp_path / "eval_predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_summary_reports_the_recorded_figures(tmp_path):
    text = summary(_run_dir(tmp_path))
    assert "CER before -> after 300 steps: 1.51 -> 0.12" in text
    assert "the river flows slowly\n  | the river flows" in text and "| (empty)" in text
    assert "| the river\n" not in text  # one clip per sentence
    assert "Held-out test clips (4, never seen): CER 0.81" in text


@pytest.mark.parametrize("missing", ["start", "train_split"])
def test_summary_refuses_a_run_without_before_and_after(tmp_path, missing):
    with pytest.raises(SystemExit, match="eval_on_start" if missing == "start" else "eval_split_name train"):
        summary(_run_dir(tmp_path, **{missing: False}))
