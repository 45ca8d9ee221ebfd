"""benchmarks/protocols.py on the tiny model: each protocol in its own process trains what it should, and the
figures and ratios land in protocols.json and protocols.md."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def test_tiny_run_measures_the_three_protocols_on_what_each_trains(tmp_path):
    bench = load_script("protocols")
    bench.main(["--tiny", "--steps", "1", "--warmup", "0", "--threads", "1", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "protocols.json").read_text())
    runs = res["protocols"]
    assert list(runs) == ["full", "probe", "lora"]
    for name, run in runs.items():
        assert _positive(run["step_s"]) and len(run["step_times_s"]) == 1, name
        assert _positive(run["peak_rss_mib"]) and run["training_memory_mib"] >= 0, name
        assert run["torch_threads"] == 1 and all(math.isfinite(loss) for loss in run["losses"]), name
    full, probe, lora = runs["full"], runs["probe"], runs["lora"]
    shape = bench.SHAPES["tiny"]
    head = (shape["hidden_size"] + 1) * bench.VOCAB  # lm_head: the CTC output layer
    # full: everything but the frozen convolutional front end
    assert 0 < full["trainable_parameters"] < full["total_parameters"]
    # probe: the whole encoder (= the CTC model without its head) frozen, only the layer sum and downstream train
    assert probe["total_parameters"] - probe["trainable_parameters"] == full["total_parameters"] - head
    # lora: r x (in + out) per adapted query/value projection, plus peft's trainable copy of lm_head
    adapters = shape["num_hidden_layers"] * 2 * bench.LORA["r"] * 2 * shape["hidden_size"]
    assert lora["trainable_parameters"] == adapters + head < full["trainable_parameters"]
    assert lora["total_parameters"] == full["total_parameters"] + lora["trainable_parameters"]
    for name in ("probe / full", "lora / full"):
        assert _positive(res["ratios"][name]["step_time"]), name
    assert res["ratios"]["lora / full"]["step_time"] == pytest.approx(lora["step_s"] / full["step_s"], abs=1e-3)
    md = (tmp_path / "protocols.md").read_text()
    assert "| probe |" in md and "| lora |" in md and res["machine"]["cpu"] in md


def test_refuses_bad_arguments_in_one_line(tmp_path, capsys):
    bench = load_script("protocols")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    for argv, says in ((["--steps", "0"], "--steps"), (["--protocols", "probe,lora"], "full included"),
                       (["--seconds", "3", "2"], "--seconds"), (["--out", str(not_a_folder / "x")], "cannot write")):
        with pytest.raises(SystemExit) as stop:
            bench.main(["--tiny", *argv])
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.startswith("xtreme-s: error: protocols:") and says in err, (argv, err)
        assert len(err.strip().splitlines()) == 1
