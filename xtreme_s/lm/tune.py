"""The LM weight and word score searched on the validation split (`--lm_tune`).

A grid over MMS's ranges (fairseq examples/mms: LM weight 0-5, word score -3..3), then one finer grid around the
best point (half the step). Every point decodes the same cached log-probabilities (xtreme_s.lm.cache), all points
in one pool of workers, so the encoder runs once. Lexicon-free decoding has no word score: the weight alone is
searched. Ties go to the smaller weight (closer to greedy), then the word score nearer 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .decoder import DecoderSettings, DecoderSpec, beam_decode

LM_WEIGHTS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
WORD_SCORES = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)


def _grid(settings: DecoderSettings, weights: Sequence[float], scores: Sequence[float]) -> list[DecoderSettings]:
    scores = scores if settings.mode == "lexicon" else (0.0,)
    return [settings.with_weights(w, s) for w in weights for s in scores]


def tune(spec: DecoderSpec, items: Sequence[tuple[str, np.ndarray]], settings: DecoderSettings,
         error: Callable[[list[str]], float], workers: int | None = None) -> tuple[DecoderSettings, list[dict]]:
    """The settings with the lowest `error` (e.g. validation WER) and every point tried, in order."""
    tried: dict[tuple[float, float], float] = {}

    def run(points: list[DecoderSettings]) -> None:
        points = [p for p in points if (p.lm_weight, p.word_score) not in tried]
        for point, texts in zip(points, beam_decode(spec, items, points, workers), strict=True):
            tried[(point.lm_weight, point.word_score)] = error(texts)

    def best() -> tuple[float, float]:
        return min(tried, key=lambda k: (tried[k], k[0], abs(k[1])))

    run(_grid(settings, LM_WEIGHTS, WORD_SCORES))
    w, s = best()
    run(_grid(settings, [x for x in (w - 0.5, w, w + 0.5) if x >= 0], (s - 0.5, s, s + 0.5)))
    w, s = best()
    return settings.with_weights(w, s), [{"lm_weight": k[0], "word_score": k[1], "error": v}
                                         for k, v in tried.items()]
