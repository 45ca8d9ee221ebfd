"""LoRA through the `peft` library: low-rank updates of the encoder's attention projections, the new head in full.

What is adapted is decided from the model's own module names, never from one architecture's: every linear layer
whose name is a query or value projection (`q_proj`/`v_proj` in the wav2vec2 family and Whisper, `linear_q`/
`linear_v` in w2v-BERT's conformer, `query_proj`/`value_proj` in SEW-D) outside the family's new modules; for speech
translation this includes the decoder's self-attention. The family's new modules (`TaskFamily.head_modules`: the
CTC output layer, the classifier, the speech-translation adapter and cross-attention, which start untrained) are
trained in full through peft's `modules_to_save`. `--lora_target_modules` names are checked against the encoder
before any data loads (for speech translation, whose decoder has targets too, when the model is built).

Parameter counts (results.json `protocol`): `trainable_parameters` is LoRA plus the head. peft keeps a frozen copy
of every module trained in full beside the trained one (`modules_to_save` wraps the original), so
`total_parameters`, which counts the tensors in memory, includes the head twice; `head_copy_parameters` says how
many that is (for a real encoder a few thousandths of the total; for the tiny test model a visible share).

The output directory holds peft's `adapter_config.json` and `adapter_model.safetensors` (LoRA and the head, what
`PeftModel.from_pretrained(<base model with its head>, <dir>)` loads), the model's `config.json` (the base config
with the head and our flags: the architecture an evaluation rebuilds), the processor, and `xtreme_s_lora.json` (the
base model, its revision, for speech translation the decoder, and the LoRA settings). An evaluation-only run of the
directory loads the base weights into that architecture, then LoRA and the head. `--lora_merge` instead merges the
adapters into the weights and saves a plain checkpoint (usable as any fine-tuned one), keeps the adapter files in
`lora_adapter/`, and still writes `xtreme_s_lora.json` (`"merged": true`) so its evaluation reports the protocol;
further training of a merged directory puts new LoRA adapters on the merged weights.
"""

from __future__ import annotations

import functools
import logging
import shutil
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel

from .. import encoders
from ..errors import EnvironmentProblem, UsageError
from ..hub import ModelSource, check_model_source, write_marker
from .base import Protocol, register

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


def _skeleton(config: Any) -> torch.nn.Module | None:
    """The encoder's modules without weights (meta device), to check target names before any data loads; None
    where the architecture cannot be built that way (the check then happens when the model is built)."""
    try:
        with torch.device("meta"):
            return encoders.encoder_of(AutoModel.from_config(encoders.encoder_config(config)))
    except Exception as err:  # noqa: BLE001 - an early check only; the build checks again
        logger.debug("No early --lora_target_modules check for %s: %s", type(config).__name__, err)
        return None


def describe(model: torch.nn.Module) -> dict[str, Any]:
    """results.json `protocol` details of a PeftModel: its LoRA settings, what it adapts and trains in full."""
    config = model.peft_config["default"]
    targets = sorted(config.target_modules or [])
    copies = [p for name, p in model.named_parameters() if ".original_module." in name]
    return {"r": config.r, "alpha": config.lora_alpha, "dropout": config.lora_dropout,
            "target_modules": len(targets), "target_suffixes": sorted({t.rsplit(".", 1)[-1] for t in targets}),
            "trained_in_full": sorted(config.modules_to_save or []),
            "head_copy_parameters": sum(p.numel() for p in copies)}


def _without_embedding_check(model: Any) -> Any:
    """peft takes a changed `vocab_size` (our CTC vocabulary) for resized word embeddings and looks for them on
    save; speech encoders have none, and the output layer is saved in full (modules_to_save) anyway."""
    model.save_pretrained = functools.partial(model.save_pretrained, save_embedding_layers=False)
    return model


@register
class LoraProtocol(Protocol):
    name = "lora"
    flag_prefix = "lora_"
    families = ("ctc", "classification", "seq2seq")
    marker_file = MARKER_FILE

    def __init__(self, args: Any, saved: str | None = None, marker: dict[str, Any] | None = None):
        super().__init__(args, saved, marker)
        for key, value in DEFAULTS.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        if args.lora_r < 1 or not 0 <= args.lora_dropout < 1:
            raise UsageError("--lora_r must be at least 1 and --lora_dropout in [0, 1).")
        self.base: dict[str, Any] | None = None  # xtreme_s_lora.json of --model_name_or_path, if it is ours
        self._record: dict[str, Any] | None = None  # what finish() writes
        self._head_config: Any = None

    @property
    def merged_dir(self) -> bool:
        """--model_name_or_path is a merged LoRA directory: a plain checkpoint, loaded as one."""
        return bool(self.base and self.base.get("merged"))

    def check(self, family: str, config: Any, model_args: Any, training_args: Any) -> None:
        super().check(family, config, model_args, training_args)
        _peft()
        if self.saved == self.name:
            self.base = self.marker  # xtreme_s_lora.json, read by `resolve`
            if not self.base.get("base_model"):
                raise UsageError(f"{model_args.model_name_or_path}: {MARKER_FILE} names no base_model; the output "
                                 "directory is damaged.")
            if not self.merged_dir:  # the adapter is in the directory, the weights in the base model
                if ModelSource.of(model_args).file("adapter_model.safetensors") is None:
                    raise UsageError(f"{model_args.model_name_or_path} is a LoRA output directory without its "
                                     "adapter_model.safetensors; restore it from the run (or its checkpoint-N).")
                check_model_source(self.base_source(model_args),
                                   f"{model_args.model_name_or_path}/{MARKER_FILE}: base_model")
        if (self.base is None or self.merged_dir) and family != "seq2seq":
            # The wanted names (or the default projections) must exist; seq2seq's decoder is not built yet.
            skeleton = _skeleton(config)
            if skeleton is not None:
                target_modules(skeleton, (), self.args.lora_target_modules)

    def base_source(self, model_args: Any) -> ModelSource:
        """Where the base weights of a LoRA output directory are: its recorded base model at its revision."""
        return ModelSource(self.base["base_model"], self.base.get("revision"), model_args.cache_dir)

    def attach(self, family: Any) -> None:
        """An evaluation (or continued training) of a LoRA output directory: the weights come from its base model,
        LoRA and the head from the directory (see `build`); the architecture is the saved one, so family flags
        that are fields of the saved (encoder) config take the saved value (e.g. the speech-translation adapter's
        layers, the CTC loss reduction), and speech translation stacks the decoder training used."""
        super().attach(family)
        if self.base is None or self.merged_dir:
            return
        family.use_saved_settings(self.base_source(family.model_args), self.base.get("decoder"))

    def build(self, family: Any) -> torch.nn.Module:
        peft = _peft()
        model = family.build_model()
        heads = tuple(family.head_modules)
        m = family.model_args
        if self.merged_dir and not family.training_args.do_train:  # a plain checkpoint: evaluated as it is
            self.details = {**self.base.get("details", {}), "merged": True,
                            "base_model": {k: self.base.get(k) for k in ("base_model", "revision", "decoder")}}
            return model.requires_grad_(False)  # nothing trains here, as in an evaluation of the adapter files
        if self.base is not None and not self.merged_dir:
            try:
                model = peft.PeftModel.from_pretrained(model, family.source.name,
                                                       is_trainable=bool(family.training_args.do_train),
                                                       **family.source.kwargs())
            except (OSError, ValueError) as err:
                raise UsageError(f"{m.model_name_or_path}: its LoRA adapter cannot be loaded "
                                 f"({' '.join(str(err).split())[:300]}); a LoRA output directory needs "
                                 "adapter_config.json and adapter_model.safetensors.") from None
            details = describe(model)
            self.details = {**details, "merged": False,
                            "base_model": {k: self.base.get(k) for k in ("base_model", "revision", "decoder")}}
            # Continued training writes a LoRA directory of the same base model.
            self._record = {**{k: self.base.get(k) for k in ("base_model", "revision", "family", "decoder")},
                            "details": details}
            self._head_config = model.get_base_model().config
            return _without_embedding_check(model)
        a = self.args
        targets = target_modules(model, heads, a.lora_target_modules)
        # Absolute: a relative path would load another model when the directory is evaluated from another folder.
        base, revision = encoders.absolute_model_name(m.model_name_or_path), m.model_revision
        config = peft.LoraConfig(r=a.lora_r, lora_alpha=a.lora_alpha, lora_dropout=a.lora_dropout,
                                 target_modules=targets, modules_to_save=_head_names(model, heads) or None,
                                 bias="none", base_model_name_or_path=base, revision=revision)
        self._head_config = model.config
        model = _without_embedding_check(peft.get_peft_model(model, config))
        for adapter in model.peft_config.values():  # peft sets the model's own (maybe relative) name_or_path
            adapter.base_model_name_or_path = base
        details = describe(model)
        self.details = {**details, "merged": bool(a.lora_merge)}
        # The decoder stacked on the encoder (speech translation), unless the base already is an encoder-decoder.
        self._record = {"base_model": base, "revision": revision, "family": family.task.spec.family,
                        "decoder": (d := family.stacked_decoder()) and encoders.absolute_model_name(d),
                        "details": details}
        return model

    def finish(self, model: torch.nn.Module, output_dir: Path, should_save: bool) -> None:
        """Next to peft's adapter files: the model's config.json and xtreme_s_lora.json; or, with --lora_merge, the
        merged plain checkpoint (evaluation in this run then uses the merged weights too)."""
        if self._record is None:
            return
        output_dir = Path(output_dir)
        record = {**self._record, "merged": bool(self.args.lora_merge)}
        if self.args.lora_merge:
            merged = model.merge_and_unload()  # in place: the run's evaluation uses the merged weights
            if should_save:
                keep = output_dir / ADAPTER_DIR
                keep.mkdir(parents=True, exist_ok=True)
                for name in ("adapter_config.json", "adapter_model.safetensors"):
                    if (output_dir / name).exists():
                        shutil.move(str(output_dir / name), keep / name)
                merged.save_pretrained(output_dir)
                write_marker(output_dir, MARKER_FILE, {**record, "adapter": ADAPTER_DIR})
            return
        if should_save:
            # The class with the head, as save_pretrained would write it (an evaluation reads the head from it).
            self._head_config.architectures = [type(model.get_base_model()).__name__]
            self._head_config.save_pretrained(output_dir)
            write_marker(output_dir, MARKER_FILE, record)
