"""SeamlessM4T v2 speech-to-text as it is: recognition is "translation" into the source language
(`tgt_lang=<source>`), X->en translation is `tgt_lang="eng"`. Which target languages the text decoder has is the
model's own `generation_config.text_decoder_lang_to_code_id`; the speech encoder takes any input language."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import AutoProcessor, SeamlessM4Tv2ForSpeechToText

from .. import langcodes
from .base import ReadyMadeModel

ENGLISH = "eng"


class SeamlessModel(ReadyMadeModel):
    name = "seamless"
    tasks = frozenset({"asr", "translate"})

    def load(self) -> None:
        self.processor = self.source.from_pretrained(AutoProcessor)
        self.model = self.source.from_pretrained(SeamlessM4Tv2ForSpeechToText, dtype=self.dtype)
        self.model.to(self.device).eval()
        self.text_languages = dict(getattr(self.model.generation_config, "text_decoder_lang_to_code_id", None) or {})

    def own_code(self, language: str, kind: str) -> str | None:
        """ASR: the source language must be one the text decoder writes; translation: English must be."""
        code = self.overrides.get(language) or langcodes.seamless_code(language)
        return code if code and self.target(code, kind) in self.text_languages else None

    def target(self, code: str, kind: str) -> str:
        return code if kind == "asr" else ENGLISH

    @torch.inference_mode()
    def predict(self, waves: list[np.ndarray], code: str, kind: str) -> list[str]:
        fe = self.processor.feature_extractor
        inputs = fe(waves, sampling_rate=fe.sampling_rate, padding=True, return_tensors="pt",
                    return_attention_mask=True)
        out = self.model.generate(input_features=inputs["input_features"].to(self.device, self.dtype),
                                  attention_mask=inputs["attention_mask"].to(self.device),
                                  tgt_lang=self.target(code, kind), num_beams=self.num_beams,
                                  max_new_tokens=self.args.max_new_tokens)
        ids = out.sequences if hasattr(out, "sequences") else out[0] if isinstance(out, tuple) else out
        return [t.strip() for t in self.processor.tokenizer.batch_decode(ids, skip_special_tokens=True)]

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "text_languages_in_model": len(self.text_languages),
                "language_forcing": "generate(tgt_lang=<source> for ASR, 'eng' for X->en), one language per batch"}
