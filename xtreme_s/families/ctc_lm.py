"""The CTC family's n-gram LM decoding (--lm_path): checks, log-probabilities, cache, tuning, scores.

Greedy decoding stays what the CTC family reports in every split's main figures; with --lm_path, each finally
scored split also gets an `lm` block (same per-language/macro/pooled layout) decoded by beam search with the LM,
with the decoder settings and the LM files' checksums (xtreme_s.lm explains the decoders).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import UsageError
from ..lm import cache
from ..lm.arpa import read_arpa
from ..lm.decoder import MODES, DecoderSettings, DecoderSpec, beam_decode
from ..lm.files import LanguageLM, check_vocabulary, ctc_alphabet, load_lms, resolve_lm_files
from ..lm.tune import tune

logger = logging.getLogger(__name__)

PAD_VALUE = -100  # what the Trainer pads predictions of different lengths with (across batches)


def check_flags(args: Any, languages: Sequence[str], training_args: Any) -> None:
    """Start-up (before any data is read): the LM flags make sense and every language has a readable LM."""
    if args.lm_path is None:
        if args.lm_tune:
            raise UsageError("--lm_tune needs --lm_path (an ARPA file or a folder of <language>.arpa).")
        return
    if args.lm_decoding not in MODES:
        raise UsageError(f"--lm_decoding must be one of {', '.join(MODES)}, not {args.lm_decoding!r}.")
    if args.beam_width < 1 or args.beam_threshold <= 0:
        raise UsageError(f"--beam_width must be >= 1 and --beam_threshold > 0 (got {args.beam_width}, "
                         f"{args.beam_threshold}).")
    if args.lm_tune and not training_args.do_eval:
        raise UsageError("--lm_tune searches the LM weight and word score on the validation split: add --do_eval "
                         "(the split --eval_split_name names).")
    for path in sorted(set(resolve_lm_files(args.lm_path, languages).values())):
        read_arpa(path)  # header and unigrams: a binary, corrupt or truncated file fails here (checksums later)


def log_probs(predictions: np.ndarray) -> list[np.ndarray]:
    """Each row's T x V log-probabilities without the frames the Trainer padded across batches (all PAD_VALUE)."""
    out = []
    for row in predictions:
        real = ~np.all(row == PAD_VALUE, axis=-1)
        n = int(np.nonzero(real)[0].max()) + 1 if real.any() else 0
        out.append(cache.as_stored(row[:n]))
    return out


def padded(rows: Sequence[np.ndarray]) -> np.ndarray:
    """The inverse of `log_probs`: one N x T x V array padded with PAD_VALUE, as the Trainer returns it."""
    width = max((len(r) for r in rows), default=0)
    vocab = next((r.shape[1] for r in rows if r.ndim == 2 and r.shape[1]), 1)
    out = np.full((len(rows), width, vocab), PAD_VALUE, dtype=np.float32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _library() -> str:
    try:
        return f"ufal.flashlight-text {metadata.version('ufal.flashlight-text')} (KenLM)"
    except metadata.PackageNotFoundError:
        return "flashlight-text (KenLM)"


def write_predictions(path: Path, ids: Sequence[str], languages: Sequence[str], predictions: Sequence[str],
                      references: Sequence[str]) -> None:
    """One JSON object per line, in dataset order, as predictions.jsonl (the greedy transcripts) has them."""
    with open(path, "w", encoding="utf-8") as f:
        for i, lang, pred, ref in zip(ids, languages, predictions, references, strict=True):
            f.write(json.dumps({"id": i, "language": lang, "prediction": pred, "reference": ref},
                               ensure_ascii=False) + "\n")


# Parameters that never touch evaluation outputs: SpecAugment's mask embedding is used in training only, and a
# checkpoint saved without it gets a fresh one at every load.
_NOT_IN_EVALUATION = ("masked_spec_embed",)


def model_digest(model: torch.nn.Module) -> str:
    """A hash of the model's parameters and buffers: the logits cache never serves another model's numbers."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if name.endswith(_NOT_IN_EVALUATION):
            continue
        h.update(name.encode())
        h.update(tensor.detach().to("cpu").contiguous().view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return h.hexdigest()


class LMDecoding:
    """One run's LM decoding: the checked LMs, the decoder settings (tuned or given), the cache."""

    def __init__(self, args: Any, context: str, output_dir: str, model_dir: str):
        self.args = args
        self.context = context  # the task config and the compute precision: part of the cache key
        self.output_dir = Path(output_dir)
        self.model_dir = Path(model_dir)
        self.settings = DecoderSettings(args.lm_decoding, args.beam_width, args.beam_threshold, args.lm_weight,
                                        args.word_score)
        self.tuning: dict[str, Any] | None = None
        self.lms: dict[str, LanguageLM] = {}
        self.checks: dict[str, dict] = {}
        self.spec: DecoderSpec | None = None
        self.vocab: dict[str, int] = {}
        self._digest: str | None = None
        self._loaded: dict[str, tuple[list[np.ndarray], Path]] = {}  # split -> rows and file read from the cache

    def prepare(self, tokenizer: Any, languages: Sequence[str]) -> None:
        """Load and check every language's LM against the tokenizer (before training or decoding)."""
        self.vocab = tokenizer.get_vocab()
        upper = bool(getattr(tokenizer, "do_lower_case", False))
        self.lms = load_lms(self.args.lm_path, languages)
        alphabet = ctc_alphabet(self.vocab)
        unit = "char" if self.args.lm_decoding == "lexicon_free" else "word"
        self.checks = {lang: check_vocabulary(lm, alphabet, unit, upper)
                       for lang, lm in self.lms.items()}
        tokens = tuple(t for t, _ in sorted(self.vocab.items(), key=lambda kv: kv[1]))
        lexicons = {}
        for lm in self.lms.values():
            lexicons[str(lm.path)] = tuple(w for w in lm.info.words
                                          if all(c in alphabet for c in (w.upper() if upper else w)))
        self.spec = DecoderSpec(tokens, tokenizer.pad_token_id, {k: str(v.path) for k, v in self.lms.items()},
                                lexicons, upper)

    # -- cache -------------------------------------------------------------------------------------------------
    def _key(self, split: str, ids: Sequence[str], model: torch.nn.Module) -> str:
        if self._digest is None:
            self._digest = model_digest(model)
        return cache.cache_key(self._digest, self.vocab, self.context, split, ids)

    def cached(self, split: str, ids: Sequence[str], model: torch.nn.Module) -> np.ndarray | None:
        """The split's cached predictions (as the Trainer would return them), or None."""
        found = cache.load([self.output_dir, self.model_dir], split, self._key(split, ids, model), ids)
        if found is None:
            return None
        rows, path = found
        logger.info("%s: log-probabilities read from the cache %s (the encoder does not run).", split, path)
        self._loaded[split] = found  # evaluate() decodes these rows: no unpadding, no rewriting the same file
        return padded(rows)

    # -- decoding ----------------------------------------------------------------------------------------------
    def evaluate(self, split: str, predictions: np.ndarray, ids: Sequence[str], languages: Sequence[str],
                 durations: Sequence[float], model: torch.nn.Module, tune_here: bool,
                 score: Callable[[list[str]], dict], metric: str) -> tuple[dict, list[str]]:
        """Decode `split` with the LM (tuning first where asked); the split's `lm` block for results.json."""
        key = self._key(split, ids, model)
        rows, path = self._loaded.pop(split, (None, None))
        if rows is None:
            rows = log_probs(predictions)
        if path != cache.cache_file(self.output_dir, split, key):  # fresh, or read from --model_name_or_path
            path = cache.save(self.output_dir, split, key, ids, rows)
        items = list(zip(languages, rows, strict=True))
        workers = self.args.lm_num_workers
        if tune_here:
            start = time.perf_counter()
            self.settings, tried = tune(self.spec, items, self.settings,
                                        lambda texts: score(texts)["macro"][metric], workers)
            self.tuning = {"split": split, "metric": f"macro {metric}", "points": len(tried),
                           "seconds": round(time.perf_counter() - start, 1), "chosen": self.settings.as_dict(),
                           "grid": tried}
            (self.output_dir / "lm_tuning.json").write_text(json.dumps(self.tuning, indent=1) + "\n",
                                                             encoding="utf-8")
            logger.info("LM tuning on %s: lm_weight %s, word_score %s (%d points, %.1f s).", split,
                        self.settings.lm_weight, self.settings.word_score, len(tried), self.tuning["seconds"])
        start = time.perf_counter()
        texts = beam_decode(self.spec, items, [self.settings], workers)[0]
        seconds = time.perf_counter() - start
        report = score(texts)
        audio = float(sum(d for d in durations if d and d > 0))
        block = {**report, "decoder": {**self.settings.as_dict(), "library": _library()},
                 "tuned_on": self.tuning["split"] if self.tuning else None,
                 "lm_files": {lang: {"path": str(lm.path), "sha256": lm.sha256, "order": lm.info.order,
                                     **self.checks[lang]} for lang, lm in self.lms.items()},
                 "logits_cache": str(path), "decode_seconds": round(seconds, 3),
                 "rtfx": round(audio / seconds, 1) if seconds > 0 else None}
        return block, texts
