"""Create a tiny, randomly initialised wav2vec2 encoder shaped like XLS-R (facebook/wav2vec2-xls-r-300m).

Why: tests and smoke runs need a checkpoint that exercises exactly the code paths of the real
XLS-R models (stable layer norm, conv feature encoder with 320x downsampling, grouped positional
conv, a Wav2Vec2ForPreTraining ``architectures`` entry) while loading in milliseconds and weighing
well under a megabyte. Weights are random (seeded) and carry no information.

Usage: python scripts/make_tiny_model.py [--out mini_benchmark/models/tiny-xls-r] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from transformers import AutoFeatureExtractor, AutoModelForCTC, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

DEFAULT_OUT = Path("mini_benchmark/models/tiny-xls-r")


def tiny_xls_r_config() -> Wav2Vec2Config:
    """XLS-R architecture flags with toy sizes (hidden 64, 2 layers)."""
    return Wav2Vec2Config(
        vocab_size=32,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        hidden_act="gelu",
        feat_extract_norm="layer",
        feat_extract_activation="gelu",
        do_stable_layer_norm=True,
        conv_bias=True,
        conv_dim=(32,) * 7,
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        hidden_dropout=0.0,
        activation_dropout=0.0,
        attention_dropout=0.0,
        feat_proj_dropout=0.0,
        feat_quantizer_dropout=0.0,
        final_dropout=0.0,
        layerdrop=0.0,
        mask_time_prob=0.05,
        # Keep the (unsaved) pre-training quantizer small too, should anyone build Wav2Vec2ForPreTraining.
        num_codevectors_per_group=16,
        codevector_dim=32,
        proj_codevector_dim=32,
        architectures=["Wav2Vec2ForPreTraining"],
    )


def make_tiny_model(out: Path = DEFAULT_OUT, seed: int = 0) -> Path:
    """Write config.json, model.safetensors and preprocessor_config.json into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    config = tiny_xls_r_config()
    torch.manual_seed(seed)
    model = Wav2Vec2Model(config)
    model.save_pretrained(out, safe_serialization=True)
    # save_pretrained stamps architectures=["Wav2Vec2Model"]; restore the XLS-R Hub value.
    config.architectures = ["Wav2Vec2ForPreTraining"]
    config.save_pretrained(out)
    (out / "model.safetensors").chmod(0o644)  # safetensors writes 0600; keep the tree world-readable
    feature_extractor = Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=16000,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=True,
    )
    feature_extractor.save_pretrained(out)
    return out


def verify_tiny_model(out: Path = DEFAULT_OUT) -> None:
    """Load the checkpoint the way the benchmark runner will (fresh CTC head) and run one forward pass."""
    model = AutoModelForCTC.from_pretrained(out, vocab_size=40, pad_token_id=0, ignore_mismatched_sizes=True)
    feature_extractor = AutoFeatureExtractor.from_pretrained(out)
    audio = torch.randn(16000, generator=torch.Generator().manual_seed(0)).numpy()
    inputs = feature_extractor(audio, sampling_rate=16000, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        logits = model(**inputs).logits
    # 1 s at 16 kHz -> 49 frames for the XLS-R conv stack (320x downsampling, receptive field 400).
    assert logits.shape == (1, 49, 40), logits.shape
    n_params = sum(p.numel() for p in model.parameters())
    print(f"tiny model OK: {type(model).__name__}, {n_params:,} params, logits {tuple(logits.shape)}")


def script_main(description: str, make, verify, default_out: Path) -> None:
    """The command line shared by the tiny-checkpoint scripts: make, then reload and check."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default_out, help="output directory (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="torch seed for the random weights")
    parser.add_argument("--skip-verify", action="store_true", help="do not reload the checkpoint afterwards")
    args = parser.parse_args()
    out = make(args.out, args.seed)
    print(f"wrote {out}")
    if not args.skip_verify:
        verify(out)


def main() -> None:
    script_main(__doc__.splitlines()[0], make_tiny_model, verify_tiny_model, DEFAULT_OUT)


if __name__ == "__main__":
    main()
