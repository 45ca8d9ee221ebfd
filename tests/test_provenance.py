"""The card's words about a run are true: base model, what was done to it, the data, and model-index metrics only for
the benchmark's real test data."""

from __future__ import annotations

from xtreme_s.reports import provenance

MINI = {"task": "minds14", "family": "classification", "config_name": "minds14.all",
        "model": "/home/me/xtreme-s/mini_benchmark/models/tiny-xls-r", "train": {"train_runtime": 1.0},
        "base_model": {"name": "/home/me/xtreme-s/mini_benchmark/models/tiny-xls-r", "revision": None},
        "protocol": {"name": "probe"},
        "data": {"source": {"kind": "mini", "name": "mini_benchmark"},
                 "revisions": {"PolyAI/minds14": {"requested": "40ce77cb", "commit": None,
                                                  "mirror": "/home/me/xtreme-s/mini_benchmark/hub"}}},
        "splits": {"test": {"macro": {"f1": 0.0095, "accuracy": 0.0714}}}}
REAL = {**MINI, "model": "facebook/wav2vec2-xls-r-300m", "protocol": {"name": "finetune"},
        "base_model": {"name": "facebook/wav2vec2-xls-r-300m", "revision": "1a640f3"},
        "data": {"source": {"kind": "hub"}, "revisions": {"PolyAI/minds14": {"requested": "40ce77cb",
                                                                               "commit": "40ce77cb"}}}}


def test_mini_run_is_a_smoke_test_with_a_local_checkpoint_and_no_model_index():
    line = provenance.provenance_line(MINI)
    assert line.startswith("Probed on local checkpoint `tiny-xls-r`") and "/home" not in line
    assert "mini benchmark" in provenance.data_line(MINI) and "smoke test" in provenance.data_line(MINI)
    assert provenance.eval_results(MINI) == []
    meta, intro = provenance.card_metadata(MINI, "run").to_dict(), provenance.card_intro(MINI, "run")
    assert "smoke-test" in meta["tags"] and not meta.get("eval_results") and not meta.get("base_model")
    assert "Smoke test on synthetic data" in intro and "tiny random model" in intro and "/home" not in intro
    lora_eval = {**MINI, "protocol": {"name": "lora"}, "train": None}
    assert provenance.provenance_line(lora_eval).startswith("Evaluated only")


def test_real_source_run_names_hub_model_and_revision_and_reports_test_metrics():
    assert provenance.provenance_line(REAL).startswith(
        "Fine-tuned from `facebook/wav2vec2-xls-r-300m` (revision `1a640f3`)")
    assert provenance.data_line(REAL) == ("Data: the XTREME-S sources on the Hugging Face Hub: `PolyAI/minds14` at "
                                          "`40ce77cb`.")
    results = provenance.eval_results(REAL)
    assert [(r.metric_type, r.metric_value, r.dataset_split) for r in results] == [("f1", 0.95, "test"),
                                                                                  ("accuracy", 7.14, "test")]
    meta = provenance.card_metadata(REAL, "run").to_dict()
    assert meta["base_model"] == "facebook/wav2vec2-xls-r-300m" and meta["datasets"] == ["PolyAI/minds14"]
    assert "model-index above" in provenance.card_intro(REAL, "run")
    validation_only = {**REAL, "splits": {"validation": REAL["splits"]["test"]}}
    assert not provenance.is_benchmark_test(validation_only, "validation")
    assert provenance.eval_results(validation_only) == []
    mirrored = {**REAL, "data": {"source": {"kind": "mirror", "name": "hf-mirror"}, "revisions": {}}}
    assert "local mirror (`hf-mirror`)" in provenance.data_line(mirrored)
