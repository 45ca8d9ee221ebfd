"""MMS-1b-all as it is: one CTC model, one small adapter and one vocabulary per language. Batches hold one
language; before each language the adapter is loaded (`Wav2Vec2ForCTC.load_adapter`) and the tokenizer switched to
that language's vocabulary (`Wav2Vec2CTCTokenizer.set_target_lang`), as fairseq's examples/mms/README.md and the
transformers docs do. The adapter names come from the model's own tokenizer (its nested vocab.json)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from transformers import AutoProcessor, Wav2Vec2ForCTC

from .. import langcodes
from .base import ReadyMadeModel

logger = logging.getLogger(__name__)


class MMSModel(ReadyMadeModel):
    name = "mms"
    tasks = frozenset({"asr"})

    def load(self) -> None:
        self.processor = self.source.from_pretrained(AutoProcessor)
        self.model = self.source.from_pretrained(Wav2Vec2ForCTC, dtype=self.dtype)
        self.model.to(self.device).eval()
        self.adapters = sorted(self.processor.tokenizer.vocab)  # languages of the nested vocabulary
        self.current: str | None = None
        self.switches = 0

    def own_code(self, language: str, kind: str) -> str | None:
        """The first candidate (an override, the Seamless-style code, the ISO 639-3 code) that the model has,
        exactly or with a script suffix (`cmn-script_simplified`)."""
        candidates = [self.overrides[language]] if language in self.overrides else langcodes.mms_candidates(language)
        names = set(self.adapters)
        for code in candidates:
            if code in names:
                return code
        for code in candidates:
            scripts = [a for a in self.adapters if a.startswith(f"{code}-script_")]
            if scripts:
                return scripts[0]
        return None

    def switch(self, code: str) -> None:
        if code == self.current:
            return
        self.processor.tokenizer.set_target_lang(code)
        self.model.load_adapter(code, **self.source.kwargs())
        self.model.to(self.device, self.dtype)
        self.current = code
        self.switches += 1

    @torch.inference_mode()
    def predict(self, waves: list[np.ndarray], code: str, kind: str) -> list[str]:
        self.switch(code)
        fe = self.processor.feature_extractor
        inputs = fe(waves, sampling_rate=fe.sampling_rate, padding=True, return_tensors="pt",
                    return_attention_mask=True)
        inputs = {k: v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device)
                  for k, v in inputs.items()}
        ids = self.model(**inputs).logits.argmax(dim=-1).cpu().numpy()
        return [t.strip() for t in self.processor.tokenizer.batch_decode(ids)]

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "num_beams": None, "max_new_tokens": None,
                "decoding": "CTC greedy (argmax), no language model", "adapters_in_model": len(self.adapters),
                "adapter_switches": self.switches}
