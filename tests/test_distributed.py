"""Two processes (torchrun, gloo on CPU): preprocessing once per rank group, results written once, and evaluation
over the whole split equal to a single-process run of the same weights."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, run_cli
from safetensors.numpy import load_file

COMMON = ["--mini", "--dataset_config_name", "mls.all", "--per_device_eval_batch_size", "2", "--seed", "0"]
# No randomness that differs between processes (SpecAugment masks are drawn per process; dropout is 0 by default),
# and a log per step, so one process with the same effective batch can be compared step by step.
SAME_TRAINING = ["--mask_time_prob", "0", "--logging_steps", "1"]


@pytest.mark.slow
def test_two_process_run_equals_single_process_evaluation(tmp_path, hf_cache):
    ddp = tmp_path / "ddp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "run_xtreme_s.py"), *COMMON, "--do_train", "--do_eval", "--do_predict", "--max_steps", "4",
           "--per_device_train_batch_size", "2", "--eval_strategy", "no", "--save_steps", "2", "--learning_rate",
           "1e-3", "--dataloader_num_workers", "0", "--report_to", "none", "--disable_tqdm", "True",
           "--output_dir", str(ddp), "--cache_dir", str(hf_cache), "--ddp_timeout", "600", *SAME_TRAINING]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert log.count("Wrote ") == 1 and log.count("xtreme_s_run.json") == 0, log[-4000:]
    results = json.loads((ddp / "results.json").read_text())
    state = json.loads((ddp / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    # Really distributed: 4 steps x 2 processes x 2 clips = the 16 training clips, one epoch (alone: half of one).
    assert results["train"]["train_samples"] == 16 and state["epoch"] == pytest.approx(1.0)

    # Single process, same weights (the DDP run's saved model): identical numbers over the whole split.
    single = run_cli([*COMMON, "--model_name_or_path", str(ddp), "--do_eval", "--do_predict"], tmp_path / "single",
                     hf_cache)
    for split in ("validation", "test"):
        a, b = results["splits"][split], single["splits"][split]
        assert a["num_examples"] == b["num_examples"] == 6  # 3 per language, none lost or duplicated
        assert a["per_language"] == b["per_language"] and a["macro"] == b["macro"] and a["pooled"] == b["pooled"]
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    assert (ddp / "predictions.jsonl").read_text() == (tmp_path / "single" / "predictions.jsonl").read_text()

    # Training: one process with the same effective batch (4 = 2 processes x 2) and the same data order (the
    # sampler's permutation depends only on the seed, and the two processes take alternate batches of it) trains
    # to the same weights. The per-step losses agree to 1e-4 relative. The weights: the gradients differ only in
    # float summation order (gloo's all-reduce of two half-batch means vs one mean over 4 clips padded together),
    # and Adam normalises each element's step, so an element whose gradient is near 0 can move differently by up
    # to one step (lr = 1e-3); measured, 8 of 105k weights differ by more than 1e-5 (at most 9e-5) and the mean
    # difference is 8e-9, against a mean move of 1.7e-3 over the 4 steps. Hence: mean difference < 1e-6 (over
    # 1000x below the move; another data order or batch differs by about the move itself), every weight < 1e-3.
    alone = tmp_path / "alone"
    # Training only (the two-process run also evaluated: the head's initial weights depend on --seed alone).
    run_cli([*COMMON, "--do_train", "--max_steps", "4", "--per_device_train_batch_size", "4", "--eval_strategy", "no",
             "--save_strategy", "no", "--learning_rate", "1e-3", *SAME_TRAINING], alone, hf_cache)
    losses = [[h["loss"] for h in json.loads((d / "trainer_state.json").read_text())["log_history"] if "loss" in h]
              for d in (ddp, alone)]
    assert len(losses[0]) == 4 and losses[0] == pytest.approx(losses[1], rel=1e-4), losses
    two, one = load_file(ddp / "model.safetensors"), load_file(alone / "model.safetensors")
    assert two.keys() == one.keys()
    diff = np.concatenate([np.abs(two[k] - one[k]).ravel() for k in two])
    assert diff.mean() < 1e-6 and diff.max() < 1e-3, (diff.mean(), diff.max())

    # The vocabulary every rank built is the one a single process builds.
    run_cli([*COMMON, "--do_train", "--preprocessing_only"], tmp_path / "prep", hf_cache)
    assert (ddp / "vocab.json").read_text() == (tmp_path / "prep" / "vocab.json").read_text()
