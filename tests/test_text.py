"""Transcript normalisation and the CTC vocabulary (reference runner behaviour, spec section 4)."""

from __future__ import annotations

import json

import pytest
from transformers import Wav2Vec2CTCTokenizer

from xtreme_s.text import (
    PAD_TOKEN,
    REFERENCE_CHARS_TO_IGNORE,
    UNK_TOKEN,
    WORD_DELIMITER,
    TextNormalizer,
    build_vocab,
    oov_characters,
    save_vocab,
)

# Spec section 4: `, ? . ! - ; : " “ % ‘ ” �`, written out independently.
SPEC_CHARS = [",", "?", ".", "!", "-", ";", ":", '"', "\u201c", "%", "\u2018", "\u201d", "\ufffd"]


def test_reference_character_set_matches_spec():
    assert sorted(REFERENCE_CHARS_TO_IGNORE) == sorted(SPEC_CHARS)


@pytest.mark.parametrize("char", SPEC_CHARS)
def test_each_reference_character_is_deleted(char):
    assert TextNormalizer()(f"ab{char}cd ef{char}") == "abcd ef"


def test_reference_normalisation():
    norm = TextNormalizer()
    assert norm("Hello, World!") == "hello world"
    assert norm("  Quoted \u201cText\u201d;  50%   off:\tyes?  ") == "quoted text 50 off yes"
    assert norm("Well-known") == "wellknown"  # hyphen deleted, not turned into a space
    # Characters outside the set survive: apostrophe, right single quote (not in the set), digits, diacritics.
    assert norm("It's \u2018A\u2019 3 \u017b\u00d3\u0141W") == "it's a\u2019 3 \u017c\u00f3\u0142w"
    assert norm(None) == ""
    assert norm("  ,.!  ") == ""


def test_literal_word_delimiter_is_removed():
    norm = TextNormalizer()
    assert norm("a|b") == "ab"
    assert norm("a | b") == "a b"
    assert "|" not in norm("|x| y |")


def test_mode_none_keeps_case_and_punctuation():
    norm = TextNormalizer("none")
    assert norm("Hello, World!") == "Hello, World!"
    assert norm("  Hello,   World!\n") == "Hello, World!"  # whitespace is still squeezed
    assert norm("a|b") == "ab"


def test_custom_characters_and_invalid_mode():
    assert TextNormalizer(chars_to_ignore=["x"])("Ax, B!") == "a, b!"
    with pytest.raises(ValueError, match="xtreme_s"):
        TextNormalizer("lower")


def test_unicode_form():
    decomposed = "cafe\u0301"
    assert TextNormalizer(unicode_form="NFC")(decomposed) == "caf\u00e9"
    assert TextNormalizer()(decomposed) == decomposed  # no normal form unless asked


def test_build_vocab_layout():
    vocab = build_vocab(["hello world", "low"])
    assert vocab[WORD_DELIMITER] == 0
    assert " " not in vocab
    assert list(vocab)[-2:] == [UNK_TOKEN, PAD_TOKEN]
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert list(vocab)[1:-2] == sorted("helowrd")


def test_build_vocab_is_deterministic_and_order_free():
    a = build_vocab(["zebra", "apple pie", "\u00e9t\u00e9"])
    b = build_vocab(["\u00e9t\u00e9", "apple pie", "zebra"])
    assert a == b
    assert list(a) == list(b)
    assert json.dumps(a) == json.dumps(build_vocab(["zebra", "apple pie", "\u00e9t\u00e9"]))


def test_build_vocab_special_tokens_unique_even_with_bracket_characters():
    # Characters of "[UNK]" in the data must not collide with the special tokens.
    vocab = build_vocab(["[unk] [pad]", "a|b", "[UNK]"])
    assert list(vocab).count(UNK_TOKEN) == 1
    assert list(vocab).count(PAD_TOKEN) == 1
    assert list(vocab).count(WORD_DELIMITER) == 1
    assert vocab[WORD_DELIMITER] == 0
    assert vocab[UNK_TOKEN] == len(vocab) - 2
    assert vocab[PAD_TOKEN] == len(vocab) - 1
    assert len(set(vocab.values())) == len(vocab)


def test_build_vocab_uses_only_given_texts():
    train = ["abc"]
    vocab = build_vocab(train)
    assert set(vocab) == {WORD_DELIMITER, "a", "b", "c", UNK_TOKEN, PAD_TOKEN}


def test_oov_characters():
    vocab = build_vocab(["ab c"])
    missing, total = oov_characters(["abz z", "q"], vocab)
    # Non-space characters: a b z z q = 5; missing: z twice, q once.
    assert total == 5
    assert missing == {"z": 2, "q": 1}
    missing, total = oov_characters(["a b", "c"], vocab)
    assert (dict(missing), total) == ({}, 3)


def test_save_vocab_and_tokenizer_round_trip(tmp_path):
    texts = [TextNormalizer()(t) for t in ("Hello, World!", "Low \u017c\u00f3\u0142w.")]
    vocab = build_vocab(texts)
    path = save_vocab(vocab, tmp_path / "out")
    assert path == tmp_path / "out" / "vocab.json"
    assert json.loads(path.read_text(encoding="utf-8")) == vocab
    tok = Wav2Vec2CTCTokenizer(str(path), unk_token=UNK_TOKEN, pad_token=PAD_TOKEN,
                               word_delimiter_token=WORD_DELIMITER, bos_token=None, eos_token=None)
    assert len(tok) == len(vocab)
    assert tok.pad_token_id == vocab[PAD_TOKEN]
    assert tok.unk_token_id == vocab[UNK_TOKEN]
    ids = tok("hello world").input_ids
    assert len(ids) == len("hello world")  # no bos/eos added
    assert ids[5] == vocab[WORD_DELIMITER]  # the space
    assert [ids[i] for i in (0, 1, 2)] == [vocab["h"], vocab["e"], vocab["l"]]
    assert tok.decode(ids, group_tokens=False) == "hello world"
    # Unseen characters map to [UNK].
    assert tok("hq").input_ids == [vocab["h"], vocab[UNK_TOKEN]]
    # CTC decoding: repeats collapse, [PAD] is the blank that separates a real double letter.
    ctc = [vocab["l"], vocab["l"], vocab[PAD_TOKEN], vocab["l"], vocab["o"], vocab["|"], vocab["w"]]
    assert tok.decode(ctc) == "llo w"
