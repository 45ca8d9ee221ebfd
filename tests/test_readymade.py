"""Ready-made models evaluated as they are (xtreme_s/readymade, readymade_run): tiny random Whisper, MMS-1b-all
and SeamlessM4T v2 checkpoints with working tokenizers (scripts/make_tiny_readymade.py), through the real entry
point on the mini benchmark."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import jsonschema  # the test extra
import numpy as np
import pytest
from conftest import ROOT, run_cli, run_user_cli

sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    from make_tiny_readymade import make_all

    return make_all(tmp_path_factory.mktemp("readymade"))


def _evaluator(name: str, path: Path, **flags):
    from xtreme_s.hub import ModelSource
    from xtreme_s.readymade import ReadyMadeArguments, evaluators

    model = evaluators()[name](ModelSource(str(path)), SimpleNamespace(generation_num_beams=None, use_cpu=True,
                                                                       bf16=False, fp16=False),
                               ReadyMadeArguments(**flags))
    model.load()
    return model


def _waves(n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(16_000 + 4_000 * i).astype(np.float32) * 0.1 for i in range(n)]


def test_whisper_forces_the_tokens_its_own_tokenizer_would(tiny):
    """The prompt our language codes produce is the one Whisper's own tokenizer builds for that language and task
    (tokenizer.prefix_tokens counts language tokens from its own LANGUAGES order, independently of lang_to_id)."""
    import torch

    model = _evaluator("whisper", tiny["whisper"], max_new_tokens=2)
    tok = model.processor.tokenizer
    feats = model.features(_waves())
    seen: list = []  # the decoder's input ids at its first step of each generate call: the forced prompt
    hook = model.model.model.decoder.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["input_ids"].tolist()), with_kwargs=True)
    cases = (("pl_pl", "polish", "asr", "transcribe"), ("fr", "french", "translate", "translate"),
             ("cmn_hans_cn", "chinese", "asr", "transcribe"), ("jv_id", "javanese", "asr", "transcribe"))
    for lang, name, kind, task in cases:
        seen.clear()
        code = model.code_for(lang, kind)
        with torch.inference_mode():
            model.model.generate(input_features=feats, **model.generate_kwargs(code, kind))
        tok.set_prefix_tokens(language=name, task=task, predict_timestamps=False)
        assert seen[0] == [tok.prefix_tokens] * 2, (lang, tok.convert_ids_to_tokens(seen[0][0]))
    hook.remove()
    assert model.code_for("sw_ke", "asr") is None  # not in this checkpoint's lang_to_id
    assert model.code_for("ast_es", "asr") is None  # no Whisper token at all


def test_mms_switching_adapters_changes_outputs(tiny):
    model = _evaluator("mms", tiny["mms"])
    assert model.code_for("pl_pl", "asr") == "pol" and model.code_for("pl-PL", "asr") == "pol"
    assert model.code_for("de_de", "asr") is None
    waves = _waves()
    polish = model.predict(waves, "pol", "asr")
    head_pol = model.model.lm_head.weight.shape[0]
    french = model.predict(waves, "fra", "asr")
    assert model.model.lm_head.weight.shape[0] != head_pol  # the French vocabulary has its own size
    assert polish != french and model.switches == 2
    assert model.predict(waves, "pol", "asr") == polish  # back to Polish: the same outputs again


def test_ready_made_runs_write_the_results_schema(tiny, tmp_path, hf_cache, capsys):
    """Whisper ASR, CoVoST-2 X->en and FLEURS language ID, MMS ASR: per-language metrics, coverage (uncovered
    languages reported and counted, never dropped), the normalised variant and RTFx; unsupported tasks refused."""
    common = ["--mini", "--do_predict", "--max_new_tokens", "3"]
    res = run_cli([*common, "--model_name_or_path", str(tiny["whisper"]), "--dataset_config_name", "fleurs.all"],
                  tmp_path / "w_asr", hf_cache)
    test = res["splits"]["test"]
    assert res["protocol"]["name"] == "ready_made" and res["protocol"]["evaluator"] == "whisper"
    assert test["coverage"]["not_covered"] == ["sw_ke"] and "pl_pl" in test["coverage"]["covered"]
    assert test["per_language"]["sw_ke"] == {"wer": 1.0, "cer": 1.0, "num_examples": 4, "covered": False}
    assert set(test["macro_covered"]) == {"wer", "cer"}
    assert test["normalized"]["normalizer"] == "whisper_basic_keep_marks"
    assert set(test["normalized"]["per_language"]) == set(test["per_language"])
    assert test["speed"]["rtfx"] > 0 and test["speed"]["audio_seconds"] > 0
    assert res["notes"]["ready_made"]["language_codes"]["pl_pl"] == "pl"
    assert (tmp_path / "w_asr" / "predictions.jsonl").exists() and (tmp_path / "w_asr" / "results.md").exists()
    report = (tmp_path / "w_asr" / "results.md").read_text()
    assert "Not covered by the model (1" in report and "RTFx" in report and "whisper_basic_keep_marks" in report
    schema = json.loads((ROOT / "docs" / "results.schema.json").read_text())
    jsonschema.validate(res, schema)  # the published shape every reader (score, comparisons) relies on

    res = run_cli([*common, "--model_name_or_path", str(tiny["whisper"]), "--dataset_config_name", "covost2.all"],
                  tmp_path / "w_st", hf_cache)
    test = res["splits"]["test"]
    assert res["primary_metric"] == "bleu" and set(test["per_language"]) == {"fr", "de"}
    assert "groups" in test and "normalized" not in test and test["speed"]["rtfx"] > 0

    res = run_cli([*common, "--model_name_or_path", str(tiny["whisper"]), "--dataset_config_name", "fleurs.all",
                   "--task", "fleurs-lang_id"], tmp_path / "w_lid", hf_cache)
    test = res["splits"]["test"]
    assert res["task"] == "fleurs-lang_id" and test["per_language"]["sw_ke"]["accuracy"] == 0.0  # never predicted
    assert test["coverage"]["not_covered"] == ["sw_ke"] and test["num_examples"] == 24
    jsonschema.validate(res, schema)

    res = run_cli([*common, "--model_name_or_path", str(tiny["mms"]), "--dataset_config_name", "fleurs.all"],
                  tmp_path / "mms", hf_cache)
    test = res["splits"]["test"]
    assert res["notes"]["ready_made"]["evaluator"] == "mms"
    assert test["coverage"] == {"covered": ["en_us", "fr_fr", "pl_pl"], "not_covered": ["de_de", "es_419", "sw_ke"],
                                "counted_in_macro_as": test["coverage"]["counted_in_macro_as"]}
    assert res["notes"]["ready_made"]["generation"]["adapter_switches"] == 3

    res = run_cli([*common, "--model_name_or_path", str(tiny["seamless"]), "--dataset_config_name", "fleurs.all"],
                  tmp_path / "seamless", hf_cache)
    test = res["splits"]["test"]
    assert res["notes"]["ready_made"]["evaluator"] == "seamless" and test["coverage"]["not_covered"] == ["sw_ke"]
    assert res["notes"]["ready_made"]["language_codes"]["es_419"] == "spa" and test["speed"]["rtfx"] > 0

    res = run_cli([*common, "--model_name_or_path", str(tiny["classifier"]), "--dataset_config_name", "fleurs.all",
                   "--task", "fleurs-lang_id", "--eval_crops", "3", "--eval_crop_seconds", "0.5"],
                  tmp_path / "crops", hf_cache)
    test, gen = res["splits"]["test"], res["notes"]["ready_made"]["generation"]
    assert res["notes"]["ready_made"]["evaluator"] == "classifier" and gen["eval_crops"] == 3
    assert 24 < gen["crops_scored"] <= 3 * 24 and test["coverage"]["not_covered"] == ["sw_ke"]
    assert set(test["per_language"]) == {"de_de", "en_us", "es_419", "fr_fr", "pl_pl", "sw_ke"}

    code, err = run_user_cli([*common, "--model_name_or_path", str(tiny["whisper"]), "--dataset_config_name",
                              "minds14.all"], capsys, tmp_path / "refused", hf_cache)
    assert code == 2 and err.count("\n") == 1 and "intent classification" in err and "cannot" in err
    code, err = run_user_cli([*common, "--model_name_or_path", str(tiny["mms"]), "--dataset_config_name",
                              "covost2.all"], capsys, tmp_path / "refused2", hf_cache)
    assert code == 2 and "speech translation" in err
    code, err = run_user_cli([*common, "--model_name_or_path", str(tiny["mms"]), "--dataset_config_name",
                              "fleurs.all", "--ready_made", "whisper"], capsys, tmp_path / "refused3", hf_cache)
    assert code == 2 and "not a ready-made whisper model" in err
    code, err = run_user_cli([*common, "--model_name_or_path", str(tiny["whisper"]), "--dataset_config_name",
                              "fleurs.all"], capsys, tmp_path / "w_asr", hf_cache)
    assert code == 2 and "already holds a finished run" in err  # an earlier run's results are never replaced
    code, err = run_user_cli([*common, "--model_name_or_path", str(tiny["whisper"]), "--task", "fleurs-lang_id",
                              "--language", "all", "--eval_crops", "3"], capsys, tmp_path / "refused4", hf_cache)
    assert code == 2 and "--eval_crops applies to audio-classification models" in err


def test_seamless_writes_in_the_source_language_for_asr_and_english_for_translation(tiny):
    """The text decoder starts from the language token of `tgt_lang`: the source language's for recognition,
    __eng__ for X->en; a language the decoder does not write is not covered."""
    model = _evaluator("seamless", tiny["seamless"], max_new_tokens=2)
    tok = model.processor.tokenizer
    seen: list = []
    hook = model.model.text_decoder.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["input_ids"][:, -1].tolist()), with_kwargs=True)
    for lang, kind, token in (("pl_pl", "asr", "__pol__"), ("fr", "translate", "__eng__")):
        seen.clear()
        model.predict(_waves(), model.code_for(lang, kind), kind)
        assert seen[0] == [tok.convert_tokens_to_ids(token)] * 2, (lang, seen[0])
    hook.remove()
    assert model.code_for("sw_ke", "asr") is None and model.code_for("sw_ke", "translate") == "swh"


def test_crops_average_the_logits_of_evenly_spaced_windows(tiny):
    import torch

    from xtreme_s.readymade.classifier import crops

    wave = np.arange(100, dtype=np.float32)
    assert [c[0] for c in crops(wave, 3, 40)] == [0, 30, 60] and crops(wave, 3, 200)[0] is wave
    model = _evaluator("classifier", tiny["classifier"], eval_crops=4, eval_crop_seconds=0.25)
    waves = _waves(2)
    pieces = [crops(w, 4, 4000) for w in waves]
    expected = [int(model.logits(p).mean(dim=0).argmax()) for p in pieces]
    names = [model.locales[model.labels[i]] for i in expected]
    assert model.classify(waves, "lang_id") == names and model.crops_scored == sum(map(len, pieces))
    assert isinstance(model.logits(waves[:1]), torch.Tensor)
