"""Language codes as data: every XTREME-S language -> the codes ready-made models use for it.

One row per FLEURS language (the benchmark's largest set); the other sources' codes (MLS, VoxPopuli, CoVoST-2,
MInDS-14, BABEL) point at these rows (`row_for`). Columns:

- `iso3`: ISO 639-3 (macrolanguage where FLEURS names one; checked against pycountry in tests/test_langcodes.py);
- `whisper`: the code of Whisper's language token `<|code|>` (transformers `models/whisper/tokenization_whisper.py`
  `LANGUAGES`, the 100 languages of large-v3; "-" = Whisper has no token for the language). Non-ISO choices of
  Whisper's own: `jw` (Javanese), `tl` for Filipino, `no` for Norwegian Bokmål, `zh` for Mandarin;
- `seamless`: SeamlessM4T v2's code when the language is one of its 101 speech-input languages (ISO 639-3
  individual languages, e.g. `arb`, `cmn`, `pes`, `swh`, `zsm`: the language table of the seamless_communication
  README / facebook/seamless-m4t-v2-large model card, seen here only in a third-party copy: UNCONFIRMED, see
  docs/ready-made-models.md); "-" = not a Seamless speech-input language. Recognition also needs the code among
  the text decoder's languages (`text_decoder_lang_to_code_id`), checked against the model at run time.

MMS-1b-all names its adapters by ISO 639-3 code, some with a script suffix (`cmn-script_simplified`): the code is
looked up in the model's own tokenizer vocabulary at run time (`mms_candidates`), trying the Seamless code, then
the ISO code, then either with a `-script_*` suffix. Whatever a model's own table lacks is reported as not
covered, never dropped.
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import UsageError

_TABLE = """
af_za afr af afr      am_et amh am amh      ar_eg ara ar arb      as_in asm as asm      ast_es ast - ast
az_az aze az azj      be_by bel be bel      bg_bg bul bg bul      bn_in ben bn ben      bs_ba bos bs bos
ca_es cat ca cat      ceb_ph ceb - ceb      ckb_iq ckb - ckb      cmn_hans_cn cmn zh cmn cs_cz ces cs ces
cy_gb cym cy cym      da_dk dan da dan      de_de deu de deu      el_gr ell el ell      en_us eng en eng
es_419 spa es spa     et_ee est et est      fa_ir fas fa pes      ff_sn ful - -         fi_fi fin fi fin
fil_ph fil tl tgl     fr_fr fra fr fra      ga_ie gle - gle       gl_es glg gl glg      gu_in guj gu guj
ha_ng hau ha -        he_il heb he heb      hi_in hin hi hin      hr_hr hrv hr hrv      hu_hu hun hu hun
hy_am hye hy hye      id_id ind id ind      ig_ng ibo - ibo       is_is isl is isl      it_it ita it ita
ja_jp jpn ja jpn      jv_id jav jw jav      ka_ge kat ka kat      kam_ke kam - kam      kea_cv kea - kea
kk_kz kaz kk kaz      km_kh khm km khm      kn_in kan kn kan      ko_kr kor ko kor      ky_kg kir - kir
lb_lu ltz lb ltz      lg_ug lug - lug       ln_cd lin ln -        lo_la lao lo lao      lt_lt lit lt lit
luo_ke luo - luo      lv_lv lav lv lvs      mi_nz mri mi -        mk_mk mkd mk mkd      ml_in mal ml mal
mn_mn mon mn khk      mr_in mar mr mar      ms_my msa ms zsm      mt_mt mlt mt mlt      my_mm mya my mya
nb_no nob no nob      ne_np nep ne npi      nl_nl nld nl nld      nso_za nso - -        ny_mw nya - nya
oc_fr oci oc oci      om_et orm - gaz       or_in ori - ory       pa_in pan pa pan      pl_pl pol pl pol
ps_af pus ps pbt      pt_br por pt por      ro_ro ron ro ron      ru_ru rus ru rus      sd_in snd sd snd
sk_sk slk sk slk      sl_si slv sl slv      sn_zw sna sn sna      so_so som so som      sr_rs srp sr srp
sv_se swe sv swe      sw_ke swa sw swh      ta_in tam ta tam      te_in tel te tel      tg_tj tgk tg tgk
th_th tha th tha      tr_tr tur tr tur      uk_ua ukr uk ukr      umb_ao umb - -        ur_pk urd ur urd
uz_uz uzb uz uzn      vi_vn vie vi vie      wo_sn wol - -         xh_za xho - xho       yo_ng yor yo yor
yue_hant_hk yue yue yue                     zu_za zul - zul
"""


class LanguageCodes(NamedTuple):
    """One language's codes (see the module docstring); None where the model family has no code for it."""

    key: str  # the FLEURS locale of the row
    iso3: str
    whisper: str | None
    seamless: str | None


def _parse(table: str) -> dict[str, LanguageCodes]:
    words = table.split()
    rows = [words[i:i + 4] for i in range(0, len(words), 4)]
    return {r[0]: LanguageCodes(r[0], r[1], None if r[2] == "-" else r[2], None if r[3] == "-" else r[3])
            for r in rows}


LANGUAGES: dict[str, LanguageCodes] = _parse(_TABLE)

# Codes of the other sources whose two-letter prefix is not the FLEURS locale's (CoVoST-2/MInDS-14 `zh`, BABEL `tl`).
_ALIASES = {"zh": "cmn_hans_cn", "tl": "fil_ph", "yue": "yue_hant_hk"}
_BY_PREFIX = {key.split("_")[0]: key for key in LANGUAGES}

# Whisper's paper scores these by characters (appendix C: Chinese, Japanese, Thai, Lao, Burmese; Cantonese is
# written in Chinese characters too); Seamless's compute_metrics.py uses CER for the same set (cmn, jpn, tha,
# lao, mya).
CER_LANGUAGES = frozenset({"cmn", "yue", "jpn", "tha", "lao", "mya"})


def row_for(code: str) -> LanguageCodes | None:
    """The row of any benchmark language code: a FLEURS locale (`pl_pl`), an MLS/VoxPopuli/CoVoST-2 code (`pl`,
    `zh`), a MInDS-14 locale (`pl-PL`) or a BABEL code (`tl`); None for a code the table lacks."""
    if code in LANGUAGES:
        return LANGUAGES[code]
    base = code.replace("-", "_").split("_")[0].lower()
    key = _ALIASES.get(base) or _BY_PREFIX.get(base)
    return LANGUAGES.get(key) if key else None


def iso3(code: str) -> str | None:
    row = row_for(code)
    return row.iso3 if row else None


def uses_cer(code: str) -> bool:
    """Whether the Whisper paper's normalised scoring counts characters for this language."""
    return iso3(code) in CER_LANGUAGES


def whisper_code(code: str) -> str | None:
    row = row_for(code)
    return row.whisper if row else None


def seamless_code(code: str) -> str | None:
    row = row_for(code)
    return row.seamless if row else None


def mms_candidates(code: str) -> list[str]:
    """MMS adapter names to try, best first (the model's tokenizer decides which exists)."""
    row = row_for(code)
    if row is None:
        return []
    return list(dict.fromkeys(c for c in (row.seamless, row.iso3) if c))


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """`--model_language_codes pl_pl=pol ar_eg=ara`: benchmark code -> model code, overriding the tables."""
    out = {}
    for item in items or []:
        left, sep, right = item.partition("=")
        if not sep or not left or not right:
            raise UsageError(f"--model_language_codes {item!r}: give BENCHMARK_CODE=MODEL_CODE, e.g. ar_eg=ara.")
        out[left] = right
    return out
