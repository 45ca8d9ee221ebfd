"""The XTREME-S task registry: every config name, as data.

Adding a language or a task is a table entry here, never a branch in the runner. Config names follow the
benchmark (`docs/spec.md` section 3.2): `<prefix>.<lang>`, `<prefix>.all`, and `covost2.<src>.en`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .errors import UserError

FLEURS_LOCALES: tuple[str, ...] = tuple(
    """af_za am_et ar_eg as_in ast_es az_az be_by bg_bg bn_in bs_ba ca_es ceb_ph ckb_iq cmn_hans_cn cs_cz cy_gb
    da_dk de_de el_gr en_us es_419 et_ee fa_ir ff_sn fi_fi fil_ph fr_fr ga_ie gl_es gu_in ha_ng he_il hi_in hr_hr
    hu_hu hy_am id_id ig_ng is_is it_it ja_jp jv_id ka_ge kam_ke kea_cv kk_kz km_kh kn_in ko_kr ky_kg lb_lu lg_ug
    ln_cd lo_la lt_lt luo_ke lv_lv mi_nz mk_mk ml_in mn_mn mr_in ms_my mt_mt my_mm nb_no ne_np nl_nl nso_za ny_mw
    oc_fr om_et or_in pa_in pl_pl ps_af pt_br ro_ro ru_ru sd_in sk_sk sl_si sn_zw so_so sr_rs sv_se sw_ke ta_in
    te_in tg_tj th_th tr_tr uk_ua umb_ao ur_pk uz_uz vi_vn wo_sn xh_za yo_ng yue_hant_hk zu_za""".split()
)

# FLEURS `lang_group_id` order and membership (TFDS xtreme_s, spec 3.3); the names are the dataset's own.
FLEURS_GROUPS: dict[str, tuple[str, ...]] = {
    "western_european_we": tuple(
        "ast_es bs_ba ca_es hr_hr da_dk nl_nl en_us fi_fi fr_fr gl_es de_de el_gr hu_hu is_is ga_ie it_it kea_cv "
        "lb_lu mt_mt nb_no oc_fr pt_br es_419 sv_se cy_gb".split()
    ),
    "eastern_european_ee": tuple(
        "hy_am be_by bg_bg cs_cz et_ee ka_ge lv_lv lt_lt mk_mk pl_pl ro_ro ru_ru sr_rs sk_sk sl_si uk_ua".split()
    ),
    "central_asia_middle_north_african_cmn": tuple(
        "ar_eg az_az he_il kk_kz ky_kg mn_mn ps_af fa_ir ckb_iq tg_tj tr_tr uz_uz".split()
    ),
    "sub_saharan_african_ssa": tuple(
        "af_za am_et ff_sn lg_ug ha_ng ig_ng kam_ke ln_cd luo_ke nso_za ny_mw om_et sn_zw so_so sw_ke umb_ao wo_sn "
        "xh_za yo_ng zu_za".split()
    ),
    "south_asian_sa": tuple(
        "as_in bn_in gu_in hi_in kn_in ml_in mr_in ne_np or_in pa_in sd_in ta_in te_in ur_pk".split()
    ),
    "south_east_asian_sea": tuple("my_mm ceb_ph fil_ph id_id jv_id km_kh lo_la ms_my mi_nz th_th vi_vn".split()),
    "chinese_japanase_korean_cjk": tuple("cmn_hans_cn yue_hant_hk ja_jp ko_kr".split()),
}

MLS_LANGUAGES = ("de", "en", "es", "fr", "it", "nl", "pl", "pt")
VOXPOPULI_LANGUAGES = ("cs", "de", "en", "es", "fi", "fr", "hr", "hu", "it", "nl", "pl", "ro", "sk", "sl")
BABEL_LANGUAGES = ("as", "ka", "lo", "sw", "tl")
# X->en only: the benchmark does not use the en->X directions (spec 1, 3.2).
COVOST2_SOURCES = (
    "fr de es ca it ru zh pt fa et mn nl tr ar sv lv sl ta ja id cy".split()
)
# UNCONFIRMED grouping (spec 1): kept here so that one table entry fixes it everywhere.
COVOST2_RESOURCE_GROUPS = {
    "high": ("fr", "de", "es", "ca"),
    "mid": ("fa", "it", "ru", "pt", "zh"),
    "low": ("et", "mn", "nl", "tr", "ar", "sv", "lv", "sl", "ta", "ja", "id", "cy"),
}
MINDS14_LOCALES = (
    "cs-CZ de-DE en-AU en-GB en-US es-ES fr-FR it-IT ko-KR nl-NL pl-PL pt-PT ru-RU zh-CN".split()
)
MINDS14_INTENTS = (
    "abroad address app_error atm_limit balance business_loan card_issues cash_deposit direct_debit freeze "
    "high_value_payment joint_account latest_transactions pay_bill".split()
)


@dataclass(frozen=True)
class TaskSpec:
    """One XTREME-S task: what to load, which head to train and how to score it."""

    name: str
    prefix: str  # config-name prefix, shared by the FLEURS tasks
    family: str  # ctc | seq2seq | classification | retrieval
    source: str  # key into xtreme_s.sources.ADAPTERS (one adapter module per corpus)
    target_column: str  # XTREME-S column name the head predicts
    primary_metric: str  # key into metrics.SCORERS (which also returns the companion metrics, e.g. CER with WER)
    greater_is_better: bool
    languages: tuple[str, ...]
    has_all: bool = True
    description: str = ""
    # Whether a task counts towards the overall XTREME-S score is said once, in score.SCORE_TASKS.


TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in (
        TaskSpec("mls", "mls", "ctc", "mls", "transcription", "wer", False, MLS_LANGUAGES,
                 description="Multilingual LibriSpeech, 9 h limited-supervision training split"),
        TaskSpec("voxpopuli", "voxpopuli", "ctc", "voxpopuli", "transcription", "wer", False,
                 VOXPOPULI_LANGUAGES, description="VoxPopuli European Parliament ASR"),
        TaskSpec("babel", "babel", "ctc", "babel", "transcription", "wer", False, BABEL_LANGUAGES, has_all=False,
                 description="IARPA BABEL conversational telephone speech (manual LDC download)"),
        TaskSpec("fleurs-asr", "fleurs", "ctc", "fleurs", "transcription", "wer", False,
                 FLEURS_LOCALES, description="FLEURS read-speech ASR, 102 languages"),
        TaskSpec("fleurs-lang_id", "fleurs", "classification", "fleurs", "lang_id", "accuracy", True,
                 FLEURS_LOCALES, description="FLEURS 102-way spoken language identification"),
        TaskSpec("fleurs-retrieval", "fleurs", "retrieval", "fleurs", "id", "precision_at_1",
                 True, FLEURS_LOCALES, description="FLEURS speech-to-English retrieval"),
        TaskSpec("covost2", "covost2", "seq2seq", "covost2", "translation", "bleu", True, COVOST2_SOURCES,
                 description="CoVoST-2 X->en speech translation (fixie-ai/covost2, or Common Voice 4)"),
        TaskSpec("minds14", "minds14", "classification", "minds14", "intent_class", "f1", True,
                 MINDS14_LOCALES, description="MInDS-14 e-banking intent classification"),
    )
}

# FLEURS serves three tasks; the target column picks one when --task is not given (default ASR).
_FLEURS_BY_TARGET = {"transcription": "fleurs-asr", "raw_transcription": "fleurs-asr", "lang_id": "fleurs-lang_id",
                     "id": "fleurs-retrieval"}


@dataclass(frozen=True)
class ResolvedTask:
    """A task with the languages one run covers."""

    spec: TaskSpec
    config_name: str
    languages: tuple[str, ...]
    language_group: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name


def _lang_suffix(spec: TaskSpec, lang: str) -> str:
    return f"{lang}.en" if spec.prefix == "covost2" else lang


def all_config_names() -> list[str]:
    """Every valid `--dataset_config_name`, in registry order."""
    names: list[str] = []
    seen_prefixes: set[str] = set()
    for spec in TASKS.values():
        if spec.prefix in seen_prefixes:
            continue
        seen_prefixes.add(spec.prefix)
        names += [f"{spec.prefix}.{_lang_suffix(spec, lang)}" for lang in spec.languages]
        if spec.has_all:
            names.append(f"{spec.prefix}.all")
    return names


class UnknownTaskError(UserError, ValueError):
    """Raised for a config name, task or language the benchmark does not have."""


def _unknown(kind: str, value: str, valid: list[str]) -> UnknownTaskError:
    """The closest valid names (difflib), never the whole list: there are 169 config names."""
    same = [v for v in valid if v.casefold() == value.casefold()]  # `voxpopuli.PL` for `voxpopuli.pl`
    close = same + [v for v in difflib.get_close_matches(value, valid, n=3, cutoff=0.5) if v not in same]
    if not close:  # a language code alone: match by suffix
        close = [v for v in valid if v.lower().endswith("." + value.lower())]
    close = close[:3]
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = f" Valid {kind}s: {', '.join(valid)}." if len(valid) <= 12 else \
        " `xtreme-s tasks` lists the tasks and config names."
    return UnknownTaskError(f"Unknown {kind} '{value}'.{hint}{listing}")


def _pick_task(prefix: str, task: str | None, target_column: str | None) -> TaskSpec:
    candidates = [t for t in TASKS.values() if t.prefix == prefix]
    if task:
        if task not in TASKS:
            raise _unknown("task", task, list(TASKS))
        if TASKS[task].prefix != prefix:
            raise UnknownTaskError(f"Task '{task}' does not read the '{prefix}' configs (it reads "
                                   f"'{TASKS[task].prefix}.*').")
        return TASKS[task]
    if len(candidates) == 1:
        return candidates[0]
    # FLEURS: choose by target column, default ASR.
    return TASKS[_FLEURS_BY_TARGET.get(target_column or "transcription", "fleurs-asr")]


def resolve(
    config_name: str | None = None,
    task: str | None = None,
    language: str | None = None,
    target_column: str | None = None,
    language_group: str | None = None,
) -> ResolvedTask:
    """Turn `--dataset_config_name` (or `--task` + `--language`) into a task and its languages."""
    if config_name is not None and language is not None:
        raise UnknownTaskError(f"Give either --dataset_config_name ({config_name}) or --language ({language}), "
                               "not both.")
    if config_name is None:
        if task is None:
            raise UnknownTaskError("Give --dataset_config_name (e.g. mls.all) or --task with --language.")
        if task not in TASKS:
            raise _unknown("task", task, list(TASKS))
        spec = TASKS[task]
        lang = language or "all"
        config_name = f"{spec.prefix}.{'all' if lang == 'all' else _lang_suffix(spec, lang)}"
    prefix, _, rest = config_name.partition(".")
    valid = all_config_names()
    if config_name not in valid:
        if prefix == "covost2" and rest.startswith("en."):
            reverse = f"covost2.{rest.split('.')[-1]}.en"
            hint = f" (the reverse direction is {reverse})" if reverse in valid else \
                f"; X->en configs: {', '.join(n for n in valid if n.startswith('covost2.'))}"
            raise UnknownTaskError(f"'{config_name}' is an en->X direction; XTREME-S uses CoVoST-2 X->en only{hint}.")
        if prefix == "babel" and rest == "all":
            raise UnknownTaskError("BABEL has no 'babel.all' config; choose one of " +
                                   ", ".join(f"babel.{lang}" for lang in BABEL_LANGUAGES))
        raise _unknown("config name", config_name, valid)
    spec = _pick_task(prefix, task, target_column)
    if rest == "all":
        languages = spec.languages
    else:
        languages = (rest.split(".")[0],)
    if language_group:
        if spec.prefix != "fleurs":
            raise UnknownTaskError("--language_group applies to FLEURS configs only.")
        if language_group not in FLEURS_GROUPS:
            raise _unknown("language group", language_group, list(FLEURS_GROUPS))
        languages = tuple(lang for lang in languages if lang in FLEURS_GROUPS[language_group])
        if not languages:
            raise UnknownTaskError(f"No language of '{config_name}' is in group '{language_group}'.")
    return ResolvedTask(spec=spec, config_name=config_name, languages=languages, language_group=language_group)


def fleurs_group_of(locale: str) -> str:
    """The FLEURS language group a locale belongs to."""
    for group, members in FLEURS_GROUPS.items():
        if locale in members:
            return group
    raise KeyError(locale)
