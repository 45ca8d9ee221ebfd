"""The protocol interface and its table: what a run trains, as a table entry, never a branch in the runner.

- `finetune` (default): the whole encoder and its head, as XTREME-S prescribes.
- `probe`: the encoder frozen (no gradients, kept in eval mode: no dropout, SpecAugment or layerdrop inside it), a
  learnable softmax-weighted sum over all its hidden states, and a small downstream model per family (SUPERB /
  ML-SUPERB): protocols/probe.py.
- `lora`: low-rank adapters on the encoder's attention projections through the `peft` library, plus the new head
  trained in full: protocols/lora.py.
- `adapters`: MMS language adapters (wav2vec2 `adapter_attn_dim`): only the adapter layers and the head train,
  saved under the MMS recipe's file names: protocols/mms_adapters.py.

Each protocol implements the small `Protocol` interface: check its flags and the model at start-up, adjust the run
settings it needs, build the model (from the family's parts), finish the output directory after saving, and report
itself (name, trainable and total parameters, details) for results.json and the model card. An output directory
says which protocol made it (`saved_protocol`), so an evaluation-only run of it needs no protocol flag.

A protocol touches a family only through the family's methods (`use_saved_settings`, `set_encoder_overrides`,
`mask_padding`, `build_model`, `build_probe`, `stacked_decoder`), never its private attributes. The protocols
register themselves (`@register`) when `xtreme_s.protocols` imports their modules.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..errors import UsageError
from ..hub import ModelSource, read_marker

logger = logging.getLogger("xtreme_s")


@dataclass
class ProtocolArguments:
    """What is trained. Each protocol's own flags default to None and are refused with another protocol, so a
    forgotten `--protocol` is one line, not a silently different experiment."""

    _argument_group_name = "Protocol (what is trained: full fine-tuning, frozen-encoder probe, LoRA, MMS adapters)"

    protocol: str = field(
        default="finetune",
        metadata={"help": "finetune (the whole encoder + head, XTREME-S's protocol), probe (frozen encoder, learned "
                          "softmax-weighted sum of its hidden states + a small downstream model), lora (peft LoRA "
                          "on the attention projections + the head), adapters (MMS language adapters + the head). "
                          "An evaluation-only run of an output directory uses the protocol that made it."})
    probe_downstream: str | None = field(
        default=None, metadata={"help": "probe, CTC: downstream model on the weighted sum, 'transformer' (default; "
                                        "ML-SUPERB: 2 pre-LN layers, 256 dims, 8 heads, 1024 FFN) or 'lstm' "
                                        "(bidirectional, SUPERB ASR)."})
    probe_hidden_size: int | None = field(default=None, metadata={"help": "probe, CTC: downstream width (256)."})
    probe_num_layers: int | None = field(default=None, metadata={"help": "probe, CTC: downstream layers (2)."})
    probe_num_heads: int | None = field(default=None, metadata={"help": "probe, CTC transformer: heads (8)."})
    probe_ffn_size: int | None = field(default=None, metadata={"help": "probe, CTC transformer: FFN size (1024)."})
    probe_dropout: float | None = field(default=None, metadata={"help": "probe: downstream dropout (0.1)."})
    probe_layer_norm: bool | None = field(
        default=None, metadata={"help": "probe: layer-normalise each hidden state before the weighted sum (s3prl's "
                                        "`normalize`; default False as in SUPERB and ML-SUPERB)."})
    lora_r: int | None = field(default=None, metadata={"help": "lora: rank (8)."})
    lora_alpha: float | None = field(default=None, metadata={"help": "lora: scaling alpha (16)."})
    lora_dropout: float | None = field(default=None, metadata={"help": "lora: dropout on the LoRA input (0.05)."})
    lora_target_modules: list[str] | None = field(
        default=None, metadata={"help": "lora: module names (or name suffixes) to adapt. Default: the query and value "
                                        "projections of every attention layer of the encoder (and of the decoder's "
                                        "self-attention for speech translation)."})
    lora_merge: bool | None = field(
        default=None, metadata={"help": "lora: after training, merge the adapters into the weights and save a plain "
                                        "checkpoint instead of the adapter files (default False)."})
    adapter_attn_dim: int | None = field(
        default=None, metadata={"help": "adapters: bottleneck size of the MMS attention adapters (16, as MMS)."})
    adapter_language: str | None = field(
        default=None, metadata={"help": "adapters: the language code in the saved file name "
                                        "adapter.<code>.safetensors (default: the run's language, or the config's "
                                        "name after the dot, e.g. 'all')."})


def given(args: ProtocolArguments, prefix: str) -> list[str]:
    """The flags starting with `prefix` that were set (not None)."""
    return [f"--{f.name}" for f in fields(args) if f.name.startswith(prefix) and getattr(args, f.name) is not None]


def settings(args: ProtocolArguments) -> dict[str, Any]:
    """The protocol's own flags as set for this run (part of the run's identity: a resume must not change them)."""
    return {k: v for k, v in asdict(args).items() if k != "protocol" and v is not None}


def count_parameters(model: torch.nn.Module) -> dict[str, Any]:
    """Trainable and total parameters (each tensor once, however often it is shared)."""
    seen: dict[int, torch.nn.Parameter] = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in seen.values())
    trainable = sum(p.numel() for p in seen.values() if p.requires_grad)
    return {"trainable_parameters": trainable, "total_parameters": total,
            "trainable_fraction": trainable / total if total else 0.0}


class Protocol:
    """One training protocol. Subclasses override what differs from full fine-tuning."""

    name: ClassVar[str] = "finetune"
    flag_prefix: ClassVar[str | None] = None  # its own flags (refused with other protocols)
    families: ClassVar[tuple[str, ...]] = ("ctc", "classification", "seq2seq", "retrieval")
    needs_padding_mask: ClassVar[bool] = False  # the model pools or masks over real frames itself

    def __init__(self, args: ProtocolArguments, saved: str | None = None, marker: dict[str, Any] | None = None):
        self.args = args
        self.saved = saved  # the protocol of --model_name_or_path when it is one of our output directories
        self.marker = marker  # ... and what its marker file says (read once, at start-up)
        self.details: dict[str, Any] = {}

    # -- start-up --------------------------------------------------------------------------------------------
    def check(self, family: str, config: Any, model_args: Any, training_args: Any) -> None:
        """Refuse, before any data loads, a family or model this protocol cannot serve."""
        if family not in self.families:
            raise UsageError(f"--protocol {self.name} is not available for the {family} family (available for: "
                             f"{', '.join(self.families)}).")

    def adjust(self, model_args: Any, training_args: Any) -> None:
        """Change the run settings this protocol needs (logged and recorded)."""

    def attach(self, family: Any) -> None:
        """Tell the family what this protocol needs of it (before it prepares data and builds the model)."""
        if self.needs_padding_mask:
            family.mask_padding()

    # -- the model -------------------------------------------------------------------------------------------
    def build(self, family: Any) -> torch.nn.Module:
        return family.build_model()

    def finish(self, model: torch.nn.Module, output_dir: Path, should_save: bool) -> None:
        """Complete the output directory after the Trainer saved the model (main process when should_save)."""

    def report(self, model: torch.nn.Module) -> dict[str, Any]:
        """results.json `protocol`: the name and what this protocol wants known (the runner adds the parameter
        counts it took when the model was built)."""
        return {"name": self.name, **self.details}


PROTOCOLS: dict[str, type[Protocol]] = {"finetune": Protocol}


def register(cls: type[Protocol]) -> type[Protocol]:
    PROTOCOLS[cls.name] = cls
    return cls


def saved_protocol(source: ModelSource) -> tuple[str | None, dict[str, Any] | None]:
    """The protocol an output directory (or its Hub copy) was made with and its marker's content; (None, None)
    for a plain checkpoint."""
    for name, cls in PROTOCOLS.items():
        marker = getattr(cls, "marker_file", None)
        content = read_marker(source, marker) if marker else None
        if content is not None:
            return name, content
    return None, None


def resolve(args: ProtocolArguments | None, source: ModelSource) -> Protocol:
    """The run's protocol: --protocol, or the one that made --model_name_or_path (`source`). Flags of another
    protocol are refused here, before any data loads."""
    args = args or ProtocolArguments()
    if args.protocol not in PROTOCOLS:
        raise UsageError(f"--protocol {args.protocol!r}: choose one of {', '.join(PROTOCOLS)}.")
    saved, marker = saved_protocol(source)
    name = args.protocol
    if saved is not None and name == "finetune":
        name = saved  # an output directory of ours: evaluate (or keep training) it the way it was made
    elif saved is not None and saved != name:
        raise UsageError(f"--model_name_or_path {source.name} was made with --protocol {saved}; "
                         f"it cannot continue as --protocol {name}. Drop --protocol (or pass {saved}), or start "
                         "from the pretrained encoder.")
    cls = PROTOCOLS[name]
    for other in PROTOCOLS.values():
        if other is cls or other.flag_prefix is None:
            continue
        stray = given(args, other.flag_prefix)
        if stray:
            raise UsageError(f"{', '.join(stray)} belong(s) to --protocol {other.name}, but this run is --protocol "
                             f"{name}: add --protocol {other.name}, or drop the flag(s).")
    if saved is not None:
        logger.info("%s was made with --protocol %s; this run uses it.", source.name, saved)
    return cls(args, saved, marker)
