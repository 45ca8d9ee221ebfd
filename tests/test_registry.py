"""Config-name resolution (docs/spec.md section 3.2) and FLEURS language groups (section 3.3)."""

from __future__ import annotations

import pytest

from xtreme_s import registry
from xtreme_s.registry import UnknownTaskError, resolve

# Spec 3.2, written out independently of the registry's own tables.
MLS = "de en es fr it nl pl pt".split()
VOXPOPULI = "cs de en es fi fr hr hu it nl pl ro sk sl".split()
BABEL = "as ka lo sw tl".split()
COVOST2_X_EN = "fr de es ca it ru zh pt fa et mn nl tr ar sv lv sl ta ja id cy".split()
COVOST2_EN_X = "de ca zh fa et mn tr ar sw lv sl ta ja id cy".split()
MINDS14 = "cs-CZ de-DE en-AU en-GB en-US es-ES fr-FR it-IT ko-KR nl-NL pl-PL pt-PT ru-RU zh-CN".split()
FLEURS = """af_za am_et ar_eg as_in ast_es az_az be_by bg_bg bn_in bs_ba ca_es ceb_ph ckb_iq cmn_hans_cn cs_cz cy_gb
da_dk de_de el_gr en_us es_419 et_ee fa_ir ff_sn fi_fi fil_ph fr_fr ga_ie gl_es gu_in ha_ng he_il hi_in hr_hr
hu_hu hy_am id_id ig_ng is_is it_it ja_jp jv_id ka_ge kam_ke kea_cv kk_kz km_kh kn_in ko_kr ky_kg lb_lu lg_ug
ln_cd lo_la lt_lt luo_ke lv_lv mi_nz mk_mk ml_in mn_mn mr_in ms_my mt_mt my_mm nb_no ne_np nl_nl nso_za
ny_mw oc_fr om_et or_in pa_in pl_pl ps_af pt_br ro_ro ru_ru sd_in sk_sk sl_si sn_zw so_so sr_rs sv_se sw_ke
ta_in te_in tg_tj th_th tr_tr uk_ua umb_ao ur_pk uz_uz vi_vn wo_sn xh_za yo_ng yue_hant_hk zu_za""".split()
# Group sizes counted from the language names listed in spec 3.3 (lang_group_id order).
FLEURS_GROUP_SIZES = {
    "western_european_we": 25,
    "eastern_european_ee": 16,
    "central_asia_middle_north_african_cmn": 12,
    "sub_saharan_african_ssa": 20,
    "south_asian_sa": 14,
    "south_east_asian_sea": 11,
    "chinese_japanase_korean_cjk": 4,
}


def test_spec_language_counts():
    # Guards the hand-copied tables above against typos.
    assert (len(MLS), len(VOXPOPULI), len(BABEL), len(COVOST2_X_EN), len(MINDS14), len(FLEURS)) == (
        8, 14, 5, 21, 14, 102)
    assert len(COVOST2_EN_X) == 15
    assert sum(FLEURS_GROUP_SIZES.values()) == 102


@pytest.mark.parametrize(
    ("prefix", "languages", "task", "family"),
    [
        ("mls", MLS, "mls", "ctc"),
        ("voxpopuli", VOXPOPULI, "voxpopuli", "ctc"),
        ("babel", BABEL, "babel", "ctc"),
        ("minds14", MINDS14, "minds14", "classification"),
        ("fleurs", FLEURS, "fleurs-asr", "ctc"),
    ],
)
def test_single_language_configs_resolve(prefix, languages, task, family):
    for lang in languages:
        r = resolve(f"{prefix}.{lang}")
        assert r.config_name == f"{prefix}.{lang}"
        assert r.languages == (lang,)
        assert r.name == task
        assert r.spec.family == family


@pytest.mark.parametrize(
    ("prefix", "languages", "task"),
    [
        ("mls", MLS, "mls"),
        ("voxpopuli", VOXPOPULI, "voxpopuli"),
        ("covost2", COVOST2_X_EN, "covost2"),
        ("minds14", MINDS14, "minds14"),
        ("fleurs", FLEURS, "fleurs-asr"),
    ],
)
def test_all_configs_cover_every_language(prefix, languages, task):
    r = resolve(f"{prefix}.all")
    assert r.name == task
    assert sorted(r.languages) == sorted(languages)
    assert len(set(r.languages)) == len(languages)


def test_covost2_x_to_en_configs_resolve():
    for src in COVOST2_X_EN:
        r = resolve(f"covost2.{src}.en")
        assert r.name == "covost2"
        assert r.spec.family == "seq2seq"
        assert r.spec.target_column == "translation"
        assert r.languages == (src,)


@pytest.mark.parametrize("tgt", COVOST2_EN_X)
def test_covost2_en_to_x_rejected_with_x_to_en_only_message(tgt):
    with pytest.raises(UnknownTaskError, match="X->en only"):
        resolve(f"covost2.en.{tgt}")


@pytest.mark.parametrize("config", ["covost2.en.sw", "covost2.en.en"])
def test_covost2_en_to_x_message_only_suggests_valid_configs(config):
    with pytest.raises(UnknownTaskError) as err:
        resolve(config)
    suggested = [w.strip("().,'") for w in str(err.value).split() if w.strip("().,'").startswith("covost2.")]
    suggested = [s for s in suggested if s != config]
    assert suggested, str(err.value)
    assert all(s in registry.all_config_names() for s in suggested), str(err.value)


def test_babel_has_no_all_config_and_says_so():
    with pytest.raises(UnknownTaskError) as err:
        resolve("babel.all")
    msg = str(err.value)
    assert "babel.all" in msg
    for lang in BABEL:
        assert f"babel.{lang}" in msg
    # `--task babel` without --language defaults to `all`: same clear error.
    with pytest.raises(UnknownTaskError, match="babel.all"):
        resolve(task="babel")


def test_all_config_names_is_exactly_the_spec():
    expected = (
        [f"mls.{x}" for x in MLS] + ["mls.all"]
        + [f"voxpopuli.{x}" for x in VOXPOPULI] + ["voxpopuli.all"]
        + [f"babel.{x}" for x in BABEL]
        + [f"covost2.{x}.en" for x in COVOST2_X_EN] + ["covost2.all"]
        + [f"minds14.{x}" for x in MINDS14] + ["minds14.all"]
        + [f"fleurs.{x}" for x in FLEURS] + ["fleurs.all"]
    )
    names = registry.all_config_names()
    assert len(names) == len(set(names)) == 169
    assert set(names) == set(expected)


def test_fleurs_target_column_picks_the_task():
    assert resolve("fleurs.all").name == "fleurs-asr"
    assert resolve("fleurs.all", target_column="transcription").name == "fleurs-asr"
    lid = resolve("fleurs.all", target_column="lang_id")
    assert lid.name == "fleurs-lang_id"
    assert lid.spec.family == "classification"
    assert lid.spec.target_column == "lang_id"
    assert len(lid.languages) == 102


def test_fleurs_retrieval_by_task():
    r = resolve("fleurs.all", task="fleurs-retrieval")
    assert r.name == "fleurs-retrieval"
    assert r.spec.family == "retrieval"
    assert r.languages == resolve("fleurs.all").languages
    assert resolve(task="fleurs-retrieval", language="all") == r


def test_task_and_language_form_equals_config_name():
    assert resolve(task="mls", language="all") == resolve("mls.all")
    assert resolve(task="mls") == resolve("mls.all")
    assert resolve(task="voxpopuli", language="pl") == resolve("voxpopuli.pl")
    assert resolve(task="covost2", language="fr") == resolve("covost2.fr.en")
    assert resolve(task="fleurs-lang_id", language="af_za") == resolve("fleurs.af_za", task="fleurs-lang_id")
    assert resolve(task="minds14", language="en-US").config_name == "minds14.en-US"


def test_task_that_does_not_read_the_config_is_rejected():
    with pytest.raises(UnknownTaskError, match="mls"):
        resolve("fleurs.all", task="mls")


def test_nothing_given_is_an_error():
    with pytest.raises(UnknownTaskError, match="dataset_config_name"):
        resolve()


@pytest.mark.parametrize(
    ("typo", "closest"),
    [("mls.al", "mls.all"), ("voxpopli.pl", "voxpopuli.pl"), ("covost2.fr", "covost2.fr.en"),
     ("minds14.en-us", "minds14.en-US"), ("fleurs.af-za", "fleurs.af_za")],
)
def test_unknown_config_suggests_the_closest_names_without_the_whole_list(typo, closest):
    with pytest.raises(UnknownTaskError) as err:
        resolve(typo)
    msg = str(err.value)
    assert typo in msg
    assert f"Did you mean '{closest}'" in msg  # the closest first, up to two more after it
    assert msg.count("'") <= 2 * 3 + 2 and "babel.sw" not in msg  # at most three names, not all 169
    assert "xtreme-s tasks" in msg


def test_unknown_task_lists_tasks():
    with pytest.raises(UnknownTaskError) as err:
        resolve(task="fleurs-langid", language="all")
    assert "fleurs-lang_id" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_fleurs_groups_partition_the_locales():
    seen: list[str] = []
    for group, members in registry.FLEURS_GROUPS.items():
        assert len(members) == FLEURS_GROUP_SIZES[group], group
        seen += members
    assert len(seen) == len(set(seen)) == 102
    assert set(seen) == set(FLEURS)
    assert list(registry.FLEURS_GROUPS) == list(FLEURS_GROUP_SIZES)  # lang_group_id order
    for locale in FLEURS:
        assert locale in registry.FLEURS_GROUPS[registry.fleurs_group_of(locale)]
    with pytest.raises(KeyError):
        registry.fleurs_group_of("xx_yy")


def test_fleurs_group_spot_checks():
    # Spec 3.3 by language name: Kabuverdianu is western European, Georgian eastern, Sorani-Kurdish central Asian,
    # Umbundu sub-Saharan, Sindhi south Asian, Maori south-east Asian, Cantonese CJK.
    assert registry.fleurs_group_of("kea_cv") == "western_european_we"
    assert registry.fleurs_group_of("ka_ge") == "eastern_european_ee"
    assert registry.fleurs_group_of("ckb_iq") == "central_asia_middle_north_african_cmn"
    assert registry.fleurs_group_of("umb_ao") == "sub_saharan_african_ssa"
    assert registry.fleurs_group_of("sd_in") == "south_asian_sa"
    assert registry.fleurs_group_of("mi_nz") == "south_east_asian_sea"
    assert registry.fleurs_group_of("yue_hant_hk") == "chinese_japanase_korean_cjk"


def test_language_group_filters_fleurs_all():
    r = resolve("fleurs.all", language_group="chinese_japanase_korean_cjk")
    assert sorted(r.languages) == ["cmn_hans_cn", "ja_jp", "ko_kr", "yue_hant_hk"]
    assert r.language_group == "chinese_japanase_korean_cjk"
    assert r.name == "fleurs-asr"
    lid = resolve("fleurs.all", target_column="lang_id", language_group="south_asian_sa")
    assert lid.name == "fleurs-lang_id"
    assert len(lid.languages) == 14
    # A single locale inside its own group passes through.
    assert resolve("fleurs.hi_in", language_group="south_asian_sa").languages == ("hi_in",)


def test_language_group_errors():
    with pytest.raises(UnknownTaskError, match="south_asian_sa"):
        resolve("fleurs.all", language_group="south_asian")  # closest-match hint
    with pytest.raises(UnknownTaskError, match="af_za"):
        resolve("fleurs.af_za", language_group="south_asian_sa")  # empty intersection
    for config in ("mls.all", "voxpopuli.pl", "covost2.fr.en", "minds14.all", "babel.sw"):
        with pytest.raises(UnknownTaskError, match="FLEURS"):
            resolve(config, language_group="western_european_we")
