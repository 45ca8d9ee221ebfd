"""Readable results (results.md, charts), the model card, and publishing without leaking the Hub token."""

from __future__ import annotations

import json
import logging
import os
from types import SimpleNamespace

from conftest import run_cli

from xtreme_s.reports.model_card import card_section
from xtreme_s.reports.results_md import write_report


def _asr_payload():
    per_language = {"de_de": {"wer": 0.30, "cer": 0.10, "num_examples": 2},
                    "fr_fr": {"wer": 0.50, "cer": 0.20, "num_examples": 2},
                    "pl_pl": {"wer": 0.90, "cer": 0.40, "num_examples": 2},
                    "sw_ke": {"wer": 0.70, "cer": 0.30, "num_examples": 2}}
    return {"task": "fleurs-asr", "config_name": "fleurs.all", "family": "ctc", "model": "facebook/xls-r",
            "languages": list(per_language), "languages_missing": ["am_et"], "language_group": None,
            "primary_metric": "wer", "greater_is_better": False, "metric_units": "fractions",
            "splits": {"test": {"num_examples": 8, "macro": {"wer": 0.6, "cer": 0.25},
                                "pooled": {"wer": 0.58, "cer": 0.24}, "per_language": per_language}},
            "skipped": {}, "notes": {}, "hyperparameters": {"learning_rate": 3e-4, "max_steps": 100}}


def test_results_markdown_and_chart(tmp_path):
    payload = _asr_payload()
    with open(tmp_path / "predictions.jsonl", "w") as f:
        for lang in payload["languages"]:
            for i in range(2):
                f.write(json.dumps({"id": f"{lang}{i}", "language": lang, "prediction": f"hyp {lang} {i}",
                                    "reference": f"ref {lang} {i}"}) + "\n")
    md = write_report(tmp_path, payload, {"train": "train", "predict": "test"}).read_text()
    png = (tmp_path / "results_test.png").read_bytes()
    assert png.startswith(b"\x89PNG") and "![wer per language, test](results_test.png)" in md
    rows = [line.split(" | ")[0].strip("| ") for line in md.splitlines() if line.startswith("| ") and "_" in line]
    assert rows[:4] == ["de_de", "fr_fr", "sw_ke", "pl_pl"]  # sorted, best first (WER: lower is better)
    assert "| **macro average** | **0.6000** | **0.2500** | |" in md and "am_et" in md
    assert "Worst languages by WER: pl_pl (0.900), sw_ke (0.700), fr_fr (0.500)" in md
    assert "| ref pl_pl 0 | hyp pl_pl 0 |" in md and "ref de_de 0" not in md  # samples of the worst only


def test_card_section_carries_task_languages_metrics_and_hyperparameters():
    card = card_section(_asr_payload())
    for needed in ("Task: `fleurs-asr`", "config `fleurs.all`", "de_de fr_fr pl_pl sw_ke", "Not covered (1): am_et",
                   "| pl_pl | 0.9000 | 0.4000 | 2 |", "| learning_rate | 0.0003 |", "Results on `test`"):
        assert needed in card, needed


SECRET = "hf_SECRETtoken1234567890"


class FakeHub:
    """Stands in for huggingface_hub.HfApi: records what the Trainer would create and upload."""

    def __init__(self):
        self.repos, self.uploads = [], []

    def create_repo(self, repo_id, token=None, private=None, exist_ok=True):
        self.repos.append((repo_id, token))
        return SimpleNamespace(repo_id=f"user/{repo_id}")

    def upload_folder(self, folder_path, token=None, **kwargs):
        files = sorted(str(p.relative_to(folder_path)) for p in __import__("pathlib").Path(folder_path).rglob("*"))
        card = (__import__("pathlib").Path(folder_path) / "README.md").read_text()
        self.uploads.append({"folder": folder_path, "token": token, "env_token": os.environ.get("HF_TOKEN"),
                             "files": files, "card": card, **kwargs})
        return "https://hub/commit"


def test_push_to_hub_uploads_card_and_results_and_never_writes_the_token(tmp_path, hf_cache, monkeypatch, caplog,
                                                                        capsys):
    hub = FakeHub()
    monkeypatch.setattr("transformers.trainer.hf_api", lambda: hub)
    monkeypatch.delenv("HF_TOKEN", raising=False)  # restored after the test
    checked = []  # the start-up check (offline, logged in) needs the real Hub: recorded instead
    monkeypatch.setattr("xtreme_s.startup_checks.check_push_to_hub", checked.append)
    caplog.set_level(logging.DEBUG)
    out = tmp_path / "run"
    run_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train", "--do_predict", "--max_steps", "2",
             "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "4", "--eval_strategy", "no",
             "--save_strategy", "no", "--push_to_hub", "True", "--hub_model_id", "xls-r-mls-pl",
             "--push_to_hub_token", SECRET], out, hf_cache)
    assert len(checked) == 1 and hub.repos == [("xls-r-mls-pl", None)]
    # The Trainer's save_model pushes once after training ("Model save"); ours is the final upload.
    assert [u["commit_message"] for u in hub.uploads][-1] == "XTREME-S mls (mls.pl)"
    assert all(u["token"] is None and u["env_token"] == SECRET for u in hub.uploads)  # authenticated via HF_TOKEN
    upload = hub.uploads[-1]
    assert upload["folder"] == str(out)
    for name in ("README.md", "results.json", "results.md", "results_test.png", "model.safetensors", "vocab.json",
                 "training_args.bin"):
        assert name in upload["files"], name
    assert "## XTREME-S evaluation" in upload["card"] and "| pl |" in upload["card"]
    assert "mls.pl" in upload["card"] and "learning_rate" in upload["card"]
    # The token is nowhere: not in any file written (training_args.bin pickles the arguments), not in the logs.
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in caplog.text and SECRET not in "".join(capsys.readouterr())
