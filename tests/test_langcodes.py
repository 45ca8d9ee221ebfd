"""The language-code tables (xtreme_s/langcodes.py) against the standards and the models' own tables: ISO 639-3
(pycountry), Whisper's language tokens (transformers' tokenization_whisper.LANGUAGES and its own prefix
arithmetic), and every benchmark source's codes."""

from __future__ import annotations

import pycountry
from transformers.models.whisper.tokenization_whisper import LANGUAGES as WHISPER_LANGUAGES

from xtreme_s import langcodes
from xtreme_s.registry import (
    BABEL_LANGUAGES,
    COVOST2_SOURCES,
    FLEURS_LOCALES,
    MINDS14_LOCALES,
    MLS_LANGUAGES,
    VOXPOPULI_LANGUAGES,
)

# Whisper's own codes that are not the language's ISO 639-1 code (jw: Javanese is jv in ISO 639-1; Filipino is
# served by Tagalog; Bokmål by Norwegian; Mandarin by Chinese); a language without an ISO 639-1 code (Cantonese) has
# its ISO 639-3 code.
WHISPER_NON_ISO = {"jv_id": "jw", "fil_ph": "tl", "nb_no": "no", "cmn_hans_cn": "zh"}


def test_every_benchmark_code_has_a_row():
    assert set(langcodes.LANGUAGES) == set(FLEURS_LOCALES)
    for code in (*MLS_LANGUAGES, *VOXPOPULI_LANGUAGES, *COVOST2_SOURCES, *MINDS14_LOCALES, *BABEL_LANGUAGES):
        row = langcodes.row_for(code)
        assert row is not None, code
        assert row.key.split("_")[0] == code.split("-")[0] or code in ("zh", "zh-CN", "tl"), (code, row)
    assert langcodes.row_for("xx") is None and langcodes.mms_candidates("xx") == []


def test_iso_and_seamless_codes_are_iso_639_3_and_agree_with_the_locale():
    for key, row in langcodes.LANGUAGES.items():
        lang = pycountry.languages.get(alpha_3=row.iso3)
        assert lang is not None, (key, row.iso3)
        prefix = key.split("_")[0]
        if len(prefix) == 2:  # the locale's ISO 639-1 code is the ISO 639-3 code's
            assert getattr(lang, "alpha_2", None) == prefix, (key, row.iso3)
        assert row.seamless is None or pycountry.languages.get(alpha_3=row.seamless) is not None, (key, row.seamless)
    # Seamless's 101 speech-input languages include 95 of FLEURS's 102 (the 7 below are not among them).
    assert sorted(k for k, r in langcodes.LANGUAGES.items() if r.seamless is None) == [
        "ff_sn", "ha_ng", "ln_cd", "mi_nz", "nso_za", "umb_ao", "wo_sn"]


def test_whisper_codes_are_whisper_language_tokens():
    for key, row in langcodes.LANGUAGES.items():
        if row.whisper is None:
            continue
        assert row.whisper in WHISPER_LANGUAGES, key
        iso1 = getattr(pycountry.languages.get(alpha_3=row.iso3), "alpha_2", None)
        assert row.whisper == WHISPER_NON_ISO.get(key, iso1 or row.iso3), (key, row.whisper, iso1)
    uncovered = sorted(k for k, r in langcodes.LANGUAGES.items() if r.whisper is None)
    # Whisper's paper: 20 of FLEURS's 102 languages have no Whisper training data (large-v2, before Cantonese
    # got a token in large-v3): these 19 plus yue_hant_hk.
    assert len(uncovered) == 19 and "yue_hant_hk" not in uncovered
    # Every Whisper language that FLEURS has is mapped (no FLEURS language left out by a missing row).
    fleurs_iso1 = {getattr(pycountry.languages.get(alpha_3=r.iso3), "alpha_2", None) for r in
                   langcodes.LANGUAGES.values()}
    assert not {c for c in WHISPER_LANGUAGES if c in fleurs_iso1} - {r.whisper for r in langcodes.LANGUAGES.values()}


def test_cer_languages_and_overrides():
    assert all(langcodes.uses_cer(c) for c in ("cmn_hans_cn", "ja_jp", "th_th", "lo_la", "my_mm", "zh", "ja"))
    assert not langcodes.uses_cer("hi_in")
    assert langcodes.parse_overrides(["ar_eg=ara"]) == {"ar_eg": "ara"}
