"""The Trainer with speech-aware sampling; everything else is the Trainer's own machinery."""

from __future__ import annotations

import torch
from transformers import Seq2SeqTrainer, Trainer

from . import sampling
from .robustness import SkippedItemsMixin


class SpeechSamplingMixin:
    """Length grouping from known durations, duration batching (xtreme_s.sampling), and evaluation batched by
    length but returned in dataset order.

    The Trainer would compute lengths by loading every item (decoding audio) and, with `group_by_length`, would
    also shuffle evaluation batches, which breaks the row order that per-language scores and predictions.jsonl
    rely on.
    """

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and hasattr(dataset, "durations"):
            return sampling.ResumableLengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                dataset=dataset,
                lengths=[int(d * 1000) for d in dataset.durations],
                seed=getattr(self.args, "seed", 42),
            )
        return super()._get_train_sampler(train_dataset)

    def _get_eval_sampler(self, eval_dataset):
        if self.args.world_size <= 1:
            if hasattr(eval_dataset, "durations") and not self.args.batch_eval_metrics:
                # Longest first, so batches hold similar lengths; evaluation_loop restores dataset order.
                return sampling.OrderedSampler(sampling.eval_order(eval_dataset, self.args))
            return torch.utils.data.SequentialSampler(eval_dataset)
        return None  # the Trainer's distributed evaluation keeps order when it gathers

    def get_train_dataloader(self):
        if getattr(self.args, "max_batch_seconds", None):
            return sampling.duration_train_dataloader(self)
        sampling.hint_without_duration_batching(self.train_dataset, self.args)
        return super().get_train_dataloader()

    def evaluation_loop(self, dataloader, *args, **kwargs):
        return sampling.evaluation_loop_in_dataset_order(self, super().evaluation_loop, dataloader, *args, **kwargs)

    def log(self, logs, *args, **kwargs):
        sampler = getattr(self, "duration_sampler", None)
        if sampler is not None and "loss" in logs:
            logs = {**logs, "padding_ratio": round(sampler.padding_ratio(), 4)}
        return super().log(logs, *args, **kwargs)


class SpeechTrainer(SkippedItemsMixin, SpeechSamplingMixin, Trainer):
    pass


class SpeechSeq2SeqTrainer(SkippedItemsMixin, SpeechSamplingMixin, Seq2SeqTrainer):
    pass
