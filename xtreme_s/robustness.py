"""Bad input: what a run skips and counts, and what stops it, so that no metric silently loses items.

Training items are filtered twice. Before training, from metadata (`runner._filter_train`, family `prepare`):
unreadable headers, zero length, duration limits, empty transcripts, targets longer than the model's output.
During training, by the collator, because a clip whose header reads may still fail to decode or hold NaN/inf
samples, and decoding happens only there (a full decode of a 1000-hour set up front would cost as much as an
epoch). The collator runs in DataLoader worker processes, so it cannot count into an object of the training
process: each batch carries its counts (`SKIPPED_KEY`), `trainer.SkippedItemsMixin` pops them before the forward
pass and adds them up, and the runner sums them over ranks into results.json.

Evaluation and test items are never dropped silently. The scored splits are decoded once before training (or
before an evaluation-only run scores them: `startup_checks.check_eval_split`), so a corrupt test clip stops a
training run at start-up, not after a day of training; `--allow_skipping_eval_items` skips such items instead,
counts them under the split's name and scores the rest. An evaluation-only run with such items scores the
rest, writes results.json, then ends with exit code 2 naming them (none stops part way).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import torch

from .audio import AudioDecodeError, load_audio
from .errors import UserError

UNDECODABLE = "undecodable audio"
NON_FINITE = "non-finite samples (NaN/inf)"
EMPTY_AUDIO = "empty audio after decoding"
UNREADABLE_HEADER = "unreadable audio header"
# Order matters: the batch carries one count per reason, in this order.
DECODE_REASONS = (UNDECODABLE, NON_FINITE, EMPTY_AUDIO)
SKIPPED_KEY = "xtreme_s_skipped"  # batch entry: LongTensor of counts per DECODE_REASONS
EMPTY_BATCH_KEY = "xtreme_s_empty_batch"  # batch entry: every item of the batch was skipped
IN_BATCH_SUFFIX = " (dropped from a training batch; counted each time it is drawn)"
SKIPPED_STATE = "xtreme_s_skipped"  # checkpoint file prefix: one per process


class BadAudioError(UserError, ValueError):
    """An evaluation item cannot be used; the message names it and says how to proceed."""


def decode_checked(audio: dict[str, Any], sampling_rate: int, start: float | None = None,
                   end: float | None = None) -> tuple[np.ndarray | None, str | None]:
    """Decode a clip; return (waveform, None) or (None, reason) for audio no model should see."""
    try:
        wav = load_audio(audio, sampling_rate, start, end)
    except AudioDecodeError:
        return None, UNDECODABLE
    if wav.size == 0:
        return None, EMPTY_AUDIO
    if not np.isfinite(wav).all():
        # Replacing NaN/inf by zeros would train on (and score) silence that the data never held.
        return None, NON_FINITE
    return wav, None


def describe(item: dict[str, Any]) -> str:
    audio = item.get("audio") or {}
    return f"{item.get('id', '?')} ({audio.get('path') or 'in-memory bytes'})"


def placeholder(sampling_rate: int) -> np.ndarray:
    """0.1 s of silence standing in for an all-skipped batch, so every rank still runs forward/backward (DDP
    needs that); `trainer.SkippedItemsMixin` zeroes its loss."""
    return np.zeros(sampling_rate // 10, dtype=np.float32)


def skipped_tensor(counts: Counter) -> torch.Tensor:
    return torch.tensor([counts.get(r, 0) for r in DECODE_REASONS], dtype=torch.long)


def native_rate(audio: dict[str, Any]) -> int:
    """The clip's own sampling rate (16 kHz where its header cannot be read: decoding fails then too, and says so)."""
    from .audio import audio_info

    try:
        return audio_info(audio).sampling_rate
    except AudioDecodeError:
        return 16_000
