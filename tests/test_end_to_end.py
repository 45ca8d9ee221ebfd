"""The real entry point on the mini benchmark: train, evaluate, predict, report; and proof that it learns."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from conftest import MINI, ROOT, TINY_MODEL, run_cli

from xtreme_s.text import TextNormalizer

QUICK = ["--mini", "--do_train", "--do_eval", "--do_predict", "--max_steps", "4", "--per_device_train_batch_size",
         "4", "--per_device_eval_batch_size", "4", "--eval_strategy", "no", "--save_strategy", "no",
         "--learning_rate", "1e-3"]


@pytest.mark.parametrize("config", ["voxpopuli.all", "mls.pl", "babel.sw"])
def test_ctc_train_eval_predict_writes_results(config, tmp_path, hf_cache, monkeypatch):
    from xtreme_s.families.ctc import CTCFamily

    decoded: list[str] = []
    decode = CTCFamily.decode
    monkeypatch.setattr(CTCFamily, "decode", lambda self, predictions, split: decoded.append(split) or
                        decode(self, predictions, split))
    out = tmp_path / "run"
    results = run_cli(["--dataset_config_name", config, *QUICK], out, hf_cache)
    assert sorted(decoded) == ["test", "validation"]  # each scored split decoded once, and told which it is
    assert results["task"] == config.split(".")[0] and results["config_name"] == config
    assert results["family"] == "ctc" and results["model"] == str(TINY_MODEL)
    test = results["splits"]["test"]
    assert set(test["per_language"]) == set(results["languages"])
    for scope in ("macro", "pooled"):
        assert set(test[scope]) == {"wer", "cer"}
    assert sum(row["num_examples"] for row in test["per_language"].values()) == test["num_examples"]
    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == test["num_examples"]
    # speaker_id / sentence_id where the source has them (block resampling of `xtreme-s compare`)
    assert {"id", "language", "prediction", "reference"} <= set(lines[0]) <= {
        "id", "language", "prediction", "reference", "speaker_id", "sentence_id"}
    assert set(test["intervals"]["per_language"]) == set(test["per_language"])
    assert (out / "eval_predictions.jsonl").exists() and (out / "predict_results.json").exists()
    for name in ("vocab.json", "config.json", "model.safetensors"):
        assert (out / name).exists(), name
    # A finished directory holds no lock, and docs/outputs.md names every file in it.
    assert not (out / "_xtreme_s.lock").exists()
    documented = (ROOT / "docs" / "outputs.md").read_text()
    for path in out.iterdir():
        generic = re.sub(r"_(train|validation|test)\.", "_<split>.", path.name)
        assert f"`{path.name}`" in documented or f"`{generic}`" in documented, path.name
    # The saved run is a usable checkpoint: processor and model reload and agree on the vocabulary size.
    from transformers import AutoModelForCTC, AutoProcessor

    processor = AutoProcessor.from_pretrained(out)
    assert AutoModelForCTC.from_pretrained(out).config.vocab_size == len(processor.tokenizer)


def test_vocabulary_comes_from_training_split_only(tmp_path, hf_cache):
    out = tmp_path / "run"
    results = run_cli(["--dataset_config_name", "fleurs.all", "--preprocessing_only", *QUICK], out, hf_cache)
    assert results is None  # preprocessing stops before training: no results
    vocab = json.loads((out / "vocab.json").read_text())
    assert vocab["|"] == 0 and (vocab["[UNK]"], vocab["[PAD]"]) == (len(vocab) - 2, len(vocab) - 1)
    assert not (out / "model.safetensors").exists()
    from conftest import MINI_HUB

    from xtreme_s.registry import resolve
    from xtreme_s.sources import LoadContext, load_splits

    splits, _ = load_splits(resolve("fleurs.all"), ["train"], LoadContext(mirror_root=str(MINI_HUB),
                                                                          cache_dir=str(hf_cache)))
    norm = TextNormalizer()
    train_chars = {c for t in splits["train"]["transcription"] for c in norm(t)} - {" "}
    assert set(vocab) - {"|", "[UNK]", "[PAD]"} == train_chars


def test_preprocessing_cache_holds_no_waveforms(tmp_path):
    """Hub parquet audio is read in place: the cache holds metadata and small derived columns, no audio bytes (the
    `parquet` builder used to write a full copy) and never float arrays."""
    import pyarrow as pa

    cache = tmp_path / "cache"
    run_cli(["--dataset_config_name", "voxpopuli.all", *QUICK], tmp_path / "run", cache)
    raw = sum(f.stat().st_size for f in (MINI / "hub" / "facebook" / "voxpopuli").rglob("*.parquet"))
    written = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
    # ids and transcripts of 2-3 s mini clips: a few % of the source (about 0.1 % for real clips, make bench)
    assert written <= 0.05 * raw, (written, raw)
    arrows = list(cache.rglob("*.arrow"))
    assert arrows  # maps over the metadata are cached, so other processes reuse them
    for arrow in arrows:
        with pa.memory_map(str(arrow)) as source:
            table = pa.ipc.open_stream(source).read_all()
        for f in table.schema:
            assert f.name not in ("input_values", "array"), (arrow, f.name)
            assert not pa.types.is_list(f.type) or not pa.types.is_floating(f.type.value_type), (arrow, f)
        if "audio" in table.column_names:
            assert table.column("audio").combine_chunks().field("bytes").null_count == len(table), arrow


def test_existing_finished_run_is_not_overwritten(tmp_path, hf_cache):
    out = tmp_path / "run"
    run_cli(["--dataset_config_name", "mls.de", *QUICK], out, hf_cache)
    with pytest.raises(FileExistsError, match="finished run"):
        run_cli(["--dataset_config_name", "mls.de", *QUICK], out, hf_cache)
    run_cli(["--dataset_config_name", "mls.de", "--overwrite_output_dir", *QUICK], out, hf_cache)


def test_fp16_without_gpu_is_a_clear_message(tmp_path, hf_cache, caplog, monkeypatch):
    monkeypatch.setattr("xtreme_s.args.native_bf16", lambda: False)  # a CPU without AVX512-BF16/AMX
    payload = run_cli(["--dataset_config_name", "mls.de", "--fp16", *QUICK], tmp_path / "run", hf_cache)
    assert any("fp16 needs a CUDA GPU" in r.getMessage() for r in caplog.records)
    assert not payload["hyperparameters"]["fp16"] and not payload["hyperparameters"]["bf16"]


def test_fp16_trains_in_bf16_on_a_cpu_that_has_it(tmp_path, hf_cache, caplog, monkeypatch):
    """The reference recipes' --fp16 on a CPU with native bf16: a bf16-autocast run that still scores."""
    monkeypatch.setattr("xtreme_s.args.native_bf16", lambda: True)
    payload = run_cli(["--dataset_config_name", "minds14.fr-FR", "--fp16", *QUICK], tmp_path / "run", hf_cache)
    assert payload["hyperparameters"]["bf16"] and not payload["hyperparameters"]["fp16"]
    assert any("training in bf16 instead" in r.getMessage() for r in caplog.records)
    assert 0.0 <= payload["splits"]["test"]["pooled"]["accuracy"] <= 1.0


@pytest.mark.slow
def test_tiny_model_learns_to_transcribe(tmp_path, hf_cache):
    """Overfit a handful of utterances: CER must fall far below its starting value (about 1.0)."""
    out = tmp_path / "overfit"
    results = run_cli([
        "--mini", "--dataset_config_name", "fleurs.en_us", "--do_train", "--do_eval", "--eval_split_name", "train",
        "--max_steps", "300", "--learning_rate", "3e-3", "--warmup_steps", "30", "--per_device_train_batch_size",
        "10", "--per_device_eval_batch_size", "10", "--eval_strategy", "steps", "--eval_steps", "300",
        "--eval_on_start", "True", "--save_strategy", "no", "--mask_time_prob", "0", "--freeze_feature_encoder",
        "False", "--logging_steps", "50", "--seed", "0",
    ], out, hf_cache)
    state = json.loads((out / "trainer_state.json").read_text())
    evals = [h for h in state["log_history"] if "eval_cer" in h]
    start, end = evals[0]["eval_cer"], results["splits"]["train"]["macro"]["cer"]
    assert start > 0.9, start
    assert end < 0.35 * start, (start, end)


def test_fine_tuned_checkpoint_evaluates_without_training(tmp_path, hf_cache):
    """A finished run's output directory is a checkpoint: evaluating it alone reproduces its predictions."""
    trained = tmp_path / "trained"
    run_cli(["--dataset_config_name", "mls.pl", *QUICK], trained, hf_cache)
    again = run_cli(["--mini", "--dataset_config_name", "mls.pl", "--model_name_or_path", str(trained), "--do_predict",
                     "--per_device_eval_batch_size", "4"], tmp_path / "eval_only", hf_cache)
    assert "train" not in again
    first = (trained / "predictions.jsonl").read_text()
    assert (tmp_path / "eval_only" / "predictions.jsonl").read_text() == first


def test_transcripts_do_not_depend_on_the_batch_they_are_decoded_in(tmp_path, hf_cache):
    """Greedy CTC decoding reads every frame of a padded batch: the frames past a clip's end must decode to nothing,
    else a clip's transcript (and the WER) changes with the eval batch size. Before the fix the demo's model wrote an
    "o" after every transcript it decoded in a batch of 10."""
    from safetensors.torch import load_file, save_file

    trained = tmp_path / "trained"
    run_cli(["--mini", "--dataset_config_name", "fleurs.en_us", "--do_train", "--max_steps", "1", "--learning_rate",
             "1e-9", "--per_device_train_batch_size", "10", "--save_strategy", "no", "--seed", "0"], trained, hf_cache)
    # A random head made confident: it writes characters on every frame, padding included, and float noise between
    # batch shapes cannot flip its choices.
    weights = load_file(trained / "model.safetensors")
    weights["lm_head.weight"] = weights["lm_head.weight"] * 1000
    save_file(weights, trained / "model.safetensors", metadata={"format": "pt"})
    transcripts = {}
    for batch in (1, 10):
        run_cli(["--mini", "--dataset_config_name", "fleurs.en_us", "--model_name_or_path", str(trained),
                 "--do_predict", "--predict_split_name", "train", "--per_device_eval_batch_size", str(batch)],
                tmp_path / f"bs{batch}", hf_cache)
        transcripts[batch] = [json.loads(line)["prediction"]
                              for line in (tmp_path / f"bs{batch}" / "predictions.jsonl").read_text().splitlines()]
    assert len(transcripts[1]) == 10 and all(transcripts[1])
    assert transcripts[10] == transcripts[1]


def test_evaluation_without_training_needs_a_tokenizer(tmp_path, hf_cache):
    with pytest.raises(ValueError, match="fine-tuned CTC checkpoint"):
        run_cli(["--mini", "--dataset_config_name", "mls.pl", "--model_name_or_path", str(TINY_MODEL), "--do_predict"],
                tmp_path / "run", hf_cache)


def test_every_registered_task_has_its_head_and_unknown_families_are_named():
    from xtreme_s.families import FAMILIES, get_family
    from xtreme_s.registry import TASKS

    assert {t.family for t in TASKS.values()} <= set(FAMILIES)
    with pytest.raises(NotImplementedError, match="available: ctc"):
        get_family("diarisation")


def test_other_dataset_names_are_refused_not_ignored(tmp_path, hf_cache):
    with pytest.raises(ValueError, match="--data_dir"):
        run_cli(["--dataset_name", "google/fleurs", "--dataset_config_name", "fleurs.all", *QUICK],
                tmp_path / "run", hf_cache)


def test_unavailable_attention_kernel_falls_back_to_eager(tmp_path, hf_cache, caplog):
    run_cli(["--dataset_config_name", "mls.de", "--attn_implementation", "flash_attention_2", *QUICK],
            tmp_path / "run", hf_cache)
    assert any("using eager attention" in r.getMessage() for r in caplog.records)


def test_command_line_reports_set_up_mistakes_in_one_line(tmp_path):
    """A wrong config name on the real command line: exit code 2 and one clear message, no traceback."""
    result = subprocess.run([sys.executable, str(ROOT / "run_xtreme_s.py"), "--dataset_config_name", "mls.xx",
                             "--output_dir", str(tmp_path / "out"), "--do_train"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("xtreme-s: error: Unknown config name 'mls.xx'. Did you mean")
    assert "Traceback" not in result.stderr
