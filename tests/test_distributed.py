"""Two processes (torchrun, gloo on CPU), one launch: preprocessing once per rank group, results written once, both
ranks stepping together through two epochs of duration batches, and evaluation over the whole split equal to a
single-process run of the same weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import MINI_HUB, ROOT, run_cli

from xtreme_s.registry import resolve
from xtreme_s.sampling import DurationBatchSampler
from xtreme_s.sources import LoadContext, load_splits

COMMON = ["--mini", "--dataset_config_name", "mls.all", "--per_device_eval_batch_size", "2", "--seed", "0"]
MAX_BATCH_SECONDS = 8


@pytest.mark.slow
def test_two_process_run_equals_single_process_evaluation(tmp_path, hf_cache):
    ddp = tmp_path / "ddp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    # --standalone picks a free rendezvous port, so parallel test workers (pytest-xdist) do not collide.
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "run_xtreme_s.py"), *COMMON, "--do_train", "--do_eval", "--do_predict", "--num_train_epochs",
           "2", "--max_batch_seconds", str(MAX_BATCH_SECONDS), "--eval_strategy", "no", "--save_strategy", "epoch",
           "--logging_steps", "1", "--learning_rate", "1e-3", "--dataloader_num_workers", "0", "--report_to", "none",
           "--disable_tqdm", "True", "--output_dir", str(ddp), "--cache_dir", str(hf_cache), "--ddp_timeout", "600"]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert log.count("Wrote ") == 1 and log.count("xtreme_s_run.json") == 0, log[-4000:]
    results = json.loads((ddp / "results.json").read_text())
    state = json.loads((ddp / "trainer_state.json").read_text())
    # Really distributed, and both ranks step together: each epoch is the duration batches of one rank's share of
    # the 16 training clips (alone, a process would run all of them: more steps).
    train = load_splits(resolve("mls.all"), ["train"], LoadContext(mirror_root=str(MINI_HUB),
                                                                    cache_dir=str(hf_cache)))[0]["train"]
    per_rank = len(DurationBatchSampler(train["duration"], MAX_BATCH_SECONDS, num_replicas=2))
    alone = len(DurationBatchSampler(train["duration"], MAX_BATCH_SECONDS, num_replicas=1))
    assert per_rank < alone and state["global_step"] == 2 * per_rank, (state["global_step"], per_rank, alone)
    assert results["train"]["train_samples"] == 16 and state["epoch"] == pytest.approx(2.0)
    assert any("padding_ratio" in entry for entry in state["log_history"])  # duration batching's own log
    assert (ddp / f"checkpoint-{2 * per_rank}" / "trainer_state.json").exists()  # saved under DDP

    # Single process, same weights (the DDP run's saved model): identical numbers over the whole split.
    single = run_cli([*COMMON, "--model_name_or_path", str(ddp), "--do_eval", "--do_predict"], tmp_path / "single",
                     hf_cache)
    for split in ("validation", "test"):
        a, b = results["splits"][split], single["splits"][split]
        assert a["num_examples"] == b["num_examples"] == 6  # 3 per language, none lost or duplicated
        assert a["per_language"] == b["per_language"] and a["macro"] == b["macro"] and a["pooled"] == b["pooled"]
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert (ddp / "predictions.jsonl").read_text() == (tmp_path / "single" / "predictions.jsonl").read_text()

    # The vocabulary every rank built is the one a single process builds.
    run_cli([*COMMON, "--do_train", "--preprocessing_only"], tmp_path / "prep", hf_cache)
    assert (ddp / "vocab.json").read_text() == (tmp_path / "prep" / "vocab.json").read_text()
