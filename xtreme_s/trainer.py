"""Every coupling to the Trainer's and accelerate's internals, in one module.

The rest of the package is plain code: `sampling` holds pure samplers, `robustness` what is skipped and counted,
the collator what a batch carries. Here they meet the Trainer through the hooks it offers (several of them
private), and through accelerate's batch-sampler wrappers. `TRANSFORMERS_HOOKS` and `ACCELERATE_HOOKS` list each
private name we override or call with the parameters we rely on; `tests/test_trainer_hooks.py` checks them against
the installed libraries, so an upgrade outside the supported range (pyproject: transformers >=5,<6) that breaks us
fails there with the name of what changed, not deep inside a training run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from transformers import Seq2SeqTrainer, Trainer, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, EvalPrediction, seed_worker

from . import atomic, sampling
from .errors import UserError
from .robustness import DECODE_REASONS, EMPTY_BATCH_KEY, IN_BATCH_SUFFIX, SKIPPED_KEY, SKIPPED_STATE

logger = logging.getLogger(__name__)

# "module:object.attribute" -> the leading parameters (after self) we rely on, in order.
TRANSFORMERS_HOOKS: dict[str, tuple[str, ...]] = {
    "transformers.trainer:Trainer._get_train_sampler": ("train_dataset",),
    "transformers.trainer:Trainer._get_eval_sampler": ("eval_dataset",),
    "transformers.trainer:Trainer.get_train_dataloader": (),
    "transformers.trainer:Trainer._get_collator_with_removed_columns": ("data_collator", "description"),
    "transformers.trainer:Trainer.evaluation_loop": ("dataloader", "description", "prediction_loss_only",
                                                     "ignore_keys", "metric_key_prefix"),
    "transformers.trainer:Trainer.log": ("logs", "start_time"),
    "transformers.trainer:Trainer.compute_loss": ("model", "inputs", "return_outputs", "num_items_in_batch"),
    "transformers.trainer:Trainer._save_checkpoint": ("model", "trial"),
    "transformers.trainer:Trainer._get_output_dir": ("trial",),
    "transformers.trainer:Trainer.train": ("resume_from_checkpoint",),
    "transformers.trainer:Trainer.create_model_card": (),  # reports.model_card wraps it around push_to_hub
    "transformers.trainer_utils:seed_worker": ("worker_id", "num_workers", "rank"),
    "transformers.trainer_pt_utils:LengthGroupedSampler.__init__": ("batch_size", "dataset", "lengths",
                                                                    "model_input_name", "generator"),
}
ACCELERATE_HOOKS: dict[str, tuple[str, ...]] = {
    "accelerate.data_loader:BatchSamplerShard.__init__": ("batch_sampler", "num_processes", "process_index"),
    "accelerate.accelerator:Accelerator.prepare": (),
    "accelerate.accelerator:Accelerator.reduce": ("tensor", "reduction"),
}


class SkippedItemsMixin:
    """Pops the collator's skip counts off each training batch, adds them up, zeroes the loss of empty batches
    (xtreme_s.robustness says what is skipped and why)."""

    _skipped_in_batches: torch.Tensor | None = None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        counts = inputs.pop(SKIPPED_KEY, None)
        empty = inputs.pop(EMPTY_BATCH_KEY, None)
        if counts is not None:
            counts = counts.detach().cpu()
            self._skipped_in_batches = counts if self._skipped_in_batches is None else self._skipped_in_batches + counts
        out = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                   num_items_in_batch=num_items_in_batch)
        if empty is not None and bool(empty.any()):
            if return_outputs:
                return out[0] * 0.0, out[1]
            return out * 0.0
        return out

    def _save_checkpoint(self, model, trial):
        """Keep this process's counts in the checkpoint, so a resumed run reports the batches before the kill.
        Written first: the Trainer writes trainer_state.json last, and only a checkpoint whose trainer_state.json
        reads is resumed from (output_dir.last_complete_checkpoint), so a complete one holds the counts too."""
        folder = Path(self._get_output_dir(trial=trial)) / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        counts = self._skipped_in_batches.tolist() if self._skipped_in_batches is not None else []
        folder.mkdir(parents=True, exist_ok=True)  # other ranks may reach here before the main one creates it
        atomic.write_text(folder / f"{SKIPPED_STATE}_{self.args.process_index}.json", json.dumps(counts))
        super()._save_checkpoint(model, trial)

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        if isinstance(resume_from_checkpoint, str):
            saved = Path(resume_from_checkpoint) / f"{SKIPPED_STATE}_{self.args.process_index}.json"
            if saved.is_file() and (counts := json.loads(saved.read_text())):
                self._skipped_in_batches = torch.tensor(counts, dtype=torch.long)
        return super().train(resume_from_checkpoint, *args, **kwargs)

    def skipped_during_training(self) -> dict[str, int]:
        """Counts per reason, summed over all processes (call on every rank: it is a collective)."""
        local = self._skipped_in_batches if self._skipped_in_batches is not None else torch.zeros(
            len(DECODE_REASONS), dtype=torch.long)
        total = self.accelerator.reduce(local.to(self.accelerator.device), reduction="sum").cpu()
        return {reason + IN_BATCH_SUFFIX: int(n) for reason, n in zip(DECODE_REASONS, total.tolist(), strict=True)
                if n}


class ResumableLengthGroupedSampler(LengthGroupedSampler):
    """`LengthGroupedSampler` whose order depends only on (seed, epoch).

    The stock one draws from the global torch RNG when an epoch starts; after a resume mid-epoch that RNG is not
    where it was, so the skipped batches would not be the ones already trained on (and under DDP each rank could
    draw a different order). The Trainer calls `set_epoch` through accelerate's loaders, skip wrappers included.
    Relies on the stock sampler drawing from `self.generator` when iterated.
    """

    def __init__(self, *args: Any, seed: int = 0, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()


def unshard(wrapper: Any, sampler: sampling.DurationBatchSampler) -> None:
    """Make accelerate's `BatchSamplerShard` around our rank-aware sampler a pass-through that forwards
    `set_epoch` (the Trainer calls it on that wrapper when resuming mid-epoch)."""
    if wrapper is not None and wrapper is not sampler and getattr(wrapper, "batch_sampler", None) is sampler:
        wrapper.num_processes, wrapper.process_index = 1, 0
        wrapper.set_epoch = sampler.set_epoch


def duration_train_dataloader(trainer: Any) -> torch.utils.data.DataLoader:
    """The Trainer's training DataLoader with a `DurationBatchSampler` (`--max_batch_seconds`).

    Mirrors `Trainer._get_dataloader`, but passes the sampler as `batch_sampler`. The sampler is rank-aware, so the
    `BatchSamplerShard` that `accelerator.prepare` wraps around it under DDP is made a pass-through (as the Trainer
    does for its own rank-aware `BatchRebalanceSampler`) and forwards `set_epoch`, which the Trainer looks for on
    that wrapper when it resumes mid-epoch (`skip_first_batches`).
    """
    args = trainer.args
    dataset = trainer.train_dataset
    if not hasattr(dataset, "durations"):
        raise ValueError("--max_batch_seconds needs a training dataset that knows its clip durations "
                         f"(xtreme_s.collators.SpeechDataset); got {type(dataset).__name__}.")
    too_long = sum(d > args.max_batch_seconds for d in dataset.durations)
    if too_long:
        logger.warning("%d training clip(s) are longer than --max_batch_seconds=%s and get a batch of their own; "
                       "lower --max_duration_in_seconds to skip them.", too_long, args.max_batch_seconds)
    groups, window = sampling.row_groups(dataset, args)
    sampler = sampling.DurationBatchSampler(
        dataset.durations, args.max_batch_seconds, num_buckets=args.num_duration_buckets, shuffle=True,
        seed=args.data_seed if args.data_seed is not None else args.seed, drop_last=args.dataloader_drop_last,
        num_replicas=max(1, args.world_size), rank=args.process_index if args.world_size > 1 else 0,
        groups=groups, window=window)
    trainer.duration_sampler = sampler
    logger.info("Duration batching: %d batches per epoch per process (budget %.0f s, %d buckets), padding ratio "
                "%.3f", len(sampler), args.max_batch_seconds, len(sampler.buckets), sampler.padding_ratio(0))
    if groups is not None:
        logger.info("Row-group-aware order: %d parquet row groups in windows of %d (--shuffle_window_row_groups)",
                    int(groups.max()) + 1, window)
    params: dict[str, Any] = {
        "batch_sampler": sampler,
        "collate_fn": trainer._get_collator_with_removed_columns(trainer.data_collator, description="Training"),
        "num_workers": args.dataloader_num_workers,
        "pin_memory": args.dataloader_pin_memory,
        "persistent_workers": args.dataloader_persistent_workers and args.dataloader_num_workers > 0,
        "worker_init_fn": partial(seed_worker, num_workers=args.dataloader_num_workers, rank=args.process_index),
    }
    if args.dataloader_num_workers > 0:
        params["prefetch_factor"] = args.dataloader_prefetch_factor
        params["multiprocessing_context"] = args.dataloader_multiprocessing_context
    dataloader = trainer.accelerator.prepare(torch.utils.data.DataLoader(dataset, **params))
    unshard(getattr(dataloader, "batch_sampler", None), sampler)
    return dataloader


def _find_order(dataloader: Any) -> list[int] | None:
    """The `OrderedSampler` behind a (prepared) evaluation DataLoader, if any."""
    stack, seen = [dataloader], 0
    while stack and seen < 8:
        obj = stack.pop()
        seen += 1
        if isinstance(obj, sampling.OrderedSampler):
            return obj.order
        for name in ("sampler", "batch_sampler", "base_dataloader"):
            child = getattr(obj, name, None)
            if child is not None and child is not obj:
                stack.append(child)
    return None


def evaluation_loop_in_dataset_order(trainer: Any, loop: Callable, dataloader: Any, *args: Any, **kwargs: Any) -> Any:
    """Run the Trainer's evaluation loop over a length-sorted order, yet hand `compute_metrics` and the caller
    predictions in dataset order (per-language scores and predictions.jsonl rely on it)."""
    order = _find_order(dataloader)
    if order is None:
        return loop(dataloader, *args, **kwargs)
    compute = trainer.compute_metrics
    restore = sampling.restore_order

    def compute_in_order(pred: EvalPrediction) -> dict:
        return compute(EvalPrediction(predictions=restore(pred.predictions, order),
                                      label_ids=restore(pred.label_ids, order),
                                      inputs=restore(pred.inputs, order),
                                      losses=restore(pred.losses, order)))

    trainer.compute_metrics = compute_in_order if compute is not None else None
    try:
        output = loop(dataloader, *args, **kwargs)
    finally:
        trainer.compute_metrics = compute
    return output._replace(predictions=restore(output.predictions, order), label_ids=restore(output.label_ids, order))


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
            return ResumableLengthGroupedSampler(
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
            return duration_train_dataloader(self)
        sampling.hint_without_duration_batching(self.train_dataset, self.args)
        return super().get_train_dataloader()

    def evaluation_loop(self, dataloader, *args, **kwargs):
        return evaluation_loop_in_dataset_order(self, super().evaluation_loop, dataloader, *args, **kwargs)

    def log(self, logs, *args, **kwargs):
        sampler = getattr(self, "duration_sampler", None)
        if sampler is not None and "loss" in logs:
            logs = {**logs, "padding_ratio": round(sampler.padding_ratio(), 4)}
        return super().log(logs, *args, **kwargs)


class TrainingDiverged(UserError, FloatingPointError):
    """The gradient became NaN/inf: the run stops before that step changes the weights."""


class DivergenceGuard(TrainerCallback):
    """Stops training at the first optimizer step whose gradient holds NaN or inf, before the step is applied.

    Without it the run ends with exit code 0: the Trainer replaces a NaN loss in its log by the running mean
    (`logging_nan_inf_filter`), the optimizer writes NaN into every weight, and the NaN model is saved as the
    result. The gradient, not the loss, is checked: after DDP's all-reduce every rank holds the same one, so every
    rank stops together (a NaN loss on one rank makes every rank's gradient NaN). Under fp16 an inf gradient is the
    loss scaler's business (the step is skipped and the scale lowered), so fp16 runs are left to it."""

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if args.fp16 or model is None:
            return
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not grads:
            return
        local = [g.to_local() if hasattr(g, "to_local") else g for g in grads]  # FSDP2: this rank's shard
        bad = torch.logical_not(torch.isfinite(torch.stack([g.detach().float().norm() for g in local])).all())
        if torch.distributed.is_available() and torch.distributed.is_initialized():  # a NaN in one rank's shard
            bad = bad.to(torch.int32)
            torch.distributed.all_reduce(bad, op=torch.distributed.ReduceOp.MAX)
        if bool(bad):
            raise TrainingDiverged(
                f"training diverged at step {state.global_step + 1}: the gradient holds NaN/inf values, so the loss "
                f"is no longer a number. Likely cause: a learning rate too high for this model (--learning_rate "
                f"{args.learning_rate:g}; lower it or lengthen --warmup_steps)"
                f"{', or bf16 overflow' if args.bf16 else ''}. "
                "The step was not applied and no finished model was saved (earlier checkpoints are intact); rerun "
                "with a lower --learning_rate and --overwrite_output_dir.")


class DivergenceGuardMixin:
    """Every trainer of ours stops on a diverged gradient (DivergenceGuard)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.add_callback(DivergenceGuard())


class SpeechTrainer(DivergenceGuardMixin, SkippedItemsMixin, SpeechSamplingMixin, Trainer):
    pass


class SpeechSeq2SeqTrainer(DivergenceGuardMixin, SkippedItemsMixin, SpeechSamplingMixin, Seq2SeqTrainer):
    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **gen_kwargs):
        """Generation under the run's mixed precision: accelerate wraps only the model's `forward` in autocast, and
        `generate` reaches the encoder through `get_encoder()`, so with --bf16 the encoder ran in float32 (found by
        benchmarks/gpu_check.py's generate part). Without mixed precision this context does nothing."""
        with self.accelerator.autocast():
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **gen_kwargs)
