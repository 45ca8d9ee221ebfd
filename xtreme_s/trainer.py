"""The Trainer with speech-aware sampling; everything else is the Trainer's own machinery."""

from __future__ import annotations

import torch
from transformers import Seq2SeqTrainer, Trainer

from .robustness import ResumableLengthGroupedSampler, SkippedItemsMixin


class SpeechSamplingMixin:
    """Length grouping from known durations, and evaluation in dataset order.

    The Trainer would compute lengths by loading every item (decoding audio) and, with `group_by_length`, would
    also shuffle evaluation batches, which breaks the row order that per-language scores and predictions.jsonl
    rely on.
    """

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and hasattr(dataset, "durations"):
            return ResumableLengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                dataset=dataset,
                lengths=[int(d * 1000) for d in dataset.durations],
                seed=getattr(self.args, "seed", 42),
            )
        return super()._get_train_sampler(train_dataset)

    def _get_eval_sampler(self, eval_dataset):
        if self.args.world_size <= 1:
            return torch.utils.data.SequentialSampler(eval_dataset)
        return None  # the Trainer's distributed evaluation keeps order when it gathers


class SpeechTrainer(SkippedItemsMixin, SpeechSamplingMixin, Trainer):
    pass


class SpeechSeq2SeqTrainer(SkippedItemsMixin, SpeechSamplingMixin, Seq2SeqTrainer):
    pass
