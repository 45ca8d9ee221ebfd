"""Create a tiny, randomly initialised mBART-50-shaped text decoder and its tokenizer, offline.

Why: the CoVoST-2 family stacks a pretrained multilingual text decoder (mBART-50, as in the XLS-R paper) on the
speech encoder. Tests and smoke runs need a checkpoint that takes exactly the same code path as
`facebook/mbart-large-50` (an `MBartForConditionalGeneration` checkpoint whose decoder is loaded as a causal LM,
an `MBart50Tokenizer` with `en_XX` language codes, decoder start `</s>`, forced `en_XX` first token) but loads in
milliseconds. The tokenizer is a small unigram model trained with the `tokenizers` library on the English
sentences of the mini benchmark; the weights are random (seeded) and carry no information.

Usage: python scripts/make_tiny_decoder.py [--out mini_benchmark/models/tiny-decoder] [--seed 0]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    MBart50Tokenizer,
    MBartConfig,
    MBartForConditionalGeneration,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tiny_model import script_main  # noqa: E402
from mini_sentences import COVOST_SENTENCES, FLEURS_SENTENCES  # noqa: E402

DEFAULT_OUT = Path("mini_benchmark/models/tiny-decoder")


def english_sentences() -> list[str]:
    """The mini benchmark's English text: CoVoST-2 translations and the English FLEURS sentences."""
    return [en for pairs in COVOST_SENTENCES.values() for _, en in pairs] + [row["en"] for row in FLEURS_SENTENCES]


def train_tokenizer(texts: list[str], vocab_size: int = 300) -> MBart50Tokenizer:
    """A unigram vocabulary (as mBART-50's sentencepiece model) wrapped in the real MBart50Tokenizer."""
    unigram = Tokenizer(models.Unigram())
    unigram.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    # sentencepiece order (<unk>, <s>, </s>, pieces...): MBart50Tokenizer reorders it to fairseq's and appends the
    # 52 language codes and <mask>, as its converter does for the real model.
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"],
                                      unk_token="<unk>")
    unigram.train_from_iterator(texts, trainer)
    # The trainer's parallel sums differ in the last bits from run to run, and equal scores come out in any
    # order (characters the trainer adds at the end get arbitrary 1e-4 steps): round to 2 decimals, then sort
    # the pieces (after the 3 specials) so that ids are reproducible.
    vocab = [(piece, round(score, 2)) for piece, score in json.loads(unigram.to_str())["model"]["vocab"]]
    vocab = vocab[:3] + sorted(vocab[3:], key=lambda item: (-item[1], item[0]))
    return MBart50Tokenizer(vocab=vocab, src_lang="en_XX", tgt_lang="en_XX")


def tiny_mbart_config(vocab_size: int) -> MBartConfig:
    """mBART-50 flags (pre-norm, scaled embeddings, decoder start </s>) with toy sizes (d_model 64, 2 layers).

    encoder_layers equals decoder_layers on purpose: transformers sizes the decoder's KV cache from
    `num_hidden_layers`, which MBartConfig maps to `encoder_layers` (equal in every real mBART checkpoint).
    """
    return MBartConfig(
        vocab_size=vocab_size, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=128,
        activation_function="gelu", scale_embedding=True, dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        forced_eos_token_id=2, architectures=["MBartForConditionalGeneration"],
    )


def make_tiny_decoder(out: Path = DEFAULT_OUT, seed: int = 0) -> Path:
    """Write config.json, model.safetensors, tokenizer.json and tokenizer_config.json into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(english_sentences())
    torch.manual_seed(seed)
    model = MBartForConditionalGeneration(tiny_mbart_config(len(tokenizer)))
    model.save_pretrained(out, safe_serialization=True)
    (out / "model.safetensors").chmod(0o644)  # safetensors writes 0600; keep the tree world-readable
    tokenizer.save_pretrained(out)
    return out


def verify_tiny_decoder(out: Path = DEFAULT_OUT) -> None:
    """Reload tokenizer and decoder the way the runner does and check the mBART-50 special-token layout."""
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert type(tokenizer).__name__ == "MBart50Tokenizer", type(tokenizer)
    tokenizer.tgt_lang = "en_XX"
    ids = tokenizer(text_target=english_sentences()[0]).input_ids
    assert ids[0] == tokenizer.convert_tokens_to_ids("en_XX") and ids[-1] == tokenizer.eos_token_id, ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == english_sentences()[0]
    decoder = AutoModelForCausalLM.from_pretrained(out)
    n_params = sum(p.numel() for p in decoder.parameters())
    print(f"tiny decoder OK: {type(decoder).__name__}, {n_params:,} params, vocabulary {len(tokenizer)}")


def main() -> None:
    script_main(__doc__.splitlines()[0], make_tiny_decoder, verify_tiny_decoder, DEFAULT_OUT)


if __name__ == "__main__":
    main()
