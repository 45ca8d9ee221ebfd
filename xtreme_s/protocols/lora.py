"""LoRA through the `peft` library: low-rank updates of the encoder's attention projections, the new head in full.

What is adapted is decided from the model's own module names, never from one architecture's: every linear layer
whose name is a query or value projection (`q_proj`/`v_proj` in the wav2vec2 family and Whisper, `linear_q`/
`linear_v` in w2v-BERT's conformer, `query_proj`/`value_proj` in SEW-D) outside the family's new modules; for speech
translation this includes the decoder's self-attention. The family's new modules (`TaskFamily.head_modules`: the
CTC output layer, the classifier, the speech-translation adapter and cross-attention, which start untrained) are
trained in full through peft's `modules_to_save`.

The output directory holds peft's `adapter_config.json` and `adapter_model.safetensors` (LoRA and the head), the
head's `config.json` and processor, and `xtreme_s_lora.json` (the base model, its revision and, for speech
translation, the decoder), from which an evaluation-only run rebuilds the model. `--lora_merge` instead merges the
adapters into the weights and saves a plain checkpoint (the adapter files go to `lora_adapter/`).
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig

from ..errors import EnvironmentProblem, UsageError
from . import Protocol, register

logger = logging.getLogger("xtreme_s")

MARKER_FILE = "xtreme_s_lora.json"
ADAPTER_DIR = "lora_adapter"  # where --lora_merge keeps the adapter files
PROJECTIONS = ("q_proj", "v_proj", "linear_q", "linear_v", "query_proj", "value_proj", "query", "value")
DEFAULTS = {"lora_r": 8, "lora_alpha": 16.0, "lora_dropout": 0.05, "lora_merge": False}


def _peft() -> Any:
    try:
        import peft
    except ImportError as err:
        raise EnvironmentProblem("--protocol lora needs the peft library: pip install peft") from err
    return peft


def _inside(name: str, heads: tuple[str, ...]) -> bool:
    parts = name.split(".")
    return any(part in heads for part in parts)


def target_modules(model: torch.nn.Module, heads: tuple[str, ...], wanted: list[str] | None) -> list[str]:
    """Full names of the linear layers LoRA adapts: `wanted` names (or dotted suffixes), default the attention
    query/value projections; never inside the family's new modules (they are trained in full)."""
    linear = [name for name, module in model.named_modules()
              if isinstance(module, torch.nn.Linear) and not _inside(name, heads)]
    if wanted:
        chosen = [n for n in linear if any(n == w or n.endswith("." + w) for w in wanted)]
        if not chosen:
            suffixes = sorted({n.rsplit(".", 1)[-1] for n in linear})
            raise UsageError(f"--lora_target_modules {' '.join(wanted)}: no linear layer of this model is called "
                             f"that; its linear layers end in: {', '.join(suffixes[:30])}.")
        return chosen
    chosen = [n for n in linear if n.rsplit(".", 1)[-1] in PROJECTIONS]
    if not chosen:
        suffixes = sorted({n.rsplit(".", 1)[-1] for n in linear})
        raise UsageError(f"--protocol lora: found no attention query/value projection ({', '.join(PROJECTIONS)}) in "
                         f"{type(model).__name__}; pass --lora_target_modules (its linear layers end in: "
                         f"{', '.join(suffixes[:30])}).")
    return chosen


def _head_names(model: torch.nn.Module, heads: tuple[str, ...]) -> list[str]:
    """The family's new modules present in this model, as module-name suffixes for peft's modules_to_save."""
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules() if name.rsplit(".", 1)[-1] in heads}
    return sorted(names)


@register
class LoraProtocol(Protocol):
    name = "lora"
    flag_prefix = "lora_"
    families = ("ctc", "classification", "seq2seq")
    marker_file = MARKER_FILE

    def __init__(self, args: Any, saved: str | None = None):
        super().__init__(args, saved)
        for key, value in DEFAULTS.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        if args.lora_r < 1 or not 0 <= args.lora_dropout < 1:
            raise UsageError("--lora_r must be at least 1 and --lora_dropout in [0, 1).")
        self.base: dict[str, Any] | None = None

    def check(self, family: str, config: Any, model_args: Any, training_args: Any) -> None:
        super().check(family, config, model_args, training_args)
        _peft()
        if self.saved == self.name:
            self.base = self._saved_base(model_args)

    def _saved_base(self, model_args: Any) -> dict[str, Any]:
        from transformers.utils import cached_file

        path = cached_file(model_args.model_name_or_path, MARKER_FILE, cache_dir=model_args.cache_dir,
                           revision=model_args.model_revision)
        return json.loads(Path(path).read_text(encoding="utf-8"))

    def attach(self, family: Any) -> None:
        """An evaluation (or continued training) of a LoRA output directory: the weights come from its base model,
        LoRA and the head from the directory (see `build`)."""
        super().attach(family)
        if self.base is None:
            return
        family.base_model = (self.base["base_model"], self.base.get("revision"))
        if self.base.get("decoder") and hasattr(family.family_args, "decoder_name_or_path"):
            family.family_args.decoder_name_or_path = self.base["decoder"]
        if hasattr(family, "_model_config"):  # speech translation: build from the encoder as training did
            family._model_config = family.from_base(AutoConfig)

    def build(self, family: Any) -> torch.nn.Module:
        peft = _peft()
        model = family.build_model()
        heads = tuple(family.head_modules)
        if self.base is not None:
            trainable = bool(family.training_args.do_train)
            return peft.PeftModel.from_pretrained(model, family.model_args.model_name_or_path,
                                                  is_trainable=trainable, revision=family.model_args.model_revision)
        a = self.args
        targets = target_modules(model, heads, a.lora_target_modules)
        base, revision = family.model_args.model_name_or_path, family.model_args.model_revision
        config = peft.LoraConfig(r=a.lora_r, lora_alpha=a.lora_alpha, lora_dropout=a.lora_dropout,
                                 target_modules=targets, modules_to_save=_head_names(model, heads) or None,
                                 bias="none", base_model_name_or_path=base, revision=revision)
        self.details = {"r": a.lora_r, "alpha": a.lora_alpha, "dropout": a.lora_dropout,
                        "target_modules": len(targets),
                        "target_suffixes": sorted({t.rsplit(".", 1)[-1] for t in targets}),
                        "trained_in_full": _head_names(model, heads), "merged": bool(a.lora_merge)}
        self._record = {"base_model": base, "revision": revision, "family": family.task.spec.family,
                        "decoder": getattr(family.family_args, "decoder_name_or_path", None)}
        self._head_config = model.config
        wrapped = peft.get_peft_model(model, config)
        # peft takes a changed `vocab_size` (our CTC vocabulary) for resized word embeddings and looks for them on
        # save; speech encoders have none, and the output layer is saved in full (modules_to_save) anyway.
        wrapped.save_pretrained = functools.partial(wrapped.save_pretrained, save_embedding_layers=False)
        return wrapped

    def finish(self, model: torch.nn.Module, output_dir: Path, should_save: bool) -> None:
        """Next to peft's adapter files: the head's config.json and xtreme_s_lora.json; or, with --lora_merge, the
        merged plain checkpoint (evaluation in this run then uses the merged weights too)."""
        record = getattr(self, "_record", None)
        if record is None:
            return
        output_dir = Path(output_dir)
        if self.args.lora_merge:
            merged = model.merge_and_unload()  # in place: the run's evaluation uses the merged weights
            if should_save:
                keep = output_dir / ADAPTER_DIR
                keep.mkdir(parents=True, exist_ok=True)
                for name in ("adapter_config.json", "adapter_model.safetensors"):
                    if (output_dir / name).exists():
                        shutil.move(str(output_dir / name), keep / name)
                (keep / MARKER_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
                merged.save_pretrained(output_dir)
            return
        if should_save:
            self._head_config.save_pretrained(output_dir)
            (output_dir / MARKER_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")

    def report(self, model: torch.nn.Module) -> dict[str, Any]:
        out = super().report(model)
        if self.base is not None:
            out["base_model"] = self.base
        return out
