"""SpeechCollator: decode, resample, normalise, pad, and pad labels."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import Wav2Vec2FeatureExtractor

from xtreme_s.collators import SpeechCollator


@pytest.fixture(scope="module")
def feature_extractor():
    return Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, padding_value=0.0, do_normalize=True,
                                    return_attention_mask=True)


def clip(n: int, sr: int = 16_000, seed: int = 0) -> dict:
    data = np.random.default_rng(seed).uniform(-0.5, 0.5, n).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, data, sr, format="WAV", subtype="FLOAT")
    return {"bytes": buf.getvalue(), "path": None}


def test_sequence_batch_is_padded(feature_extractor):
    items = [
        {"audio": clip(1_600, seed=1), "labels": [1, 2, 3]},
        {"audio": clip(800, seed=2), "labels": [4]},
        {"audio": clip(1_200, seed=3), "labels": [5, 6]},
    ]
    batch = SpeechCollator(feature_extractor)(items)
    assert set(batch) == {"input_values", "attention_mask", "labels"}
    assert batch["input_values"].shape == (3, 1_600)
    assert batch["input_values"].dtype == torch.float32
    mask = batch["attention_mask"]
    assert mask.shape == (3, 1_600)
    for row, n in enumerate((1_600, 800, 1_200)):
        assert mask[row, :n].eq(1).all() and mask[row, n:].eq(0).all()
        real = batch["input_values"][row, :n]
        # do_normalize: zero mean, unit variance over the real samples only; padding stays 0.
        assert float(real.mean()) == pytest.approx(0.0, abs=1e-3)
        assert float(real.std()) == pytest.approx(1.0, abs=1e-2)
        assert batch["input_values"][row, n:].eq(0).all()
    assert batch["labels"].dtype == torch.long
    assert batch["labels"].tolist() == [[1, 2, 3], [4, -100, -100], [5, 6, -100]]


def test_class_labels_are_a_long_tensor(feature_extractor):
    items = [{"audio": clip(400), "labels": 3}, {"audio": clip(500), "labels": np.int64(13)}]
    batch = SpeechCollator(feature_extractor, label_kind="class")(items)
    assert batch["labels"].dtype == torch.long
    assert batch["labels"].shape == (2,)
    assert batch["labels"].tolist() == [3, 13]


def test_no_labels_for_inference(feature_extractor):
    batch = SpeechCollator(feature_extractor, label_kind="none")([{"audio": clip(300)}])
    assert set(batch) == {"input_values", "attention_mask"}


def test_8k_input_is_resampled(feature_extractor):
    items = [{"audio": clip(800, sr=8_000), "labels": [1]}, {"audio": clip(1_000, sr=16_000), "labels": [2]}]
    batch = SpeechCollator(feature_extractor)(items)
    # 800 samples at 8 kHz = 0.1 s = 1600 samples at 16 kHz: it is now the longest clip.
    assert batch["input_values"].shape[1] == 1_600
    assert batch["attention_mask"].sum(dim=1).tolist() == [1_600, 1_000]


def test_segments_are_cut(feature_extractor):
    items = [{"audio": clip(16_000), "segment_start": 0.5, "segment_end": 0.75, "labels": [1]}]
    batch = SpeechCollator(feature_extractor)(items)
    assert batch["input_values"].shape == (1, 4_000)


def test_pad_to_multiple_of(feature_extractor):
    batch = SpeechCollator(feature_extractor, pad_to_multiple_of=512)([{"audio": clip(1_000), "labels": [1]}])
    assert batch["input_values"].shape == (1, 1_024)
    assert int(batch["attention_mask"].sum()) == 1_000
