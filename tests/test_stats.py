"""Sufficient statistics reproduce the runner's metrics exactly, and the bootstrap agrees with sacreBLEU's own."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
import sacrebleu
from sacrebleu.significance import PairedTest

from xtreme_s import metrics, stats

WORDS = "the a cat dog sat on mat red blue green , . ! quick brown fox jumps".split()


def _texts(n: int, seed: int, drop: float = 0.2) -> tuple[list[str], list[str]]:
    rnd = random.Random(seed)
    refs = [" ".join(rnd.choices(WORDS, k=rnd.randint(0, 14))) for _ in range(n)]
    refs[0] = ""  # an empty reference and an empty hypothesis are scored too
    hyps = [" ".join(w for w in r.split() if rnd.random() > drop) + (" fox" if rnd.random() < 0.3 else "")
            for r in refs]
    hyps[1] = ""
    return refs, hyps


def test_corpus_metric_from_summed_statistics_equals_the_runners_metric():
    refs, hyps = _texts(200, 0)
    for m in ("wer", "cer"):
        assert stats.corpus_metric(m, stats.utterance_stats(m, refs, hyps).sum(0)) == metrics.wer_cer(refs, hyps)[m]
    assert stats.corpus_metric("bleu", stats.utterance_stats("bleu", refs, hyps).sum(0)) == metrics.bleu(refs,
                                                                                                         hyps)["bleu"]
    rnd = random.Random(1)
    for trial in range(20):  # classes missing from references or predictions, as scikit-learn counts them
        labels = [rnd.choice("abcde") for _ in range(rnd.randint(1, 40))]
        preds = [x if rnd.random() < 0.4 else rnd.choice("abcdefg") for x in labels]
        got = stats.corpus_metric("f1", stats.utterance_stats("f1", labels, preds).sum(0))
        assert got == pytest.approx(metrics.f1_accuracy(labels, preds)["f1"], rel=1e-12, abs=1e-15), trial
        acc = stats.corpus_metric("accuracy", stats.utterance_stats("accuracy", labels, preds).sum(0))
        assert acc == metrics.accuracy(labels, preds)["accuracy"]
    ids = [str(i) for i in range(30)]
    got = [i if i != "3" else "4" for i in ids]
    assert stats.corpus_metric("precision_at_1", stats.utterance_stats("precision_at_1", ids, got).sum(0)) == \
        metrics.precision_at_1(ids, got)["precision_at_1"]


def test_bleu_intervals_and_paired_p_values_agree_with_sacrebleu(monkeypatch):
    monkeypatch.setenv("SACREBLEU_SEED", "12345")
    refs, base = _texts(300, 2, drop=0.3)
    _, better = _texts(300, 2, drop=0.1)
    _, close = _texts(300, 5, drop=0.3)
    bleu = sacrebleu.BLEU(**metrics.BLEU_ARGS)
    ours = {name: stats.utterance_stats("bleu", refs, h) for name, h in
            (("base", base), ("better", better), ("close", close))}
    # --confidence: the same draws (sacreBLEU's seed 12345) give its resampled scores; sacreBLEU keeps float32
    (sums,) = stats.bootstrap_sums([ours["base"]], 1000, np.random.default_rng(12345))
    samples = stats.corpus_metric("bleu", sums)
    ref_score = bleu.corpus_score(base, [refs], n_bootstrap=1000)
    assert samples.mean() == pytest.approx(ref_score._mean, abs=1e-4)
    lo, hi = stats.percentile_interval(samples)
    assert (hi - lo) / 2 == pytest.approx(ref_score._ci, rel=0.02)  # sacreBLEU: order statistics n//40, n-n//40-1
    # ... and other draws agree within resampling noise
    (other,) = stats.bootstrap_sums([ours["base"]], 1000, np.random.default_rng(7))
    lo7, hi7 = stats.percentile_interval(stats.corpus_metric("bleu", other))
    assert abs(lo7 - lo) < 0.3 * (hi - lo) and abs(hi7 - hi) < 0.3 * (hi - lo)
    # --paired-bs: sacreBLEU's p-values, for a clearly better and a close system
    _, table = PairedTest([("base", base), ("better", better), ("close", close)], {"BLEU": bleu}, [refs],
                          test_type="bs", n_samples=1000)()
    paired = stats.bootstrap_sums(list(ours.values()), 1000, np.random.default_rng(12345))
    scores = {n: stats.corpus_metric("bleu", s) for n, s in zip(ours, paired, strict=True)}
    points = {n: float(stats.corpus_metric("bleu", s.sum(0))) for n, s in ours.items()}
    for i, name in enumerate(("better", "close"), start=1):
        est = stats.estimate(points[name], scores[name], 0.95, points["base"], scores["base"])
        assert est.value == pytest.approx(table["BLEU"][i].score)
        assert est.p_value == pytest.approx(table["BLEU"][i].p_value, abs=2 / 1001)
    assert stats.estimate(points["better"], scores["better"], 0.95, points["base"], scores["base"]).p_value < 0.01
    same = stats.estimate(points["base"], scores["base"], 0.95, points["base"], scores["base"])
    assert same.diff == 0 and same.p_value == 1.0 and same.diff_low == same.diff_high == 0


def test_blocks_are_drawn_whole_and_singleton_blocks_are_the_utterance_bootstrap():
    hits = np.column_stack([np.arange(12) % 2, np.ones(12)]).astype(float)
    (plain,) = stats.bootstrap_sums([hits], 50, np.random.default_rng(3))
    (single,) = stats.bootstrap_sums([hits], 50, np.random.default_rng(3), blocks=[f"{i:02d}" for i in range(12)])
    assert np.array_equal(plain, single)
    speakers = ["a"] * 6 + ["b"] * 3 + ["c"] * 2 + ["d"]  # blocks of 6, 3, 2, 1 utterances
    (blocked,) = stats.bootstrap_sums([hits], 200, np.random.default_rng(3), blocks=speakers)
    sizes = set(blocked[:, 1])  # utterances in each resample: the sizes of 4 blocks drawn with replacement
    assert sizes <= {float(sum(draw)) for draw in itertools.product((6, 3, 2, 1), repeat=4)}
    assert len(sizes) > 3 and not sizes <= {12.0}
