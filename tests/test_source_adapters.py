"""Each corpus's adapter declares its own rules, and `xtreme-s sources` and `--mini` ask the adapters for them."""

from __future__ import annotations

import json
from pathlib import Path

from xtreme_s.args import parse_args
from xtreme_s.registry import TASKS
from xtreme_s.sources import ADAPTERS, MINI_ROOT, HubAdapter, mini_defaults
from xtreme_s.sources.hub import SourcePlan, SplitSurvey
from xtreme_s.sources.mls import MLS_ENGLISH
from xtreme_s.sources.report import main as sources_main


def test_every_corpus_declares_its_rules():
    assert {spec.source for spec in TASKS.values()} == set(ADAPTERS)
    for name, adapter in ADAPTERS.items():
        assert adapter.name == name
        defaults = adapter.mini_defaults()
        assert all(Path(p).is_dir() for p in defaults.values()), (name, defaults)
        if isinstance(adapter, HubAdapter):
            assert adapter.repo and adapter.revision and set(adapter.split_names) == {"train", "validation", "test"}
    # Hand-downloaded layouts: BABEL (only there) and CoVoST-2 (Common Voice 4, besides the Hub copy).
    assert {n for n, a in ADAPTERS.items() if a.manual_download} == {"covost2", "babel"}
    assert ADAPTERS["babel"].repo is None and ADAPTERS["babel"].mini_defaults()["data_dir"] == str(
        MINI_ROOT / "local" / "babel")
    # MLS English is routed to parler-tts/mls_eng unless a mirror holds it; other languages stay.
    mls, ctx = ADAPTERS["mls"], type("Ctx", (), {"mirror": None})()
    assert mls.route("en", ctx) is MLS_ENGLISH and mls.route("pl", ctx) is mls


def test_mini_data_defaults_come_from_the_adapter(tmp_path):
    _, data, _, _ = parse_args(["--mini", f"--output_dir={tmp_path}", "--dataset_config_name=babel.sw"])
    assert (data.data_dir, data.mirror_root) == (str(MINI_ROOT / "local" / "babel"), str(MINI_ROOT / "hub"))
    _, data, _, _ = parse_args(["--mini", f"--output_dir={tmp_path}", "--task=fleurs-asr", "--language=en_us"])
    assert data.data_dir is None and data.mirror_root == str(MINI_ROOT / "hub")
    assert mini_defaults("covost2") == {"mirror_root": str(MINI_ROOT / "hub")}  # its Hub layout, in the mirror


def test_sources_command_answers_from_the_adapters(monkeypatch, capsys):
    adapter = ADAPTERS["minds14"]
    asked = []

    def survey(language, split, ctx):
        asked.append((language, split))
        return SplitSurvey(SourcePlan(adapter.repo, "pin", None, "parquet", ["a", "b"]), 1000, 7200.0)

    monkeypatch.setattr(adapter, "survey", survey)
    assert sources_main(["minds14.all", "--mini", "--splits", "test", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["minds14.all"]
    assert asked == [(lang, "test") for lang in TASKS["minds14"].languages]
    langs = entry["splits"]["test"]
    assert len(langs) == len(TASKS["minds14"].languages)
    assert all(v == {"files": 2, "rows": 1000, "hours": 2.0} for v in langs.values())
