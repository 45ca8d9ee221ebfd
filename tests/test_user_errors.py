"""The one error policy through the real command line: every user mistake is one line `xtreme-s: error: ...` and exit
code 2, before anything long; every evaluation row left out is counted; nothing is scored differently.

Most runs here stop at start-up (seconds); two short runs check what is scored when odd input is accepted.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from conftest import TINY_MODEL, run_user_cli

from xtreme_s import registry
from xtreme_s.sources import LoadContext, load_splits

SR = 16_000


def tone(seconds: float, seed: int = 0) -> np.ndarray:
    n = int(seconds * SR)
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(np.arange(n) * (0.02 + 0.01 * seed)) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def folder(root: Path, manifests: dict[str, str], clips: dict[str, float] | None = None) -> Path:
    """A local `--data_dir`: clips (name -> seconds) and raw manifest texts (split -> content)."""
    (root / "clips").mkdir(parents=True, exist_ok=True)
    for i, (name, seconds) in enumerate((clips or {f"c{i}.wav": 1.0 for i in range(4)}).items()):
        sf.write(root / "clips" / name, tone(seconds, seed=i), SR)
    for split, text in manifests.items():
        (root / f"{split}.tsv").write_text(text, encoding="utf-8")
    return root


GOOD = "path\ttranscription\n" + "".join(f"clips/c{i}.wav\tab cd\n" for i in range(4))


def flags(root: Path | None, *extra: str, config: str = "voxpopuli.pl") -> list[str]:
    out = ["--model_name_or_path", str(TINY_MODEL), "--dataset_config_name", config]
    out += ["--data_dir", str(root)] if root is not None else []
    return [*out, "--per_device_train_batch_size", "2", "--per_device_eval_batch_size", "2", "--eval_strategy",
            "no", "--save_strategy", "no", "--seed", "0", *extra]


def error_line(code: int, err: str) -> str:
    """The run stopped with exit code 2 and exactly one `xtreme-s:` line, no traceback; returns that line."""
    ours = [line for line in err.splitlines() if line.startswith("xtreme-s:")]
    assert code == 2, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert len(ours) == 1 and ours[0].startswith("xtreme-s: error: "), err[-3000:]
    return ours[0]


# ---- flags and config files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "message"), [
    (None, r"config file .*missing\.yaml does not exist"),
    ("learning_rate: [1e-4\noutput_dir: x\n", r"not valid YAML \(line \d+\)"),
    ("learning_rat: 1e-4\n", r"unknown flag\(s\) 'learning_rat' \(did you mean 'learning_rate'\?\)"),
    ("- a list\n", r"must hold a mapping"),
])
def test_config_file_mistakes_are_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "missing.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    line = error_line(*run_user_cli([str(path), "--do_train"], capsys, tmp_path / "out"))
    assert __import__("re").search(message, line), line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--learnin_rate", "1e-4"], r"unknown flag\(s\) 'learnin_rate' \(did you mean 'learning_rate'\?\)"),
    (["--max_steps", "abc"], r"--max_steps.*invalid int value: 'abc'"),
    (["--do_eval", "stray"], r"--do_eval.*Truthy value expected"),
    (["--load_best_model_at_end", "--eval_strategy", "steps", "--save_strategy", "epoch"],
     r"invalid flags: --load_best_model_at_end requires the save and eval strategy to match"),
])
def test_command_line_flag_mistakes_are_one_line(tmp_path, capsys, argv, message):
    """A misspelt flag, a value of the wrong type, flags the Trainer refuses together: one line, not argparse's
    usage dump or a traceback."""
    line = error_line(*run_user_cli(["--dataset_config_name", "minds14.all", "--do_train", *argv], capsys,
                                    tmp_path / "out"))
    assert __import__("re").search(message, line), line
    assert "usage:" not in line and not (tmp_path / "out").exists()


def test_unknown_config_name_suggests_the_closest_without_the_whole_list(tmp_path, capsys):
    line = error_line(*run_user_cli(["--dataset_config_name", "voxpopuli.PL", "--do_train"], capsys,
                                    tmp_path / "out"))
    assert "Did you mean 'voxpopuli.pl'" in line and "fleurs.zu_za" not in line


@pytest.mark.parametrize("case", ["empty", "zero"])
def test_nothing_to_evaluate_stops_at_start_up(tmp_path, capsys, hf_cache, case):
    root = folder(tmp_path / "data", {"train": GOOD, "validation": "path\ttranscription\n" if case == "empty" else
                                      GOOD})
    extra = ["--max_eval_samples", "0"] if case == "zero" else []
    code, err = run_user_cli(flags(root, "--do_train", "--do_eval", "--max_steps", "1", *extra), capsys,
                             tmp_path / "out", hf_cache)
    line = error_line(code, err)
    assert ("no rows after the header" if case == "empty" else "--max_eval_samples 0") in line
    assert not (tmp_path / "out" / "model.safetensors").exists()


# ---- environment and network -----------------------------------------------------------------------------------


def test_offline_with_an_uncached_hub_model_is_one_fast_line(tmp_path, capsys, hf_cache):
    root = folder(tmp_path / "data", {"train": GOOD})
    start = time.monotonic()
    code, err = run_user_cli([*flags(root, "--do_train", "--max_steps", "1"), "--model_name_or_path",
                              "facebook/wav2vec2-xls-r-300m"], capsys, tmp_path / "out", tmp_path / "empty_cache")
    line = error_line(code, err)
    assert "facebook/wav2vec2-xls-r-300m is not a local folder and is not in the Hub cache" in line
    assert "offline" in line and time.monotonic() - start < 20  # no retries, no data loading
    assert "Reading audio headers" not in err


def test_push_to_hub_offline_stops_at_start_up(tmp_path, capsys, hf_cache):
    root = folder(tmp_path / "data", {"train": GOOD})
    line = error_line(*run_user_cli(flags(root, "--do_train", "--max_steps", "1", "--push_to_hub"), capsys,
                                    tmp_path / "out", hf_cache))
    assert "--push_to_hub needs the Hub, but it is offline" in line


def test_model_folder_without_config_is_one_line(tmp_path, capsys, hf_cache):
    (tmp_path / "model").mkdir()
    line = error_line(*run_user_cli([*flags(None, "--do_train"), "--mini", "--model_name_or_path",
                                     str(tmp_path / "model")], capsys, tmp_path / "out", hf_cache))
    assert "holds no config.json" in line


# ---- the output directory ----------------------------------------------------------------------------------------


def test_output_dir_that_is_a_file_or_cannot_be_created(tmp_path, capsys, hf_cache):
    (tmp_path / "file").write_text("x")
    line = error_line(*run_user_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train"], capsys,
                                    tmp_path / "file", hf_cache))
    assert "is a file, not a folder" in line
    line = error_line(*run_user_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train"], capsys,
                                    tmp_path / "file" / "sub", hf_cache))
    assert "cannot be created" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders; the check cannot fail as root")
def test_read_only_output_dir(tmp_path, capsys, hf_cache):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    line = error_line(*run_user_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train"], capsys, out,
                                    hf_cache))
    assert "not writable" in line


def test_a_second_run_into_a_locked_output_dir_stops_and_a_killed_run_leaves_no_lock(tmp_path, capsys, hf_cache):
    out = tmp_path / "out"
    out.mkdir()
    # Another process holds the directory (as a running run does), then is killed with SIGKILL.
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a+'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); f.write('pid 1 on host'); f.flush(); print('held', "
                               "flush=True); time.sleep(600)", str(out / "_xtreme_s.lock")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        line = error_line(*run_user_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train"], capsys, out,
                                        hf_cache))
        assert "is in use by another run" in line
    finally:
        holder.kill()
        holder.wait()
    with open(out / "_xtreme_s.lock", "a+") as f:  # the OS released the killed process's lock
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_evaluation_only_run_never_replaces_a_finished_runs_results(tmp_path, capsys, hf_cache):
    out = tmp_path / "out"
    out.mkdir()
    finished = '{"task": "mls", "splits": {"test": {"wer": 0.1}}}'
    (out / "results.json").write_text(finished)
    line = error_line(*run_user_cli(["--mini", "--dataset_config_name", "minds14.all", "--do_predict"], capsys, out,
                                    hf_cache))
    assert "already holds a finished run's results.json" in line
    assert (out / "results.json").read_text() == finished


def test_corrupt_run_manifest_is_one_line(tmp_path, capsys, hf_cache):
    out = tmp_path / "out"
    out.mkdir()
    (out / "xtreme_s_run.json").write_text("{not json")
    line = error_line(*run_user_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train"], capsys, out,
                                    hf_cache))
    assert "xtreme_s_run.json is unreadable or corrupt" in line


def test_ctrl_c_is_one_line_with_the_resume_hint_and_exit_130(tmp_path, capsys, monkeypatch):
    import xtreme_s.runner

    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(xtreme_s.runner, "run", interrupted)
    code, err = run_user_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train"], capsys, tmp_path / "out")
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("xtreme-s: interrupted. Rerun the same command to resume")


# ---- manifests -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("manifest", "message"), [
    ("path\ttranscription\nclips/c0.wav\tab\nclips/c1.wav\t\"a\tb\"\n", r"validation\.tsv:3: 3 tab-separated fields"),
    ("path\ttranscription\nclips/c0.wav\tab\nclips/c1.wav\n", r"validation\.tsv:3: 1 tab-separated fields"),
    ("path\ttranscription\tduration\nclips/c0.wav\tab\tlong\n", r"column 'duration': 'long' is not a number"),
    ("file\ttranscription\nclips/c0.wav\tab\n", r"validation\.tsv needs a 'path' column"),
])
def test_bad_manifests_are_rejected_with_file_and_line(tmp_path, capsys, hf_cache, manifest, message):
    root = folder(tmp_path / "data", {"train": GOOD, "validation": manifest})
    line = error_line(*run_user_cli(flags(root, "--do_train", "--do_eval", "--max_steps", "1"), capsys,
                                    tmp_path / "out", hf_cache))
    assert __import__("re").search(message, line), line


def test_non_utf8_manifest_names_the_line(tmp_path, capsys, hf_cache):
    root = folder(tmp_path / "data", {"train": GOOD})
    (root / "validation.tsv").write_bytes("path\ttranscription\nclips/c0.wav\tab\nclips/c1.wav\tża\n"
                                          .encode("cp1250"))
    line = error_line(*run_user_cli(flags(root, "--do_train", "--do_eval", "--max_steps", "1"), capsys,
                                    tmp_path / "out", hf_cache))
    assert "validation.tsv:3: not UTF-8" in line


def test_a_bom_is_not_part_of_the_first_column(tmp_path):
    plain = folder(tmp_path / "plain", {"train": GOOD})
    bom = folder(tmp_path / "bom", {"train": "\ufeff" + GOOD})
    task = registry.resolve("voxpopuli.pl")
    a = load_splits(task, ["train"], LoadContext(data_dir=str(plain)))[0]["train"]
    b = load_splits(task, ["train"], LoadContext(data_dir=str(bom)))[0]["train"]
    assert a["transcription"] == b["transcription"] and a["duration"] == b["duration"]


def test_symlink_loop_in_a_manifest_is_one_line(tmp_path, capsys, hf_cache):
    root = folder(tmp_path / "data", {"train": GOOD + "clips/loop.wav\tab\n"})
    os.symlink(root / "clips" / "loop.wav", root / "clips" / "loop.wav")
    line = error_line(*run_user_cli(flags(root, "--do_train", "--max_steps", "1"), capsys, tmp_path / "out",
                                    hf_cache))
    assert "loop.wav" in line


# ---- what is scored: languages, special-token text, short clips ---------------------------------------------


def test_evaluation_rows_of_other_languages_are_an_error_or_counted(tmp_path, capsys, hf_cache):
    """`PL` is `pl` (scored); `sw` is not in voxpopuli.pl: an error, or with --allow_skipping_eval_items counted
    under skipped.validation. A literal [PAD] in a transcript is text; a clip shorter than the encoder's receptive
    field (400 samples) is skipped in training and padded (scored) in evaluation."""
    clips = {f"c{i}.wav": 1.0 for i in range(4)} | {"short.wav": 0.02, "v0.wav": 1.0, "v1.wav": 1.0}
    train = "path\ttranscription\tlanguage\n" + "".join(f"clips/c{i}.wav\tab cd\tpl\n" for i in range(4)) + \
        "clips/short.wav\tab\tpl\n"
    val = ("path\ttranscription\tlanguage\nclips/v0.wav\t[PAD] ab\tPL\nclips/v1.wav\tcd\tPl\n"
           "clips/short.wav\tab\tpl\nclips/c0.wav\tab\tsw\n")
    root = folder(tmp_path / "data", {"train": train, "validation": val}, clips)
    run = flags(root, "--do_train", "--do_eval", "--max_steps", "2", "--text_normalization", "none",
                "--min_duration_in_seconds", "0", "--per_device_eval_batch_size", "1")
    line = error_line(*run_user_cli(run, capsys, tmp_path / "strict", hf_cache))
    assert "1 row(s) are in languages outside voxpopuli.pl: sw (1)" in line and "--allow_skipping_eval_items" in line
    code, err = run_user_cli([*run, "--allow_skipping_eval_items"], capsys, tmp_path / "out", hf_cache)
    assert code == 0, err[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["skipped"]["validation"] == {"language sw not in voxpopuli.pl": 1}
    assert "language sw not in voxpopuli.pl" in (tmp_path / "out" / "results.md").read_text()  # the summary
    assert results["skipped"]["train"] == {"shorter than the encoder's receptive field (400 samples = 25 ms)": 1}
    val_result = results["splits"]["validation"]
    assert val_result["num_examples"] == 3  # PL, Pl and the short clip (padded), all scored
    assert results["notes"]["padded_to_encoder_minimum"] == {"validation": 1}
    rows = [json.loads(r) for r in (tmp_path / "out" / "eval_predictions.jsonl").read_text().splitlines()]
    assert [r["reference"] for r in rows] == ["[PAD] ab", "cd", "ab"]
    assert {r["language"] for r in rows} == {"pl"}


def test_classification_training_at_batch_size_1_with_a_too_short_clip(tmp_path, capsys, hf_cache):
    """Intent names where ids are expected are mapped; the too-short clip is skipped, not a crash."""
    clips = {f"c{i}.wav": 1.0 for i in range(4)} | {"short.wav": 0.01}
    names = registry.MINDS14_INTENTS
    rows = "".join(f"clips/c{i}.wav\t{names[i]}\ten-US\n" for i in range(4)) + f"clips/short.wav\t{names[0]}\ten-US\n"
    manifest = "path\tintent_class\tlanguage\n" + rows
    root = folder(tmp_path / "data", {"train": manifest, "validation": manifest.replace("\tabroad", "\tABROAD")},
                  clips)
    def run(data: Path) -> list[str]:
        return flags(data, "--do_train", "--do_eval", "--max_steps", "3", "--per_device_train_batch_size", "1",
                     "--per_device_eval_batch_size", "1", "--min_duration_in_seconds", "0", config="minds14.en-US")

    code, err = run_user_cli(run(root), capsys, tmp_path / "out", hf_cache)
    assert code == 0, err[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["skipped"]["train"] == {"shorter than the encoder's receptive field (400 samples = 25 ms)": 1}
    assert results["splits"]["validation"]["num_examples"] == 5
    bad = folder(tmp_path / "bad", {"train": manifest.replace("\taddress", "\tadress"), "validation": manifest},
                 clips)
    line = error_line(*run_user_cli(run(bad), capsys, tmp_path / "out2", hf_cache))
    assert "unknown class 'adress'" in line and "'address'" in line
    assert not (tmp_path / "out2" / "results.json").exists()


def test_encoder_minimum_is_the_models_own_length_computation():
    import torch
    from transformers import AutoModelForCTC

    from xtreme_s.encoders import input_limits

    class Args:
        model_name_or_path, cache_dir, model_revision = str(TINY_MODEL), None, "main"

    limits = input_limits(Args)
    model = AutoModelForCTC.from_pretrained(str(TINY_MODEL))
    lengths = model._get_feat_extract_output_lengths(torch.tensor([limits.min_samples - 1, limits.min_samples]))
    assert limits.min_samples == 400 and lengths.tolist() == [0, 1]


def test_literal_special_tokens_in_a_transcript_are_text(tmp_path):
    from transformers import Wav2Vec2CTCTokenizer

    from xtreme_s.text import build_vocab, encode_characters, save_vocab

    vocab = build_vocab(["[pad] ab", "unk"])
    tok = Wav2Vec2CTCTokenizer(str(save_vocab(vocab, tmp_path)), unk_token="[UNK]", pad_token="[PAD]",
                               word_delimiter_token="|", bos_token=None, eos_token=None)
    ids = encode_characters(tok, "[PAD] ab")
    assert tok.pad_token_id not in ids and len(ids) == len("[PAD] ab")
    assert ids[:5] == [vocab["["], vocab["[UNK]"], vocab["[UNK]"], vocab["[UNK]"], vocab["]"]]  # P, A, D unknown
    assert encode_characters(tok, "ab unk") == tok("ab unk").input_ids  # ordinary text: as the tokenizer


# ---- audio cells -----------------------------------------------------------------------------------------------


def wav(seconds: float, seed: int = 0) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, tone(seconds, seed), SR, format="WAV")
    return buf.getvalue()


def test_parquet_audio_cells(tmp_path, capsys, hf_cache, monkeypatch):
    """Plain bytes are audio; empty bytes are bad audio (never the file the cell names); no audio column is one
    line."""
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    pq.write_table(pa.table({"audio": pa.array([wav(1.0, i) for i in range(3)], pa.binary()),
                             "transcription": ["ab", "cd", "ab cd"]}), root / "train" / "0.parquet")
    task = registry.resolve("voxpopuli.pl")
    ds = load_splits(task, ["train"], LoadContext(data_dir=str(root), cache_dir=str(hf_cache)))[0]["train"]
    assert ds["duration"] == pytest.approx([1.0, 1.0, 1.0])
    # Empty bytes beside the name of a readable file in the working directory: bad audio, the file is not read.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "decoy.wav").write_bytes(wav(1.0))
    (root / "validation").mkdir()
    struct = pa.array([{"bytes": wav(1.0), "path": "v0.wav"}, {"bytes": b"", "path": "decoy.wav"}],
                      pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    pq.write_table(pa.table({"audio": struct, "transcription": ["ab", "cd"]}), root / "validation" / "0.parquet")
    line = error_line(*run_user_cli(flags(root, "--do_train", "--do_eval", "--max_steps", "1"), capsys,
                                    tmp_path / "out", hf_cache))
    assert "1 of 2 utterance(s) cannot be scored" in line and "unreadable audio header" in line
    (root / "validation" / "0.parquet").unlink()
    pq.write_table(pa.table({"transcription": ["ab"]}), root / "validation" / "0.parquet")
    line = error_line(*run_user_cli(flags(root, "--do_train", "--do_eval", "--max_steps", "1"), capsys,
                                    tmp_path / "out", hf_cache))
    assert "no 'audio' column" in line


def test_fleurs_parquet_with_null_num_samples_uses_the_header(tmp_path, hf_cache):
    """The FLEURS adapter on a mirror whose parquet has num_samples null in one row: same durations as the original."""
    from conftest import MINI_HUB

    src = MINI_HUB / "google" / "fleurs" / "pl_pl" / "test" / "0000.parquet"
    table = pq.read_table(src)
    counts = table.column("num_samples").to_pylist()
    nulled = table.set_column(table.schema.get_field_index("num_samples"), "num_samples",
                              pa.array([None, *counts[1:]], table.schema.field("num_samples").type))
    dst = tmp_path / "hub" / "google" / "fleurs" / "pl_pl" / "test" / "0000.parquet"
    dst.parent.mkdir(parents=True)
    pq.write_table(nulled, dst)
    task = registry.resolve("fleurs.pl_pl")
    want = load_splits(task, ["test"], LoadContext(mirror_root=str(MINI_HUB), cache_dir=str(hf_cache)))[0]["test"]
    got = load_splits(task, ["test"], LoadContext(mirror_root=str(tmp_path / "hub"), cache_dir=str(hf_cache)))[0]
    assert got["test"]["duration"] == pytest.approx(want["duration"], abs=1e-3) and got["test"]["duration"][0] > 0


def test_fleurs_rows_without_num_samples_use_the_header():
    from datasets import Dataset

    from xtreme_s.sources.fleurs import fleurs_durations

    ds = Dataset.from_dict({"audio": [{"bytes": wav(0.5), "path": None}, {"bytes": wav(0.25), "path": None}],
                            "num_samples": [8000, None]})
    assert fleurs_durations(ds)["duration"] == pytest.approx([0.5, 0.25])
    assert fleurs_durations(ds.remove_columns("num_samples"))["duration"] == pytest.approx([0.5, 0.25])
