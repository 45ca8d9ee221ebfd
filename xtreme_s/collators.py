"""The training dataset view and the one collator every task family shares.

Audio stays encoded until a DataLoader worker collates a batch: the dataset yields bytes/paths plus prepared
labels, the collator decodes, resamples, normalises and pads. Only label padding differs between families.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from datasets import Dataset

from . import robustness as rb

logger = logging.getLogger("xtreme_s")


BLOCK_COLUMNS = ("speaker_id", "sentence_id")


class SpeechDataset(torch.utils.data.Dataset):
    """Rows of a common-schema dataset with their prepared labels; audio is fetched, not decoded."""

    def __init__(self, data: Dataset, labels: Sequence[Any] | None = None, skip_bad_audio: bool = False):
        self.skip_bad_audio = skip_bad_audio  # training: the collator drops (and counts) undecodable clips
        cols = [c for c in ("audio", "segment_start", "segment_end") if c in data.column_names]
        self.audio = data.select_columns(cols)
        self.labels = labels
        self.durations: list[float] = list(data["duration"])
        self.languages: list[str] = list(data["language"])
        self.ids: list[str] = list(data["id"])
        # Speaker and sentence ids where the source has them: written beside the predictions, so that
        # `xtreme-s compare` can resample whole speakers or sentences (their utterances are correlated).
        self.blocks: dict[str, list[str]] = {c: [str(x) for x in data[c]] for c in BLOCK_COLUMNS
                                             if c in data.column_names}

    def __len__(self) -> int:
        return len(self.durations)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.audio[int(i)]
        item = {"audio": row["audio"], "segment_start": row.get("segment_start"), "segment_end": row.get("segment_end")}
        if self.labels is not None:
            item["labels"] = self.labels[int(i)]
        item["id"], item["skip_bad_audio"] = self.ids[int(i)], self.skip_bad_audio
        return item


def padding_multiple(training_args: Any, sampling_rate: int) -> int | None:
    """Samples to pad every batch to a multiple of: `--pad_to_multiple_of_seconds` (default 2 s with
    `--torch_compile`, so a compiled model sees a handful of shapes instead of recompiling per batch length)."""
    seconds = getattr(training_args, "pad_to_multiple_of_seconds", None)
    if seconds is None and getattr(training_args, "torch_compile", False):
        seconds = 2.0
    if not seconds:
        return None
    multiple = int(round(seconds * sampling_rate))
    logger.info("Padding audio batches to multiples of %.2f s (%d samples).", seconds, multiple)
    return multiple


@dataclass
class SpeechCollator:
    """Decode + feature-extract + pad a batch.

    `label_kind`: "sequence" (CTC and decoder targets: token ids padded with -100 so the loss ignores them),
    "class" (one integer per clip) or "none" (inference only).
    """

    feature_extractor: Any
    label_kind: str = "sequence"
    pad_to_multiple_of: int | None = None
    min_samples: int = 0  # the encoder's receptive field: shorter clips are padded with silence up to it
    inputs: Any = None  # xtreme_s.encoders.InputSpec: padding and attention mask as the extractor wants them
    padding_mask: bool = False  # also return the padding mask as `padding_mask` when the model takes none

    def __post_init__(self) -> None:
        if self.inputs is None:
            from .encoders import InputSpec

            self.inputs = InputSpec.of(self.feature_extractor)
        if self.pad_to_multiple_of and not self.inputs.waveform:
            logger.info("Padding to a multiple of samples applies to waveform inputs only; %s pads %s itself.",
                        type(self.feature_extractor).__name__, self.inputs.input_name)
            self.pad_to_multiple_of = None

    def with_min_samples(self, n: int) -> SpeechCollator:
        self.min_samples = n
        return self

    def __call__(self, items: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        sr = self.feature_extractor.sampling_rate
        waves, kept, skipped = [], [], Counter()
        for it in items:  # bad audio: see xtreme_s.robustness
            wav, problem = rb.decode_checked(it["audio"], sr, it.get("segment_start"), it.get("segment_end"))
            if problem is None:
                if wav.size < self.min_samples:
                    # Evaluation clips shorter than the encoder's receptive field are scored (runner: counted in
                    # notes); alone in a batch they would crash the convolutions. Training ones were skipped by
                    # duration; a clip whose decoded length is shorter than its header said lands here too.
                    wav = np.pad(wav, (0, self.min_samples - wav.size))
                waves.append(wav)
                kept.append(it)
            elif it.get("skip_bad_audio"):
                logger.warning("Skipping training item %s: %s", rb.describe(it), problem)
                skipped[problem] += 1
            else:
                raise rb.BadAudioError(f"Cannot use {rb.describe(it)}: {problem}. Evaluation items are never dropped "
                                       "silently: fix or remove it, or pass --allow_skipping_eval_items.")
        track = any(it.get("skip_bad_audio") for it in items)
        empty = not kept
        if empty:
            waves, kept = [rb.placeholder(sr)], [{"labels": [] if self.label_kind == "sequence" else 0}]
        items = kept
        spec = self.inputs
        # The extractor's own choices: Whisper pads to its fixed 30 s window; HuBERT-base and others that were
        # pre-trained without an attention mask get none (a mask changes their outputs).
        kwargs = {"pad_to_multiple_of": self.pad_to_multiple_of} if self.pad_to_multiple_of else {}
        batch = self.feature_extractor(waves, sampling_rate=sr, padding=spec.padding, return_tensors="pt",
                                       return_attention_mask=spec.attention_mask or self.padding_mask, **kwargs)
        if self.padding_mask and not spec.attention_mask:
            batch["padding_mask"] = batch.pop("attention_mask")
        if self.label_kind == "sequence":
            longest = max(1, max(len(it["labels"]) for it in items))
            labels = np.full((len(items), longest), -100, dtype=np.int64)
            for row, it in enumerate(items):
                labels[row, : len(it["labels"])] = it["labels"]
            batch["labels"] = torch.from_numpy(labels)
        elif self.label_kind == "class":
            batch["labels"] = torch.tensor([int(it["labels"]) for it in items], dtype=torch.long)
        if track:
            batch[rb.SKIPPED_KEY] = rb.skipped_tensor(skipped)
            batch[rb.EMPTY_BATCH_KEY] = torch.tensor(empty)
        return dict(batch)
