"""The frozen-encoder probe's model of every family (SUPERB, ML-SUPERB): a learnable softmax-weighted sum of the
encoder's hidden states (xtreme_s.layer_sum) and a small downstream model. The families build them
(`TaskFamily.build_probe`); the probe protocol (protocols/probe.py) decides when, and reports them.

The encoder gets no gradient and stays in eval mode whatever the Trainer asks (no dropout, SpecAugment, layerdrop
or batch-norm statistics inside it), so its weights and buffers leave the run exactly as they came. Per family:
- CTC: weighted sum -> linear to 256 -> 2 pre-LN Transformer layers (8 heads, 1024 FFN, dropout 0.1, sinusoidal
  positions) -> linear CTC, as ML-SUPERB's `train_asr_s3prl_*` recipes (without their 2x conv2d subsampling, so a
  CTC frame stays an encoder frame); or a bidirectional LSTM (`--probe_downstream lstm`, SUPERB's ASR probe).
- classification: weighted sum -> mean over the real frames -> linear (SUPERB's intent / language ID probe).
- retrieval: the weighted sum of a probe's output directory (any family) is the embedding that is pooled.
- seq2seq: the weighted sum replaces the output of the encoder's transformer stack, so it feeds the encoder's
  length-shortening adapter (trained) and the decoder (trained: it is the downstream model); the model stays a
  standard SpeechEncoderDecoderModel with one extra tensor, `...xtreme_s_layer_sum.weights`.

A probe's output directory holds the whole model (the frozen encoder too, so it evaluates offline without its
source), `config.json` (the encoder's config with the head's labels), the Trainer's `model.safetensors`, and
`xtreme_s_probe.json` (the head's shape), from which an evaluation-only run rebuilds it. The CTC heads' shared
rule, padded frames predict blank (`blank_past_end`), is here too: the fine-tuned CTC head's hooks use it as well.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel
from transformers.modeling_outputs import CausalLMOutput, SequenceClassifierOutput

from .. import encoders
from ..errors import UsageError
from ..hub import ModelSource, read_marker, write_marker
from ..layer_sum import LAYER_SUM, LayerSum, layer_sum_of, num_hidden_states

MARKER_FILE = "xtreme_s_probe.json"
SEQ2SEQ = "seq2seq"  # the head named in the marker of a seq2seq probe (a speech encoder-decoder checkpoint)


def blank_past_end(logits: torch.Tensor, keep: torch.Tensor, blank_id: int) -> torch.Tensor:
    """CTC logits where the frames not in `keep` (B x T) predict blank with certainty."""
    blank = torch.full_like(logits, torch.finfo(logits.dtype).min)
    blank[..., blank_id] = 0
    return torch.where(keep.unsqueeze(-1), logits, blank)


@dataclass
class ProbeSpec:
    """The downstream model's shape (ML-SUPERB's CTC settings by default)."""

    downstream: str = "transformer"
    hidden_size: int = 256
    num_layers: int = 2
    num_heads: int = 8
    ffn_size: int = 1024
    dropout: float = 0.1
    layer_norm: bool = False

    @classmethod
    def from_args(cls, args: Any) -> ProbeSpec:
        spec = cls()
        for name in asdict(spec):
            value = getattr(args, f"probe_{name}", None)
            if value is not None:
                setattr(spec, name, value)
        if spec.downstream not in ("transformer", "lstm"):
            raise UsageError(f"--probe_downstream {spec.downstream!r}: choose transformer or lstm.")
        if spec.downstream == "transformer" and spec.hidden_size % spec.num_heads:
            raise UsageError(f"--probe_hidden_size {spec.hidden_size} must be divisible by --probe_num_heads "
                             f"{spec.num_heads}.")
        if spec.hidden_size < 1 or spec.num_layers < 1 or not 0 <= spec.dropout < 1:
            raise UsageError("--probe_hidden_size and --probe_num_layers must be positive, --probe_dropout in [0, 1).")
        return spec


class ProbeSetup(NamedTuple):
    """What the probe protocol tells a family building its probe: the downstream model's shape, and the marker of
    --model_name_or_path when it is a probe's output directory (None otherwise)."""

    spec: ProbeSpec
    saved: dict[str, Any] | None = None

    @property
    def saved_head(self) -> str | None:
        """The head of the saved probe (ctc, classification, seq2seq), None when the model is not a probe's."""
        return self.saved["head"] if self.saved else None


class ProbeModel(nn.Module):
    """A frozen encoder and a learnable weighted sum of its hidden states; subclasses add the head."""

    head: ClassVar[str]
    architecture: ClassVar[str]

    def __init__(self, encoder: nn.Module, spec: ProbeSpec):
        super().__init__()
        self.encoder = encoder
        self.spec = spec
        self.encoder.requires_grad_(False)
        self.layer_sum = LayerSum(num_hidden_states(encoder.config), spec.layer_norm)
        self.train(False)

    @property
    def config(self) -> Any:
        """The encoder's config (the Trainer's model card and key filtering read `model.config`)."""
        return self.encoder.config

    def train(self, mode: bool = True) -> ProbeModel:
        super().train(mode)
        self.encoder.eval()  # frozen means frozen: no dropout, SpecAugment, layerdrop or batch-norm updates
        return self

    def features(self, input_values: torch.Tensor | None, input_features: torch.Tensor | None,
                 attention_mask: torch.Tensor | None, padding_mask: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """The weighted sum (B x T x D) and which of its frames hold audio (B x T)."""
        with torch.no_grad():
            hidden_states, mask = encoders.hidden_states(self.encoder, input_values, input_features, attention_mask,
                                                         padding_mask)
        return self.layer_sum(hidden_states), mask

    def head_config(self) -> dict[str, Any]:
        raise NotImplementedError

    def downstream_report(self) -> Any:
        """results.json `protocol.downstream`: the downstream model on the weighted sum."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What `xtreme_s_probe.json` records: enough to rebuild the model from its config.json."""
        return {"format": 1, "head": self.head, "spec": asdict(self.spec), "head_config": self.head_config(),
                "num_hidden_states": self.layer_sum.weights.numel()}


def sinusoids(length: int, dim: int, device: torch.device) -> torch.Tensor:
    """The Transformer's fixed sinusoidal positions (Vaswani et al.), as ESPnet's encoders add them."""
    position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: dim // 2])
    return table


class Downstream(nn.Module):
    """The CTC probe's sequence model: a linear projection, then pre-LN Transformer layers or a BiLSTM."""

    def __init__(self, in_dim: int, spec: ProbeSpec):
        super().__init__()
        h = spec.hidden_size
        self.kind = spec.downstream
        self.proj = nn.Linear(in_dim, h)
        self.dropout = nn.Dropout(spec.dropout)
        if self.kind == "transformer":
            layer = nn.TransformerEncoderLayer(h, spec.num_heads, spec.ffn_size, spec.dropout, batch_first=True,
                                               norm_first=True)
            self.layers = nn.TransformerEncoder(layer, spec.num_layers, norm=nn.LayerNorm(h),
                                                enable_nested_tensor=False)
            self.out_dim = h
        else:
            self.layers = nn.LSTM(h, h, spec.num_layers, batch_first=True, bidirectional=True,
                                  dropout=spec.dropout if spec.num_layers > 1 else 0.0)
            self.out_dim = 2 * h

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        if self.kind == "transformer":
            x = self.dropout(x * math.sqrt(x.shape[-1]) + sinusoids(x.shape[1], x.shape[-1], x.device).to(x.dtype))
            return self.layers(x, src_key_padding_mask=~mask)
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.dropout(x), lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.layers(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out


class CTCProbe(ProbeModel):
    head = "ctc"
    architecture = "XtremeSProbeForCTC"

    def __init__(self, encoder: nn.Module, spec: ProbeSpec, vocab_size: int, blank_id: int,
                 ctc_loss_reduction: str = "mean", ctc_zero_infinity: bool = True):
        super().__init__(encoder, spec)
        self.vocab_size, self.blank_id = vocab_size, blank_id
        self.ctc_loss_reduction, self.ctc_zero_infinity = ctc_loss_reduction, ctc_zero_infinity
        self.downstream = Downstream(encoders.encoder_config(encoder.config).hidden_size, spec)
        self.lm_head = nn.Linear(self.downstream.out_dim, vocab_size)

    def head_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "blank_id": self.blank_id,
                "ctc_loss_reduction": self.ctc_loss_reduction, "ctc_zero_infinity": self.ctc_zero_infinity}

    def downstream_report(self) -> dict[str, Any]:
        return asdict(self.spec)

    def forward(self, input_values: torch.Tensor | None = None, input_features: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, padding_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> CausalLMOutput:
        hidden, mask = self.features(input_values, input_features, attention_mask, padding_mask)
        logits = self.lm_head(self.downstream(hidden, mask))
        # Padded frames predict blank: the decoder reads every frame, and they must not depend on the padding.
        logits = blank_past_end(logits, mask, self.blank_id)
        loss = None
        if labels is not None:
            # As the transformers CTC heads compute it (blank = the tokenizer's pad id, -100 = padding).
            targets = labels >= 0
            log_probs = F.log_softmax(logits, dim=-1, dtype=torch.float32).transpose(0, 1)
            with torch.backends.cudnn.flags(enabled=False):
                loss = F.ctc_loss(log_probs, labels.masked_select(targets), mask.sum(-1), targets.sum(-1),
                                  blank=self.blank_id, reduction=self.ctc_loss_reduction,
                                  zero_infinity=self.ctc_zero_infinity)
        return CausalLMOutput(loss=loss, logits=logits)


class ClassificationProbe(ProbeModel):
    head = "classification"
    architecture = "XtremeSProbeForSequenceClassification"

    def __init__(self, encoder: nn.Module, spec: ProbeSpec, num_labels: int):
        super().__init__(encoder, spec)
        self.num_labels = num_labels
        self.dropout = nn.Dropout(spec.dropout)
        self.classifier = nn.Linear(encoders.encoder_config(encoder.config).hidden_size, num_labels)

    def head_config(self) -> dict[str, Any]:
        return {"num_labels": self.num_labels}

    def downstream_report(self) -> dict[str, Any]:
        return {"pooling": "mean", "dropout": self.spec.dropout, "layer_norm": self.spec.layer_norm}

    def forward(self, input_values: torch.Tensor | None = None, input_features: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, padding_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> SequenceClassifierOutput:
        hidden, mask = self.features(input_values, input_features, attention_mask, padding_mask)
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1)
        logits = self.classifier(self.dropout(pooled))
        loss = F.cross_entropy(logits.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


HEADS: dict[str, type[ProbeModel]] = {"ctc": CTCProbe, "classification": ClassificationProbe}


# -- the seq2seq probe: a weighted sum inside a standard speech encoder-decoder -------------------------------
def _layers(encoder: nn.Module) -> tuple[nn.Module, nn.ModuleList]:
    """The encoder's transformer layers and the module that runs them (Wav2Vec2Encoder, WhisperEncoder, SEW-D's
    transformer, ...): the ModuleList of `num_hidden_layers` blocks holding the most weights (a positional conv
    stack can have as many)."""
    n = encoders.encoder_config(encoder.config).num_hidden_layers
    found = [(name, m) for name, m in encoder.named_modules() if isinstance(m, nn.ModuleList) and len(m) == n]
    if not found:
        raise UsageError(f"--protocol probe: cannot find the {n} transformer layers of {type(encoder).__name__}.")
    name, layers = max(found, key=lambda item: sum(p.numel() for p in item[1].parameters()))
    return (encoder.get_submodule(name.rsplit(".", 1)[0]) if "." in name else encoder), layers


def _first(output: Any) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    return output[0]


class _LayerRecorder:
    """Collects the hidden states as transformers 5 defines them (the first layer's input, then every layer's output)
    with hooks on the encoder's own layers, and makes their weighted sum the output of the module that runs the
    layers: transformers records `hidden_states` only at the top-level model, while the sum must come before what
    follows the layers inside the encoder (the length-shortening adapter, SEW's upsampling)."""

    def __init__(self, stack: nn.Module, layers: nn.ModuleList, layer_sum: LayerSum, tie_last: bool):
        self.states: list[torch.Tensor] = []
        self.layer_sum = layer_sum
        self.tie_last = tie_last
        layers[0].register_forward_pre_hook(self._first_input, with_kwargs=True)
        for layer in layers if not tie_last else layers[:-1]:
            layer.register_forward_hook(self._output)
        stack.register_forward_pre_hook(self._reset)
        stack.register_forward_hook(self._weighted_output)

    def _reset(self, module: nn.Module, args: tuple) -> None:
        self.states = []

    def _first_input(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        self.states.append(args[0] if args else kwargs["hidden_states"])

    def _output(self, module: nn.Module, args: tuple, output: Any) -> None:
        self.states.append(_first(output))

    def _weighted_output(self, module: nn.Module, args: tuple, output: Any) -> Any:
        last = (_first(output),) if self.tie_last else ()
        summed = self.layer_sum((*self.states, *last), _first(output).shape[1])
        self.states = []
        if isinstance(output, torch.Tensor):
            return summed
        if isinstance(output, tuple) and not hasattr(output, "keys"):
            return (summed, *output[1:])
        output["last_hidden_state"] = summed
        return output


class _EvalModeEncoder:
    """Mixed into the encoder's class: `train()` leaves it in eval mode (no dropout, SpecAugment, layerdrop)."""

    def train(self, mode: bool = True) -> Any:
        return super().train(False)


def weighted_sum_encoder(model: nn.Module, spec: ProbeSpec, trainable: tuple[str, ...] = ("adapter",)) -> nn.Module:
    """Turn a SpeechEncoderDecoderModel's encoder into a frozen encoder whose output is a learned weighted sum of its
    hidden states; `trainable` modules of the encoder (the length-shortening adapter) stay trainable. The sum
    replaces the output of the module running the layers, so a final layer norm after them (XLS-R's) is bypassed,
    as it is for transformers' `hidden_states`."""
    encoder = model.encoder
    stack, layers = _layers(encoder)
    encoder.requires_grad_(False)
    stack.add_module(LAYER_SUM, LayerSum(num_hidden_states(encoder.config), spec.layer_norm))
    # transformers gives the last hidden state after the final layer norm where the layers run in the top-level
    # encoder (Whisper), and the last layer's own output where they run in an inner module (XLS-R's stable layer
    # norm): the same here (checked for every architecture in tests/test_protocols_probe.py).
    stack.xtreme_s_recorder = _LayerRecorder(stack, layers, getattr(stack, LAYER_SUM), tie_last=stack is encoder)
    for name, module in encoder.named_children():
        if name in trainable:
            module.requires_grad_(True)
    encoder.__class__ = type(f"Frozen{type(encoder).__name__}", (_EvalModeEncoder, type(encoder)), {})
    encoder.eval()
    return model


# -- saving and loading ---------------------------------------------------------------------------------------
def save(model: nn.Module, output_dir: Path) -> None:
    """config.json (the encoder's, with the head's labels the family set on it) and xtreme_s_probe.json beside the
    Trainer's weights; a seq2seq probe is a standard speech encoder-decoder checkpoint and gets the marker only."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not isinstance(model, ProbeModel):
        spec = getattr(model, "xtreme_s_probe_spec", ProbeSpec())
        described = {"format": 1, "head": SEQ2SEQ, "spec": asdict(spec), "head_config": {},
                     "num_hidden_states": layer_sum_of(model).weights.numel()}
        write_marker(output_dir, MARKER_FILE, described)
        return
    config = model.encoder.config
    config.architectures = [model.architecture]
    config.save_pretrained(output_dir)
    write_marker(output_dir, MARKER_FILE, model.describe())


def load(source: ModelSource | str, saved: dict[str, Any] | None = None) -> ProbeModel:
    """A CTC or classification probe from its output directory (`saved`: its xtreme_s_probe.json, read here when
    not given): the encoder rebuilt from config.json, every weight from the checkpoint."""
    if isinstance(source, str):
        source = ModelSource(source)
    path = source.name
    saved = saved if saved is not None else read_marker(source, MARKER_FILE)
    if saved is None:
        raise UsageError(f"{path} is not a probe's output directory (no {MARKER_FILE}).")
    if saved["head"] not in HEADS:
        raise UsageError(f"{path} is a {saved['head']} probe; this family needs a CTC or classification probe.")
    config = source.from_pretrained(AutoConfig)
    config.architectures = None
    encoder = encoders.encoder_of(AutoModel.from_config(config))
    spec = ProbeSpec(**saved["spec"])
    model = HEADS[saved["head"]](encoder, spec, **saved["head_config"])
    state = encoders.checkpoint_state(path, source.kwargs())
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UsageError(f"{path}: the probe checkpoint does not match its {MARKER_FILE} (missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}).")
    return model


def load_saved(setup: ProbeSetup, source: ModelSource) -> ProbeModel | None:
    """The CTC / classification probe of `source` when the protocol found one there, else None."""
    if setup.saved_head not in HEADS:
        return None
    return load(source, setup.saved)
