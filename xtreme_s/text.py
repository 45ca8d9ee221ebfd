"""Transcript normalisation and the CTC character vocabulary."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# The characters the reference runner deleted before training and scoring (spec section 4, [RUN]).
REFERENCE_CHARS_TO_IGNORE = (",", "?", ".", "!", "-", ";", ":", '"', "“", "%", "‘", "”", "�")

WORD_DELIMITER = "|"
UNK_TOKEN = "[UNK]"
PAD_TOKEN = "[PAD]"
_SPACES = re.compile(r"\s+")


class TextNormalizer:
    """The reference runner's normalisation: lowercase, delete a fixed character set, squeeze spaces.

    `mode="none"` keeps the text as it is (apart from whitespace), for users who score raw transcripts.
    A literal word delimiter `|` in the text is removed: it would merge words once spaces become `|`.
    """

    def __init__(self, mode: str = "xtreme_s", chars_to_ignore: Iterable[str] | None = None,
                 unicode_form: str | None = None):
        if mode not in ("xtreme_s", "none"):
            raise ValueError(f"text normalisation mode must be 'xtreme_s' or 'none', not {mode!r}")
        self.mode = mode
        chars = tuple(chars_to_ignore) if chars_to_ignore is not None else REFERENCE_CHARS_TO_IGNORE
        self.chars_to_ignore = chars if mode == "xtreme_s" else ()
        self.unicode_form = unicode_form
        self._table = str.maketrans({c: "" for c in (*self.chars_to_ignore, WORD_DELIMITER)})

    def __call__(self, text: str | None) -> str:
        text = text or ""
        if self.unicode_form:
            text = unicodedata.normalize(self.unicode_form, text)
        if self.mode == "xtreme_s":
            text = text.lower()
        text = text.translate(self._table)
        return _SPACES.sub(" ", text).strip()


def build_vocab(train_texts: Iterable[str]) -> dict[str, int]:
    """Character vocabulary from the *training* texts only (the reference also read eval/test: a leak).

    Space becomes the word delimiter `|`; `[UNK]` and `[PAD]` are appended once each, so they can never
    collide with a character of the data. Order is sorted for reproducibility across runs and processes.
    """
    chars: set[str] = set()
    for text in train_texts:
        chars.update(text)
    chars.discard(" ")
    symbols = [WORD_DELIMITER, *sorted(c for c in chars if c not in (WORD_DELIMITER,))]
    vocab = {s: i for i, s in enumerate(symbols)}
    vocab[UNK_TOKEN] = len(vocab)
    vocab[PAD_TOKEN] = len(vocab)
    return vocab


def oov_characters(texts: Iterable[str], vocab: dict[str, int]) -> tuple[Counter, int]:
    """Characters of `texts` the vocabulary lacks (they become [UNK]) and the total character count."""
    missing: Counter = Counter()
    total = 0
    for text in texts:
        for ch in text:
            if ch == " ":
                continue
            total += 1
            if ch not in vocab:
                missing[ch] += 1
    return missing, total


def save_vocab(vocab: dict[str, int], directory: str | Path) -> Path:
    path = Path(directory) / "vocab.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(vocab, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def encode_characters(tokenizer: Any, text: str) -> list[int]:
    """CTC label ids of `text`, one per character (space -> the word delimiter), unknown characters -> [UNK].

    Not `tokenizer(text)`: Wav2Vec2CTCTokenizer first splits out special tokens, so a literal "[PAD]" or "[UNK]" in
    a transcript would become the CTC blank or the unknown id (and drop the space after it). Text is text."""
    delimiter = tokenizer.word_delimiter_token
    if getattr(tokenizer, "do_lower_case", False):  # the tokenizer's own convention (its vocabulary is uppercase)
        text = text.upper()
    return tokenizer.convert_tokens_to_ids([delimiter if ch == " " else ch for ch in text])
