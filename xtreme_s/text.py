"""Transcript normalisation and the CTC character vocabulary."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import atomic

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
    return atomic.write_text(path, json.dumps(vocab, ensure_ascii=False, indent=1))


def encode_characters(tokenizer: Any, text: str) -> list[int]:
    """CTC label ids of `text`, one per character (space -> the word delimiter), unknown characters -> [UNK].

    Not `tokenizer(text)`: Wav2Vec2CTCTokenizer first splits out special tokens, so a literal "[PAD]" or "[UNK]" in
    a transcript would become the CTC blank or the unknown id (and drop the space after it). Text is text."""
    delimiter = tokenizer.word_delimiter_token
    if getattr(tokenizer, "do_lower_case", False):  # the tokenizer's own convention (its vocabulary is uppercase)
        text = text.upper()
    return tokenizer.convert_tokens_to_ids([delimiter if ch == " " else ch for ch in text])


def encode_text_target(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Decoder label ids of `texts` (`tokenizer(text_target=...)`), where a literal special-token string in the text
    ("</s>", "<pad>", a language code) is text: spelt with the vocabulary's pieces for its characters (the unknown
    id for a character the vocabulary lacks), never the special id itself, which would end the sentence early or
    be ignored as padding. Texts without such a literal are tokenized exactly as the tokenizer does.

    Hand-written: `split_special_tokens=True` stops the added-token matching only; SentencePiece vocabularies hold
    "</s>" as a piece too, and the model still picks it."""
    specials = sorted({t for t in tokenizer.all_special_tokens if t}, key=len, reverse=True)
    literal = re.compile("|".join(map(re.escape, specials))) if specials else None
    out = tokenizer(text_target=list(texts)).input_ids
    plain = [i for i, text in enumerate(texts) if literal is None or not literal.search(text)]
    if len(plain) == len(texts):
        return out
    special_ids = set(tokenizer.all_special_ids)
    # Where the tokenizer's own special tokens (language code, EOS) go around the text: from a probe text.
    template = tokenizer(text_target="").input_ids
    probe_full = tokenizer(text_target="a").input_ids
    probe = tokenizer(text_target="a", add_special_tokens=False).input_ids
    cut = next((p for p in range(len(template) + 1) if template[:p] + probe + template[p:] == probe_full),
               len(template) - 1 if template and template[-1] == tokenizer.eos_token_id else len(template))
    for i, text in enumerate(texts):
        if i in plain:
            continue
        content: list[int] = []
        for token_id in tokenizer(text_target=text, add_special_tokens=False, split_special_tokens=True).input_ids:
            if token_id in special_ids and token_id != tokenizer.unk_token_id:
                piece = tokenizer.convert_ids_to_tokens(token_id)
                content += tokenizer.convert_tokens_to_ids(list(piece))  # unknown characters -> the unknown id
            else:
                content.append(token_id)
        out[i] = template[:cut] + content + template[cut:]
    return out
