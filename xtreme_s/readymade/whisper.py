"""Whisper as it is: recognition with the language forced per batch (batches hold one language), X->en
translation with the `translate` task, and language ID with the model's own detection
(`WhisperForConditionalGeneration.detect_language`: the most likely language token after <|startoftranscript|>)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from transformers import AutoProcessor, WhisperForConditionalGeneration

from .. import langcodes
from ..errors import UsageError
from .base import ReadyMadeModel

logger = logging.getLogger(__name__)

_TASKS = {"asr": "transcribe", "translate": "translate"}
WINDOW_SECONDS = 30.0  # Whisper's input window; longer clips are cut to it (counted in results.json)


class WhisperModel(ReadyMadeModel):
    name = "whisper"
    tasks = frozenset({"asr", "translate", "lang_id"})

    def load(self) -> None:
        self.processor = self.source.from_pretrained(AutoProcessor)
        self.model = self.source.from_pretrained(WhisperForConditionalGeneration, dtype=self.dtype)
        self.model.to(self.device).eval()
        gen = self.model.generation_config
        # The model's own language table (generation_config.json); an English-only model has none.
        self.lang_to_id: dict[str, int] = dict(getattr(gen, "lang_to_id", None) or {})
        self.multilingual = bool(getattr(gen, "is_multilingual", bool(self.lang_to_id))) and bool(self.lang_to_id)
        self.id_to_code = {i: tok.strip("<|>") for tok, i in self.lang_to_id.items()}
        # Whisper code -> FLEURS locale, for language ID predictions.
        self.to_locale = {row.whisper: key for key, row in langcodes.LANGUAGES.items() if row.whisper}
        self.too_long = 0

    def check_kind(self, kind: str) -> None:
        if kind in ("translate", "lang_id") and not self.multilingual:
            raise UsageError(f"{self.path} is an English-only Whisper (no language tokens in its generation config): "
                             f"it cannot do {kind}. Use a multilingual checkpoint.")

    def own_code(self, language: str, kind: str) -> str | None:
        code = self.overrides.get(language) or langcodes.whisper_code(language)
        if not self.multilingual:  # English-only: English recognition, without any language token
            return "en" if code == "en" and kind == "asr" else None
        return code if code and f"<|{code}|>" in self.lang_to_id else None

    def features(self, waves: list[np.ndarray]) -> torch.Tensor:
        window = int(WINDOW_SECONDS * self.sampling_rate)
        self.too_long += sum(1 for w in waves if w.size > window)
        fe = self.processor.feature_extractor
        feats = fe([w[:window] for w in waves], sampling_rate=fe.sampling_rate, return_tensors="pt").input_features
        return feats.to(self.device, self.dtype)

    def generate_kwargs(self, code: str, kind: str) -> dict[str, Any]:
        """Exactly what goes to `generate` besides the features: the forced language and task, and our settings."""
        kwargs: dict[str, Any] = {"num_beams": self.num_beams, "max_new_tokens": self.args.max_new_tokens}
        if self.multilingual:
            kwargs.update(language=code, task=_TASKS[kind])
        return kwargs

    @torch.inference_mode()
    def predict(self, waves: list[np.ndarray], code: str, kind: str) -> list[str]:
        out = self.model.generate(input_features=self.features(waves), **self.generate_kwargs(code, kind))
        ids = out.sequences if hasattr(out, "sequences") else out
        return [t.strip() for t in self.processor.tokenizer.batch_decode(ids, skip_special_tokens=True)]

    @torch.inference_mode()
    def classify(self, waves: list[np.ndarray], kind: str) -> list[str]:
        ids = self.model.detect_language(input_features=self.features(waves)).tolist()
        codes = [self.id_to_code[i] for i in ids]
        return [self.to_locale.get(c, f"whisper:{c}") for c in codes]

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "multilingual": self.multilingual,
                "model_languages": len(self.lang_to_id),
                "clips_cut_to_30s": self.too_long,
                "language_forcing": "generate(language=<code>, task=transcribe|translate), one language per batch"}
