"""The Whisper paper's normalised scoring with combining marks kept (xtreme_s/normalized_scoring.py), and how the
ready-made runs count languages a model does not cover (readymade_run.score_split)."""

from __future__ import annotations

from types import SimpleNamespace

from transformers.models.whisper.english_normalizer import BasicTextNormalizer

from xtreme_s.normalized_scoring import normalize, normalized_scores
from xtreme_s.registry import TASKS
from xtreme_s.text import TextNormalizer


def test_marks_are_kept_where_whispers_normaliser_splits_words():
    hindi, thai = "नमस्ते, दुनिया! [noise] (laughs)", "สวัสดี"
    assert normalize(hindi, "hi_in") == "नमस्ते दुनिया"
    assert BasicTextNormalizer()(hindi).split() != ["नमस्ते", "दुनिया"]  # the reason we keep marks
    assert normalize("Hello, World.", "en_us") == "hello world"
    assert normalize("我爱你。", "cmn_hans_cn") == "我 爱 你" and normalize(thai, "th_th").split()[0] == "ส"
    scores = normalized_scores(["नमस्ते दुनिया", "我爱你"], ["नमस्ते दुनिया", "我爱"], ["hi_in", "cmn_hans_cn"],
                               exclude=["cmn_hans_cn"])
    assert scores["per_language"]["hi_in"] == {"error_rate": 0.0, "unit": "wer", "num_examples": 1}
    assert abs(scores["per_language"]["cmn_hans_cn"]["error_rate"] - 1 / 3) < 1e-9
    assert scores["per_language"]["cmn_hans_cn"]["unit"] == "cer"
    assert abs(scores["macro"]["error_rate"] - 1 / 6) < 1e-9 and scores["macro_covered"]["error_rate"] == 0.0


def test_uncovered_languages_count_as_errors_in_macro_only():
    from xtreme_s.readymade_run import score_split

    task = SimpleNamespace(spec=TASKS["fleurs-asr"])
    refs = ["a b", "c d", "e f"]
    result = score_split(task, "asr", refs, refs, ["a b", "c d", ""], ["pl_pl", "pl_pl", "sw_ke"],
                         {"pl_pl": "pl", "sw_ke": None}, TextNormalizer("xtreme_s"), True)
    assert result["per_language"]["sw_ke"]["wer"] == 1.0 and result["per_language"]["sw_ke"]["covered"] is False
    assert result["macro"]["wer"] == 0.5 and result["macro_covered"]["wer"] == 0.0
    assert result["coverage"]["not_covered"] == ["sw_ke"] and result["normalized"]["macro_covered"]["error_rate"] == 0
    skipped = score_split(task, "asr", refs, refs, ["a b", None, "e f"], ["pl_pl", "pl_pl", "sw_ke"],
                          {"pl_pl": "pl", "sw_ke": "sw"}, TextNormalizer("xtreme_s"), False)
    assert skipped["per_language"]["pl_pl"]["num_examples"] == 1 and "normalized" not in skipped
