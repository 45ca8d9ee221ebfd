"""Length grouping uses the known durations (no audio is loaded to measure it); evaluation keeps dataset order."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from xtreme_s.trainer import SpeechTrainer


class _Durations(torch.utils.data.Dataset):
    def __init__(self, durations):
        self.durations = durations

    def __len__(self):
        return len(self.durations)

    def __getitem__(self, i):  # pragma: no cover - must never be called to compute lengths
        raise AssertionError("the sampler loaded an item to measure its length")


def _trainer(strategy: str, world_size: int = 1):
    args = SimpleNamespace(train_sampling_strategy=strategy, train_batch_size=4, gradient_accumulation_steps=2,
                           world_size=world_size, batch_eval_metrics=False)
    return SimpleNamespace(args=args, train_dataset=None)


def test_group_by_length_batches_similar_durations_without_loading_audio():
    torch.manual_seed(0)
    durations = [float(d) for d in torch.randint(1, 300, (400,)) / 10]
    sampler = SpeechTrainer._get_train_sampler(_trainer("group_by_length"), _Durations(durations))
    order = list(sampler)
    assert sorted(order) == list(range(400))
    batches = [order[i:i + 8] for i in range(0, 400, 8)]
    spread = sum(max(durations[i] for i in b) - min(durations[i] for i in b) for b in batches) / len(batches)
    random_spread = sum(max(durations[i] for i in range(j, j + 8)) - min(durations[i] for i in range(j, j + 8))
                        for j in range(0, 400, 8)) / 50
    assert spread < 0.3 * random_spread, (spread, random_spread)


def test_evaluation_batches_longest_first():
    sampler = SpeechTrainer._get_eval_sampler(_trainer("group_by_length"), _Durations([3.0, 1.0, 2.0]))
    assert list(sampler) == [0, 2, 1]  # evaluation_loop puts predictions back in dataset order


# -- duration batching -------------------------------------------------------------------------------------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from xtreme_s.sampling import DurationBatchSampler, padding_ratio, restore_order  # noqa: E402


def _fleurs_like(n=3000, seed=0):
    """FLEURS-like clip durations: log-normal around 10.5 s, clipped to 2-30 s."""
    return np.clip(np.random.default_rng(seed).lognormal(np.log(10.5), 0.45, n), 2, 30).tolist()


def test_duration_batches_respect_budget_and_cover_every_clip_once():
    durations = _fleurs_like()
    sampler = DurationBatchSampler(durations, max_batch_seconds=120, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    for b in batches:
        assert len(b) * max(durations[i] for i in b) <= 120  # padded audio within budget
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(durations)))


def test_clip_longer_than_budget_gets_its_own_batch():
    sampler = DurationBatchSampler([1.0, 2.0, 50.0, 1.5], max_batch_seconds=10, num_buckets=4, seed=0)
    batches = list(sampler)
    assert [2] in batches and sorted(i for b in batches for i in b) == [0, 1, 2, 3]


def test_order_is_a_pure_function_of_seed_and_epoch():
    durations = _fleurs_like(500)
    a = DurationBatchSampler(durations, 100, seed=7)
    b = DurationBatchSampler(durations, 100, seed=7)  # e.g. a fresh process resuming the run
    a.set_epoch(3)
    b.set_epoch(3)
    assert list(a) == list(b)
    a.set_epoch(4)
    assert list(a) != list(b)  # reshuffled between epochs
    assert len(list(a)) == len(list(b))  # the Trainer's steps per epoch stay exact
    assert list(DurationBatchSampler(durations, 100, seed=8)) != list(DurationBatchSampler(durations, 100, seed=7))


@pytest.mark.parametrize("drop_last", [False, True])
def test_every_rank_gets_the_same_number_of_batches(drop_last):
    durations = _fleurs_like(301)
    world = 4
    ranks = [DurationBatchSampler(durations, 90, seed=1, num_replicas=world, rank=r, drop_last=drop_last)
             for r in range(world)]
    per_rank = [list(s) for s in ranks]
    assert len({len(b) for b in per_rank}) == 1 and all(len(b) == len(s) for b, s in zip(per_rank, ranks, strict=True))
    seen = {i for batches in per_rank for b in batches for i in b}
    if drop_last:
        assert len(seen) < len(durations)  # the last incomplete round of batches is dropped
    else:
        assert seen == set(range(len(durations)))  # padding repeats batches, never loses clips


def test_padding_ratio_on_realistic_durations():
    durations = _fleurs_like(5000)
    sampler = DurationBatchSampler(durations, 200, seed=0)
    assert sampler.padding_ratio() <= 1.05
    # Fixed-size random batches of 16 (the reference runner) pad far more.
    perm = np.random.default_rng(0).permutation(len(durations))
    random_batches = [perm[i:i + 16].tolist() for i in range(0, len(perm), 16)]
    assert padding_ratio(durations, random_batches) > 1.3


def test_restore_order_undoes_a_permutation():
    order = [2, 0, 3, 1]
    preds = np.array([[20], [0], [30], [10]])  # row k belongs to dataset item order[k]
    assert restore_order(preds, order).ravel().tolist() == [0, 10, 20, 30]
    assert restore_order((preds, None), order)[1] is None


# -- the real Trainer with these samplers (a toy model: no audio, a second or two) --------------------------------


class _Items(torch.utils.data.Dataset):
    """Item i carries its own index as input and label, so outputs show which item they came from."""

    def __init__(self, durations):
        self.durations = durations

    def __len__(self):
        return len(self.durations)

    def __getitem__(self, i):
        return {"x": torch.tensor([float(i)]), "labels": torch.tensor(i)}


class _Echo(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, labels=None):
        logits = x + 0 * self.w
        return {"loss": (logits * self.w).sum(), "logits": logits}


def _real_trainer(tmp_path, durations, **kw):
    from transformers import TrainingArguments

    from xtreme_s.args import XtremeSTrainingArguments

    args = XtremeSTrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True,
                                    dataloader_num_workers=0, per_device_eval_batch_size=3, **kw)
    assert isinstance(args, TrainingArguments)
    return SpeechTrainer(model=_Echo(), args=args, train_dataset=_Items(durations), eval_dataset=_Items(durations))


def test_predict_and_compute_metrics_see_dataset_order(tmp_path):
    durations = [1.0, 9.0, 3.0, 7.0, 5.0, 2.0, 8.0]
    trainer = _real_trainer(tmp_path, durations)
    seen = {}

    def compute(pred):
        seen["preds"] = pred.predictions.ravel().tolist()
        seen["labels"] = pred.label_ids.tolist()
        return {}

    trainer.compute_metrics = compute
    out = trainer.predict(_Items(durations))
    assert out.predictions.ravel().tolist() == list(range(7))
    assert out.label_ids.tolist() == list(range(7))
    assert seen == {"preds": list(range(7)), "labels": list(range(7))}
    assert trainer.compute_metrics is compute


def test_trainer_uses_duration_batches_and_resumes_mid_epoch(tmp_path):

    durations = _fleurs_like(200)
    trainer = _real_trainer(tmp_path, durations, max_batch_seconds=60.0, seed=5)
    loader = trainer.get_train_dataloader()
    sampler = trainer.duration_sampler
    assert len(loader) == len(sampler)
    got = resumed_labels(loader, skip=3, epoch=2)
    assert got == DurationBatchSampler(durations, 60.0, seed=5).rank_batches(2)[3:]


def test_trainer_resumes_the_length_grouped_order_mid_epoch(tmp_path):
    """`--train_sampling_strategy group_by_length` through the Trainer's own loader: resumed in epoch 2 after 3
    batches, whatever the global RNG of the new process, it yields what the sampler yields for epoch 2 from batch 3
    on (the order is a function of seed and epoch alone: tests/test_resume.py). With the duration batches' test
    above, this is what a kill and resume of these two samplers relies on; tests/test_resume.py kills and resumes
    the default sampler through the entry point."""
    from xtreme_s.trainer import ResumableLengthGroupedSampler

    durations = _fleurs_like(64)
    trainer = _real_trainer(tmp_path, durations, per_device_train_batch_size=4, seed=5,
                            train_sampling_strategy="group_by_length")
    loader = trainer.get_train_dataloader()
    torch.manual_seed(123)  # the resumed process's global RNG is not the original one's
    got = resumed_labels(loader, skip=3, epoch=2)
    fresh = ResumableLengthGroupedSampler(4, lengths=[int(d * 1000) for d in durations], seed=5)
    fresh.set_epoch(2)
    order = list(fresh)
    assert got == [order[i : i + 4] for i in range(0, len(order), 4)][3:]
    fresh.set_epoch(1)
    assert list(fresh) != order  # reshuffled between epochs: resuming in the wrong epoch would show


def resumed_labels(loader, skip: int, epoch: int) -> list:
    """What Trainer._run_epoch does on resume: skip the trained batches, then set the epoch; the labels it yields."""
    from accelerate import skip_first_batches

    skipped = skip_first_batches(loader, skip)
    skipped.set_epoch(epoch)
    inner = getattr(getattr(skipped, "batch_sampler", None), "batch_sampler", None)
    if hasattr(inner, "set_epoch"):
        inner.set_epoch(epoch)
    return [batch["labels"].tolist() for batch in skipped]


def test_training_with_duration_batches_logs_padding_ratio(tmp_path):
    durations = _fleurs_like(120)
    trainer = _real_trainer(tmp_path, durations, max_batch_seconds=60.0, num_train_epochs=2,
                            gradient_accumulation_steps=2, logging_steps=1, save_strategy="no", learning_rate=1e-3)
    trainer.train()
    batches = len(DurationBatchSampler(durations, 60.0))
    assert trainer.state.global_step == 2 * -(-batches // 2)  # every batch of both epochs, accumulated by two
    ratios = [log["padding_ratio"] for log in trainer.state.log_history if "padding_ratio" in log]
    assert ratios and all(1.0 <= r <= 1.1 for r in ratios)
    assert trainer.duration_sampler.epoch == 1


def test_cli_run_with_duration_batching(tmp_path, hf_cache):
    """The real entry point trains with --max_batch_seconds, logs the padding ratio and predicts every clip."""
    import json

    from conftest import run_cli

    out = tmp_path / "run"
    results = run_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train", "--do_predict", "--max_steps", "3",
                       "--max_batch_seconds", "8", "--per_device_eval_batch_size", "3", "--eval_strategy", "no",
                       "--save_strategy", "no", "--logging_steps", "1", "--learning_rate", "1e-3"], out, hf_cache)
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    assert any("padding_ratio" in log for log in state["log_history"])
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert results["splits"]["test"]["num_examples"] == len(lines) > 0


def test_compile_pads_batches_to_few_lengths(tmp_path):
    import soundfile as sf
    from transformers import Wav2Vec2FeatureExtractor

    from xtreme_s.collators import SpeechCollator, padding_multiple

    fe = Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True)
    assert padding_multiple(SimpleNamespace(torch_compile=True), 16000) == 32000  # 2 s by default with --torch_compile
    multiple = padding_multiple(SimpleNamespace(pad_to_multiple_of_seconds=0.5, torch_compile=False), 16000)
    collator = SpeechCollator(fe, label_kind="none", pad_to_multiple_of=multiple)
    lengths = []
    for seconds in (0.3, 1.2):
        path = tmp_path / f"{seconds}.wav"
        sf.write(path, np.zeros(int(seconds * 16000), dtype=np.float32), 16000)
        batch = collator([{"audio": {"path": str(path), "bytes": None}}])
        lengths.append(batch["input_values"].shape[1])
        assert int(batch["attention_mask"].sum()) == int(seconds * 16000)
    assert lengths == [8000, 24000]


def test_ddp_wrapper_passes_rank_batches_through_and_forwards_set_epoch():
    """Under DDP accelerate wraps the batch sampler in BatchSamplerShard; ours is already rank-aware."""
    from accelerate.data_loader import BatchSamplerShard, SkipBatchSampler

    from xtreme_s.trainer import unshard

    durations = _fleurs_like(300)
    sampler = DurationBatchSampler(durations, 60, seed=2, num_replicas=2, rank=1)
    wrapper = BatchSamplerShard(sampler, num_processes=2, process_index=1)
    unshard(wrapper, sampler)
    assert list(wrapper) == sampler.rank_batches(0) and len(wrapper) == len(sampler)
    # Resuming in epoch 3 on this rank: the Trainer skips trained batches, then calls set_epoch on the wrapper.
    skipped = SkipBatchSampler(wrapper, skip_batches=2)
    skipped.batch_sampler.set_epoch(3)
    assert list(skipped) == DurationBatchSampler(durations, 60, seed=2, num_replicas=2, rank=1).rank_batches(3)[2:]


# Two processes stepping through duration batches together (torchrun): tests/test_distributed.py, one launch
# for everything distributed.
