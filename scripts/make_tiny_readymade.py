"""Tiny, randomly initialised ready-made checkpoints (Whisper, MMS-1b-all, SeamlessM4T v2) with working tokenizers.

Why: the ready-made evaluators (xtreme_s/readymade) must run their real code paths (language forcing, adapter
switching, detection, generation) offline, in seconds. Each checkpoint has its model class's real special tokens
and language tables, sized down:

- whisper: byte-level BPE over the 256 byte symbols (no merges), then Whisper's special tokens in Whisper's order
  (<|endoftext|>, <|startoftranscript|>, the 100 language tokens of transformers' `LANGUAGES`, <|translate|>,
  <|transcribe|>, <|startoflm|>, <|startofprev|>, <|nospeech|>, <|notimestamps|>), so the tokenizer's own
  `prefix_tokens` arithmetic holds; generation_config.json carries lang_to_id / task_to_id as the real ones do.
  `drop_languages` leaves languages out of lang_to_id (as large-v2 lacks Cantonese) to test coverage.
- mms: a wav2vec2 CTC model with attention adapters and a nested vocab.json (one character vocabulary per language,
  different sizes) plus one adapter.<lang>.safetensors per language, as facebook/mms-1b-all is laid out.
- seamless: SeamlessM4Tv2ForSpeechToText with a BPE tokenizer holding `__<lang>__` tokens and
  text_decoder_lang_to_code_id in its generation config.
- classifier: a wav2vec2 language-ID classifier labelled with ISO 639-3 codes, as facebook/mms-lid-* are.

Weights are random (seeded) and carry no information. Usage: python scripts/make_tiny_readymade.py --out DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (
    GenerationConfig,
    SeamlessM4TFeatureExtractor,
    SeamlessM4TProcessor,
    SeamlessM4TTokenizer,
    SeamlessM4Tv2Config,
    SeamlessM4Tv2ForSpeechToText,
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2ForSequenceClassification,
    Wav2Vec2Processor,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)
from transformers.models.whisper.tokenization_whisper import LANGUAGES

WHISPER_SPECIALS_AFTER_LANGUAGES = ("<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>",
                                    "<|nospeech|>", "<|notimestamps|>")


def make_whisper(out: Path, drop_languages: tuple[str, ...] = (), seed: int = 0) -> Path:
    torch.manual_seed(seed)
    vocab = {ch: i for i, ch in enumerate(sorted(ByteLevel.alphabet()))}  # the 256 byte symbols
    vocab["<|endoftext|>"] = len(vocab)
    tok = WhisperTokenizer(vocab=vocab, merges=[])
    specials = ["<|startoftranscript|>", *(f"<|{c}|>" for c in LANGUAGES), *WHISPER_SPECIALS_AFTER_LANGUAGES]
    tok.add_tokens(specials, special_tokens=True)
    ids = {t: tok.convert_tokens_to_ids(t) for t in ["<|endoftext|>", *specials]}
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    config = WhisperConfig(vocab_size=len(tok), num_mel_bins=80, d_model=16, encoder_layers=1, decoder_layers=1,
                           encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                           decoder_ffn_dim=32, max_source_positions=1500, max_target_positions=64,
                           pad_token_id=eot, bos_token_id=eot, eos_token_id=eot, decoder_start_token_id=sot,
                           suppress_tokens=None, begin_suppress_tokens=None,
                           architectures=["WhisperForConditionalGeneration"])
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot, eos_token_id=eot, pad_token_id=eot, bos_token_id=eot, max_length=64,
        is_multilingual=True, no_timestamps_token_id=ids["<|notimestamps|>"],
        lang_to_id={f"<|{c}|>": ids[f"<|{c}|>"] for c in LANGUAGES if c not in drop_languages},
        task_to_id={"translate": ids["<|translate|>"], "transcribe": ids["<|transcribe|>"]})
    model.save_pretrained(out)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tok).save_pretrained(out)
    return out


# Nested MMS vocabularies: language -> its characters (each language its own size, so the head is resized).
MMS_LANGUAGES = {"pol": "aąbcćdeęfghijklłmnńoóprsśtuwyzźż", "fra": "abcdeéèfghijklmnopqrstuvwxyz", "eng": "abcdefghij"}


def make_mms(out: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    specials = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
    nested = {lang: {**specials, **{c: 5 + i for i, c in enumerate(chars)}} for lang, chars in MMS_LANGUAGES.items()}
    (out / "vocab.json").write_text(json.dumps(nested, ensure_ascii=False), encoding="utf-8")
    tok = Wav2Vec2CTCTokenizer(str(out / "vocab.json"), target_lang="eng", word_delimiter_token="|")
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, return_attention_mask=True)
    Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok).save_pretrained(out)
    config = Wav2Vec2Config(vocab_size=len(nested["eng"]), hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64, conv_dim=(32, 32), conv_stride=(5, 4),
                            conv_kernel=(10, 8), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            do_stable_layer_norm=True, feat_extract_norm="layer", adapter_attn_dim=8,
                            pad_token_id=0, architectures=["Wav2Vec2ForCTC"])
    model = Wav2Vec2ForCTC(config)
    model.save_pretrained(out)
    adapter_names = [f"{name}.{p}" for name, module in model.named_modules()
                     if type(module).__name__ == "Wav2Vec2AttnAdapterLayer" for p, _ in module.named_parameters()]
    params = dict(model.named_parameters())
    for lang, vocab in nested.items():
        state = {k: torch.randn_like(params[k]) for k in adapter_names}
        state["lm_head.weight"] = torch.randn(len(vocab), config.hidden_size)
        state["lm_head.bias"] = torch.randn(len(vocab))
        save_file(state, str(out / f"adapter.{lang}.safetensors"))
    return out


SEAMLESS_TEXT_LANGUAGES = ("eng", "fra", "pol", "deu", "spa")


def make_seamless(out: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    vocab = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}
    for ch in "abcdefghijklmnopqrstuvwxyz▁":
        vocab[ch] = len(vocab)
    lang_tokens = [f"__{c}__" for c in SEAMLESS_TEXT_LANGUAGES]
    tok = SeamlessM4TTokenizer(vocab=vocab, merges=[], src_lang="eng", tgt_lang="eng",
                               additional_special_tokens=lang_tokens)
    lang_ids = {c: tok.convert_tokens_to_ids(f"__{c}__") for c in SEAMLESS_TEXT_LANGUAGES}
    config = SeamlessM4Tv2Config(
        vocab_size=len(tok), t2u_vocab_size=16, hidden_size=16, speech_encoder_layers=1,
        speech_encoder_attention_heads=2,
        speech_encoder_intermediate_size=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, t2u_encoder_layers=1,
        t2u_decoder_layers=1, t2u_encoder_attention_heads=2, t2u_decoder_attention_heads=2,
        t2u_encoder_ffn_dim=32, t2u_decoder_ffn_dim=32, feature_projection_input_dim=160, adaptor_kernel_size=2,
        adaptor_stride=2, num_adapter_layers=1, max_position_embeddings=64, t2u_max_position_embeddings=64,
        pad_token_id=0, bos_token_id=2, eos_token_id=3, decoder_start_token_id=3,
        architectures=["SeamlessM4Tv2ForSpeechToText"])
    model = SeamlessM4Tv2ForSpeechToText(config)
    model.generation_config = GenerationConfig(decoder_start_token_id=3, eos_token_id=3, pad_token_id=0,
                                               bos_token_id=2, max_length=64, text_decoder_lang_to_code_id=lang_ids)
    model.save_pretrained(out)
    fe = SeamlessM4TFeatureExtractor(feature_size=80, num_mel_bins=80, stride=2)
    SeamlessM4TProcessor(feature_extractor=fe, tokenizer=tok).save_pretrained(out)
    return out


LID_LABELS = ("eng", "pol", "fra", "deu", "spa")  # ISO 639-3 labels, as facebook/mms-lid-* name theirs


def make_classifier(out: Path, seed: int = 0) -> Path:
    """A language-ID audio classifier labelled like mms-lid (ISO 639-3 codes)."""
    torch.manual_seed(seed)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                            conv_dim=(32, 32), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=16,
                            num_conv_pos_embedding_groups=2, classifier_proj_size=16,
                            id2label=dict(enumerate(LID_LABELS)), label2id={v: i for i, v in enumerate(LID_LABELS)},
                            architectures=["Wav2Vec2ForSequenceClassification"])
    Wav2Vec2ForSequenceClassification(config).save_pretrained(out)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, return_attention_mask=True).save_pretrained(out)
    return out


def make_all(out: Path) -> dict[str, Path]:
    return {"whisper": make_whisper(out / "tiny-whisper", drop_languages=("sw",)), "mms": make_mms(out / "tiny-mms"),
            "seamless": make_seamless(out / "tiny-seamless"), "classifier": make_classifier(out / "tiny-lid")}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    print(make_all(parser.parse_args().out))
