"""CTC beam search with a KenLM n-gram model: flashlight's lexicon and lexicon-free decoders.

The library is `ufal.flashlight-text` (import name `flashlight.lib.text`), a rebuild of flashlight-text 0.0.7 with
KenLM inside and binary wheels for CPython 3.8-3.14 (Linux x86_64/aarch64, macOS, Windows): no compiler and no
system KenLM. `flashlight-text` 0.0.7 itself has no wheels past CPython 3.12 (we support >= 3.10); torchaudio's
`ctc_decoder` wraps the same decoder but would tie us to torchaudio's torch pin; `ctc-beam-decoder` 0.2.0 has no
lexicon-free (character LM) decoding and Linux x86_64 wheels only; pyctcdecode pins numpy<2. It is the decoder
fairseq and MMS use (`decoding.type=kenlm`), so the LM weight and word score mean what they mean there.

- lexicon (word LMs): words are spelled from the LM's unigrams; the LM scores each finished word; `word_score` is
  added per word; words outside the lexicon are never produced.
- lexicon-free (character LMs, `xtreme-s lm build --unit char`): the LM scores each emitted character, the word
  delimiter included; any spelling can come out.

Decoding runs in worker processes (spawned: no torch in them), each loading the LMs it needs once; the flashlight
decoder itself is single-threaded.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from itertools import groupby
from typing import Any

import numpy as np

from ..text import WORD_DELIMITER
from .files import spell

MODES = ("lexicon", "lexicon_free")


@dataclass(frozen=True)
class DecoderSettings:
    """One beam search configuration (defaults: torchaudio's ctc_decoder, beam as MMS decodes)."""

    mode: str = "lexicon"
    beam_width: int = 500
    beam_threshold: float = 50.0
    lm_weight: float = 2.0
    word_score: float = 0.0  # lexicon mode only

    def with_weights(self, lm_weight: float, word_score: float) -> DecoderSettings:
        return DecoderSettings(self.mode, self.beam_width, self.beam_threshold, lm_weight, word_score)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.mode != "lexicon":
            out.pop("word_score")
        return out


@dataclass(frozen=True)
class DecoderSpec:
    """What a worker needs to build decoders (picklable): the CTC tokens in id order and each language's LM."""

    tokens: tuple[str, ...]
    blank_id: int
    lm_files: dict[str, str]  # language -> ARPA path
    lexicons: dict[str, tuple[str, ...]]  # ARPA path -> its spellable words (lexicon mode)
    upper: bool = False  # a do_lower_case tokenizer: upper-case vocabulary, lower-case output


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """KenLM writes a progress bar and advice ("build a binary file", "missing <unk>") to file descriptor 2 for
    every load, in every worker; its errors are exceptions, so nothing is lost by silencing it while loading."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (e.g. captured): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _LanguageModel:
    """A loaded KenLM with its dictionaries and (lexicon mode) spelling trie, reused across settings."""

    def __init__(self, spec: DecoderSpec, path: str, mode: str):
        from flashlight.lib.text import decoder as fl
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary

        self.fl = fl
        self.tokens = Dictionary(list(spec.tokens))
        self.delimiter = spec.tokens.index(WORD_DELIMITER)
        self.trie = None
        if mode == "lexicon":
            words = spec.lexicons[path]
            self.words = Dictionary([*words, "<unk>"])
            with _quiet_stderr():
                self.lm = KenLM(path, self.words)
            self.trie = fl.Trie(len(spec.tokens), self.delimiter)
            start = self.lm.start(False)
            for word in words:
                index = self.words.get_index(word)
                _, score = self.lm.score(start, index)
                spelling = [self.tokens.get_index(c) for c in spell(word, spec.upper)] + [self.delimiter]
                self.trie.insert(spelling, index, score)
            self.trie.smear(fl.SmearingMode.MAX)
        else:
            with _quiet_stderr():
                self.lm = KenLM(path, self.tokens)  # the LM's tokens are the CTC characters and the delimiter

    def decoder(self, spec: DecoderSpec, settings: DecoderSettings) -> Any:
        fl = self.fl
        ctc = fl.CriterionType.CTC
        token_beam = len(spec.tokens)
        if self.trie is not None:
            options = fl.LexiconDecoderOptions(
                beam_size=settings.beam_width, beam_size_token=token_beam, beam_threshold=settings.beam_threshold,
                lm_weight=settings.lm_weight, word_score=settings.word_score, unk_score=-math.inf, sil_score=0.0,
                log_add=False, criterion_type=ctc)
            return fl.LexiconDecoder(options, self.trie, self.lm, self.delimiter, spec.blank_id,
                                     self.words.get_index("<unk>"), [], False)
        options = fl.LexiconFreeDecoderOptions(
            beam_size=settings.beam_width, beam_size_token=token_beam, beam_threshold=settings.beam_threshold,
            lm_weight=settings.lm_weight, sil_score=0.0, log_add=False, criterion_type=ctc)
        return fl.LexiconFreeDecoder(options, self.lm, self.delimiter, spec.blank_id, [])

    def text(self, spec: DecoderSpec, result: Any) -> str:
        if self.trie is not None:
            return " ".join(self.words.get_entry(i) for i in result.words if i >= 0)
        ids = [i for i, _ in groupby(result.tokens) if i >= 0 and i != spec.blank_id]
        text = "".join(" " if i == self.delimiter else spec.tokens[i] for i in ids)
        return " ".join((text.lower() if spec.upper else text).split())


# Per worker process: the spec, the items to decode, the loaded LMs (by path), the decoders (by path and settings).
_WORKER: dict[str, Any] = {}


def _init_worker(spec: DecoderSpec, items: Sequence[tuple[str, np.ndarray]]) -> None:
    _WORKER.clear()
    _WORKER.update(spec=spec, items=items, lms={}, decoders={})


def _decode_one(index: int, settings: DecoderSettings) -> str:
    spec: DecoderSpec = _WORKER["spec"]
    language, log_probs = _WORKER["items"][index]
    path = spec.lm_files[language]
    key = (path, settings.mode)
    if key not in _WORKER["lms"]:
        _WORKER["lms"][key] = _LanguageModel(spec, path, settings.mode)
    lm = _WORKER["lms"][key]
    if (key, settings) not in _WORKER["decoders"]:
        _WORKER["decoders"][(key, settings)] = lm.decoder(spec, settings)
    emissions = np.ascontiguousarray(log_probs, dtype=np.float32)
    if emissions.shape[0] == 0:
        return ""
    results = _WORKER["decoders"][(key, settings)].decode(emissions.ctypes.data, *emissions.shape)
    return lm.text(spec, results[0]) if results else ""


def _decode_chunk(task: tuple[int, Sequence[int], DecoderSettings]) -> tuple[int, list[str]]:
    job, indices, settings = task
    return job, [_decode_one(i, settings) for i in indices]


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def beam_decode(spec: DecoderSpec, items: Sequence[tuple[str, np.ndarray]], settings: Sequence[DecoderSettings],
                workers: int | None = None) -> list[list[str]]:
    """Decode every item (language, T x V log-probabilities) with each of `settings`: one list of texts per
    settings, in item order. `workers` processes (default: every core; 0 or 1: in this process)."""
    workers = default_workers() if workers is None else workers
    workers = max(0, min(workers, len(items)))
    # Chunks of items by index, several per worker so that long and short utterances even out.
    size = max(1, math.ceil(len(items) / max(1, 4 * workers)))
    tasks = [(job, range(start, min(start + size, len(items))), s)
             for job, s in enumerate(settings) for start in range(0, len(items), size)]
    out: list[list[str]] = [[] for _ in settings]
    if workers <= 1:
        _init_worker(spec, items)
        try:
            for task in tasks:
                job, texts = _decode_chunk(task)
                out[job].extend(texts)
        finally:
            _WORKER.clear()
        return out
    ctx = multiprocessing.get_context("spawn")  # the parent holds torch and its threads: no fork
    with ctx.Pool(workers, initializer=_init_worker, initargs=(spec, items)) as pool:
        for job, texts in pool.imap(_decode_chunk, tasks):  # in order: each settings' chunks come back in turn
            out[job].extend(texts)
    return out
