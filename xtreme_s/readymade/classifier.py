"""Any saved audio-classification model (a fine-tuned or probed output directory, mms-lid) evaluated as it is,
with the XLS-R recipe's crop inference: up to --eval_crops crops of --eval_crop_seconds per clip, evenly spaced
over it, their logits averaged before the argmax (fairseq's `--infer-xtimes N --merge mean_logit`; fairseq draws
its crops at random, UNCONFIRMED, we space them evenly so that a rerun gives the same scores)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

from .. import langcodes
from ..registry import FLEURS_LOCALES
from .base import ReadyMadeModel


def crops(wave: np.ndarray, n: int, length: int) -> list[np.ndarray]:
    """Up to `n` windows of `length` samples, evenly spaced from the start to the end of the clip (a clip no longer
    than one window is one crop)."""
    if n <= 1 or wave.size <= length:
        return [wave]
    starts = np.unique(np.linspace(0, wave.size - length, n).round().astype(int))
    return [wave[s:s + length] for s in starts]


def _label_to_locale() -> dict[str, str]:
    """Language labels as classifiers name them (FLEURS locales; ISO 639-3 codes, as mms-lid) -> FLEURS locale."""
    out = {key: key for key in FLEURS_LOCALES}
    for key, row in langcodes.LANGUAGES.items():
        for code in (row.iso3, row.seamless):
            if code:
                out.setdefault(code, key)
    return out


class AudioClassifierModel(ReadyMadeModel):
    name = "classifier"
    tasks = frozenset({"lang_id", "intent"})

    def load(self) -> None:
        self.feature_extractor = self.source.from_pretrained(AutoFeatureExtractor)
        self.sampling_rate = self.feature_extractor.sampling_rate
        self.model = self.source.from_pretrained(AutoModelForAudioClassification, dtype=self.dtype)
        self.model.to(self.device).eval()
        id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.labels = [id2label[i] for i in range(len(id2label))]
        self.locales = _label_to_locale()
        self.crops_scored = 0

    def own_code(self, language: str, kind: str) -> str | None:
        """Language ID: whether one of the model's labels is this language; intents: every language is."""
        if kind != "lang_id":
            return language
        known = {self.locales.get(label) for label in self.labels}
        return language if language in known else None

    def _name(self, label: str, kind: str) -> str:
        return self.locales.get(label, f"classifier:{label}") if kind == "lang_id" else label

    @torch.inference_mode()
    def logits(self, waves: list[np.ndarray]) -> torch.Tensor:
        fe = self.feature_extractor
        inputs = fe(waves, sampling_rate=fe.sampling_rate, padding=True, return_tensors="pt",
                    return_attention_mask=True)
        inputs = {k: v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device)
                  for k, v in inputs.items()}
        return self.model(**inputs).logits.float().cpu()

    def classify(self, waves: list[np.ndarray], kind: str) -> list[str]:
        length = int(self.args.eval_crop_seconds * self.sampling_rate)
        pieces = [crops(w, self.args.eval_crops, length) for w in waves]
        flat = [c for p in pieces for c in p]
        self.crops_scored += len(flat)
        logits = self.logits(flat)
        owner = torch.tensor([i for i, p in enumerate(pieces) for _ in p])
        merged = torch.zeros(len(waves), logits.shape[1]).index_add_(0, owner, logits)
        merged /= torch.bincount(owner, minlength=len(waves)).unsqueeze(1)
        return [self._name(self.labels[i], kind) for i in merged.argmax(dim=1).tolist()]

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "num_beams": None, "max_new_tokens": None, "eval_crops": self.args.eval_crops,
                "eval_crop_seconds": self.args.eval_crop_seconds, "crops_scored": self.crops_scored,
                "merge": "mean of the crops' logits, then argmax", "labels": len(self.labels)}
