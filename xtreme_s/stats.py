"""Confidence intervals and paired significance for the benchmark's metrics, from per-utterance statistics.

Every corpus metric the runner reports is a function of sums over utterances: WER/CER of (errors, reference
length); BLEU of sacreBLEU's (hypothesis length, reference length, n-gram matches 1-4, n-gram totals 1-4); macro-F1
of per-class (TP, FP, FN); accuracy and P@1 of (hits, count). So a bootstrap resample is a vector of counts (how
often each utterance, or block of utterances, was drawn), and its statistics are one matrix product:
counts (B x n) @ stats (n x k). `corpus_metric` turns summed statistics into the metric exactly as
`xtreme_s.metrics` computes it (tests/test_stats.py checks equality on random data).

The bootstrap is hand-written rather than `scipy.stats.bootstrap`: scipy materialises every resample of the data
and calls the statistic on it (B x n x k values per system), and it draws separately per call, while a paired
comparison of several systems needs the same draws for all of them. Intervals are percentile intervals (as
sacreBLEU's --confidence, Kaldi's compute-wer-bootci and kaldialign); draws are `numpy.random.Generator.choice`
rows as sacreBLEU draws them, so with the same seed the resamples are sacreBLEU's own. Paired p-values follow
sacreBLEU's --paired-bs (Koehn 2004 as in Moses' bootstrap-hypothesis-difference-significance.pl):
p = (1 + #{b : |d_b| - mean|d| >= |d|}) / (B + 1), with d_b the resampled and d the observed difference; sacreBLEU
counts `>`, which differs only at exact ties and would give a system compared with itself p = 1/(B+1) instead of 1.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import jiwer
import numpy as np
from scipy import sparse

from .metrics import CER_TRANSFORM, WER_TRANSFORM, bleu_metric, language_groups

# Metrics with sufficient statistics; the number of statistics per utterance (F1: 3 per class).
RATIO_METRICS = ("wer", "cer", "accuracy", "precision_at_1")
METRICS = (*RATIO_METRICS, "bleu", "f1")
BLEU_ORDER = 4


@dataclass(frozen=True)
class Resampling:
    """How intervals and p-values were made; recorded beside every interval."""

    n_resamples: int = 1000
    seed: int = 12345
    unit: str = "utterance"  # or a block id (speaker_id, sentence_id): whole blocks are drawn; "auto" per task
    confidence: float = 0.95
    interval: str = "percentile"
    p_value: str = "paired bootstrap, sacreBLEU --paired-bs definition (ties counted)"
    strata: str = "each language resampled on its own; macro averages and the score combine the same draws"

    def to_json(self) -> dict:
        return asdict(self)

    def rng(self, *stratum: str) -> np.random.Generator:
        """The generator of one stratum (task, language): the same draws whatever other runs or cells are compared."""
        if not stratum:
            return np.random.default_rng(self.seed)
        return np.random.default_rng([self.seed, zlib.crc32("/".join(stratum).encode())])


# -- per-utterance statistics ---------------------------------------------------------------------------------------
def _edit_stats(references: Sequence[str], predictions: Sequence[str], transform: jiwer.Compose) -> np.ndarray:
    """(errors, reference length) per utterance, from jiwer's alignment of the whole list (as metrics.wer_cer)."""
    out = np.zeros((len(references), 2))
    if not references:
        return out
    aligned = jiwer.process_words(list(references), list(predictions), reference_transform=transform,
                                  hypothesis_transform=transform)
    for i, chunks in enumerate(aligned.alignments):
        errors = length = 0
        for c in chunks:
            ref = c.ref_end_idx - c.ref_start_idx
            if c.type == "insert":
                errors += c.hyp_end_idx - c.hyp_start_idx
            elif c.type == "equal":
                length += ref
            else:  # substitute, delete
                errors += ref
                length += ref
        out[i] = errors, length
    return out


def class_list(*label_lists: Sequence) -> list:
    """The classes of F1 statistics: every label seen in the references or any system's predictions, sorted."""
    return sorted({str(x) for labels in label_lists for x in labels})


def utterance_stats(metric: str, references: Sequence, predictions: Sequence,
                    classes: Sequence[str] | None = None) -> np.ndarray:
    """Sufficient statistics of `metric`, one row per utterance (float64: integer counts, exact up to 2**53)."""
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} references but {len(predictions)} predictions")
    if metric == "wer":
        return _edit_stats(references, predictions, WER_TRANSFORM)
    if metric == "cer":
        return _edit_stats(references, predictions, CER_TRANSFORM)
    if metric in ("accuracy", "precision_at_1"):
        hits = [str(r) == str(p) for r, p in zip(references, predictions, strict=True)]
        return np.column_stack([np.asarray(hits, dtype=float), np.ones(len(hits))])
    if metric == "bleu":
        # sacreBLEU's own segment statistics (what its significance module resamples), in its order:
        # hyp_len, ref_len, matches 1..4, totals 1..4.
        stats = bleu_metric()._extract_corpus_statistics(list(predictions), [list(references)])
        return np.asarray(stats, dtype=float).reshape(len(references), 2 + 2 * BLEU_ORDER)
    if metric == "f1":
        classes = list(classes) if classes is not None else class_list(references, predictions)
        index = {c: i for i, c in enumerate(classes)}
        out = np.zeros((len(references), 3 * len(classes)))  # [TP per class | FP per class | FN per class]
        for row, (r, p) in enumerate(zip(references, predictions, strict=True)):
            r, p = index[str(r)], index[str(p)]
            if r == p:
                out[row, r] += 1
            else:
                out[row, len(classes) + p] += 1
                out[row, 2 * len(classes) + r] += 1
        return out
    raise ValueError(f"no sufficient statistics for metric {metric!r} (known: {', '.join(METRICS)})")


def corpus_metric(metric: str, sums: np.ndarray) -> np.ndarray:
    """The corpus metric from summed statistics (..., k) -> (...), as xtreme_s.metrics computes it."""
    sums = np.asarray(sums, dtype=float)
    if metric in RATIO_METRICS:
        num, den = sums[..., 0], sums[..., 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = num / den
        if metric in ("wer", "cer"):  # metrics._rate: no reference word at all
            out = np.where(den == 0, np.where(num == 0, np.nan, np.inf), out)
        return out
    if metric == "bleu":
        flat = sums.reshape(-1, sums.shape[-1])
        m = bleu_metric()
        scores = [m.compute_bleu(correct=list(s[2:2 + BLEU_ORDER]), total=list(s[2 + BLEU_ORDER:]),
                                 sys_len=int(s[0]), ref_len=int(s[1]), smooth_method=m.smooth_method,
                                 smooth_value=m.smooth_value, effective_order=m.effective_order,
                                 max_ngram_order=m.max_ngram_order).score for s in flat]
        return np.asarray(scores).reshape(sums.shape[:-1])
    if metric == "f1":
        tp, fp, fn = np.split(sums, 3, axis=-1)
        present = (tp + fp + fn) > 0  # scikit-learn scores the classes seen in references or predictions
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(present, 2 * tp / ((tp + fn) + (tp + fp)), 0.0)  # its f-score with beta = 1
            return np.where(present.any(-1), f1.sum(-1) / present.sum(-1), np.nan)
    raise ValueError(f"no corpus formula for metric {metric!r} (known: {', '.join(METRICS)})")


# -- the paired bootstrap -------------------------------------------------------------------------------------------
def block_index(blocks: Sequence | None, n: int) -> tuple[np.ndarray, int]:
    """Row -> resampling unit (0..n_units-1): each row its own unit, or one unit per distinct block id."""
    if blocks is None:
        return np.arange(n), n
    _, inverse = np.unique(np.asarray([str(b) for b in blocks]), return_inverse=True)
    return inverse.reshape(-1), int(inverse.max()) + 1 if n else 0


def draw_counts(n_units: int, n_resamples: int, rng: np.random.Generator,
                max_elements: int = 1 << 22) -> Iterator[np.ndarray]:
    """Bootstrap resamples as counts (b x n_units, float64), in chunks of at most `max_elements` draws, so memory
    stays bounded; the rows are those of `rng.choice(n_units, (n_resamples, n_units))`, sacreBLEU's draw."""
    per_chunk = max(1, max_elements // max(n_units, 1))
    done = 0
    while done < n_resamples:
        b = min(per_chunk, n_resamples - done)
        idx = rng.choice(n_units, size=(b, n_units), replace=True)
        idx += (np.arange(b) * n_units)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n_units).reshape(b, n_units).astype(float)
        done += b


def bootstrap_sums(stats: Sequence[np.ndarray], n_resamples: int, rng: np.random.Generator,
                   blocks: Sequence | None = None, max_elements: int = 1 << 22) -> list[np.ndarray]:
    """Summed statistics of every resample (B x k_s) for each system's (n x k_s) statistics, all on the same
    draws (paired). `blocks` (one id per row) makes whole blocks the resampling unit."""
    n = stats[0].shape[0]
    if any(s.shape[0] != n for s in stats):
        raise ValueError("paired resampling needs the same utterances (rows) for every system")
    unit, n_units = block_index(blocks, n)
    joined = np.concatenate([np.asarray(s, dtype=float) for s in stats], axis=1)
    if blocks is not None:  # one row of summed statistics per block
        onehot = sparse.csr_matrix((np.ones(n), (unit, np.arange(n))), shape=(n_units, n))
        joined = np.asarray(onehot @ joined)
    out = np.empty((n_resamples, joined.shape[1]))
    row = 0
    for counts in draw_counts(n_units, n_resamples, rng, max_elements):
        out[row:row + len(counts)] = counts @ joined
        row += len(counts)
    edges = np.cumsum([0, *(s.shape[1] for s in stats)])
    return [out[:, a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]


def resampled_metrics(metric_names: Sequence[str], references: Sequence, predictions: Sequence[Sequence],
                      n_resamples: int, rng: np.random.Generator, blocks: Sequence | None = None,
                      classes: Sequence[str] | None = None) -> list[dict[str, np.ndarray]]:
    """Each system's (one list of `predictions` per system) metrics on every resample of the same utterances,
    metric -> (B,): one paired bootstrap of every system and metric. `classes`: the F1 classes (default: those of
    the references and every system's predictions)."""
    if "f1" in metric_names and classes is None:
        classes = class_list(references, *predictions)
    stat_list = [utterance_stats(m, references, preds, classes if m == "f1" else None)
                 for preds in predictions for m in metric_names]
    sums = iter(bootstrap_sums(stat_list, n_resamples, rng, blocks))
    return [{m: corpus_metric(m, next(sums)) for m in metric_names} for _ in predictions]


def percentile_interval(samples: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval of one statistic's resampled values (nan when any resample is undefined)."""
    samples = np.asarray(samples, dtype=float)
    if samples.size == 0 or not np.all(np.isfinite(samples)):
        return float("nan"), float("nan")
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(samples, [alpha, 1 - alpha])
    return float(lo), float(hi)


def paired_p_value(system: np.ndarray, baseline: np.ndarray, observed: float) -> float:
    """sacreBLEU's paired-bootstrap p-value (module doc) of the observed difference `observed` = system -
    baseline, from both systems' values on the same resamples."""
    diffs = np.abs(np.asarray(system, dtype=float) - np.asarray(baseline, dtype=float))
    if not np.all(np.isfinite(diffs)) or not np.isfinite(observed):
        return float("nan")
    centred = diffs - diffs.mean()
    # A tolerance of a few ulps: an identical system's differences are exactly 0, a tie, not an exceedance.
    count = int(np.sum(centred >= abs(observed) - 1e-12 * max(1.0, abs(observed))))
    return (count + 1) / (len(diffs) + 1)


@dataclass
class Estimate:
    """A point estimate with its bootstrap interval (and, against a baseline, the paired difference)."""

    value: float
    low: float
    high: float
    diff: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None
    p_value: float | None = None

    def to_json(self) -> dict:
        return {k: (None if v is None or not np.isfinite(v) else float(v)) for k, v in asdict(self).items()}


def estimate(value: float, samples: np.ndarray, confidence: float = 0.95, baseline_value: float | None = None,
             baseline_samples: np.ndarray | None = None) -> Estimate:
    """Point estimate (the metric on the data as scored), its percentile interval, and the paired difference
    against a baseline with its interval and p-value when one is given."""
    lo, hi = percentile_interval(samples, confidence)
    out = Estimate(float(value), lo, hi)
    if baseline_samples is not None and baseline_value is not None:
        out.diff = float(value) - float(baseline_value)
        out.diff_low, out.diff_high = percentile_interval(np.asarray(samples) - np.asarray(baseline_samples),
                                                          confidence)
        out.p_value = paired_p_value(samples, baseline_samples, out.diff)
    return out


def split_intervals(metric_names: Sequence[str], references: Sequence, predictions: Sequence,
                    languages: Sequence[str], resampling: Resampling, stratum: str = "",
                    blocks: dict[str, Sequence] | None = None) -> dict:
    """The intervals of a run's reported metrics on one split (results.json `intervals`): per language and of the
    macro mean over languages, `[low, high]` in the metric's units. Each language is resampled on its own (by whole
    speakers or sentences when `blocks` has their ids, the first of speaker_id, sentence_id), one draw for all
    metrics, and the macro mean is taken per resample. `stratum` seeds the draws (xtreme-s compare uses the task
    name, so its intervals are the same)."""
    names = [m for m in metric_names if m in METRICS]
    unit = next((k for k in ("speaker_id", "sentence_id") if blocks and k in blocks), "utterance")
    classes = class_list(references, predictions) if "f1" in names else None
    per_lang: dict[str, dict] = {}
    samples: dict[str, list] = {m: [] for m in names}
    for lang, rows in language_groups(languages).items():
        refs, preds = [references[i] for i in rows], [predictions[i] for i in rows]
        unit_ids = [blocks[unit][i] for i in rows] if unit != "utterance" else None
        resampled = resampled_metrics(names, refs, [preds], resampling.n_resamples, resampling.rng(stratum, lang),
                                      unit_ids, classes)[0]
        per_lang[lang] = {}
        for m, values in resampled.items():
            samples[m].append(values)
            per_lang[lang][m] = list(percentile_interval(values, resampling.confidence))
    macro = {m: list(percentile_interval(np.mean(v, axis=0), resampling.confidence)) for m, v in samples.items() if v}
    return {"per_language": per_lang, "macro": macro,
            "resampling": {**resampling.to_json(), "unit": unit}}
