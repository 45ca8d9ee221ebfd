"""benchmarks/compare.py on a small size: both paths give the same resampled scores, and it writes its figures."""

from __future__ import annotations

import json

from conftest import load_script


def test_compare_benchmark_fast_path_equals_naive_rescoring(tmp_path):
    bench = load_script("compare")
    res = bench.main(["--systems", "3", "--utterances", "300", "--resamples", "20", "--naive-resamples", "2",
                      "--out", str(tmp_path)])
    assert res["naive_and_fast_agree"]  # the script also stops when they differ
    assert json.loads((tmp_path / "compare.json").read_text())["systems"] == 3
    assert "naive re-scoring" in (tmp_path / "compare.md").read_text()
