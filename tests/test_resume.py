"""Never lose a run: SIGKILL mid-training, rerun the same command, reach what an uninterrupted run reaches; and an
output directory that belongs to another run is refused, not resumed or overwritten."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from xtreme_s import output_dir
from xtreme_s.output_dir import OutputDirError, last_complete_checkpoint

# Each entry: a training data order killed and resumed through the entry point. The Trainer's own (default) sampler
# is; our two samplers' orders are functions of seed and epoch alone and resume mid-epoch through the Trainer's
# loader (tests/test_sampling.py: test_order_is_a_pure_function_of_seed_and_epoch,
# test_trainer_uses_duration_batches_and_resumes_mid_epoch, test_trainer_resumes_the_length_grouped_order_mid_epoch;
# below: test_length_grouped_order_depends_only_on_seed_and_epoch), and what else a resume restores (weights,
# optimizer, scheduler, RNG states, SpecAugment's masks) does not depend on the sampler.
SAMPLERS = {
    "default": [],
}
MAX_STEPS, SAVE_STEPS, KILL_AFTER = 16, 4, 4


def train_flags(sampler: list[str]) -> list[str]:
    # mls.pl: 8 training clips, batch 3, so the run crosses epochs: the sampler's per-epoch order must resume too,
    # mid-epoch included. SpecAugment stays on (mask_time_prob): its numpy RNG must be restored as well.
    return ["--mini", "--dataset_config_name", "mls.pl", "--do_train", "--do_eval", "--max_steps", str(MAX_STEPS),
            "--save_steps", str(SAVE_STEPS), "--logging_steps", "1", "--per_device_train_batch_size", "3",
            "--per_device_eval_batch_size", "4", "--eval_strategy", "no", "--learning_rate", "1e-3", "--warmup_steps",
            "2", "--mask_time_prob", "0.2", "--mask_time_length", "2", "--seed", "0", *sampler]


def train_command(out: Path, cache: Path, sampler: list[str]) -> list[str]:
    return [sys.executable, str(ROOT / "run_xtreme_s.py"), *train_flags(sampler), "--dataloader_num_workers", "0",
            "--report_to", "none", "--disable_tqdm", "True", "--output_dir", str(out), "--cache_dir", str(cache)]


def env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1"}


def losses(out: Path) -> dict[int, float]:
    state = json.loads((out / "trainer_state.json").read_text())
    return {h["step"]: h["loss"] for h in state["log_history"] if "loss" in h}


@pytest.mark.slow
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_killed_run_resumes_to_the_same_result(sampler, tmp_path, hf_cache, caplog):
    """Only the killed run is a subprocess (it must die by SIGKILL); the others run in-process to save start-up."""
    flags = SAMPLERS[sampler]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    ra = run_cli(train_flags(flags), straight, hf_cache)

    log = open(tmp_path / "killed.log", "w")
    proc = subprocess.Popen(train_command(killed, hf_cache, flags), env=env(), cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    marker = killed / f"checkpoint-{KILL_AFTER}" / "trainer_state.json"
    deadline = time.monotonic() + 300
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    log.close()
    assert not (killed / "results.json").exists()
    assert (killed / f"checkpoint-{KILL_AFTER}").is_dir() and not (killed / f"checkpoint-{MAX_STEPS}").exists()
    resumed_from = last_complete_checkpoint(killed)
    assert resumed_from is not None and int(resumed_from.name.split("-")[1]) < MAX_STEPS

    caplog.clear()
    rb = run_cli(train_flags(flags), killed, hf_cache)
    assert f"Resuming from {resumed_from}" in caplog.text

    a, b = losses(straight), losses(killed)
    assert sorted(a) == sorted(b) == list(range(1, MAX_STEPS + 1))
    for step in a:  # same batches in the same order, same masks, same updates
        assert b[step] == pytest.approx(a[step], rel=1e-4, abs=1e-6), (step, a[step], b[step])
    va, vb = ra["splits"]["validation"], rb["splits"]["validation"]
    assert vb["loss"] == pytest.approx(va["loss"], rel=1e-4)
    assert vb["macro"] == pytest.approx(va["macro"], rel=1e-4)
    assert (killed / "eval_predictions.jsonl").read_text() == (straight / "eval_predictions.jsonl").read_text()


# ---- whose output directory is it ---------------------------------------------------------------------------

QUICK = ["--mini", "--do_train", "--max_steps", "2", "--per_device_train_batch_size", "4", "--eval_strategy", "no",
         "--save_steps", "1", "--learning_rate", "1e-3"]


def test_foreign_run_is_refused_not_resumed(tmp_path, hf_cache):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint-1").mkdir()
    (out / "checkpoint-1" / "trainer_state.json").write_text("{}")
    (out / output_dir.MANIFEST_FILE).write_text(json.dumps(
        {"task": "voxpopuli", "config_name": "voxpopuli.pl", "target_column": "transcription",
         "language_group": None, "model_name_or_path": "facebook/wav2vec2-xls-r-1b"}))
    with pytest.raises(OutputDirError,
                       match=r"holds another run.*config_name: 'voxpopuli\.pl' there, 'mls\.pl' here.*xls-r-1b"):
        run_cli(["--dataset_config_name", "mls.pl", *QUICK], out, hf_cache)


def test_unrelated_files_are_refused(tmp_path, hf_cache):
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(OutputDirError, match=r"not empty.*thesis\.tex.*--overwrite_output_dir"):
        run_cli(["--dataset_config_name", "mls.pl", *QUICK], out, hf_cache)
    assert (out / "thesis.tex").read_text() == "precious"


def test_same_run_resumes_and_finished_run_is_refused(tmp_path, hf_cache, caplog):
    out = tmp_path / "run"
    run_cli(["--dataset_config_name", "mls.pl", "--preprocessing_only", *QUICK], out, hf_cache)
    assert json.loads((out / output_dir.MANIFEST_FILE).read_text())["config_name"] == "mls.pl"
    run_cli(["--dataset_config_name", "mls.pl", *QUICK], out, hf_cache)  # after --preprocessing_only: ours
    with pytest.raises(OutputDirError, match="finished run"):
        run_cli(["--dataset_config_name", "mls.pl", *QUICK], out, hf_cache)


def test_checkpoint_cut_short_by_a_kill_is_not_resumed_from(tmp_path):
    for step in (5, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-15").mkdir()  # killed while saving: model written, state not yet
    (tmp_path / "checkpoint-15" / "model.safetensors").write_bytes(b"partial")
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    (tmp_path / "checkpoint-20").mkdir()  # killed while writing the state file itself
    (tmp_path / "checkpoint-20" / "trainer_state.json").write_text('{"global_step": 2')
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"


def test_length_grouped_order_depends_only_on_seed_and_epoch():
    import torch

    from xtreme_s.trainer import ResumableLengthGroupedSampler

    lengths = [int(x) for x in torch.randint(1, 1000, (64,), generator=torch.Generator().manual_seed(1))]

    def order(epoch: int, noise: int) -> list[int]:
        torch.manual_seed(noise)  # the global RNG wherever a resumed process happens to be
        sampler = ResumableLengthGroupedSampler(8, lengths=lengths, seed=3)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(2, noise=0) == order(2, noise=123)
    assert order(2, noise=0) != order(3, noise=0)
    assert sorted(order(1, noise=0)) == list(range(64))
