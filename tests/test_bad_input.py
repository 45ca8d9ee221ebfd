"""Fault injection: every kind of bad input is handled, or skipped and counted, or stops the run with a clear message.

Generated bad files in a plain local folder (`--data_dir`), run through the real entry point on the tiny model.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import TINY_MODEL, run_cli
from transformers import Wav2Vec2FeatureExtractor

from xtreme_s import robustness as rb
from xtreme_s.collators import SpeechCollator
from xtreme_s.sources import SourceError

SR = 16_000
ALPHABET = "abcdefgh"


def tone(seconds: float, sr: int = SR, seed: int = 0, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = (0.3 * np.sin(np.arange(n) * (0.02 + 0.01 * seed)) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    return np.stack([x, -x], axis=1) if channels == 2 else x


def write_bad_folder(root: Path) -> dict[str, int]:
    """A train/validation folder with every kind of bad input; returns the expected training skip counts."""
    clips = root / "clips"
    clips.mkdir(parents=True)
    rows: dict[str, list[tuple[str, str]]] = {"train": [], "validation": []}

    def add(split: str, name: str, text: str, data: np.ndarray | None = None, sr: int = SR, subtype: str = "PCM_16",
            raw: bytes | None = None) -> Path:
        path = clips / name
        if raw is not None:
            path.write_bytes(raw)
        else:
            sf.write(path, data, sr, subtype=subtype)
        rows[split].append((f"clips/{name}", text))
        return path

    for i in range(8):  # good clips
        add("train", f"good{i}.wav", f"{ALPHABET[i % 8]}{ALPHABET[(i + 3) % 8]} {ALPHABET[(i + 5) % 8]}",
            tone(1.0, seed=i))
    # Handled, not skipped: stereo 44.1 kHz (mixed down, resampled), 8 kHz (resampled), a WAV cut short
    # (libsndfile reads what is there and the header duration says so).
    add("train", "stereo44k.wav", "ab cd", tone(1.0, 44_100, seed=1, channels=2), sr=44_100)
    add("train", "narrow8k.flac", "ef gh", tone(1.0, 8_000, seed=2), sr=8_000)
    full = add("train", "truncated.wav", "ab", tone(1.0, seed=3))
    full.write_bytes(full.read_bytes()[: 44 + 2 * 8_000])
    # Skipped before training (metadata).
    add("train", "corrupt.wav", "ab", raw=b"RIFF\x00\x00garbage" * 50)
    add("train", "empty.wav", "ab", raw=b"")
    add("train", "zero.wav", "ab", np.zeros(0, dtype=np.float32))
    add("train", "too_long.wav", "ab", tone(3.0, seed=4))
    add("train", "too_short.wav", "ab", tone(0.05, seed=5))
    add("train", "empty_text.wav", "", tone(1.0, seed=6))
    add("train", "blank_text.wav", "   ", tone(1.0, seed=7))
    add("train", "long_target.wav", "abcdefgh " * 20, tone(0.5, seed=8))
    # Skipped during training (the header reads, the samples do not).
    nan = tone(1.0, seed=9)
    nan[100:200] = np.nan
    add("train", "nan.wav", "ab", nan, subtype="FLOAT")
    inf = tone(1.0, seed=10)
    inf[5] = np.inf
    add("train", "inf.wav", "ab", inf, subtype="FLOAT")
    body = add("train", "corrupt_body.flac", "ab", tone(1.0, seed=11))
    raw = bytearray(body.read_bytes())
    raw[200:] = np.random.default_rng(0).integers(0, 256, len(raw) - 200, dtype=np.uint8).tobytes()
    body.write_bytes(bytes(raw))

    for i in range(3):
        add("validation", f"val{i}.wav", "ab cd", tone(1.0, seed=20 + i))
    add("validation", "val_oov.wav", "żź ab", tone(1.0, seed=23))  # characters the training vocabulary lacks
    for split, items in rows.items():
        lines = ["path\ttranscription"] + [f"{p}\t{t}" for p, t in items]
        (root / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "unreadable audio header": 2, "zero-length audio": 1, "longer than max_duration_in_seconds=2.0": 1,
        "shorter than min_duration_in_seconds=0.1": 1, "empty transcript": 2,
        "transcript longer than the model's output frames": 1,
        rb.UNDECODABLE + rb.IN_BATCH_SUFFIX: 1, rb.NON_FINITE + rb.IN_BATCH_SUFFIX: 2,
    }


def add_bad_validation_clip(root: Path) -> None:
    x = tone(1.0, seed=30)
    x[10] = np.nan
    sf.write(root / "clips" / "val_nan.wav", x, SR, subtype="FLOAT")
    with open(root / "validation.tsv", "a", encoding="utf-8") as f:
        f.write("clips/val_nan.wav\tab\n")


def args(root: Path, *extra: str) -> list[str]:
    return ["--model_name_or_path", str(TINY_MODEL), "--dataset_config_name", "voxpopuli.pl", "--data_dir", str(root),
            "--max_duration_in_seconds", "2", "--min_duration_in_seconds", "0.1", "--per_device_train_batch_size",
            "4", "--per_device_eval_batch_size", "4", "--eval_strategy", "no", "--save_strategy", "no",
            "--learning_rate", "1e-3", "--seed", "0", *extra]


def test_every_bad_training_input_is_skipped_and_counted(tmp_path, hf_cache, caplog):
    root = tmp_path / "data"
    expected = write_bad_folder(root)
    add_bad_validation_clip(root)
    out = tmp_path / "run"
    # One epoch: each training item is drawn exactly once, so in-batch counts are exact.
    results = run_cli([*args(root, "--do_train", "--do_eval", "--num_train_epochs", "1",
                             "--allow_skipping_eval_items", "--logging_steps", "1")], out, hf_cache)
    assert results["skipped"]["train"] == expected
    # 8 good + stereo + 8 kHz + truncated + 3 that fail only when decoded = 14 reach the trainer; 11 survive.
    assert results["train"]["train_samples"] == 14
    state = json.loads((out / "trainer_state.json").read_text())
    losses = [h["loss"] for h in state["log_history"] if "loss" in h]
    assert losses and all(np.isfinite(losses)), losses
    # The bad validation clip is skipped only because it was allowed, counted, and left out of the metrics.
    assert results["skipped"]["validation"] == {rb.NON_FINITE: 1}
    val = results["splits"]["validation"]
    assert val["num_examples"] == 4 and sum(r["num_examples"] for r in val["per_language"].values()) == 4
    ids = [json.loads(line)["id"] for line in (out / "eval_predictions.jsonl").read_text().splitlines()]
    assert len(ids) == 4 and not any("nan" in i for i in ids)
    assert results["notes"]["oov_char_rate"]["validation"] > 0  # unknown characters become [UNK], reported per split
    text = caplog.text
    assert "nan.wav" in text and "corrupt_body.flac" in text  # the log names each skipped file
    assert "skipped in train" in text


def test_bad_evaluation_clip_stops_a_training_run_at_start_up(tmp_path, hf_cache):
    root = tmp_path / "data"
    write_bad_folder(root)
    add_bad_validation_clip(root)
    out = tmp_path / "run"
    with pytest.raises(rb.BadAudioError, match=r"val_nan\.wav.*non-finite.*--allow_skipping_eval_items"):
        run_cli(args(root, "--do_train", "--do_eval", "--max_steps", "2"), out, hf_cache)
    assert not list(out.glob("checkpoint-*")) and not (out / "model.safetensors").exists()  # before any training


def test_bad_evaluation_clip_in_an_evaluation_only_run_names_the_file(tmp_path, hf_cache):
    root = tmp_path / "data"
    write_bad_folder(root)
    trained = tmp_path / "trained"
    run_cli(args(root, "--do_train", "--max_steps", "1"), trained, hf_cache)
    add_bad_validation_clip(root)
    with pytest.raises(rb.BadAudioError, match=r"val_nan\.wav.*non-finite"):
        run_cli([*args(root, "--do_eval"), "--model_name_or_path", str(trained)], tmp_path / "eval", hf_cache)


def test_missing_target_column_names_column_and_folder(tmp_path, hf_cache):
    root = tmp_path / "data"
    (root / "clips").mkdir(parents=True)
    sf.write(root / "clips" / "a.wav", tone(1.0), SR)
    (root / "train.tsv").write_text("path\ttext\nclips/a.wav\tab\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"no column 'transcription'.*columns: .*text"):
        run_cli(args(root, "--do_train", "--max_steps", "1"), tmp_path / "run", hf_cache)
    (root / "train.tsv").write_text("file\ttranscription\nclips/a.wav\tab\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"train\.tsv needs a 'path' column"):
        run_cli(args(root, "--do_train", "--max_steps", "1"), tmp_path / "run", hf_cache)


@pytest.mark.parametrize("data_dir", [None, "missing"])
def test_missing_manual_download_fails_at_start_up_with_instructions(tmp_path, hf_cache, data_dir):
    extra = [] if data_dir is None else ["--data_dir", str(tmp_path / data_dir)]
    with pytest.raises(SourceError, match=r"LDC2017S05.*conversational"):
        run_cli(["--model_name_or_path", str(TINY_MODEL), "--dataset_config_name", "babel.sw", "--do_train",
                 *extra], tmp_path / "run", hf_cache)


# ---- the collator and the trainer hook, without training ----------------------------------------------------


def wav_bytes(x: np.ndarray, subtype: str = "FLOAT") -> dict:
    buf = io.BytesIO()
    sf.write(buf, x, SR, format="WAV", subtype=subtype)
    return {"bytes": buf.getvalue(), "path": None}


@pytest.fixture(scope="module")
def collator():
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SR, padding_value=0.0, do_normalize=True,
                                  return_attention_mask=True)
    return SpeechCollator(fe)


def test_collator_drops_bad_training_items_and_counts_them(collator):
    nan = tone(0.5)
    nan[3] = np.nan
    items = [{"audio": wav_bytes(tone(0.5)), "labels": [1, 2], "id": "ok", "skip_bad_audio": True},
             {"audio": wav_bytes(nan), "labels": [3], "id": "nan", "skip_bad_audio": True},
             {"audio": {"bytes": b"not audio", "path": None}, "labels": [4], "id": "junk", "skip_bad_audio": True}]
    batch = collator(items)
    assert batch["input_values"].shape[0] == 1 and batch["labels"].tolist() == [[1, 2]]
    counts = dict(zip(rb.DECODE_REASONS, batch[rb.SKIPPED_KEY].tolist(), strict=True))
    assert counts == {rb.UNDECODABLE: 1, rb.NON_FINITE: 1, rb.EMPTY_AUDIO: 0}
    assert not bool(batch[rb.EMPTY_BATCH_KEY])


def test_collator_all_bad_batch_is_a_zero_loss_placeholder(collator):
    items = [{"audio": {"bytes": b"junk", "path": None}, "labels": [1], "id": "x", "skip_bad_audio": True}]
    batch = collator(items)
    assert bool(batch[rb.EMPTY_BATCH_KEY]) and batch["input_values"].shape == (1, SR // 10)
    assert (batch["labels"] == -100).all()  # nothing to learn from it


def test_collator_refuses_bad_evaluation_items(collator):
    with pytest.raises(rb.BadAudioError, match="val-7"):
        collator([{"audio": {"bytes": b"junk", "path": None}, "labels": [1], "id": "val-7"}])


def test_trainer_hook_pops_counts_and_zeroes_empty_batches():
    class Base:
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            assert rb.SKIPPED_KEY not in inputs and rb.EMPTY_BATCH_KEY not in inputs  # never reach the model
            return torch.tensor(2.0, requires_grad=True)

    from xtreme_s.trainer import SkippedItemsMixin

    class T(SkippedItemsMixin, Base):
        pass

    t = T()
    full = {rb.SKIPPED_KEY: torch.tensor([1, 0, 2]), rb.EMPTY_BATCH_KEY: torch.tensor(False)}
    assert t.compute_loss(None, full).item() == 2.0
    empty = {rb.SKIPPED_KEY: torch.tensor([0, 1, 0]), rb.EMPTY_BATCH_KEY: torch.tensor(True)}
    assert t.compute_loss(None, empty).item() == 0.0
    assert t._skipped_in_batches.tolist() == [1, 1, 2]


def test_in_batch_skip_counts_survive_a_resume(tmp_path, hf_cache):
    """Counts from batches before the kill live in the checkpoint; the resumed run reports the whole epoch."""
    root = tmp_path / "data"
    expected = write_bad_folder(root)
    in_batch = {k: v for k, v in expected.items() if k.endswith(rb.IN_BATCH_SUFFIX)}
    out = tmp_path / "run"
    flags = args(root, "--do_train", "--max_steps", "4", "--save_strategy", "steps", "--save_steps", "2")
    first = run_cli(flags, out, hf_cache)  # 14 clips, batch 4: 4 steps = one epoch, each clip drawn once
    assert {k: v for k, v in first["skipped"]["train"].items() if k in in_batch} == in_batch
    # As if killed after checkpoint-2: the rest of the run is gone.
    shutil.rmtree(out / "checkpoint-4")
    (out / "results.json").unlink()
    again = run_cli(flags, out, hf_cache)
    assert {k: v for k, v in again["skipped"]["train"].items() if k in in_batch} == in_batch


def test_a_training_set_with_nothing_usable_is_a_clear_error(tmp_path, hf_cache):
    root = tmp_path / "data"
    (root / "clips").mkdir(parents=True)
    (root / "clips" / "a.wav").write_bytes(b"junk")
    sf.write(root / "clips" / "b.wav", tone(1.0), SR)
    (root / "train.tsv").write_text("path\ttranscription\nclips/a.wav\tab\nclips/b.wav\t \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"No training utterance is usable.*unreadable audio header.*empty transcript"):
        run_cli(args(root, "--do_train", "--max_steps", "1"), tmp_path / "run", hf_cache)
