"""The frozen-encoder probe (SUPERB, ML-SUPERB): a learnable softmax-weighted sum of the encoder's hidden states
and a small downstream model per family.

The models are the families' (`TaskFamily.build_probe`, xtreme_s/families/probe_heads.py: what each family's
probe is, how it is saved and loaded); this protocol decides that a run trains one, checks a probe's output
directory at start-up, keeps the encoder's activation checkpointing off, saves the probe's files after the
Trainer saved the weights, and reports the learned layer weights.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch import nn

from ..errors import UsageError
from ..families import probe_heads
from ..families.probe_heads import MARKER_FILE, ProbeSetup, ProbeSpec
from ..layer_sum import layer_sum_of
from .base import Protocol, register

logger = logging.getLogger("xtreme_s")


@register
class ProbeProtocol(Protocol):
    name = "probe"
    flag_prefix = "probe_"
    families = ("ctc", "classification", "retrieval", "seq2seq")
    marker_file = MARKER_FILE
    needs_padding_mask = True  # the downstream masks padded frames even for encoders run without a mask

    def __init__(self, args: Any, saved: str | None = None, marker: dict[str, Any] | None = None):
        super().__init__(args, saved, marker)
        self.spec = ProbeSpec.from_args(args)

    def check(self, family: str, config: Any, model_args: Any, training_args: Any) -> None:
        super().check(family, config, model_args, training_args)
        if self.saved != self.name:
            return
        described = self.marker  # xtreme_s_probe.json, read by `resolve`
        try:
            head = described["head"]  # families read it from the marker too (ProbeSetup.saved_head)
            self.spec = ProbeSpec(**described["spec"])  # the probe as it was trained, whatever the flags say
        except (KeyError, TypeError) as err:
            raise UsageError(f"{model_args.model_name_or_path}: {MARKER_FILE} does not describe a probe ({err!r}); "
                             "the output directory is damaged.") from None
        if family not in ("retrieval", head):
            raise UsageError(f"--model_name_or_path {model_args.model_name_or_path} is a {head} probe; "
                             f"the {family} family cannot evaluate it (retrieval can use any probe's layer weights).")

    def adjust(self, model_args: Any, training_args: Any) -> None:
        if getattr(training_args, "gradient_checkpointing", False):
            logger.info("--protocol probe: activation checkpointing off (the frozen encoder keeps no activations).")
            training_args.gradient_checkpointing = False
        model_args.freeze_feature_encoder = True  # the whole encoder is frozen anyway

    def build(self, family: Any) -> nn.Module:
        return family.build_probe(ProbeSetup(self.spec, self.marker if self.saved == self.name else None))

    def finish(self, model: nn.Module, output_dir: Path, should_save: bool) -> None:
        if should_save and layer_sum_of(model) is not None:
            probe_heads.save(model, output_dir)

    def report(self, model: nn.Module) -> dict[str, Any]:
        out = super().report(model)
        layer_sum = layer_sum_of(model)
        if layer_sum is not None:
            out["layer_weights"] = layer_sum.normalized()
            out["encoder"] = "frozen, eval mode (no dropout, SpecAugment or layerdrop)"
            if isinstance(model, probe_heads.ProbeModel):
                out["downstream"] = model.downstream_report()
            elif hasattr(model, "decoder"):
                out["downstream"] = "the encoder's length-shortening adapter (if any) and the text decoder, trained"
        return out
