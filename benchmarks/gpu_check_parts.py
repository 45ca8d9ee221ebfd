"""benchmarks/gpu_check.py's measuring helpers and its `protocols` and `generate` parts (kept here so the script
stays readable; gpu_check.py imports them and owns the options, budgets and report).

* `protocols`: the frozen-encoder probe and LoRA against full fine-tuning, built as benchmarks/protocols.py builds
  them (`protocols.build`: `xtreme_s.protocols.probe.CTCProbe` with the default `ProbeSpec`, peft LoRA on the
  attention projections through `xtreme_s.protocols.lora.target_modules`), on the XLS-R-300M shape, trained in
  bf16 autocast (as the Trainer's `--bf16`) with fused AdamW (the Trainer's default on CUDA) on the very same
  batches: median step time and peak memory, as ratios to full fine-tuning.
* `generate`: evaluation by generation as the runner does it (`SpeechSeq2SeqTrainer.predict` with
  `predict_with_generate`, `SpeechCollator` computing log-mel features in DataLoader workers, bf16) on a
  Whisper-small-shaped encoder-decoder with random weights: RTFx = audio seconds / wall seconds at two batch sizes.
"""

from __future__ import annotations

import gc
import os
import resource
import statistics
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bench
import model_flops
import numpy as np
import protocols as protocol_bench  # benchmarks/protocols.py: the protocols as the runner builds them
import torch

from xtreme_s.protocols import count_parameters

SR = 16_000
PROTOCOL_NAMES = ("full", "probe", "lora")
MAX_TIMED_STEPS = 30  # a protocol's median step is steady well before: the rest of its share goes to later parts
# whisper-small's dimensions (openai/whisper-small config.json); tiny for the dry run
WHISPER_SHAPES = {
    "xls-r-300m": dict(d_model=768, encoder_layers=12, decoder_layers=12, encoder_attention_heads=12,
                       decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072),
    "tiny": dict(d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                 decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128),
}


def sig(x: float, digits: int = 4) -> float:
    """Round to significant digits (MFU of the dry run's tiny model is 1e-5, of XLS-R on an H200 ~0.4)."""
    return float(f"{x:.{digits}g}")


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_memory(device: str) -> dict:
    if device == "cuda":
        return {"peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
                "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 2),
                "peak_memory_kind": "torch.cuda.max_memory_allocated"}
    return {"peak_memory_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "peak_memory_kind": "process max RSS (CPU dry run; the whole process so far)"}


def reset_memory(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def allocated_gib(device: str) -> float:
    """Memory held now: the CUDA allocator's live tensors (on the CPU the process's resident memory)."""
    if device == "cuda":
        return torch.cuda.memory_allocated() / 2**30
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


# -- protocols ----------------------------------------------------------------------------------------------


def protocol_run(ctx: SimpleNamespace, name: str, batches: list[dict], budget_s: float) -> dict:
    """One protocol: build it on the device, then train on `batches` in turn (warm-up, then timed steps until
    `budget_s` has passed and at least --min-steady-steps were timed); each step synchronised and timed alone."""
    opts, device = ctx.opts, ctx.info["device"]
    reset_memory(device)
    start = time.perf_counter()
    cfg = bench.model_config(opts.model_shape)
    torch.manual_seed(0)
    with torch.device(device):
        model = protocol_bench.build(name, cfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, fused=device == "cuda")
    sync()
    built_gib = allocated_gib(device)
    np.random.seed(0)  # SpecAugment draws its masks with numpy: the same masks for every protocol
    times: list[float] = []
    losses: list[float] = []
    i = 0
    while True:
        batch = batches[i % len(batches)]
        t0 = time.perf_counter()
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            loss = model(**batch["inputs"]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        sync()
        times.append(time.perf_counter() - t0)
        losses.append(float(loss.detach()))
        i += 1
        timed = len(times) - opts.warmup_steps
        if timed >= MAX_TIMED_STEPS or timed >= opts.min_steady_steps and time.perf_counter() - start >= budget_s:
            break
    steady = times[opts.warmup_steps:]
    step_s = statistics.median(steady)
    audio = float(np.mean([b["audio_s"] for b in batches]))
    entry: dict[str, Any] = {
        "status": "ok" if all(np.isfinite(losses)) else f"non-finite loss {losses}",
        **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in count_parameters(model).items()},
        "steps": len(times), "warmup_steps": opts.warmup_steps, "step_s": round(step_s, 4),
        "step_times_s": [round(t, 4) for t in steady], "audio_s_per_s": round(audio / step_s, 2),
        "training_memory_gib": round(max(0.0, torch.cuda.max_memory_allocated() / 2**30 - built_gib), 2)
        if device == "cuda" else None,
        "wall_s": round(time.perf_counter() - start, 1), **peak_memory(device)}
    if name == "full":  # the same MFU as the training parts': model FLOPs of the real audio / the peak
        flops = float(np.mean([sum(model_flops.training_flops(cfg, n, frozen_feature_encoder=True)
                                   for n in b["lengths"]) for b in batches]))
        entry["model_tflops_per_s"] = sig(flops / step_s / 1e12)
        entry["mfu"] = sig(flops / step_s / 1e12 / ctx.info["peak_tflops"])
    del model, optimizer, params
    reset_memory(device)
    return entry


def protocols_part(ctx: SimpleNamespace, budget_s: float) -> dict:
    """Full fine-tuning, the probe and LoRA on the same seeded batches (benchmarks/protocols.make_batches: random
    audio padded to the longest duration allowed, so every step has one shape), each given an equal share of
    what is left of the budget."""
    opts, device = ctx.opts, ctx.info["device"]
    start = time.perf_counter()
    seconds = (8.0 * opts.duration_scale, 16.0 * opts.duration_scale)
    batches = []
    for b in protocol_bench.make_batches(4, opts.protocol_clips, seconds, seed=0):
        lengths = b["attention_mask"].sum(-1).tolist()
        inputs = {k: b[k].to(device) for k in ("input_values", "attention_mask", "labels")}
        batches.append({"inputs": inputs, "audio_s": b["audio_s"], "lengths": [int(n) for n in lengths]})
    out: dict[str, Any] = {"status": "ok", "clips_per_batch": opts.protocol_clips,
                           "clip_seconds": [round(s, 2) for s in seconds],
                           "padded_batch_audio_s": round(opts.protocol_clips * seconds[1], 1),
                           "mean_batch_audio_s": round(float(np.mean([b["audio_s"] for b in batches])), 1),
                           "distinct_batches": len(batches), "precision": "bf16 autocast, fused AdamW on CUDA"}
    for k, name in enumerate(PROTOCOL_NAMES):
        share = (budget_s - (time.perf_counter() - start)) / (len(PROTOCOL_NAMES) - k)
        try:
            out[name] = protocol_run(ctx, name, batches, share)
        except Exception as err:  # out of memory, say: the other protocols still run
            out[name] = {"status": f"failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"}
            reset_memory(device)
        if out[name]["status"] != "ok":
            out["status"] = f"{name}: {out[name]['status']}"
    full = out["full"]
    if full.get("status") == "ok":
        out["ratios"] = {f"{name} / full": {
            "step_time": round(out[name]["step_s"] / full["step_s"], 3),
            "peak_memory": round(out[name]["peak_memory_gib"] / full["peak_memory_gib"], 3),
            **({"training_memory": round(out[name]["training_memory_gib"] / full["training_memory_gib"], 3)}
               if full.get("training_memory_gib") else {})}
            for name in PROTOCOL_NAMES[1:] if out[name].get("status") == "ok"}
    del batches
    return out


# -- evaluation by generation -------------------------------------------------------------------------------


def whisper_model(shape: str, device: str) -> Any:
    """A Whisper-small-shaped encoder-decoder, random weights, SDPA; generation forced to a fixed length."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    cfg = WhisperConfig(**WHISPER_SHAPES[shape], vocab_size=51865, num_mel_bins=80, max_source_positions=1500,
                        max_target_positions=448, attn_implementation="sdpa")
    torch.manual_seed(0)
    with torch.device(device):
        model = WhisperForConditionalGeneration(cfg)
    return model.eval()


def generation_config(model: Any, max_new_tokens: int) -> Any:
    """Greedy, exactly `max_new_tokens` per clip: end-of-text is suppressed until then (random weights would end
    sequences at random), so every batch does the same decoder work and RTFx compares across runs."""
    from transformers import GenerationConfig

    cfg = model.config
    return GenerationConfig(decoder_start_token_id=cfg.decoder_start_token_id, eos_token_id=cfg.eos_token_id,
                            pad_token_id=cfg.pad_token_id, max_new_tokens=max_new_tokens,
                            min_new_tokens=max_new_tokens, num_beams=1, do_sample=False)


def timed_predict(ctx: SimpleNamespace, trainer: Any, rng: np.random.Generator, n: int) -> tuple[float, float, Any]:
    """`trainer.predict` over `n` random clips of the pool: wall seconds, audio seconds, the prediction output."""
    durations = ctx.data["durations"]
    rows = rng.integers(0, len(durations), n)
    ds = ctx.data["dataset"](ctx.opts.audio_format, rows)
    sync()
    t0 = time.perf_counter()
    pred = trainer.predict(ds)
    sync()
    return time.perf_counter() - t0, float(sum(durations[rows])), pred


def generate_part(ctx: SimpleNamespace, budget_s: float) -> dict:
    """`SpeechSeq2SeqTrainer.predict` with generation at each batch size: a one-batch warm-up pass gives a rate,
    then one pass sized to fill that batch size's share of the budget is timed (as the `eval` part)."""
    from transformers import WhisperFeatureExtractor
    from transformers.utils import logging as hf_logging

    from xtreme_s.args import XtremeSTrainingArguments
    from xtreme_s.collators import SpeechCollator
    from xtreme_s.trainer import SpeechSeq2SeqTrainer

    opts, device = ctx.opts, ctx.info["device"]
    hf_logging.set_verbosity_error()  # Whisper's generate warns about its defaults on every call
    reset_memory(device)
    start = time.perf_counter()
    model = whisper_model(opts.model_shape, device)
    model.generation_config = generation_config(model, opts.max_new_tokens)
    # What generate really computes in: accelerate puts autocast around the model's forward only, and generate
    # runs the encoder through get_encoder(), outside it (the runner's seq2seq evaluation does the same).
    dtypes: dict[str, set] = {"encoder": set(), "decoder": set()}
    hooks = [model.get_encoder().layers[-1].fc2.register_forward_hook(
                 lambda mod, args, out: dtypes["encoder"].add(str(out.dtype).replace("torch.", ""))),
             model.proj_out.register_forward_hook(
                 lambda mod, args, out: dtypes["decoder"].add(str(out.dtype).replace("torch.", "")))]
    extractor = WhisperFeatureExtractor(feature_size=80, sampling_rate=SR)
    collator = SpeechCollator(extractor, label_kind="none")
    rng = np.random.default_rng(13)
    out: dict[str, Any] = {
        "status": "ok", "model": "Whisper-small shape (random weights)",
        "parameters": sum(p.numel() for p in model.parameters()), "max_new_tokens": opts.max_new_tokens,
        "decoding": "greedy, end-of-text suppressed until max_new_tokens", "window_s": 30, "runs": []}
    sizes = opts.generate_batch_sizes
    for k, batch_size in enumerate(sizes):
        for seen in dtypes.values():
            seen.clear()
        args = XtremeSTrainingArguments(**bench.train_args(
            ctx.work / f"generate{batch_size}", SimpleNamespace(device=device, compile=False, precision="bf16"),
            per_device_eval_batch_size=batch_size, predict_with_generate=True,
            **({"dataloader_num_workers": opts.workers} if opts.workers is not None else {})))
        trainer = SpeechSeq2SeqTrainer(model=model, args=args, data_collator=collator)
        share_start = time.perf_counter()
        share = (budget_s - (share_start - start)) / (len(sizes) - k)

        warm_s, _, _ = timed_predict(ctx, trainer, rng, batch_size)
        left = share - (time.perf_counter() - share_start)
        batches = max(1, int(0.8 * left / warm_s))  # the warm-up batch's time bounds a steady batch's
        seconds, audio, pred = timed_predict(ctx, trainer, rng, batches * batch_size)
        tokens = np.asarray(pred.predictions)
        run = {"batch_size": batch_size, "clips": batches * batch_size, "audio_s": round(audio, 1),
               "seconds": round(seconds, 2), "rtfx": round(audio / seconds, 1),
               "generated_tokens_per_s": round(batches * batch_size * opts.max_new_tokens / seconds, 1),
               "warmup_s": round(warm_s, 2), "precision": bench.effective_precision(trainer),
               "predictions_shape": list(tokens.shape), "computed_in": {k: sorted(v) for k, v in dtypes.items()},
               **peak_memory(device)}
        # the Trainer pads the generated ids with the pad id (end-of-text, which min_new_tokens suppresses)
        per_clip = (tokens != model.config.pad_token_id).sum(-1) if tokens.ndim == 2 else np.zeros(1, int)
        run["generated_tokens_per_clip"] = sorted({int(x) for x in per_clip})
        run["status"] = "ok" if tokens.ndim == 2 and tokens.shape[0] == run["clips"] \
            and run["generated_tokens_per_clip"] == [opts.max_new_tokens] \
            else f"predictions {tokens.dtype} {list(tokens.shape)}, {run['generated_tokens_per_clip']} tokens per clip"
        if run["status"] != "ok":
            out["status"] = f"batch {batch_size}: {run['status']}"
        out["runs"].append(run)
        del trainer
        reset_memory(device)
    out["wall_s"] = round(time.perf_counter() - start, 1)
    for hook in hooks:
        hook.remove()
    del model
    reset_memory(device)
    return out
