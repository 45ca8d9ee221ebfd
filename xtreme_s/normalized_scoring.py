"""The Whisper paper's normalised error rates, beside (never instead of) the benchmark's own metrics.

Whisper's paper (arXiv 2212.04356, appendix C) scores languages other than English after its "basic" normaliser
(bracketed text dropped, Unicode symbols and punctuation to spaces, lowercase, whitespace collapsed) and counts
characters, by splitting letters, for Chinese, Japanese, Thai, Lao and Burmese. That normaliser also turns every
combining mark (Unicode category M) into a space, which cuts words apart in Indic and Thai scripts and deflates
their WER (arXiv 2409.02449; openai/whisper PR #2849 adds `preserve_marks`): here the marks are kept. We reuse
transformers' `BasicTextNormalizer` (models/whisper/english_normalizer.py) and swap only its character filter.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from transformers.models.whisper.english_normalizer import BasicTextNormalizer

from . import langcodes
from .metrics import WER_TRANSFORM, error_counts, language_groups

NORMALIZER_NAME = "whisper_basic_keep_marks"
DESCRIPTION = ("Whisper's basic normaliser (arXiv 2212.04356 appendix C: bracketed text dropped, symbols and "
               "punctuation to spaces, lowercase, whitespace collapsed) applied to references and predictions, "
               "combining marks KEPT (arXiv 2409.02449); error rate over letters (CER, letters split) for "
               f"{', '.join(sorted(langcodes.CER_LANGUAGES))}, WER elsewhere")


def _symbols_to_spaces_keep_marks(text: str) -> str:
    """transformers' `remove_symbols` without its M category: NFKC, then symbols and punctuation to spaces."""
    return "".join(" " if unicodedata.category(c)[0] in "SP" else c for c in unicodedata.normalize("NFKC", text))


def normalizer(split_letters: bool = False) -> BasicTextNormalizer:
    norm = BasicTextNormalizer(remove_diacritics=False, split_letters=split_letters)
    norm.clean = _symbols_to_spaces_keep_marks
    return norm


_WORDS, _LETTERS = normalizer(False), normalizer(True)


def normalize(text: str, language: str) -> str:
    return (_LETTERS if langcodes.uses_cer(language) else _WORDS)(text or "").strip()


def normalized_scores(references: Sequence[str], predictions: Sequence[str], languages: Sequence[str],
                      exclude: Sequence[str] = ()) -> dict:
    """Per language the normalised error rate (`unit` says WER or CER), the macro mean over the languages, and
    `macro_covered`, the mean without the languages in `exclude` (those a model does not cover)."""
    table = {}
    for lang, idx in language_groups(languages).items():
        refs = [normalize(references[i], lang) for i in idx]
        hyps = [normalize(predictions[i], lang) for i in idx]
        # Word-level counts only (letters are already split apart for CER languages); no character alignment.
        errors, words = error_counts(refs, hyps, WER_TRANSFORM)
        rate = errors / words if words else float("nan")
        table[lang] = {"error_rate": rate, "unit": "cer" if langcodes.uses_cer(lang) else "wer",
                       "num_examples": len(idx)}

    def mean(langs: list[str]) -> float | None:
        return sum(table[lang]["error_rate"] for lang in langs) / len(langs) if langs else None

    return {"normalizer": NORMALIZER_NAME, "description": DESCRIPTION, "per_language": table,
            "macro": {"error_rate": mean(list(table))},
            "macro_covered": {"error_rate": mean([lang for lang in table if lang not in set(exclude)])}}
