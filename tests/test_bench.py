"""`make bench` writes its figures as JSON and markdown (the cheap part only; the full run takes minutes)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]


def test_bench_padding_part_writes_json_and_markdown(tmp_path):
    bench = load_script("bench")
    bench.main(["--parts", "padding", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "bench.json").read_text())
    for name in ("fleurs_like", "mls_like"):
        row = res["padding"][name]
        assert row["duration_batching"] <= 1.05 < row["baseline_random_batches"]
    assert "| fleurs_like" in (tmp_path / "bench.md").read_text()


def test_bench_data_part_reads_the_source_in_place(tmp_path):
    """A small data part: our path writes no cache and reads each row group once in row-group-aware order."""
    bench = load_script("bench")
    bench.main(["--parts", "data", "--out", str(tmp_path), "--data-clips", "96", "--data-row-group-size", "12",
                "--window", "2"])
    data = json.loads((tmp_path / "bench.json").read_text())["data"]
    assert data["baseline"]["cache_over_raw"] > 1 and data["ours"]["cache_over_raw"] <= 0.01
    assert data["ours"]["row_group_reads_per_epoch"] <= 1.2 * data["row_groups"]
    assert data["ours_uniform_shuffle"]["row_group_reads_per_epoch"] > data["ours"]["row_group_reads_per_epoch"]


def test_bench_training_part_reports_what_each_run_computed_in(tmp_path, monkeypatch):
    """Both runners get the recipes' --fp16: the baseline's Trainer trains in float32 on a CPU, ours in bf16 where
    native; ours is then also run at the baseline's precision, so batching alone is reported too."""
    monkeypatch.setattr("xtreme_s.args.native_bf16", lambda: True)
    bench = load_script("bench")
    bench.main(["--parts", "train", "--out", str(tmp_path), "--train-clips", "16", "--steps", "2", "--batch-size", "2"])
    train = json.loads((tmp_path / "bench.json").read_text())["train"]
    assert [train[n]["precision"] for n in ("baseline_random", "baseline_group_by_length", "duration_batching",
                                            "duration_batching_same_precision")] == ["fp32", "fp32", "bf16", "fp32"]
    for name in ("baseline_group_by_length", "duration_batching"):
        assert train[name]["audio_s_per_s"] > 0 and train[name]["padding_ratio"] >= 1.0
    assert train["speedup_batching_alone_vs_group_by_length"] > 0
    assert "Duration batching alone" in (tmp_path / "bench.md").read_text()
    bench.main(["--parts", "train", "--out", str(tmp_path), "--train-clips", "16", "--steps", "2", "--batch-size", "2",
                "--precision", "fp32"])
    train = json.loads((tmp_path / "bench.json").read_text())["train"]
    assert "duration_batching_same_precision" not in train and train["duration_batching"]["precision"] == "fp32"
