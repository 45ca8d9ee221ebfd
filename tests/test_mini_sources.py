"""Each source adapter against the bundled mini mirror: real layouts in, one common schema out."""

from __future__ import annotations

import io

import pytest
import soundfile as sf
from conftest import MINI, MINI_HUB

from xtreme_s.audio import load_audio
from xtreme_s.parquet_audio import parse_ref, read_ref
from xtreme_s.registry import resolve
from xtreme_s.sources import LanguageUnavailable, LoadContext, SourceError, load_splits

COMMON = {"id", "language", "audio", "duration", "target"}


def _load(config: str, splits=("train", "validation", "test"), **ctx):
    ctx.setdefault("mirror_root", str(MINI_HUB))
    return load_splits(resolve(config, **ctx.pop("resolve", {})), list(splits), LoadContext(**ctx))


@pytest.mark.parametrize(
    "config, column, counts",
    [
        ("fleurs.all", "transcription", {"train": 60, "validation": 12, "test": 24}),
        ("mls.pl", "transcription", {"train": 8, "validation": 3, "test": 3}),
        ("voxpopuli.all", "transcription", {"train": 16, "validation": 6, "test": 6}),
        ("minds14.en-US", "intent_class", {"train": 28, "validation": 14, "test": 14}),
    ],
)
def test_hub_sources_map_to_common_schema(config, column, counts, hf_cache):
    splits, _ = _load(config, cache_dir=str(hf_cache))
    for split, ds in splits.items():
        assert COMMON | {column} <= set(ds.column_names), ds.column_names
        assert len(ds) == counts[split]
        row = ds[0]
        assert row["target"] == row[column]
        # audio stays encoded, never decoded in the dataset, and is not copied either: a reference to its source row
        assert row["audio"]["bytes"] is None and parse_ref(row["audio"]["path"]), row["audio"]
        assert len(load_audio(row["audio"], 16_000)) > 0
        assert row["duration"] > 0.3


def test_durations_match_decoded_audio(hf_cache):
    splits, _ = _load("voxpopuli.pl", splits=("test",), cache_dir=str(hf_cache))
    for row in splits["test"]:
        wav = load_audio(row["audio"], 16_000)
        assert abs(len(wav) / 16_000 - row["duration"]) < 0.01


def test_fleurs_keeps_parallel_sentence_ids_and_groups(hf_cache):
    splits, _ = _load("fleurs.all", splits=("test",), cache_dir=str(hf_cache))
    ds = splits["test"]
    by_lang: dict[str, set] = {}
    for lang, sid in zip(ds["language"], ds["sentence_id"], strict=True):
        by_lang.setdefault(lang, set()).add(sid)
    assert len(by_lang) == 6 and len({frozenset(v) for v in by_lang.values()}) == 1
    names = ds.features["lang_group_id"].names
    assert names[ds[0]["lang_group_id"]] in ("western_european_we", "eastern_european_ee", "sub_saharan_african_ssa")


def test_language_group_restricts_loading(hf_cache):
    splits, missing = _load("fleurs.all", splits=("test",), cache_dir=str(hf_cache),
                            resolve={"language_group": "eastern_european_ee"})
    assert set(splits["test"]["language"]) == {"pl_pl"}
    assert "cs_cz" in missing  # in the group, not in the mini mirror


def test_all_config_reports_languages_the_mirror_lacks(hf_cache):
    splits, missing = _load("mls.all", splits=("test",), cache_dir=str(hf_cache))
    assert set(splits["test"]["language"]) == {"de", "pl"}
    assert set(missing) == {"en", "es", "fr", "it", "nl", "pt"}


def test_single_language_missing_is_an_error(hf_cache):
    with pytest.raises(LanguageUnavailable, match="MLS English"):
        _load("mls.en", splits=("test",), cache_dir=str(hf_cache))


def test_minds14_is_8khz_and_split_by_xtreme_s_ids(hf_cache):
    splits, _ = _load("minds14.fr-FR", cache_dir=str(hf_cache))
    ids = {s: set(ds["id"]) for s, ds in splits.items()}
    assert not (ids["train"] & ids["test"]) and not (ids["train"] & ids["validation"])
    info = sf.info(io.BytesIO(read_ref(splits["train"][0]["audio"]["path"])[0]))
    assert info.samplerate == 8000
    assert len(load_audio(splits["train"][0]["audio"], 16_000)) == pytest.approx(info.frames * 2, abs=2)


def test_covost2_local_folder_joins_common_voice(hf_cache):
    splits, _ = _load("covost2.fr.en", cache_dir=str(hf_cache), data_dir=str(MINI / "local" / "covost2"))
    assert len(splits["train"]) == 9  # train + train_covost rows
    row = splits["test"][0]
    assert row["translation"] and row["transcription"] and row["audio"]["path"].endswith(".mp3")
    assert sf.info(row["audio"]["path"]).samplerate == 48_000


def test_covost2_without_hub_files_or_manual_download_says_what_to_do(tmp_path):
    (tmp_path / "fixie-ai" / "covost2").mkdir(parents=True)
    with pytest.raises(SourceError, match="fr->en.*fixie-ai/covost2.*Common Voice v4"):
        _load("covost2.fr.en", splits=("test",), mirror_root=str(tmp_path))


def test_babel_local_folder_segments_and_splits(hf_cache):
    splits, _ = _load("babel.sw", data_dir=str(MINI / "local" / "babel"), cache_dir=str(hf_cache))
    train, dev = splits["train"], splits["validation"]
    assert len(train) > len(dev) > 0 and not (set(train["id"]) & set(dev["id"]))
    for row in splits["test"]:
        assert "<" not in row["transcription"] and "((" not in row["transcription"]
        assert row["segment_end"] > row["segment_start"]
        wav = load_audio(row["audio"], 16_000, row["segment_start"], row["segment_end"])
        assert abs(len(wav) / 16_000 - row["duration"]) < 0.01


def test_babel_missing_folder_names_the_ldc_package(tmp_path):
    with pytest.raises(SourceError, match="LDC2017S05"):
        _load("babel.sw", splits=("test",), data_dir=str(tmp_path))


def test_mirror_from_environment_variable(monkeypatch, hf_cache):
    monkeypatch.setenv("XTREME_S_MIRROR_ROOT", str(MINI_HUB))
    splits, _ = _load("mls.de", splits=("test",), mirror_root=None, cache_dir=str(hf_cache))
    assert len(splits["test"]) == 3


def test_target_column_can_be_chosen_and_is_checked(hf_cache):
    ctx = LoadContext(mirror_root=str(MINI_HUB), cache_dir=str(hf_cache))
    task = resolve("fleurs.de_de", target_column="lang_id")
    splits, _ = load_splits(task, ["test"], ctx, "lang_id")
    names = splits["test"].features["target"].names
    assert {names[t] for t in splits["test"]["target"]} == {"de_de"}
    retrieval, _ = load_splits(resolve("fleurs.de_de", task="fleurs-retrieval"), ["test"], ctx)
    assert retrieval["test"]["target"] == retrieval["test"]["sentence_id"]  # FLEURS `id` = parallel sentence id
    with pytest.raises(SourceError, match="no column 'translation'"):
        load_splits(resolve("mls.pl"), ["test"], ctx, "translation")
