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
                           world_size=world_size)
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


def test_evaluation_is_in_dataset_order():
    sampler = SpeechTrainer._get_eval_sampler(_trainer("group_by_length"), _Durations([3.0, 1.0, 2.0]))
    assert list(sampler) == [0, 1, 2]
