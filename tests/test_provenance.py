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
    whisper = {**MINI, "model": "openai/whisper-small", "base_model": {"name": "openai/whisper-small",
                                                                        "revision": None},
               "protocol": {"name": "ready_made"}, "train": None}
    assert provenance.provenance_line(whisper) == ("Evaluated as it is (a ready-made model, nothing trained): "
                                                   "`openai/whisper-small` (default branch).")


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
    cut = {**REAL, "data": {**REAL["data"], "source": {"kind": "hub", "limited": {"test": 100}}}}
    incomplete = {**REAL, "languages_missing": ["fr-FR"]}
    assert provenance.eval_results(cut) == [] and provenance.eval_results(incomplete) == []
    mirrored = {**REAL, "data": {"source": {"kind": "mirror", "name": "hf-mirror"}, "revisions": {}}}
    assert "local mirror (`hf-mirror`)" in provenance.data_line(mirrored)


def test_cards_of_a_mini_run_and_of_a_real_source_run():
    """The whole card, as written to README.md and uploaded: a smoke test says so and has no model-index results; a
    run on the Hub sources names the base model's revision and carries its test metrics."""
    from huggingface_hub import ModelCard

    from xtreme_s.reports.model_card import card_text

    split = {"num_examples": 28, "macro": {"f1": 0.0095, "accuracy": 0.0714},
             "pooled": {"f1": 0.0095, "accuracy": 0.0714},
             "per_language": {"en-US": {"f1": 0.0095, "accuracy": 0.0714, "num_examples": 14}},
             "intervals": {"per_language": {"en-US": {"f1": [0.0, 0.04], "accuracy": [0.0, 0.2]}},
                           "macro": {"f1": [0.0, 0.04], "accuracy": [0.0, 0.2]}, "resampling": {}}}
    common = {"primary_metric": "f1", "greater_is_better": True, "languages": ["en-US"], "languages_missing": [],
              "splits": {"test": split}, "hyperparameters": {"learning_rate": 0.01},
              "protocol": {"name": "probe", "trainable_parameters": 913, "total_parameters": 104065,
                           "downstream": {"pooling": "mean", "dropout": 0.1}}}
    mini = card_text({**MINI, **common}, "minds14-probe")
    assert "/home" not in mini and "trained from scratch" not in mini
    meta = ModelCard(mini).data.to_dict()
    assert "model-index" not in mini.split("---")[1] and not meta.get("eval_results") and "smoke-test" in meta["tags"]
    assert "Smoke test on synthetic data" in mini and "Probed on local checkpoint `tiny-xls-r`" in mini
    assert "| downstream.pooling | mean |" in mini  # protocol details as a table, not a Python dict
    assert "0.0095 [0.0000, 0.0400]" in mini
    real = card_text({**REAL, **common, "protocol": {"name": "finetune"}}, "xlsr-minds14")
    card = ModelCard(real)
    assert card.data.base_model == "facebook/wav2vec2-xls-r-300m" and card.data.datasets == ["PolyAI/minds14"]
    assert [(r.metric_type, r.metric_value, r.dataset_split) for r in card.data.eval_results] == [
        ("f1", 0.95, "test"), ("accuracy", 7.14, "test")]
    assert "Fine-tuned from `facebook/wav2vec2-xls-r-300m` (revision `1a640f3`)" in real
    assert "| PolyAI/minds14 | 40ce77cb |" in real and "Smoke test" not in real
