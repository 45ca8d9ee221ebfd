"""BLEU exactly as the `xtreme_s` metric computes it for CoVoST-2 (docs/spec.md section 4)."""

from __future__ import annotations

import math

import pytest
import sacrebleu

from xtreme_s.metrics import SCORERS, bleu, group_means, per_language
from xtreme_s.registry import COVOST2_RESOURCE_GROUPS


def test_hand_computed_with_exp_smoothing():
    # 1-4-gram precisions 5/6, 3/5, 1/4 and 0/3; exp smoothing turns the zero into 1/(2*3); BP = 1.
    out = bleu(["the cat sat on the mat"], ["the cat is on the mat"])
    expected = 100 * (5 / 6 * 3 / 5 * 1 / 4 * 1 / 6) ** 0.25
    assert out["bleu"] == pytest.approx(expected, abs=1e-9)
    assert SCORERS["bleu"] is bleu


def test_default_tokenisation_and_case():
    # 13a splits the final period off; scoring is case-sensitive (no lowercase=True).
    assert bleu(["the cat sat on the mat ."], ["the cat sat on the mat."])["bleu"] == pytest.approx(100)
    assert bleu(["The cat sat on the mat."], ["the cat sat on the mat."])["bleu"] < 100


def test_corpus_level_not_sentence_average():
    refs = ["The cat sat on the mat.", "He works as a doctor in Paris.", "The river crosses a large forest."]
    hyps = ["The cat sat on a mat.", "He works in Paris.", "A river crosses the forest."]
    corpus = bleu(refs, hyps)["bleu"]
    assert corpus == pytest.approx(sacrebleu.BLEU().corpus_score(hyps, [refs]).score)  # sacreBLEU's defaults
    sentence_mean = sum(sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(hyps, refs, strict=True)) / 3
    assert not math.isclose(corpus, sentence_mean, abs_tol=0.1)


def test_per_direction_macro_pooled_and_groups():
    refs = ["the cat sat on the mat", "a b c d e", "the cat sat on the mat", "one two three four five"]
    hyps = ["the cat sat on the mat", "a b c d e", "the cat is on the mat", "one two three four six"]
    langs = ["fr", "fr", "it", "ja"]
    out = per_language(refs, hyps, langs, bleu)
    table = out["per_language"]
    assert table["fr"]["bleu"] == pytest.approx(100) and table["fr"]["num_examples"] == 2
    assert table["it"]["bleu"] == pytest.approx(bleu(refs[2:3], hyps[2:3])["bleu"])
    assert out["macro"]["bleu"] == pytest.approx(sum(table[lang]["bleu"] for lang in ("fr", "it", "ja")) / 3)
    assert out["pooled"]["bleu"] == pytest.approx(bleu(refs, hyps)["bleu"])
    groups = group_means(table, COVOST2_RESOURCE_GROUPS)
    # fr is high, it mid, ja low; a group is the unweighted mean of the directions scored in it.
    assert groups["high"] == {"bleu": pytest.approx(100), "languages": ["fr"]}
    assert groups["mid"]["bleu"] == pytest.approx(table["it"]["bleu"])
    assert groups["low"]["languages"] == ["ja"]
    assert set(group_means({"fr": table["fr"], "de": {"bleu": 50.0, "num_examples": 1}},
                           COVOST2_RESOURCE_GROUPS)) == {"high"}
    assert group_means({"fr": table["fr"], "de": {"bleu": 50.0, "num_examples": 1}},
                       COVOST2_RESOURCE_GROUPS)["high"]["bleu"] == pytest.approx(75)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError, match="2 references but 1 predictions"):
        bleu(["a", "b"], ["a"])
