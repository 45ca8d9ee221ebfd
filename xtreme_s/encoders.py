"""What a speech encoder needs, decided in one place from its config and feature extractor.

Every family (CTC, classification, retrieval, seq2seq) asks this module, never a wav2vec2 field name, for: whether
transformers has the head at all (checked against the Auto mappings before any data loads), which front end to
freeze, how many frames a clip becomes, how the collator must call the feature extractor (input name, padding,
attention mask), which module is the encoder of an encoder-decoder checkpoint, which config fields our
SpecAugment / dropout / layerdrop flags land in, and which processor class to save.

Where an architecture differs from the wav2vec2 family, the difference is a row of `TRAITS` (keyed by the config's
`model_type`); everything else is read from the model itself (its `_get_feat_extract_output_lengths`, its
`get_encoder`, its feature extractor's `model_input_names` and `return_attention_mask`).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, AutoModel
from transformers.models.auto import modeling_auto

from .errors import UsageError
from .hub import ModelSource

logger = logging.getLogger("xtreme_s")


class EncoderError(UsageError):
    """A model that cannot serve the asked task family: a set-up mistake, reported in one line (exit code 2)."""


@dataclass(frozen=True)
class EncoderTraits:
    """How one architecture departs from the wav2vec2 family's conventions."""

    # Attribute of the base model holding a convolutional front end on the waveform (None: there is none).
    front_end: str | None = "feature_extractor"
    # Our flag -> the config field it sets here; None = the architecture has no such setting (recorded as ignored).
    # Flags not listed land in the field of the same name where the config has one.
    flag_fields: dict[str, str | None] = field(default_factory=dict)
    # The processor class a fine-tuned checkpoint is saved with (feature extractor + our tokenizer).
    processor_class: str = "Wav2Vec2Processor"
    # Why transformers offers no CTC head, when it does not (the start-up check quotes it).
    no_ctc_reason: str | None = None


WAV2VEC2_LIKE = EncoderTraits()
TRAITS: dict[str, EncoderTraits] = {
    # w2v-BERT 2.0: 80-bin fbank input_features (stacked 2x by the extractor), a feature projection, no conv stack.
    "wav2vec2-bert": EncoderTraits(front_end=None, processor_class="Wav2Vec2BertProcessor"),
    # Whisper: log-mel input_features padded to 30 s; its two conv layers work on mel frames (not a waveform feature
    # encoder), and the fine-tuning recipes train them; dropout and layerdrop have Whisper's own names.
    "whisper": EncoderTraits(
        front_end=None,
        flag_fields={"hidden_dropout": "dropout", "layerdrop": "encoder_layerdrop", "feat_proj_dropout": None,
                     "final_dropout": None},
        no_ctc_reason="transformers has no CTC head for Whisper (its encoder is trained for a decoder)"),
}

# The encoder flags of ModelArguments that map onto an encoder config.
ENCODER_FLAGS = ("feat_proj_dropout", "attention_dropout", "hidden_dropout", "final_dropout", "activation_dropout",
                 "mask_time_prob", "mask_time_length", "mask_feature_prob", "mask_feature_length", "layerdrop")
ADAPTER_FIELDS = ("add_adapter", "adapter_stride", "num_adapter_layers")

# Task family -> the transformers Auto mapping that must know the model type.
FAMILY_MAPPINGS = {"ctc": ("MODEL_FOR_CTC_MAPPING_NAMES", "a CTC head"),
                   "classification": ("MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES", "an audio-classification head"),
                   "retrieval": ("MODEL_MAPPING_NAMES", "a base model"),
                   "seq2seq": ("MODEL_MAPPING_NAMES", "a base model")}


def traits(config: Any) -> EncoderTraits:
    return TRAITS.get(getattr(config, "model_type", ""), WAV2VEC2_LIKE)


def is_speech_encoder_decoder(config: Any) -> bool:
    return getattr(config, "model_type", None) == "speech-encoder-decoder"


def encoder_config(config: Any) -> Any:
    """The speech encoder's own config (the `encoder` part of a speech encoder-decoder checkpoint)."""
    return config.encoder if is_speech_encoder_decoder(config) else config


# -- start-up check -------------------------------------------------------------------------------------------
def check_supported(config: Any, family: str, model_name: str) -> None:
    """Refuse, before any data loads, a model transformers has no head or encoder for in this family."""
    model_type = getattr(config, "model_type", None)
    if is_speech_encoder_decoder(config):
        if family in ("seq2seq", "retrieval"):
            return check_supported(config.encoder, "retrieval", model_name)
        raise EncoderError(f"--model_name_or_path {model_name} is a speech encoder-decoder checkpoint; the {family} "
                           "family needs a speech encoder (pass the encoder checkpoint instead).")
    mapping_name, what = FAMILY_MAPPINGS[family]
    mapping = getattr(modeling_auto, mapping_name)
    if model_type in mapping:
        return None
    reason = traits(config).no_ctc_reason if family == "ctc" else None
    speech = sorted(t for t in mapping if t in modeling_auto.MODEL_FOR_CTC_MAPPING_NAMES
                    or t in modeling_auto.MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES)
    raise EncoderError(f"--model_name_or_path {model_name} is a {model_type!r} model and the {family} family needs "
                       f"{what}: {reason or f'transformers {what} for {model_type!r} does not exist'}. Speech "
                       f"encoders with one: {', '.join(speech)}. Use this model for another family, or pick one of "
                       "those.")


def check_model(model_name: str, family: str, **hub: Any) -> Any:
    """Load the config and run `check_supported`; returns the config."""
    config = AutoConfig.from_pretrained(model_name, **hub)
    check_supported(config, family, model_name)
    return config


# -- config flags ---------------------------------------------------------------------------------------------
def apply_encoder_flags(config: Any, model_args: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set our encoder flags (plus `extra`, e.g. the seq2seq adapter) on the encoder config where it has the field.

    Returns what was applied (config field -> value) and what was ignored (flag -> why), for results.json.
    """
    t = traits(config)
    applied: dict[str, Any] = {}
    ignored: dict[str, str] = {}
    wanted = {flag: getattr(model_args, flag) for flag in ENCODER_FLAGS if hasattr(model_args, flag)}
    wanted.update(extra or {})
    for flag, value in wanted.items():
        target = t.flag_fields.get(flag, flag)
        if target is None or not hasattr(config, target):
            ignored[flag] = f"{config.model_type} has no such setting"
            continue
        setattr(config, target, value)
        applied[target] = value
    masking = (wanted.get("mask_time_prob") or 0) > 0 or (wanted.get("mask_feature_prob") or 0) > 0
    if hasattr(config, "apply_spec_augment") and masking and not config.apply_spec_augment:
        config.apply_spec_augment = True  # Whisper ships it off; the mask flags would otherwise do nothing
        applied["apply_spec_augment"] = True
    return {"model_type": config.model_type, "applied": applied, "ignored": ignored}


def adapter_flags(config: Any, model_args: Any) -> dict[str, Any]:
    """The seq2seq length-shortening adapter flags, only for encoders that have the adapter."""
    if not hasattr(config, "add_adapter"):
        return {}
    return {f: getattr(model_args, f) for f in ADAPTER_FIELDS}


def adapter_report(config: Any) -> dict[str, Any] | None:
    """The adapter as configured, or None where the architecture has none (results.json)."""
    if not hasattr(config, "add_adapter"):
        return None
    return {f: getattr(config, f, None) for f in ADAPTER_FIELDS}


# -- the model ------------------------------------------------------------------------------------------------
def encoder_of(model: torch.nn.Module) -> torch.nn.Module:
    """The speech encoder of a model: `get_encoder()` of an encoder-decoder (Whisper), else the model itself."""
    config = getattr(model, "config", None)
    if getattr(config, "is_encoder_decoder", False) or is_speech_encoder_decoder(config):
        return model.get_encoder()
    return model


def freeze_front_end(model: torch.nn.Module) -> bool:
    """Freeze the convolutional waveform front end where the architecture has one; else say so once."""
    encoder = encoder_of(model)
    base = getattr(encoder, "base_model", encoder)
    name = traits(base.config).front_end
    module = getattr(base, name, None) if name else None
    if module is None:
        logger.info("--freeze_feature_encoder: %s has no convolutional front end on the waveform; nothing frozen.",
                    base.config.model_type)
        return False
    if hasattr(module, "_freeze_parameters"):
        module._freeze_parameters()
    else:
        for p in module.parameters():
            p.requires_grad = False
    return True


def _length_fn(model: torch.nn.Module) -> Any:
    fn = getattr(model, "_get_feat_extract_output_lengths", None)
    if fn is None:
        raise EncoderError(f"{type(model).__name__} does not say how many frames it emits "
                           "(_get_feat_extract_output_lengths); it cannot be used here.")
    return fn


def frames_from_input(model: torch.nn.Module, input_lengths: torch.Tensor, add_adapter: bool | None = None) -> Any:
    """Encoder frames for inputs of these lengths (samples or feature frames), by the model's own computation."""
    fn = _length_fn(model)
    if add_adapter is not None and "add_adapter" in inspect.signature(fn).parameters:
        return fn(input_lengths, add_adapter=add_adapter)
    return fn(input_lengths)


def input_length(feature_extractor: Any, num_samples: int) -> int:
    """The model input length for a clip: samples for waveform models, feature frames for fbank/mel models."""
    if feature_extractor.model_input_names[0] == "input_values":
        return num_samples
    cls = type(feature_extractor).__name__
    if cls == "SeamlessM4TFeatureExtractor":
        # Kaldi fbank, 25 ms windows every 10 ms (snip_edges), then `stride` frames stacked, the last group padded.
        sr = feature_extractor.sampling_rate
        win, hop = int(0.025 * sr), int(0.010 * sr)
        frames = 0 if num_samples < win else 1 + (num_samples - win) // hop
        return math.ceil(frames / feature_extractor.stride)
    if cls == "WhisperFeatureExtractor":
        return int(feature_extractor.nb_max_frames)  # always padded/truncated to its 30 s
    # Any other extractor: measure it (slow on large data, exact).
    out = feature_extractor(np.zeros(max(num_samples, 1), dtype=np.float32),
                            sampling_rate=feature_extractor.sampling_rate, return_tensors="np")
    return int(out[feature_extractor.model_input_names[0]].shape[1])


def output_frames(config: Any, feature_extractor: Any, num_samples: Sequence[int]) -> list[int]:
    """Frames the encoder (conv stack, fbank stride and adapter included) emits for clips of these lengths.

    The model is built on the meta device only to ask its own `_get_feat_extract_output_lengths`: no weights.
    """
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    lengths = torch.tensor([input_length(feature_extractor, int(n)) for n in num_samples], dtype=torch.long)
    out = frames_from_input(encoder_of(model), lengths)
    return [max(0, int(x)) for x in torch.as_tensor(out).tolist()]


def min_input_samples(model_name: str, longest: int = 16_000, feature_extractor: Any = None, **hub: Any) -> int:
    """The fewest samples for which the encoder emits a frame (0: none found up to `longest`, or not knowable
    cheaply), by the model's own length computation: e.g. 400 (25 ms) for wav2vec2 / XLS-R's conv stack, 400 (one
    25 ms fbank window) for w2v-BERT, 1 for Whisper's fixed 30 s window."""
    from transformers import AutoFeatureExtractor

    config = encoder_config(AutoConfig.from_pretrained(model_name, **hub))
    fe = feature_extractor or AutoFeatureExtractor.from_pretrained(model_name, **hub)
    known = ("SeamlessM4TFeatureExtractor", "WhisperFeatureExtractor")
    if fe.model_input_names[0] != "input_values" and type(fe).__name__ not in known:
        return 0  # measuring an unknown extractor at every length would take minutes
    frames = output_frames(config, fe, range(1, longest + 1))
    return next((n for n, f in enumerate(frames, 1) if f >= 1), 0)


@dataclass(frozen=True)
class InputLimits:
    """The shortest input the encoder accepts, in samples at its sampling rate (0 where it has no such limit)."""

    min_samples: int
    sampling_rate: int

    @property
    def min_seconds(self) -> float:
        return self.min_samples / self.sampling_rate if self.sampling_rate else 0.0

    def describe(self) -> str:
        return f"{self.min_samples} samples = {1000 * self.min_seconds:g} ms"


def input_limits(model_args: Any) -> InputLimits:
    """The checkpoint's shortest usable clip, known at start-up (config and feature extractor only, no weights):
    training skips shorter clips, evaluation pads them to it."""
    from transformers import AutoFeatureExtractor

    source = ModelSource.of(model_args)
    try:
        fe = source.from_pretrained(AutoFeatureExtractor)
    except (OSError, ValueError, KeyError):
        return InputLimits(0, 16_000)  # no feature extractor: the family says so when it loads one
    return InputLimits(min_input_samples(source.name, feature_extractor=fe, **source.kwargs()), int(fe.sampling_rate))


def frame_mask(encoder: torch.nn.Module, input_mask: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Which of the encoder's `num_frames` output frames hold audio, from the input's padding mask.

    The hidden states we pool come before any adapter, so the adapter is left out of the length computation.
    """
    lengths = torch.as_tensor(frames_from_input(encoder, input_mask.sum(-1).long(), add_adapter=False),
                              device=input_mask.device)
    full = int(torch.as_tensor(frames_from_input(encoder, torch.tensor([input_mask.shape[-1]]), add_adapter=False)))
    if full != num_frames and full > 0:
        # SEW / SEW-D return their hidden states at a pooled frame rate (squeeze_factor): scale the lengths.
        lengths = torch.ceil(lengths * num_frames / full).long()
    return torch.arange(num_frames, device=input_mask.device)[None, :] < lengths[:, None]


def hidden_states(encoder: torch.nn.Module, input_values: torch.Tensor | None, input_features: torch.Tensor | None,
                  attention_mask: torch.Tensor | None, padding_mask: torch.Tensor | None
                  ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Every hidden state of the encoder and which of the last one's frames hold audio.

    `attention_mask` goes to the encoder (when its feature extractor asks for one); either mask says which frames
    are real (`padding_mask` alone for encoders run without a mask: HuBERT-base, Whisper's 30 s window)."""
    inputs = {"input_values": input_values} if input_values is not None else {"input_features": input_features}
    if attention_mask is not None:
        inputs["attention_mask"] = attention_mask
    states = encoder(**inputs, output_hidden_states=True).hidden_states
    last = states[-1]
    input_mask = attention_mask if attention_mask is not None else padding_mask
    if input_mask is None:
        return states, torch.ones(last.shape[:2], dtype=torch.bool, device=last.device)
    return states, frame_mask(encoder, input_mask, last.shape[1])


# -- the collator's settings ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputSpec:
    """How the collator calls a feature extractor: what it pads to and whether the model gets a mask."""

    input_name: str
    padding: str  # "longest", or "max_length" for extractors with a fixed window (Whisper's 30 s)
    attention_mask: bool
    waveform: bool  # input_values (samples) rather than feature frames

    @classmethod
    def of(cls, feature_extractor: Any) -> InputSpec:
        name = feature_extractor.model_input_names[0]
        fixed = type(feature_extractor).__name__ == "WhisperFeatureExtractor"
        return cls(input_name=name, padding="max_length" if fixed else "longest",
                   attention_mask=bool(getattr(feature_extractor, "return_attention_mask", True)),
                   waveform=name == "input_values")


# -- processors -----------------------------------------------------------------------------------------------
def make_processor(config: Any, feature_extractor: Any, tokenizer: Any) -> Any:
    """The encoder's own processor class around its feature extractor and our tokenizer."""
    import transformers

    name = traits(encoder_config(config)).processor_class
    return getattr(transformers, name)(feature_extractor=feature_extractor, tokenizer=tokenizer)


# -- speech encoder-decoder checkpoints -----------------------------------------------------------------------
def load_speech_encoder_decoder(path: str, config: Any, **hub: Any) -> torch.nn.Module:
    """A saved SpeechEncoderDecoderModel, its encoder rebuilt as the encoder it was trained with.

    `SpeechEncoderDecoderModel.from_pretrained` rebuilds the encoder with `AutoModel.from_config`, which for an
    encoder-decoder architecture (Whisper) is the whole encoder-decoder: the saved encoder weights would then be
    dropped and the model run on random ones. For those we build the modules ourselves and load the state dict.
    """
    from transformers import AutoModelForCausalLM, SpeechEncoderDecoderModel

    if not getattr(config.encoder, "is_encoder_decoder", False):
        return SpeechEncoderDecoderModel.from_pretrained(path, config=config, **hub)
    encoder = AutoModel.from_config(config.encoder).get_encoder()
    decoder = AutoModelForCausalLM.from_config(config.decoder)
    model = SpeechEncoderDecoderModel(config=config, encoder=encoder, decoder=decoder)
    checkpoint = checkpoint_state(path, hub)
    missing, unexpected = model.load_state_dict(checkpoint, strict=False)
    unexpected = [k for k in unexpected if "xtreme_s_layer_sum" not in k]  # a probe's (layer_sum.LAYER_SUM)
    model.tie_weights()  # e.g. the decoder's output projection, saved once as its input embedding
    state = model.state_dict()
    loaded = {state[k].data_ptr() for k in checkpoint if k in state}
    missing = [k for k in missing if state[k].data_ptr() not in loaded]
    if missing or unexpected:
        raise EncoderError(f"{path} does not match its own config: missing {missing[:5]}, unexpected "
                           f"{unexpected[:5]}.")
    return model


def checkpoint_state(path: str, hub: dict[str, Any], keep: Any = None) -> dict[str, torch.Tensor]:
    """The tensors of a (possibly sharded) safetensors checkpoint, local or on the Hub; `keep(name)` picks some
    (read lazily, so picking a few tensors of a large checkpoint costs little)."""
    import json

    from safetensors import SafetensorError, safe_open
    from transformers.utils import cached_file

    kwargs = {k: v for k, v in hub.items() if k in ("cache_dir", "revision", "token")}
    state: dict[str, torch.Tensor] = {}
    try:
        index = cached_file(path, "model.safetensors.index.json", _raise_exceptions_for_missing_entries=False,
                            **kwargs)
        if index is None:
            files = ["model.safetensors"]
        else:
            with open(index, encoding="utf-8") as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
        for name in files:
            with safe_open(cached_file(path, name, **kwargs), framework="pt") as f:
                for key in f.keys():
                    if keep is None or keep(key):
                        state[key] = f.get_tensor(key)
    except (OSError, ValueError, KeyError, SafetensorError) as err:
        raise EncoderError(f"{path}: its weights cannot be read ({' '.join(str(err).split())[:300]}); a model "
                           "directory needs model.safetensors (or its shards and index). Restore them, or point "
                           "--model_name_or_path at another checkpoint.") from None
    return state


def absolute_model_name(name: str) -> str:
    """A local model folder as an absolute path (a relative one means another model from another folder); a Hub id
    as given."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


def model_provenance(name: str, revision: str | None = None, cache_dir: str | None = None,
                     token: Any = None) -> dict[str, Any]:
    """Where a model came from, in a form that holds in another folder or on another machine: a local folder's
    absolute path, or the Hub id, revision and (when cached) commit; and the sha256 of its config.json."""
    from transformers.utils import cached_file

    path = Path(name).expanduser()
    if path.exists():
        out: dict[str, Any] = {"path": str(path.resolve())}
        config: Path | None = path / "config.json"
    else:
        found = cached_file(name, "config.json", revision=revision, cache_dir=cache_dir, token=token,
                            _raise_exceptions_for_missing_entries=False,
                            _raise_exceptions_for_connection_errors=False)
        config = Path(found) if found else None
        out = {"hub_id": name, "revision": revision}
        if config is not None and config.parent.parent.name == "snapshots":  # the Hub cache: snapshots/<commit>/
            out["commit"] = config.parent.name
    out["config_sha256"] = (hashlib.sha256(config.read_bytes()).hexdigest()
                            if config is not None and config.is_file() else None)
    return out
