"""The small interface every task family implements (in the spirit of s3prl's downstream tasks).

The runner owns the shared steps (loading, filtering, the Trainer, reports); a family only says how targets
become labels, which model head to build, how predictions decode and how they are scored.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import AutoConfig, PreTrainedModel

from ..collators import SpeechCollator, SpeechDataset, padding_multiple
from ..metrics import SCORERS, per_language
from ..registry import ResolvedTask
from ..trainer import SpeechTrainer

logger = logging.getLogger(__name__)


class TaskFamily:
    """Base class: shared plumbing; subclasses fill in `prepare`, `build_model` and `decode`."""

    label_kind = "sequence"  # see SpeechCollator
    trainer_class: type = SpeechTrainer  # SpeechSeq2SeqTrainer for generation

    def __init__(self, task: ResolvedTask, model_args: Any, data_args: Any, training_args: Any):
        self.task = task
        self.model_args = model_args
        self.data_args = data_args
        self.training_args = training_args
        self.processor: Any = None
        self.references: dict[str, list] = {}
        self.skipped: dict[str, Counter] = {}  # split -> reason -> count
        self.notes: dict[str, Any] = {}  # family-specific facts for results.json (e.g. OOV rate)

    # -- to implement ------------------------------------------------------------------------------------
    def prepare(self, splits: dict[str, Dataset]) -> dict[str, SpeechDataset]:
        """Build labels (and the processor) from the splits; return one SpeechDataset per split."""
        raise NotImplementedError

    def build_model(self) -> PreTrainedModel:
        raise NotImplementedError

    def decode(self, predictions: np.ndarray) -> list:
        """Turn what `preprocess_logits_for_metrics` kept into predictions comparable with references."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------------------
    def encoder_config_overrides(self) -> dict[str, Any]:
        """SpecAugment and regularisation flags every XLS-R-style encoder takes."""
        m = self.model_args
        return {
            "feat_proj_dropout": m.feat_proj_dropout, "attention_dropout": m.attention_dropout,
            "hidden_dropout": m.hidden_dropout, "final_dropout": m.final_dropout,
            "activation_dropout": m.activation_dropout, "mask_time_prob": m.mask_time_prob,
            "mask_time_length": m.mask_time_length, "mask_feature_prob": m.mask_feature_prob,
            "mask_feature_length": m.mask_feature_length, "layerdrop": m.layerdrop,
        }

    def load_pretrained(self, auto_cls: Any, head_config: dict[str, Any]) -> PreTrainedModel:
        """Load `model_name_or_path` into `auto_cls` with our encoder flags plus the head's config.

        Falls back to eager attention when the requested kernel is unavailable (e.g. a peer architecture without
        SDPA, or flash-attn not installed): a speed default must never block a run.
        """
        m = self.model_args
        hub = dict(cache_dir=m.cache_dir, revision=m.model_revision, token=self.training_args.hub_token)
        config = AutoConfig.from_pretrained(m.model_name_or_path, **hub)
        config.update({**self.encoder_config_overrides(), **head_config})
        load = dict(config=config, ignore_mismatched_sizes=True, **hub)
        try:
            model = auto_cls.from_pretrained(m.model_name_or_path, attn_implementation=m.attn_implementation, **load)
        except (ValueError, ImportError) as err:
            if m.attn_implementation in (None, "eager"):
                raise
            logger.warning("attn_implementation=%s is not available for this model (%s); using eager attention.",
                           m.attn_implementation, err)
            model = auto_cls.from_pretrained(m.model_name_or_path, attn_implementation="eager", **load)
        if m.freeze_feature_encoder:
            model.freeze_feature_encoder()
        return model

    @property
    def feature_extractor(self) -> Any:
        return getattr(self.processor, "feature_extractor", self.processor)

    def collator(self) -> SpeechCollator:
        fe = self.feature_extractor
        return SpeechCollator(fe, label_kind=self.label_kind,
                              pad_to_multiple_of=padding_multiple(self.training_args, fe.sampling_rate))

    def preprocess_logits_for_metrics(self, logits: Any, labels: torch.Tensor) -> torch.Tensor:
        """Keep argmax ids, not B x T x V logits: the Trainer would otherwise hold all logits of the split."""
        if isinstance(logits, tuple):
            logits = logits[0]
        return logits.argmax(dim=-1)

    def score(self, references: Sequence, predictions: Sequence, languages: Sequence[str]) -> dict:
        scorer = SCORERS[self.task.spec.primary_metric]
        return per_language(references, predictions, languages, scorer)

    def compute_metrics_for(self, split: str, dataset: SpeechDataset) -> Callable:
        """A Trainer `compute_metrics` bound to one split, so per-language scores know each row's language."""

        def compute(pred: Any) -> dict[str, float]:
            predictions = self.decode(pred.predictions)
            refs = self.references[split][: len(predictions)]
            result = self.score(refs, predictions, dataset.languages[: len(predictions)])
            headline = result["macro"] if self.data_args.per_lang_metrics else result["pooled"]
            out = dict(headline)
            out.update({f"pooled_{k}": v for k, v in result["pooled"].items()})
            return out

        return compute

    def write_artifacts(self, output_dir: Path, split: str, predictions: Sequence, dataset: SpeechDataset) -> None:
        """Family-specific files beside results.json (e.g. a confusion matrix); main process only."""

    def drop_training_rows(self, split: str, ds: Dataset, reasons: Sequence[str | None],
                           *columns: list) -> tuple[Dataset, list[list]]:
        """Skip and count the rows that have a reason (None = keep); returns the kept rows and columns."""
        for reason in reasons:
            if reason is not None:
                self.skip(split, reason)
        keep = [i for i, reason in enumerate(reasons) if reason is None]
        if len(keep) == len(ds):
            return ds, list(columns)
        logger.warning("Skipped %d training items: %s", len(ds) - len(keep), dict(self.skipped[split]))
        return ds.select(keep), [[col[i] for i in keep] for col in columns]

    def skip(self, split: str, reason: str, n: int = 1) -> None:
        self.skipped.setdefault(split, Counter())[reason] += n
