"""`make bench` writes its figures as JSON and markdown (the cheap part only; the full run takes minutes)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_padding_part_writes_json_and_markdown(tmp_path):
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--parts", "padding", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "bench.json").read_text())
    for name in ("fleurs_like", "mls_like"):
        row = res["padding"][name]
        assert row["duration_batching"] <= 1.05 < row["baseline_random_batches"]
    assert "| fleurs_like" in (tmp_path / "bench.md").read_text()
