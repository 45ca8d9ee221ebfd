"""MMS language adapters (Pratap et al. 2023): small bottleneck layers in every transformer block of a wav2vec2
encoder (`adapter_attn_dim`), trained with the head while every other weight stays frozen.

As the Hugging Face MMS adapter recipe: the adapter layers are (re-)initialised when training starts from a model
that is not one of our adapter runs, the base model is frozen, the adapters and the head train, and the output
directory holds the full model plus `adapter.<language>.safetensors` (transformers' `WAV2VEC2_ADAPTER_SAFE_FILE`:
the adapter layers and the head, what `Wav2Vec2ForCTC.load_adapter(<language>)` reads). Only architectures whose
config has `adapter_attn_dim` and pre-layer-norm blocks have the layers (XLS-R / MMS, not wav2vec2-base); others are
refused at start-up.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from .. import encoders
from ..errors import UsageError
from ..hub import write_marker
from .base import Protocol, register

logger = logging.getLogger("xtreme_s")

MARKER_FILE = "xtreme_s_adapters.json"
DEFAULT_ATTN_DIM = 16  # facebook/mms-1b-all's adapter_attn_dim


def adapter_file(language: str) -> str:
    from transformers.models.wav2vec2.modeling_wav2vec2 import WAV2VEC2_ADAPTER_SAFE_FILE

    return WAV2VEC2_ADAPTER_SAFE_FILE.format(language)


def is_adapter_layer(module: torch.nn.Module) -> bool:
    return type(module).__name__.endswith("AttnAdapterLayer")


def init_adapter_layers(model: Any) -> None:
    """Fresh adapter layers (and a fresh CTC head), what the MMS recipe's `model.init_adapter_layers()` means to do.

    transformers' own method does not: it passes each adapter layer as a whole to `_init_weights`, which
    initialises only the module types it knows (Linear, LayerNorm, ...), not their container, and its init
    functions skip every tensor flagged `_is_hf_initialized`, which loading a checkpoint sets. So each submodule is
    initialised here, with the flags cleared first.
    """
    for name, module in model.named_modules():
        if is_adapter_layer(module) or name == "lm_head":
            for sub in module.modules():
                for item in (sub, *sub.parameters(recurse=False)):
                    item._is_hf_initialized = False
                model._init_weights(sub)


@register
class AdaptersProtocol(Protocol):
    name = "adapters"
    flag_prefix = "adapter_"
    families = ("ctc", "classification")
    marker_file = MARKER_FILE

    def __init__(self, args: Any, saved: str | None = None, marker: dict[str, Any] | None = None):
        super().__init__(args, saved, marker)
        self._dim_given = args.adapter_attn_dim is not None
        if args.adapter_attn_dim is None:
            args.adapter_attn_dim = DEFAULT_ATTN_DIM
        if args.adapter_attn_dim < 1:
            raise UsageError("--adapter_attn_dim must be at least 1.")
        self.language: str | None = None

    def check(self, family: str, config: Any, model_args: Any, training_args: Any) -> None:
        super().check(family, config, model_args, training_args)
        config = encoders.encoder_config(config)
        if not hasattr(config, "adapter_attn_dim"):
            raise UsageError(f"--protocol adapters: MMS attention adapters exist only in wav2vec2-type encoders "
                             f"(config field adapter_attn_dim); {model_args.model_name_or_path} is "
                             f"{config.model_type!r}. Use --protocol lora for parameter-efficient training instead.")
        if not getattr(config, "do_stable_layer_norm", False):
            raise UsageError(f"--protocol adapters: {model_args.model_name_or_path} is a post-layer-norm wav2vec2 "
                             "(wav2vec2-base/large style, do_stable_layer_norm false); transformers puts MMS "
                             "attention adapters only in the pre-layer-norm blocks of XLS-R / MMS. Use --protocol "
                             "lora instead.")
        saved_dim = getattr(config, "adapter_attn_dim", None)
        if saved_dim is not None and saved_dim != self.args.adapter_attn_dim:
            if self._dim_given:
                logger.info("--adapter_attn_dim %d: %s has adapters of size %d; using %d.",
                            self.args.adapter_attn_dim, model_args.model_name_or_path, saved_dim, saved_dim)
            self.args.adapter_attn_dim = saved_dim
        if self.saved == self.name and self.args.adapter_language is None and not training_args.do_train:
            # Evaluating an adapter run's directory: report the language its file was trained for.
            self.args.adapter_language = self.marker["language"]

    def attach(self, family: Any) -> None:
        super().attach(family)
        family.set_encoder_overrides(adapter_attn_dim=self.args.adapter_attn_dim)
        task = family.task
        self.language = self.args.adapter_language or (
            task.languages[0] if len(task.languages) == 1 else task.config_name.split(".", 1)[-1])

    def build(self, family: Any) -> torch.nn.Module:
        model = family.build_model()
        if family.training_args.do_train and self.saved != self.name and hasattr(model, "init_adapter_layers"):
            init_adapter_layers(model)  # as the MMS recipe: fresh adapters for the new language / task
        model.requires_grad_(False)
        heads = tuple(family.head_modules)
        adapters = 0
        for name, module in model.named_modules():
            if is_adapter_layer(module) or name.rsplit(".", 1)[-1] in heads:
                module.requires_grad_(True)
                adapters += is_adapter_layer(module)
        if not adapters:
            raise UsageError(f"--protocol adapters: {type(model).__name__} was built without adapter layers.")
        self.details = {"adapter_attn_dim": self.args.adapter_attn_dim, "adapter_layers": adapters,
                        "language": self.language, "file": adapter_file(self.language)}
        return model

    def finish(self, model: torch.nn.Module, output_dir: Path, should_save: bool) -> None:
        """adapter.<language>.safetensors: the trained tensors (adapter layers and head) under the model's names."""
        if not should_save:
            return
        from safetensors.torch import save_file

        tensors = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
        save_file(tensors, str(Path(output_dir) / adapter_file(self.language)), metadata={"format": "pt"})
        write_marker(output_dir, MARKER_FILE, {"language": self.language, "file": adapter_file(self.language),
                                               "adapter_attn_dim": self.args.adapter_attn_dim})
