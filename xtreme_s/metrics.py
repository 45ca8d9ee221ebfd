"""The benchmark's metrics, computed without the Hub.

`evaluate.load("xtreme_s")` still calls jiwer's removed `compute_measures`, so we re-implement its semantics
(`docs/spec.md` section 4) on jiwer 3/4: errors are pooled over the corpus, Σ(S+D+I) / Σ(S+D+H), not
averaged per utterance; CER treats spaces as characters; nothing is lowercased or stripped of punctuation
here (normalisation happens once, before training, in `xtreme_s.text`). Values are fractions, as the metric
returns them; BLEU is 0-100.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

import jiwer
import sacrebleu
from sklearn.metrics import accuracy_score, f1_score

# Per utterance, as the reference metric applies it (no ReduceToSingleSentence over a list: that would
# glue the whole corpus into one string). Public: xtreme_s.stats counts each utterance's errors with them.
WER_TRANSFORM = jiwer.Compose([jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToListOfListOfWords()])
CER_TRANSFORM = jiwer.Compose([jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToListOfListOfChars()])


def error_counts(references: Sequence[str], predictions: Sequence[str], transform: jiwer.Compose) -> tuple[int, int]:
    """(errors, reference length) pooled over the corpus under one transform (WER_TRANSFORM or CER_TRANSFORM)."""
    if not references:
        return 0, 0
    out = jiwer.process_words(list(references), list(predictions), reference_transform=transform,
                              hypothesis_transform=transform)
    errors = out.substitutions + out.deletions + out.insertions
    total = out.substitutions + out.deletions + out.hits
    return errors, total


def asr_error_counts(references: Sequence[str], predictions: Sequence[str]) -> dict[str, int]:
    """Raw error and reference-length counts, so that groups of utterances can be pooled exactly."""
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} references but {len(predictions)} predictions")
    w_err, w_tot = error_counts(references, predictions, WER_TRANSFORM)
    c_err, c_tot = error_counts(references, predictions, CER_TRANSFORM)
    return {"word_errors": w_err, "words": w_tot, "char_errors": c_err, "chars": c_tot}


def _rate(errors: int, total: int) -> float:
    # A reference set with no words at all: any hypothesis word is an insertion; report it rather than divide
    # by zero (the reference metric would crash here).
    if total == 0:
        return float("nan") if errors == 0 else float("inf")
    return errors / total


def wer_cer(references: Sequence[str], predictions: Sequence[str]) -> dict[str, float]:
    """Corpus-pooled WER and CER, as the `xtreme_s` metric's ASR configs compute them."""
    c = asr_error_counts(references, predictions)
    return {"wer": _rate(c["word_errors"], c["words"]), "cer": _rate(c["char_errors"], c["chars"])}


def accuracy(labels: Sequence, predictions: Sequence) -> dict[str, float]:
    """The `fleurs-lang_id` config: mean(prediction == label), a fraction."""
    if not labels:
        return {"accuracy": float("nan")}
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    return {"accuracy": float(accuracy_score(list(labels), list(predictions)))}


def precision_at_1(references: Sequence, predictions: Sequence) -> dict[str, float]:
    """Retrieval: the share of queries whose best key is right (accuracy of the retrieved sentence ids)."""
    return {"precision_at_1": accuracy(references, predictions)["accuracy"]}


def f1_accuracy(labels: Sequence, predictions: Sequence) -> dict[str, float]:
    """The `minds14` config: scikit-learn macro-F1 and accuracy.

    As the xtreme_s metric, `f1_score(average="macro")` is taken over the classes that occur in these references
    or predictions only (no `labels=`), so a language or subset scores over its own classes; a class that is
    predicted but never correct counts with F1 = 0 (scikit-learn's zero_division default).
    """
    if not labels:
        return {"f1": float("nan"), "accuracy": float("nan")}
    f1 = f1_score(list(labels), list(predictions), average="macro", zero_division=0.0)
    return {"f1": float(f1), **accuracy(labels, predictions)}


# sacrebleu.corpus_bleu's defaults as the xtreme_s metric passes them: 13a tokenisation, exp smoothing, case-sensitive.
BLEU_ARGS = {"smooth_method": "exp", "smooth_value": None, "force": False, "lowercase": False,
             "tokenize": sacrebleu.BLEU.TOKENIZER_DEFAULT, "effective_order": False}


def bleu(references: Sequence[str], predictions: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU (0-100) with exactly the `xtreme_s` metric's sacreBLEU arguments (spec section 4).

    One reference per hypothesis; sacreBLEU's default tokenisation (13a), exp smoothing, case-sensitive.
    """
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} references but {len(predictions)} predictions")
    if not references:
        return {"bleu": float("nan")}
    score = bleu_metric().corpus_score(list(predictions), [list(references)])
    return {"bleu": score.score}


def bleu_metric() -> sacrebleu.BLEU:
    """The sacreBLEU metric object of the `xtreme_s` metric's arguments (what `sacrebleu.corpus_bleu` builds from
    them), shared with the per-utterance statistics of xtreme_s.stats."""
    return sacrebleu.BLEU(**BLEU_ARGS)


def group_means(per_language_table: dict[str, dict], groups: dict[str, Sequence[str]]) -> dict[str, dict]:
    """Unweighted mean of each metric over the languages of each group that were scored (e.g. CoVoST-2
    high/mid/low resource); a group with no scored language is left out, and each lists the languages it used."""
    out: dict[str, dict] = {}
    for name, members in groups.items():
        present = [lang for lang in members if lang in per_language_table]
        if not present:
            continue
        metrics = [k for k in per_language_table[present[0]] if k != "num_examples"]
        out[name] = {m: sum(per_language_table[lang][m] for lang in present) / len(present) for m in metrics}
        out[name]["languages"] = present
    return out


SCORERS: dict[str, Callable[[Sequence, Sequence], dict[str, float]]] = {
    "wer": wer_cer,
    "cer": wer_cer,
    "accuracy": accuracy,
    "bleu": bleu,
    "f1": f1_accuracy,
    "precision_at_1": precision_at_1,
}


def language_groups(languages: Sequence[str]) -> dict[str, list[int]]:
    """Language -> the positions of its utterances, languages sorted (the order of every per-language table)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(languages):
        groups[lang].append(i)
    return {lang: groups[lang] for lang in sorted(groups)}


def per_language(
    references: Sequence,
    predictions: Sequence,
    languages: Sequence[str],
    scorer: Callable[[Sequence, Sequence], dict[str, float]],
) -> dict:
    """Scores per language, their unweighted (macro) mean, and the corpus-pooled score over everything.

    The macro mean is what the reference runner reported and what the paper's averages describe; the pooled
    value is what `evaluate`'s metric gives for the concatenated set. Both go to results.json (spec 8.1).
    """
    if not (len(references) == len(predictions) == len(languages)):
        raise ValueError("references, predictions and languages must have the same length")
    table = {}
    for lang, idx in language_groups(languages).items():
        scores = scorer([references[i] for i in idx], [predictions[i] for i in idx])
        table[lang] = {**scores, "num_examples": len(idx)}
    names = [k for k in (table[next(iter(table))] if table else {}) if k != "num_examples"]
    macro = {k: sum(table[lang][k] for lang in table) / len(table) for k in names} if table else {}
    pooled = scorer(list(references), list(predictions)) if references else {}
    return {"macro": macro, "pooled": pooled, "per_language": table}
