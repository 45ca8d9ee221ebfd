"""Faults met during a run, through the real command line: training that diverges, a clip that fails to decode in an
evaluation-only run, a loss the run cannot stand behind, a translation holding special-token text. Each ends with
one line (or none) and nothing lost or scored differently."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import MINI, TINY_MODEL, run_user_cli
from test_user_errors import error_line, folder, tone

SR = 16_000


def test_training_that_diverges_stops_naming_the_step_and_saves_no_model(tmp_path, capsys, caplog, hf_cache):
    """A learning rate that drives the gradient to NaN: one line naming the step and the likely cause, exit 2, no
    finished model or results.json; the checkpoint before it holds finite weights. (Without the guard: exit 0, a
    finite-looking logged loss, NaN weights saved as the model.) The load report of the fresh head is one line."""
    from safetensors.numpy import load_file

    out = tmp_path / "out"
    code, err = run_user_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train", "--max_steps", "4",
                              "--per_device_train_batch_size", "4", "--learning_rate", "1e9", "--warmup_steps", "0",
                              "--save_steps", "1", "--logging_steps", "1", "--seed", "0"], capsys, out, hf_cache)
    line = error_line(code, err)
    assert "training diverged at step 2" in line and "--learning_rate 1e+09" in line, line
    assert not (out / "model.safetensors").exists() and not (out / "results.json").exists()
    weights = load_file(out / "checkpoint-1" / "model.safetensors")
    assert all(np.isfinite(w).all() for w in weights.values())
    assert not (out / "checkpoint-2").exists()
    assert "LOAD REPORT" not in err + caplog.text and "as expected for a fresh head" in caplog.text


def _model_with_tokenizer(root: Path) -> Path:
    """The tiny encoder with a CTC tokenizer, so a run can evaluate it without training."""
    from transformers import Wav2Vec2CTCTokenizer

    from xtreme_s.text import build_vocab, save_vocab

    model = root / "model"
    shutil.copytree(TINY_MODEL, model)
    vocab = save_vocab(build_vocab(["ab cd"]), root / "vocab")
    Wav2Vec2CTCTokenizer(str(vocab), unk_token="[UNK]", pad_token="[PAD]", word_delimiter_token="|"
                         ).save_pretrained(model)
    return model


def test_a_bad_clip_never_stops_an_evaluation_part_way(tmp_path, capsys, hf_cache):
    """Evaluation only, one clip whose header reads and whose body does not: every other clip is scored and
    written, then one line names the clip (exit 2). A transcript longer than the model's output frames makes the
    CTC loss meaningless (infinite, zeroed): the loss is null with the reason, the metrics are still there."""
    data = folder(tmp_path / "data", {}, {f"good{i}.wav": 1.0 for i in range(3)})
    rows = [f"clips/good{i}.wav\tab cd" for i in range(3)]
    sf.write(data / "clips" / "short.wav", tone(0.2, seed=5), SR)
    rows.append("clips/short.wav\t" + "ab cd " * 8)  # 47 characters for about 10 output frames
    body = data / "clips" / "corrupt_body.flac"
    sf.write(body, tone(1.0, seed=9), SR)
    raw = bytearray(body.read_bytes())
    raw[200:] = np.random.default_rng(0).integers(0, 256, len(raw) - 200, dtype=np.uint8).tobytes()
    body.write_bytes(bytes(raw))
    rows.insert(1, "clips/corrupt_body.flac\tab")
    (data / "test.tsv").write_text("path\ttranscription\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    code, err = run_user_cli(["--model_name_or_path", str(_model_with_tokenizer(tmp_path)), "--dataset_config_name",
                              "voxpopuli.pl", "--data_dir", str(data), "--do_predict",
                              "--per_device_eval_batch_size", "2"], capsys, out, hf_cache)
    line = error_line(code, err)
    assert "test: 1 of 5 utterance(s) could not be scored" in line and "corrupt_body.flac" in line, line
    assert "undecodable audio" in line and str(out / "results.json") in line
    results = json.loads((out / "results.json").read_text())
    assert results["skipped"]["test"] == {"undecodable audio": 1}
    test = results["splits"]["test"]
    assert test["num_examples"] == 4 and set(test["macro"]) == {"wer", "cer"}
    assert test["loss"] is None and "1 of 4 transcripts are longer" in results["notes"]["loss_not_reported"]["test"]
    predictions = (out / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == 4 and not any("corrupt" in p for p in predictions)


def test_special_token_text_in_a_translation_is_text():
    """CoVoST-2 labels: a literal `</s>`, `<pad>` or language code in a translation never becomes its special id
    (it would end the sentence early or be ignored as padding); ordinary text is tokenized as before."""
    from transformers import AutoTokenizer

    from xtreme_s.families.seq2seq import Seq2SeqFamily

    tok = AutoTokenizer.from_pretrained(MINI / "models" / "tiny-decoder")
    family = Seq2SeqFamily.__new__(Seq2SeqFamily)  # labels_for needs only the processor and the start token
    family.processor = type("P", (), {"tokenizer": tok})()
    family.decoder_start_token_id = None
    plain, literal = family.labels_for(["hello world", "hello </s> world <pad> x en_XX"])
    assert plain == tok(text_target="hello world").input_ids
    specials = set(tok.all_special_ids) - {tok.unk_token_id}
    assert literal[0] == plain[0] and literal[-1] == tok.eos_token_id  # the tokenizer's own language code and EOS
    assert not specials & set(literal[1:-1]), tok.convert_ids_to_tokens(literal)


# ---- mistakes in the data layer and model folders: one line, before anything long -------------------------------


def test_damaged_source_files_are_one_line(tmp_path, capsys, hf_cache):
    """A raw FLEURS transcript TSV with a non-numeric num_samples (under `xtreme-s sources` and in a run, before any
    audio is converted), and a truncated parquet file under `xtreme-s sources`."""
    from test_newcomer import one_error_line, user_cli

    mirror = tmp_path / "mirror"
    shutil.copytree(MINI / "hub" / "google" / "fleurs", mirror / "google" / "fleurs")
    tsv = mirror / "google" / "fleurs" / "data" / "en_us" / "test.tsv"
    rows = tsv.read_text(encoding="utf-8").splitlines()
    cells = rows[1].split("\t")
    cells[5] = "12k"
    tsv.write_text("\n".join([rows[0], "\t".join(cells), *rows[2:]]) + "\n", encoding="utf-8")
    common = ["fleurs.en_us", "--mirror_root", str(mirror), "--splits", "test", "--cache_dir", str(hf_cache)]
    line = one_error_line(*user_cli(["sources", *common, "--source_layout", "raw"], capsys)[::2])
    assert f"{tsv}: row 2, column 'num_samples': '12k' is not an integer" in line
    out = tmp_path / "out"
    line = error_line(*run_user_cli(["--dataset_config_name", "fleurs.en_us", "--mirror_root", str(mirror),
                                     "--source_layout", "raw", "--model_name_or_path", str(TINY_MODEL),
                                     "--do_predict"], capsys, out, hf_cache))
    assert "row 2, column 'num_samples': '12k' is not an integer" in line and not (out / "results.json").exists()
    parquet = next((mirror / "google" / "fleurs" / "en_us" / "test").glob("*.parquet"))
    parquet.write_bytes(parquet.read_bytes()[:2000])
    line = one_error_line(*user_cli(["sources", *common], capsys)[::2])
    assert f"{parquet} is not a readable parquet file" in line and "truncated" in line


def test_model_folder_mistakes_stop_before_the_data_is_read(tmp_path, capsys, hf_cache):
    """A model_type transformers does not know, a speech encoder folder without its feature extractor settings:
    one line at start-up (the data is never read), not a traceback after the data pass."""
    for case in ("model_type", "feature_extractor"):
        model = tmp_path / case
        shutil.copytree(TINY_MODEL, model)
        if case == "model_type":
            config = json.loads((model / "config.json").read_text())
            (model / "config.json").write_text(json.dumps({**config, "model_type": "wav2vec9"}))
        else:
            (model / "preprocessor_config.json").unlink()
        code, err = run_user_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train", "--model_name_or_path",
                                  str(model)], capsys, tmp_path / f"out_{case}", hf_cache)
        line = error_line(code, err)
        assert ("model_type 'wav2vec9', which transformers" if case == "model_type" else
                "holds no feature extractor settings") in line, line
        assert "Reading audio headers" not in err and "utterances" not in err


def test_a_full_disk_is_one_line_naming_the_disk(tmp_path, capsys, hf_cache, monkeypatch):
    """The disk fills up while a checkpoint is written (safetensors' write raises ENOSPC, as a real full disk
    makes it): one line naming the disk and what to free, exit 2, no traceback; the checkpoint is not counted."""
    import errno

    import transformers.modeling_utils

    from xtreme_s.output_dir import last_complete_checkpoint

    def full(tensors, filename, metadata=None):
        raise OSError(errno.ENOSPC, "No space left on device", str(filename))

    monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", full)
    out = tmp_path / "out"
    line = error_line(*run_user_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train", "--max_steps", "2",
                                     "--per_device_train_batch_size", "4", "--save_steps", "1"], capsys, out,
                                    hf_cache))
    assert f"the disk holding {out / 'checkpoint-1'}" in line and "is full" in line, line
    assert "--save_total_limit" in line and "rerun the same command to resume" in line
    assert last_complete_checkpoint(out) is None and not (out / "results.json").exists()


def test_duplicate_utterances_are_never_scored_twice(tmp_path, capsys, hf_cache):
    """A manifest line (or a shard) listed twice: a scored split stops at start-up naming the id; with
    --allow_skipping_eval_items each id is scored once and the copy counted."""
    rows = [f"clips/c{i}.wav\tab cd" for i in range(3)]
    data = folder(tmp_path / "data", {"test": "path\ttranscription\n" + "\n".join([*rows, rows[1]]) + "\n"},
                  {f"c{i}.wav": 1.0 for i in range(3)})
    model = _model_with_tokenizer(tmp_path)
    argv = ["--model_name_or_path", str(model), "--dataset_config_name", "voxpopuli.pl", "--data_dir", str(data),
            "--do_predict", "--per_device_eval_batch_size", "2"]
    code, err = run_user_cli(argv, capsys, tmp_path / "out", hf_cache)
    line = error_line(code, err)
    assert "test: 1 row(s) repeat an utterance id of an earlier row" in line and "c1" in line, line
    assert not (tmp_path / "out" / "results.json").exists()
    code, err = run_user_cli([*argv, "--allow_skipping_eval_items"], capsys, tmp_path / "out2", hf_cache)
    assert code == 0, err[-3000:]
    results = json.loads((tmp_path / "out2" / "results.json").read_text())
    assert results["splits"]["test"]["num_examples"] == 3
    assert sum(results["skipped"]["test"].values()) == 1 and "duplicate utterance id" in next(
        iter(results["skipped"]["test"]))
    assert len((tmp_path / "out2" / "predictions.jsonl").read_text().splitlines()) == 3
