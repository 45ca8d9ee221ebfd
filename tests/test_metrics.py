"""WER/CER/accuracy with the `xtreme_s` metric's semantics (docs/spec.md section 4)."""

from __future__ import annotations

import math
import random

import jiwer
import pytest

from xtreme_s.metrics import SCORERS, accuracy, asr_error_counts, per_language, wer_cer

# The reference metric's CER transform (evaluate metrics/xtreme_s): spaces are characters.
REFERENCE_CER_TRANSFORM = jiwer.Compose([
    jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToSingleSentence(""), jiwer.ReduceToListOfListOfChars(),
])


def reference_wer_cer(references: list[str], predictions: list[str]) -> dict[str, float]:
    """The reference `concatenate_texts=False` loop: one jiwer call per utterance, errors pooled."""
    w_err = w_tot = c_err = c_tot = 0
    for ref, hyp in zip(references, predictions, strict=True):
        w = jiwer.process_words(ref, hyp)
        w_err += w.substitutions + w.deletions + w.insertions
        w_tot += w.substitutions + w.deletions + w.hits
        c = jiwer.process_words(ref, hyp, reference_transform=REFERENCE_CER_TRANSFORM,
                                hypothesis_transform=REFERENCE_CER_TRANSFORM)
        c_err += c.substitutions + c.deletions + c.insertions
        c_tot += c.substitutions + c.deletions + c.hits
    return {"wer": w_err / w_tot, "cer": c_err / c_tot}


def test_single_utterance_hand_counted():
    # Words: ref "the cat sat on the mat" (6), hyp "the cat sit on mat".
    #   the=H cat=H sat->sit=S on=H the=D mat=H  -> S=1 D=1 I=0 H=4 -> WER = 2/6.
    # Chars: ref has 22 characters (5 spaces included); hyp 18.
    #   'a'->'i' in "sat" = 1 S, "the " deleted = 4 D -> 5 errors over S+D+H = 22 -> CER = 5/22.
    out = wer_cer(["the cat sat on the mat"], ["the cat sit on mat"])
    assert out["wer"] == pytest.approx(2 / 6)
    assert out["cer"] == pytest.approx(5 / 22)


def test_perfect_and_fully_wrong():
    assert wer_cer(["a b c"], ["a b c"]) == {"wer": 0.0, "cer": 0.0}
    # "x y z w" vs "a b c": 3 S + 1 I over 3 words -> WER 4/3 (can exceed 1).
    assert wer_cer(["a b c"], ["x y z w"])["wer"] == pytest.approx(4 / 3)


def test_corpus_pooling_is_not_the_mean_of_utterance_rates():
    refs = ["a b c d e f g h i j", "x y"]
    hyps = ["a b c d e f g h i j", "z"]
    # utt 1: 10 H, 0 errors. utt 2: x->z S, y D -> 2 errors over 2 words (rate 1.0).
    # Pooled: (0 + 2) / (10 + 2) = 1/6. Mean of utterance rates would be (0 + 1.0) / 2 = 0.5.
    out = wer_cer(refs, hyps)
    assert out["wer"] == pytest.approx(1 / 6)
    assert out["wer"] != pytest.approx(0.5)
    # chars: utt 1 = 19 chars all hits; utt 2 "x y" vs "z": x->z S, " " D, "y" D -> 3 errors. CER = 3 / 22.
    assert out["cer"] == pytest.approx(3 / 22)
    counts = asr_error_counts(refs, hyps)
    assert counts == {"word_errors": 2, "words": 12, "char_errors": 3, "chars": 22}


def test_cer_counts_spaces_as_characters():
    # "ab cd" (a, b, space, c, d = 5 chars) vs "abcd": one deleted space -> CER 1/5.
    # Words: "ab cd" vs "abcd": ab->abcd S, cd D -> WER 2/2.
    out = wer_cer(["ab cd"], ["abcd"])
    assert out["cer"] == pytest.approx(1 / 5)
    assert out["wer"] == pytest.approx(1.0)


def test_multiple_and_outer_spaces_are_squeezed():
    assert wer_cer(["ab   cd"], ["ab cd"]) == {"wer": 0.0, "cer": 0.0}
    assert wer_cer(["  ab cd "], ["ab  cd  "]) == {"wer": 0.0, "cer": 0.0}
    # The denominator is the squeezed reference: "ab cd" = 5 chars; "ab cx" has 1 S -> 1/5, not 1/8.
    assert wer_cer(["ab    cd"], ["ab cx"])["cer"] == pytest.approx(1 / 5)


def test_no_lowercasing_or_punctuation_removal_inside_the_metric():
    # "Hello"->"hello" is a substitution: WER 1/2; CER: 'H'->'h' 1 S over 11 chars.
    out = wer_cer(["Hello world"], ["hello world"])
    assert out["wer"] == pytest.approx(1 / 2)
    assert out["cer"] == pytest.approx(1 / 11)
    # "hello," vs "hello": 1 S over 2 words; the comma is 1 D over 12 chars.
    out = wer_cer(["hello, world"], ["hello world"])
    assert out["wer"] == pytest.approx(1 / 2)
    assert out["cer"] == pytest.approx(1 / 12)


def test_empty_hypothesis():
    # Everything deleted: 3 D over 3 words; 5 D over 5 chars.
    assert wer_cer(["a b c"], [""]) == {"wer": 1.0, "cer": 1.0}
    # Pooled with a perfect utterance: words 3 D / (3 + 2); chars 5 D / (5 + 3).
    out = wer_cer(["a b c", "d e"], ["", "d e"])
    assert out["wer"] == pytest.approx(3 / 5)
    assert out["cer"] == pytest.approx(5 / 8)


def test_empty_reference_inside_a_corpus():
    # utt 2 has no reference words: "x y" adds 2 word insertions and 3 char insertions (x, space, y),
    # and nothing to the denominator. WER = 2/3, CER = 3/5.
    out = wer_cer(["a b c", ""], ["a b c", "x y"])
    assert out["wer"] == pytest.approx(2 / 3)
    assert out["cer"] == pytest.approx(3 / 5)
    # Empty against empty is no error at all.
    assert wer_cer(["a b c", ""], ["a b c", ""]) == {"wer": 0.0, "cer": 0.0}


def test_all_references_empty_does_not_divide_by_zero():
    # Nothing to score is not a perfect score: 0/0 is reported as NaN (null in results.json).
    assert all(math.isnan(v) for v in wer_cer([""], [""]).values())
    out = wer_cer([""], ["x"])
    assert math.isinf(out["wer"]) and math.isinf(out["cer"])


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 references but 1 predictions"):
        wer_cer(["a", "b"], ["a"])


def _random_pairs(seed: int, n: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    words = "the a cat sat on mat dog ran über große straße niño x yy zzz".split()
    refs, hyps = [], []
    for _ in range(n):
        ref = [rng.choice(words) for _ in range(rng.randint(1, 9))]
        hyp = list(ref)
        for _ in range(rng.randint(0, 4)):
            op = rng.choice("sdi")
            pos = rng.randrange(len(hyp) + 1)
            if op == "i" or not hyp:
                hyp.insert(pos, rng.choice(words))
            elif op == "d":
                del hyp[min(pos, len(hyp) - 1)]
            else:
                hyp[min(pos, len(hyp) - 1)] = rng.choice(words)
        sep = rng.choice([" ", " ", "  "])
        pad = rng.choice(["", " "])
        refs.append(pad + sep.join(ref))
        hyps.append(" ".join(hyp) + pad)
    return refs, hyps


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_matches_reference_per_utterance_loop(seed):
    refs, hyps = _random_pairs(seed, 25)
    ours = wer_cer(refs, hyps)
    ref = reference_wer_cer(refs, hyps)
    assert ours["wer"] == pytest.approx(ref["wer"], abs=1e-12)
    assert ours["cer"] == pytest.approx(ref["cer"], abs=1e-12)
    assert ours["wer"] > 0  # the generator does make errors


def test_per_language_macro_vs_pooled():
    refs = ["a b", "c d", "e f", "g h"]
    hyps = ["a x", "c d", "e f", "g h"]
    langs = ["aa", "bb", "bb", "bb"]  # 1 utterance vs 3
    out = per_language(refs, hyps, langs, wer_cer)
    # aa: 1 S over 2 words = 0.5. bb: 0 errors over 6 words = 0.
    assert out["per_language"]["aa"]["wer"] == pytest.approx(0.5)
    assert out["per_language"]["bb"]["wer"] == 0.0
    assert out["per_language"]["aa"]["num_examples"] == 1
    assert out["per_language"]["bb"]["num_examples"] == 3
    # Macro: (0.5 + 0) / 2 = 0.25. Pooled: 1 error over 8 words = 0.125.
    assert out["macro"]["wer"] == pytest.approx(0.25)
    assert out["pooled"]["wer"] == pytest.approx(0.125)
    # CER: aa "a b" vs "a x" 1 S over 3 chars; bb 0 over 9. Macro 1/6, pooled 1/12.
    assert out["macro"]["cer"] == pytest.approx(1 / 6)
    assert out["pooled"]["cer"] == pytest.approx(1 / 12)
    assert "num_examples" not in out["macro"]


def test_per_language_groups_interleaved_rows():
    # Language order in the input must not matter: rows are grouped, not taken in runs.
    out = per_language(["a", "b", "c", "d"], ["a", "x", "c", "x"], ["de", "pl", "de", "pl"], wer_cer)
    assert out["per_language"]["de"]["wer"] == 0.0
    assert out["per_language"]["pl"]["wer"] == 1.0
    assert list(out["per_language"]) == ["de", "pl"]


def test_per_language_length_mismatch():
    with pytest.raises(ValueError):
        per_language(["a"], ["a"], ["de", "pl"], wer_cer)


def test_accuracy():
    assert accuracy([0, 1, 2, 3], [0, 1, 0, 3]) == {"accuracy": 0.75}
    assert accuracy([5], [5]) == {"accuracy": 1.0}
    assert math.isnan(accuracy([], [])["accuracy"])
    with pytest.raises(ValueError):
        accuracy([1, 2], [1])


def test_per_language_accuracy_macro_vs_pooled():
    # de: 2/2 correct; pl: 0/1. Macro (1 + 0) / 2 = 0.5; pooled 2/3.
    out = per_language([1, 2, 3], [1, 2, 0], ["de", "de", "pl"], accuracy)
    assert out["macro"]["accuracy"] == pytest.approx(0.5)
    assert out["pooled"]["accuracy"] == pytest.approx(2 / 3)


def test_scorers_table():
    assert SCORERS["wer"] is wer_cer and SCORERS["cer"] is wer_cer
    assert SCORERS["accuracy"] is accuracy
