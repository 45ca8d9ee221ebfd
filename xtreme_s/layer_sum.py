"""A learnable softmax-weighted sum over an encoder's hidden states (s3prl's Featurizer): what a frozen-encoder
probe trains, and what retrieval pools from a probe's output directory.

Here, below the families, because the probe heads of every family (families/probe_heads.py) and retrieval's
pooled encoder use it, and a seq2seq probe's weights are read back from its checkpoint by both.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import encoders
from .errors import UsageError
from .hub import ModelSource

LAYER_SUM = "xtreme_s_layer_sum"  # the attribute (and state-dict name) of a seq2seq probe's layer weights


class LayerSum(nn.Module):
    """Softmax-weighted sum over hidden states (s3prl's Featurizer): weights start equal (zeros before softmax)."""

    def __init__(self, num_states: int, layer_norm: bool = False):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_states))
        self.layer_norm = layer_norm

    def forward(self, hidden_states: tuple[torch.Tensor, ...], length: int | None = None) -> torch.Tensor:
        if len(hidden_states) != self.weights.numel():
            raise RuntimeError(f"the encoder returned {len(hidden_states)} hidden states, the probe was built for "
                               f"{self.weights.numel()}")
        length = length or hidden_states[-1].shape[1]
        # SEW / SEW-D keep their inner layers at a pooled frame rate and upsample only the last: align the rest.
        states = [h if h.shape[1] == length else
                  F.interpolate(h.transpose(1, 2), size=length, mode="nearest").transpose(1, 2)
                  for h in hidden_states]
        stacked = torch.stack(states, 0)
        if self.layer_norm:
            stacked = F.layer_norm(stacked, stacked.shape[-1:])
        w = self.weights.softmax(0).to(stacked.dtype)
        return (w.view(-1, 1, 1, 1) * stacked).sum(0)

    def normalized(self) -> list[float]:
        return [round(float(x), 6) for x in self.weights.detach().float().softmax(0)]


def num_hidden_states(config: Any) -> int:
    """Hidden states an encoder returns with output_hidden_states: the input of the first layer plus one per layer."""
    return int(encoders.encoder_config(config).num_hidden_layers) + 1


def layer_sum_of(model: nn.Module) -> LayerSum | None:
    """The learned layer weights of any probe (a probe head, a seq2seq probe, a retrieval encoder)."""
    found = getattr(model, "layer_sum", None)
    if found is None:
        for name, module in model.named_modules():
            if name.endswith(LAYER_SUM):
                return module
    return found


def load_layer_sum(model: nn.Module, source: ModelSource) -> None:
    """A seq2seq probe's learned layer weights from its checkpoint (`from_pretrained` skips the extra tensor)."""
    target = layer_sum_of(model)
    found = encoders.checkpoint_state(source.name, source.kwargs(), keep=lambda k: k.endswith(f"{LAYER_SUM}.weights"))
    if len(found) != 1 or target is None:
        raise UsageError(f"{source.name}: a seq2seq probe's checkpoint must hold one {LAYER_SUM}.weights tensor; "
                         f"found {sorted(found)}.")
    with torch.no_grad():
        target.weights.copy_(next(iter(found.values())))
