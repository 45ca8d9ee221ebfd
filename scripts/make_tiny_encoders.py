"""Tiny, randomly initialised checkpoints of every speech-encoder architecture the runner supports.

Why: the encoder x family test matrix (tests/test_encoders.py) must exercise each architecture's real code path
(its feature extractor, input name, padding, attention-mask setting, conv front end or none, adapters) in seconds.
Each checkpoint keeps its architecture's structural flags and shrinks only the sizes (hidden 32, 2 layers); the
weights are random (seeded) and carry no information. The tests build them in a temporary folder at session
start, so nothing but this script is committed.

Usage: python scripts/make_tiny_encoders.py --out DIR [--arch hubert --arch whisper ...]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModel,
    Data2VecAudioConfig,
    HubertConfig,
    SeamlessM4TFeatureExtractor,
    SEWConfig,
    SEWDConfig,
    UniSpeechConfig,
    UniSpeechSatConfig,
    Wav2Vec2BertConfig,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    WavLMConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
)

# Toy sizes shared by the waveform encoders: a 7-layer conv front end with XLS-R's kernels and strides (320x).
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0,
             final_dropout=0.0, layerdrop=0.0, vocab_size=32)
CONV = dict(conv_dim=(16,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)


def _waveform_fe(mask: bool = True, normalize: bool = True) -> Wav2Vec2FeatureExtractor:
    return Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=normalize,
                                    return_attention_mask=mask)


def _whisper_config() -> WhisperConfig:
    # The real 30 s input (3000 mel frames -> 1500 positions), so the fixed-length padding path is exercised.
    return WhisperConfig(vocab_size=64, num_mel_bins=80, d_model=32, encoder_layers=2, decoder_layers=1,
                         encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                         max_source_positions=1500, max_target_positions=32, pad_token_id=0, bos_token_id=1,
                         eos_token_id=2, decoder_start_token_id=1, suppress_tokens=None, begin_suppress_tokens=None,
                         classifier_proj_size=16)


# name -> (config factory, feature extractor factory, the architectures entry its Hub checkpoints carry)
ARCHITECTURES: dict[str, tuple[Callable[[], Any], Callable[[], Any], str]] = {
    "wav2vec2": (lambda: Wav2Vec2Config(**SMALL, **CONV, feat_extract_norm="layer", do_stable_layer_norm=True,
                                        conv_bias=True), _waveform_fe, "Wav2Vec2ForPreTraining"),
    # MMS: XLS-R shape plus the per-language attention adapters (adapter_attn_dim) of facebook/mms-1b-all.
    "mms": (lambda: Wav2Vec2Config(**SMALL, **CONV, feat_extract_norm="layer", do_stable_layer_norm=True,
                                   conv_bias=True, adapter_attn_dim=8), _waveform_fe, "Wav2Vec2ForCTC"),
    # w2v-BERT 2.0: stacked 80-bin fbank (160-dim input_features), Conformer layers, relative positions.
    "wav2vec2-bert": (lambda: Wav2Vec2BertConfig(**SMALL, feature_projection_input_dim=160, output_hidden_size=32,
                                                 conv_depthwise_kernel_size=3, position_embeddings_type="relative_key",
                                                 left_max_position_embeddings=8, right_max_position_embeddings=8,
                                                 add_adapter=False, adapter_kernel_size=3, adapter_stride=2,
                                                 num_adapter_layers=1),
                      SeamlessM4TFeatureExtractor, "Wav2Vec2BertModel"),
    # HuBERT base: group-norm front end; its extractor asks for no attention mask (a mask changes its outputs).
    "hubert": (lambda: HubertConfig(**SMALL, **CONV, feat_extract_norm="group", do_stable_layer_norm=False),
               lambda: _waveform_fe(mask=False, normalize=False), "HubertModel"),
    "wavlm": (lambda: WavLMConfig(**SMALL, **CONV, num_buckets=32, max_bucket_distance=64), _waveform_fe,
              "WavLMModel"),
    "data2vec-audio": (lambda: Data2VecAudioConfig(**SMALL, **{**CONV, "num_conv_pos_embeddings": 2},
                                                   conv_pos_kernel_size=5), _waveform_fe, "Data2VecAudioModel"),
    "unispeech": (lambda: UniSpeechConfig(**SMALL, **CONV, num_codevectors_per_group=8, codevector_dim=16,
                                          proj_codevector_dim=16), _waveform_fe, "UniSpeechForPreTraining"),
    "unispeech-sat": (lambda: UniSpeechSatConfig(**SMALL, **CONV, num_codevectors_per_group=8, codevector_dim=16,
                                                 proj_codevector_dim=16, num_clusters=8),
                      _waveform_fe, "UniSpeechSatForPreTraining"),
    "sew": (lambda: SEWConfig(**SMALL, **CONV, squeeze_factor=2), lambda: _waveform_fe(mask=False), "SEWModel"),
    "sew-d": (lambda: SEWDConfig(**{k: v for k, v in SMALL.items() if k != "layerdrop"}, **CONV, squeeze_factor=2,
                                 position_buckets=16, max_position_embeddings=64, share_att_key=True),
              lambda: _waveform_fe(mask=False), "SEWDModel"),
    "whisper": (_whisper_config, lambda: WhisperFeatureExtractor(feature_size=80),
                "WhisperForConditionalGeneration"),
}


def make_tiny_encoder(arch: str, out: Path, seed: int = 0) -> Path:
    """Write config.json, model.safetensors and preprocessor_config.json of a tiny `arch` encoder into `out`."""
    make_config, make_fe, hub_architecture = ARCHITECTURES[arch]
    out.mkdir(parents=True, exist_ok=True)
    config = make_config()
    torch.manual_seed(seed)
    model = AutoModel.from_config(config)
    model.save_pretrained(out, safe_serialization=True)
    config = model.config
    config.architectures = [hub_architecture]  # the Hub's value; save_pretrained wrote the base class
    config.save_pretrained(out)
    make_fe().save_pretrained(out)
    return out


def make_all(root: Path, archs: list[str] | None = None, seed: int = 0) -> dict[str, Path]:
    return {a: make_tiny_encoder(a, root / f"tiny-{a}", seed) for a in (archs or ARCHITECTURES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder that receives one tiny-<arch> per arch")
    parser.add_argument("--arch", action="append", choices=sorted(ARCHITECTURES), help="only these (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="torch seed for the random weights")
    args = parser.parse_args()
    for arch, path in make_all(args.out, args.arch, args.seed).items():
        size = sum(f.stat().st_size for f in path.iterdir()) / 1e6
        print(f"{arch:15s} {path} ({size:.2f} MB)")


if __name__ == "__main__":
    main()
