"""benchmarks/gpu_check.py: its CPU dry run (the very code path a GPU session runs), its refusals, and the model
FLOP count its MFU rests on, checked against torch's own counter on the real XLS-R-300M shape."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def test_dry_run_exercises_every_part_and_writes_sane_results(tmp_path):
    gpu_check = load_script("gpu_check")
    gpu_check.main(["--dry-run", "--out", str(tmp_path)])
    res = json.loads((tmp_path / "gpu.json").read_text())
    assert res["dry_run"] and res["device"]["device"] == "cpu"
    assert res["parts"] == {part: "ok" for part in gpu_check.PARTS}
    runs = res["runs"]
    assert set(runs) == {"eager", "fixed", "ckpt", "compile", "compile_ckpt"}
    for name, run in runs.items():
        for key in ("audio_s_per_s", "model_tflops_per_s", "mfu", "peak_memory_gib", "steady_s", "steps"):
            assert _positive(run[key]), (name, key, run[key])
        assert run["padding_ratio"] >= 1.0 and run["steady_steps"] >= 1
        # MFU is the model FLOPs rate over the peak, and the FLOPs follow the audio trained
        assert run["mfu"] == pytest.approx(run["model_tflops_per_s"] / res["device"]["peak_tflops"], rel=1e-3)
    assert runs["ckpt"]["gradient_checkpointing"] and runs["compile_ckpt"]["gradient_checkpointing"]
    assert runs["compile"]["torch_compile"] == "eager" and runs["compile"]["dynamo"]["unique_graphs"] >= 1
    assert "group_by_length" in runs["fixed"]["sampler"] and "duration" in runs["eager"]["sampler"]
    assert res["eval"]["argmax_before_gather"] and _positive(res["eval"]["audio_s_per_s"])
    assert _positive(res["eval"]["mfu_forward"])
    assert all(_positive(res["loader"][fmt]["audio_s_per_s"]) for fmt in ("wav", "flac"))
    assert _positive(res["comparisons"]["duration_vs_fixed_speedup"])
    assert _positive(res["comparisons"]["peak_memory_ratio_duration_over_fixed"])
    # protocols: the same batches for all three, LoRA trains fewest weights; ratios to full fine-tuning
    pr = res["protocols"]
    assert pr["status"] == "ok" and pr["clips_per_batch"] == 2
    for name in ("full", "probe", "lora"):
        assert pr[name]["status"] == "ok" and pr[name]["steps"] == 2, (name, pr[name])
        assert _positive(pr[name]["step_s"]) and _positive(pr[name]["peak_memory_gib"])
    assert pr["lora"]["trainable_parameters"] < pr["full"]["trainable_parameters"] < pr["full"]["total_parameters"]
    assert pr["probe"]["trainable_parameters"] < pr["probe"]["total_parameters"]
    assert _positive(pr["full"]["mfu"])
    for name in ("probe", "lora"):
        assert pr["ratios"][f"{name} / full"]["step_time"] == pytest.approx(
            pr[name]["step_s"] / pr["full"]["step_s"], abs=1e-3)
        assert res["comparisons"][f"{name}_vs_full_step_time"] == pr["ratios"][f"{name} / full"]["step_time"]
    # generation: two batch sizes, every clip exactly --max-new-tokens (4 dry) tokens, RTFx = audio / wall
    gen = res["generate"]
    assert gen["status"] == "ok" and gen["max_new_tokens"] == 4
    assert [r["batch_size"] for r in gen["runs"]] == [2, 4]
    for r in gen["runs"]:
        assert r["status"] == "ok" and r["generated_tokens_per_clip"] == [4] and r["clips"] % r["batch_size"] == 0
        assert r["rtfx"] == pytest.approx(r["audio_s"] / r["seconds"], rel=0.05) and _positive(r["rtfx"])
        assert r["computed_in"] == {"encoder": ["bfloat16"], "decoder": ["bfloat16"]}  # generate under autocast
    assert [t["target"].split(" ")[0] for t in res["targets"]] == ["MFU", "duration", "probe"]
    assert res["model"]["train_gflops_per_audio_s"] > res["model"]["eval_gflops_per_audio_s"] > 0
    assert runs["eager"]["profile"]["profiled_steps"] == 1
    assert "Self CPU" in (tmp_path / "gpu_profile.txt").read_text()
    md = (tmp_path / "gpu.md").read_text()
    assert "DRY RUN" in md and "## Targets" in md and "argmax" in md and "probe step time <= 0.4x" in md
    assert "## Protocols" in md and "| lora |" in md and "## Evaluation by generation" in md and "RTFx" in md
    for name in runs:
        assert f"| {name} |" in md


def test_refuses_to_start_without_a_gpu_and_on_bad_arguments(tmp_path, monkeypatch, capsys):
    gpu_check = load_script("gpu_check")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    for argv, says in ((["--out", str(tmp_path)], "no CUDA GPU is visible"),
                       (["--dry-run", "--parts", "eager,bogus"], "--parts bogus"),
                       (["--dry-run", "--batch-size", "0"], "--batch-size must be at least 1"),
                       (["--dry-run", "--peak-tflops", "-3"], "--peak-tflops must be positive"),
                       (["--dry-run", "--generate-batch-sizes", "8,x"], "--generate-batch-sizes 8,x"),
                       (["--dry-run", "--max-new-tokens", "0"], "--max-new-tokens must be at least 1"),
                       (["--dry-run", "--out", str(not_a_folder / "x")], "cannot write there")):
        with pytest.raises(SystemExit) as stop:
            gpu_check.main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.startswith("xtreme-s: error: gpu_check:") and says in err, (argv, err)
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "gpu.json").exists()


def test_peak_table_knows_the_gpus_by_their_torch_names():
    model_flops = load_script("model_flops")
    for name, tflops in (("NVIDIA H100 80GB HBM3", 989.4), ("NVIDIA H100 PCIe", 756.0), ("NVIDIA H200", 989.4),
                         ("NVIDIA H200 NVL", 835.0), ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L40S", 362.1),
                         ("NVIDIA A10", 125.0), ("NVIDIA L4", 121.0), ("NVIDIA A10G", None), ("Tesla V100", None)):
        assert model_flops.peak_bf16_tflops(name) == tflops, name


def test_flop_formula_matches_torch_counter_on_xls_r_300m():
    """Forward: to the FLOP. Training: matrix products 3x forward; the only convolution backward (the positional
    one; the feature encoder is frozen) is left out: torch's counter ignores its 16 groups there."""
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import Wav2Vec2ForCTC

    bench, model_flops = load_script("bench"), load_script("model_flops")
    cfg = bench.model_config("xls-r-300m")
    cfg.mask_time_prob = 0.0  # SpecAugment draws masks with numpy: no meta tensors there (no FLOPs either)
    with torch.device("meta"):  # shapes only: the real model's FLOPs without computing them
        model = Wav2Vec2ForCTC(cfg)
    model.freeze_feature_encoder()
    params = sum(p.numel() for p in model.parameters())
    assert 315e6 < params < 316e6
    for samples in (11 * 16_000 + 123, 30 * 16_000):
        x = torch.empty(1, samples, device="meta")
        model.eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(input_values=x)
        parts = model_flops.forward_flops(cfg, samples)
        assert sum(parts.values()) == pytest.approx(counter.get_total_flops(), rel=1e-9)
        frames = model_flops.conv_lengths(samples, cfg.conv_kernel, cfg.conv_stride)[-1]
        transformer = sum(p.numel() for n, p in model.named_parameters() if "encoder.layers." in n)
        assert parts["dense"] == pytest.approx(2 * transformer * frames, rel=0.01)  # ~2 x params x frames
        model.train()
        with FlopCounterMode(display=False) as counter:
            model(input_values=x).logits.sum().backward()
        ops = {str(k).split(".")[-1]: v for k, v in counter.get_flop_counts()["Global"].items()}
        matmuls = parts["dense"] + parts["attention"] + parts["projection"] + parts["head"]
        assert ops["addmm"] + ops["mm"] + ops["bmm"] == pytest.approx(3 * matmuls, rel=1e-9)
        assert ops["convolution"] == pytest.approx(parts["conv"] + parts["pos_conv"], rel=1e-9)
        counted = model_flops.training_flops(cfg, samples)
        assert counted == pytest.approx(ops["addmm"] + ops["mm"] + ops["bmm"] + ops["convolution"]
                                        + 2 * parts["pos_conv"], rel=1e-9)
