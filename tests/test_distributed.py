"""Two processes (torchrun, gloo on CPU), one launch: preprocessing once per rank group, results written once, both
ranks stepping together through two epochs of duration batches, evaluation over the whole split equal to a
single-process run of the same weights, and training equal to one process with the same effective batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import MINI_HUB, ROOT, run_cli
from safetensors.numpy import load_file

from xtreme_s.registry import resolve
from xtreme_s.sampling import DurationBatchSampler
from xtreme_s.sources import LoadContext, load_splits

COMMON = ["--mini", "--dataset_config_name", "mls.all", "--per_device_eval_batch_size", "2", "--seed", "0"]
MAX_BATCH_SECONDS = 7  # 8 batches of the 16 training clips: 4 per rank, an even number for the one-process run
# The same training in both runs: duration batches, no randomness that differs between processes (SpecAugment masks
# are drawn per process; dropout is 0 by default), a log per step so the runs can be compared step by step.
TRAINING = ["--do_train", "--num_train_epochs", "2", "--max_batch_seconds", str(MAX_BATCH_SECONDS),
            "--mask_time_prob", "0", "--logging_steps", "1", "--learning_rate", "1e-3", "--eval_strategy", "no"]


@pytest.mark.slow
def test_two_process_run_equals_single_process(tmp_path, hf_cache):
    ddp = tmp_path / "ddp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    # --standalone picks a free rendezvous port, so parallel test workers (pytest-xdist) do not collide.
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "run_xtreme_s.py"), *COMMON, *TRAINING, "--do_eval", "--do_predict", "--save_strategy", "epoch",
           "--dataloader_num_workers", "0", "--report_to", "none", "--disable_tqdm", "True", "--output_dir", str(ddp),
           "--cache_dir", str(hf_cache), "--ddp_timeout", "600"]
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

    # Training: the ranks take alternate batches of the epoch's one global order (a pure function of seed and
    # epoch), so one process accumulating 2 batches per step sees the same batches per step (an even number of
    # batches, else the last rank would repeat one) and the same mean gradient. The per-step losses agree to 1e-4
    # relative. The weights: the gradients differ only in float summation order (gloo's all-reduce of two batch
    # means vs accumulation of two halves), and Adam normalises each element's step, so an element whose gradient is
    # near 0 can move differently by up to one step (lr = 1e-3); with fixed batches we measured 8 of 105k weights
    # differing by more than 1e-5 (at most 9e-5) and a mean difference of 8e-9 against a mean move of 1.7e-3. Hence:
    # mean difference < 1e-6 (over 1000x below the move; another data order differs by about the move), each < 1e-3.
    assert alone == 2 * per_rank, (alone, per_rank)
    one = tmp_path / "one"
    run_cli([*COMMON, *TRAINING, "--gradient_accumulation_steps", "2", "--save_strategy", "no"], one, hf_cache)
    losses = [[h["loss"] for h in json.loads((d / "trainer_state.json").read_text())["log_history"] if "loss" in h]
              for d in (ddp, one)]
    assert len(losses[0]) == 2 * per_rank and losses[0] == pytest.approx(losses[1], rel=1e-4), losses
    two, single_weights = load_file(ddp / "model.safetensors"), load_file(one / "model.safetensors")
    assert two.keys() == single_weights.keys()
    diff = np.concatenate([np.abs(two[k] - single_weights[k]).ravel() for k in two])
    assert diff.mean() < 1e-6 and diff.max() < 1e-3, (diff.mean(), diff.max())

    # The vocabulary every rank built is the one a single process builds.
    run_cli([*COMMON, "--do_train", "--preprocessing_only"], tmp_path / "prep", hf_cache)
    assert (ddp / "vocab.json").read_text() == (tmp_path / "prep" / "vocab.json").read_text()
