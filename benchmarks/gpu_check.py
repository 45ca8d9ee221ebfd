"""GPU check: XLS-R-300M fine-tuning speed on one GPU, in one prepared command of at most ~8 minutes.

    timeout -k 15 540 python benchmarks/gpu_check.py        # one CUDA GPU: benchmarks/results/gpu.{json,md}
    python benchmarks/gpu_check.py --dry-run                # the same code path on a CPU, tiny model, ~20 s

An XLS-R-300M-shaped wav2vec2 CTC model (random weights: speed does not depend on them) is trained in bf16 with
SDPA attention through the runner's own path: `XtremeSTrainingArguments`, `SpeechTrainer`, `SpeechCollator`
decoding audio files in DataLoader workers, and duration batching (`--max_batch_seconds`,
xtreme_s/sampling.py). Parts, run in this order, each stopped by its own time budget (warm-up included):

* `eager`: training, duration batching; audio seconds per second, model FLOPs utilisation (MFU), peak memory;
  then a profile of a few steps (`gpu_profile.txt`: where the time goes).
* `fixed`: the same with fixed-size, length-grouped batches (`--train_sampling_strategy group_by_length`) whose
  longest batch holds as much padded audio as a duration batch (`--max-batch-seconds` = `--batch-size` x the
  longest clip): the same peak memory, which is measured and reported next to the speed-up.
* `eval`: evaluation (`Trainer.predict`, batches longest first) with the family's argmax before the gather.
* `loader`: the training DataLoader alone (WAV and FLAC), the ceiling the data path puts on training.
* `protocols`: the frozen-encoder probe and LoRA against full fine-tuning on the same batches, bf16: median step
  time and peak memory, and their ratios to full fine-tuning (gpu_check_parts.py, built by benchmarks/protocols.py).
* `generate`: evaluation by generation (`SpeechSeq2SeqTrainer.predict`, a Whisper-small-shaped encoder-decoder
  with random weights, exactly --max-new-tokens per clip): RTFx = audio seconds / wall seconds at two batch sizes.
* `ckpt`, `compile`, `compile_ckpt`: training with activation checkpointing, `torch.compile`, both.

MFU = model FLOPs of the real (unpadded) audio trained per second / the GPU's dense bf16 peak. Model FLOPs are
counted from the architecture (benchmarks/model_flops.py: conv feature encoder + transformer, 3 x forward for
what is trained, the frozen feature encoder 1 x, activation checkpointing's recomputation not counted). The peak
comes from a table by GPU name (`--peak-tflops` overrides). Everything is validated (arguments, imports, GPU,
bf16, compiler, output folder) before any expensive work; results are written after every part, so a run cut
short keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))
from xtreme_s.errors import ScriptArgumentParser  # noqa: E402  (standard library only: imports on any install)

try:  # reported as a one-line error by main(), after the arguments are parsed
    import bench
    import model_flops
    import numpy as np
    import soundfile as sf
    import torch
    from gpu_check_parts import generate_part, peak_memory, protocols_part, reset_memory, sig, sync
    from transformers import TrainerCallback

    from xtreme_s.args import XtremeSTrainingArguments
    from xtreme_s.collators import SpeechCollator, SpeechDataset, padding_multiple
    from xtreme_s.families.base import TaskFamily
    from xtreme_s.sampling import DurationBatchSampler
    from xtreme_s.trainer import SpeechTrainer

    IMPORT_ERROR: ImportError | None = None
except ImportError as err:  # pragma: no cover - exercised only on a broken installation
    IMPORT_ERROR = err
    TrainerCallback = object  # type: ignore[misc,assignment]

SR = 16_000
PARTS = ("eager", "fixed", "eval", "loader", "protocols", "generate", "ckpt", "compile", "compile_ckpt")
# run name -> (activation checkpointing, torch.compile) for the training parts with duration batching
TRAIN_PARTS = {"eager": (False, False), "ckpt": (True, False), "compile": (False, True), "compile_ckpt": (True, True)}
TARGET_MFU, TARGET_SPEEDUP, SAME_MEMORY_TOLERANCE, TARGET_PROBE_STEP = 0.45, 1.5, 0.10, 0.4
DRY_RUN_PEAK_TFLOPS = 1.0  # a nominal CPU "peak" so the dry run computes MFU; not a measurement


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = ScriptArgumentParser("gpu_check", prog="benchmarks/gpu_check.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--dry-run", action="store_true",
                   help="run the same code path on the CPU with the tiny model and clips a tenth as long, each part "
                        "for the fewest steps that exercise it instead of a time budget (the test suite's check: "
                        "figures mean nothing)")
    p.add_argument("--out", default=None,
                   help="folder for gpu.json, gpu.md and gpu_profile.txt (default benchmarks/results; with --dry-run "
                        "a temporary folder, so a dry run never replaces GPU figures)")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated parts to run, of {','.join(PARTS)}")
    p.add_argument("--model-shape", default=None, choices=["xls-r-300m", "tiny"],
                   help="model architecture (default xls-r-300m; tiny with --dry-run)")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="the GPU's dense bf16 peak in TFLOP/s, for MFU (default: from the table in model_flops.py "
                        "by GPU name; required for a GPU the table does not know)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="fixed batch size of the `fixed` part (default 16; 2 with --dry-run)")
    p.add_argument("--max-batch-seconds", type=float, default=None,
                   help="duration batching budget (default: --batch-size x the longest clip, i.e. the same padded "
                        "audio as the longest fixed batch, hence the same peak memory)")
    p.add_argument("--eval-batch-size", type=int, default=None, help="evaluation batch size (default 16; 4 dry)")
    p.add_argument("--workers", type=int, default=None,
                   help="DataLoader workers (default: the runner's, min(4, CPU cores) with a GPU, 0 on a CPU)")
    p.add_argument("--audio-format", default="wav", choices=["wav", "flac"],
                   help="how the training clips are stored: wav (decoding costs ~nothing, so the GPU is what is "
                        "measured) or flac (the decode cost of the runner's data path included); `loader` "
                        "measures both")
    p.add_argument("--pool-clips", type=int, default=96,
                   help="distinct synthetic clips (FLEURS-like durations, 2-30 s); the rows reference them")
    p.add_argument("--rows", type=int, default=20_000, help="training rows (clips from the pool)")
    p.add_argument("--warmup-steps", type=int, default=3, help="optimizer steps before the measurement starts")
    p.add_argument("--compile-warmup-steps", type=int, default=8,
                   help="the same with torch.compile (the first shapes compile and recompile)")
    p.add_argument("--min-steady-steps", type=int, default=2,
                   help="steps measured after the warm-up before a training part may stop (1 with --dry-run)")
    p.add_argument("--compile-backend", default=None,
                   help="torch.compile backend (default inductor; eager with --dry-run, which traces the model "
                        "with dynamo without generating kernels: seconds instead of minutes on a CPU)")
    p.add_argument("--profile-steps", type=int, default=3, help="steps profiled after the `eager` measurement")
    p.add_argument("--protocol-clips", type=int, default=None,
                   help="clips per batch of the `protocols` part, each 8-16 s long (x --duration-scale), padded to "
                        "16 s (default 16; 2 with --dry-run)")
    p.add_argument("--generate-batch-sizes", default=None,
                   help="the two (or more) comma-separated batch sizes of the `generate` part (default 16,64; "
                        "2,4 with --dry-run)")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="tokens generated per clip, exactly (end-of-text suppressed until then; default 64: about "
                        "4 tokens per second of speech for a 16 s clip; 4 with --dry-run)")
    for part, seconds in (("eager", 40), ("fixed", 35), ("eval", 20), ("loader", 10), ("protocols", 60),
                          ("generate", 50), ("ckpt", 30), ("compile", 90), ("compile_ckpt", 70)):
        p.add_argument(f"--budget-{part.replace('_', '-')}", type=float, default=seconds,
                       help=f"seconds for the {part} part, warm-up included (default {seconds})")
    p.add_argument("--total-budget", type=float, default=460,
                   help="seconds for the whole check (default 460): a part that would not fit is skipped and said so")
    p.add_argument("--duration-scale", type=float, default=None, help="scale the clip durations (0.1 dry, 1 else)")
    p.add_argument("--overrun", type=float, default=1.5,
                   help="a training part that has not reached its steady state by this many times its budget stops "
                        "anyway (compile warm-up too long, say) and says so")
    opts = p.parse_args(argv)
    dry = opts.dry_run
    if dry:  # every part on the same code path, for the fewest steps that exercise it (load-independent)
        for part in PARTS:
            key = f"budget_{part}"
            if getattr(opts, key) == p.get_default(key):
                setattr(opts, key, 0.01)
        if opts.total_budget == p.get_default("total_budget"):
            opts.total_budget = 3600.0
        if opts.overrun == p.get_default("overrun"):
            opts.overrun = math.inf
        if opts.rows == p.get_default("rows"):
            opts.rows = 400
        if opts.pool_clips == p.get_default("pool_clips"):
            opts.pool_clips = 16
        for key, value in (("warmup_steps", 1), ("compile_warmup_steps", 1), ("profile_steps", 1),
                           ("min_steady_steps", 1)):
            if getattr(opts, key) == p.get_default(key):
                setattr(opts, key, value)
    opts.model_shape = opts.model_shape or ("tiny" if dry else "xls-r-300m")
    for key, dry_value, value in (("batch_size", 2, 16), ("eval_batch_size", 4, 16), ("protocol_clips", 2, 16),
                                  ("generate_batch_sizes", "2,4", "16,64"), ("max_new_tokens", 4, 64),
                                  ("compile_backend", "eager", "inductor"), ("duration_scale", 0.1, 1.0)):
        if getattr(opts, key) is None:
            setattr(opts, key, dry_value if dry else value)
    opts.out = Path(opts.out) if opts.out else (
        Path(tempfile.gettempdir()) / "xtreme_s_gpu_check_dry_run" if dry else ROOT / "results")
    opts.parts = [x.strip() for x in opts.parts.split(",") if x.strip()]
    unknown = [x for x in opts.parts if x not in PARTS]
    if unknown or not opts.parts:
        p.error(f"--parts {','.join(unknown) or '(empty)'}: unknown; choose from {','.join(PARTS)}")
    try:
        opts.generate_batch_sizes = [int(x) for x in str(opts.generate_batch_sizes).split(",") if x.strip()]
    except ValueError:
        p.error(f"--generate-batch-sizes {opts.generate_batch_sizes}: comma-separated whole numbers, e.g. 16,64")
    if not opts.generate_batch_sizes or min(opts.generate_batch_sizes) < 1:
        p.error(f"--generate-batch-sizes {opts.generate_batch_sizes}: give at least one, each at least 1")
    for name in ("batch_size", "eval_batch_size", "pool_clips", "rows", "warmup_steps", "compile_warmup_steps",
                 "min_steady_steps", "protocol_clips", "max_new_tokens"):
        if getattr(opts, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(opts, name)}")
    for name in ("peak_tflops", "max_batch_seconds"):
        if getattr(opts, name) is not None and not getattr(opts, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(opts, name)}")
    if opts.workers is not None and opts.workers < 0 or opts.profile_steps < 0:
        p.error("--workers and --profile-steps cannot be negative")
    if not all(getattr(opts, f"budget_{x}") > 0 for x in PARTS) or not opts.total_budget > 0 \
            or not opts.duration_scale > 0 or not opts.overrun >= 1:
        p.error("budgets and --duration-scale must be positive, --overrun at least 1")
    opts.parser = p
    return opts


def validate(opts: argparse.Namespace) -> dict:
    """Everything that can fail cheaply fails here, before data synthesis, model build and compilation."""
    fail = opts.parser.error
    if IMPORT_ERROR is not None:
        fail(f"cannot import {IMPORT_ERROR.name or IMPORT_ERROR}: {IMPORT_ERROR}; install the project (make install)")
    info: dict[str, Any] = {}
    if opts.dry_run:
        info.update(device="cpu", device_name="cpu (dry run)",
                    peak_tflops=opts.peak_tflops or DRY_RUN_PEAK_TFLOPS,
                    peak_source="--peak-tflops" if opts.peak_tflops else "nominal (dry run, not a measurement)")
    else:
        if not torch.cuda.is_available():
            fail("no CUDA GPU is visible; this check measures one (--dry-run runs its code path on the CPU)")
        name = torch.cuda.get_device_name(0)
        peak = opts.peak_tflops or model_flops.peak_bf16_tflops(name)
        if peak is None:
            fail(f"no dense bf16 peak is known for {name!r}; give it with --peak-tflops (datasheet, no sparsity)")
        if not torch.cuda.is_bf16_supported(including_emulation=False):
            fail(f"{name} does not compute bf16 natively; this check measures bf16 training (Ampere or newer)")
        free, total = torch.cuda.mem_get_info()
        info.update(device="cuda", device_name=name, peak_tflops=peak,
                    peak_source="--peak-tflops" if opts.peak_tflops else "table (model_flops.py)",
                    gpu_memory_gib=round(total / 2**30, 1), gpu_memory_free_gib=round(free / 2**30, 1),
                    device_count=torch.cuda.device_count())
    if "protocols" in opts.parts:
        try:
            import peft  # noqa: F401  (LoRA)
        except ImportError as err:
            fail(f"the protocols part needs peft for LoRA and it cannot be imported ({err}); carry its wheel "
                 "(benchmarks/gpu_requirements.txt) or leave the part out (--parts)")
    if any(part.startswith("compile") for part in opts.parts):
        from torch import _dynamo

        if opts.compile_backend not in _dynamo.list_backends(exclude_tags=()):
            fail(f"--compile-backend {opts.compile_backend}: not a torch.compile backend here "
                 f"({', '.join(_dynamo.list_backends())})")
        if opts.compile_backend == "inductor" and info["device"] == "cuda":
            try:
                import triton  # noqa: F401  (inductor's GPU code generator)
            except ImportError as err:
                fail(f"torch.compile needs triton on a GPU and it cannot be imported ({err}); install it or leave "
                     "out the compile parts (--parts eager,fixed,eval,loader,ckpt)")
    try:
        opts.out.mkdir(parents=True, exist_ok=True)
        probe = opts.out / ".gpu_check_write_probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        fail(f"--out {opts.out}: cannot write there ({err.strerror or err})")
    return info


# -- data ---------------------------------------------------------------------------------------------------


def synthesize(work: Path, opts: argparse.Namespace) -> dict:
    """A pool of speech-like clips (WAV and FLAC files, FLEURS-like durations) and rows that reference them."""
    import datasets

    rng = np.random.default_rng(7)
    durations = bench.fleurs_like(opts.pool_clips, rng) * opts.duration_scale
    paths: dict[str, list[str]] = {"wav": [], "flac": []}
    for i, d in enumerate(durations):
        wav = bench.synth_clip(float(d), rng)
        for fmt in paths:
            path = work / f"clip{i:03d}.{fmt}"
            sf.write(path, wav, SR, format=fmt.upper())
            paths[fmt].append(str(path))
    durations = np.array([sf.info(p).duration for p in paths["wav"]])  # what the files hold, to the sample
    labels = bench.labels_for(durations, rng)
    which = rng.integers(0, opts.pool_clips, opts.rows)

    def dataset(fmt: str, rows: np.ndarray) -> SpeechDataset:
        table = datasets.Dataset.from_dict({
            "id": [f"u{i}" for i in range(len(rows))], "language": ["xx"] * len(rows),
            "audio": [{"bytes": None, "path": paths[fmt][w]} for w in rows],
            "duration": [float(durations[w]) for w in rows]})
        return SpeechDataset(table, [labels[w] for w in rows])

    return {"durations": durations, "dataset": dataset, "train_rows": which,
            "train": {fmt: dataset(fmt, which) for fmt in paths}}


# -- measuring ----------------------------------------------------------------------------------------------


class Budget(TrainerCallback):
    """Ends a training run once `seconds` have passed since it was made and the meter has seen `min_steady` steps
    after its warm-up (or at `overrun` x `seconds` regardless); then optionally profiles `profile_steps` more
    steps, which the figures leave out."""

    def __init__(self, meter: bench.StepMeter, seconds: float, overrun: float, profile_steps: int = 0,
                 min_steady: int = 2):
        self.meter, self.seconds = meter, max(seconds, 0.0)
        self.limit = math.inf if math.isinf(overrun) else overrun * self.seconds
        self.profile_steps, self.min_steady = profile_steps, min_steady
        self.start = time.perf_counter()
        self.end: dict | None = None
        self.profiler = None
        self.profiled_steps, self.profile_wall_s = 0, 0.0

    def on_step_end(self, args, state, control, **kw):
        m, now = self.meter, time.perf_counter()
        if self.end is None:
            steady = m.at is not None and m.steps - m.warmup_steps >= self.min_steady
            if now - self.start < self.seconds or not steady and now - self.start < self.limit:
                return
            sync()
            self.end = {"t": time.perf_counter(), "steps": m.steps, "real": m.real, "padded": m.padded,
                        "flops": m.flops, "steady": steady}
            if self.profile_steps and steady:
                activities = [torch.profiler.ProfilerActivity.CPU]
                if torch.cuda.is_available():
                    activities.append(torch.profiler.ProfilerActivity.CUDA)
                self.profiler = torch.profiler.profile(activities=activities)
                self.profiler.start()
                self.profile_start = time.perf_counter()
                return
            control.should_training_stop = True
        elif self.profiler is not None:
            self.profiled_steps += 1
            if self.profiled_steps >= self.profile_steps:
                sync()
                self.profile_wall_s = time.perf_counter() - self.profile_start
                self.profiler.stop()
                control.should_training_stop = True


def profile_report(budget: Budget, path: Path) -> dict:
    """Where the time of the profiled steps went: the top operators, and how busy the GPU was."""
    events = budget.profiler.key_averages()
    cuda = torch.cuda.is_available()
    sort = "self_device_time_total" if cuda else "self_cpu_time_total"
    path.write_text(f"# torch.profiler, {budget.profiled_steps} training step(s) after the `eager` measurement, "
                    f"{budget.profile_wall_s:.3f} s wall\n\n" + events.table(sort_by=sort, row_limit=40) + "\n")
    out = {"profiled_steps": budget.profiled_steps, "wall_s": round(budget.profile_wall_s, 3), "file": path.name}
    if cuda:  # kernel time / wall time: well below 1 means the GPU waits (data, Python, launches)
        busy_us = sum(e.self_device_time_total for e in events)
        out["gpu_busy_fraction"] = round(busy_us / 1e6 / max(budget.profile_wall_s, 1e-9), 3)
    return out


def train_run(ctx: SimpleNamespace, name: str, *, fixed: bool, checkpointing: bool, compile: bool,
              budget_s: float, profile: bool = False) -> dict:
    """One training run through the runner's path, measured in steady state and stopped by its budget."""
    opts, device = ctx.opts, ctx.info["device"]
    reset_memory(device)
    if compile:
        from torch import _dynamo

        _dynamo.reset()
    start = time.perf_counter()
    model = bench.build_model(opts.model_shape, False, device=device)
    cfg = model.config
    kw = bench.train_args(ctx.work / name, SimpleNamespace(device=device, compile=compile, precision="bf16"),
                          max_steps=10**6, gradient_checkpointing=checkpointing)
    if compile:
        kw["torch_compile_backend"] = opts.compile_backend
    if opts.workers is not None:
        kw["dataloader_num_workers"] = opts.workers
    if fixed:
        kw.update(per_device_train_batch_size=opts.batch_size, train_sampling_strategy="group_by_length")
    else:
        kw["max_batch_seconds"] = ctx.max_batch_seconds
    args = XtremeSTrainingArguments(**kw)
    collator = SpeechCollator(bench.feature_extractor(), pad_to_multiple_of=padding_multiple(args, SR))
    trainer = SpeechTrainer(model=model, args=args, train_dataset=ctx.data["train"][opts.audio_format],
                            data_collator=collator)
    warmup = opts.compile_warmup_steps if compile else opts.warmup_steps
    cache: dict[int, float] = {}

    def clip_flops(n: int) -> float:
        if n not in cache:
            cache[n] = model_flops.training_flops(cfg, n, frozen_feature_encoder=True)
        return cache[n]

    meter = bench.StepMeter(warmup_steps=warmup, flops_per_clip=clip_flops)
    meter.attach(trainer)
    budget = Budget(meter, budget_s - (time.perf_counter() - start), opts.overrun,
                    opts.profile_steps if profile else 0, opts.min_steady_steps)
    trainer.add_callback(budget)
    trainer.train()
    sync()
    end = budget.end or {"t": time.perf_counter(), "steps": meter.steps, "real": meter.real, "padded": meter.padded,
                         "flops": meter.flops, "steady": meter.at is not None}
    entry: dict[str, Any] = {
        "sampler": f"fixed batches of {opts.batch_size}, group_by_length" if fixed
        else f"duration batching, --max_batch_seconds {ctx.max_batch_seconds:g}",
        "gradient_checkpointing": checkpointing, "torch_compile": compile and opts.compile_backend,
        "precision": bench.effective_precision(trainer), "steps": end["steps"], "warmup_steps": warmup,
        "padding_ratio": round(end["padded"] / max(end["real"], 1e-9), 4),
        "mean_batch_audio_s": round(end["real"] / max(end["steps"], 1), 1),
        "wall_s": round(time.perf_counter() - start, 1), **peak_memory(device)}
    if meter.at is None or not end["steady"]:
        entry["status"] = f"no steady state within the budget ({end['steps']} steps, warm-up {warmup})"
    else:
        steady_s = end["t"] - meter.at
        tflops = (end["flops"] - meter.flops_at) / steady_s / 1e12
        entry.update(status="ok", warmup_s=round(meter.at - start, 1), steady_s=round(steady_s, 2),
                     steady_steps=end["steps"] - warmup,
                     audio_s_per_s=round((end["real"] - meter.audio_at) / steady_s, 2),
                     model_tflops_per_s=sig(tflops), mfu=sig(tflops / ctx.info["peak_tflops"]))
    if compile:
        entry["dynamo"] = dynamo_stats()
    if profile and budget.profiler is not None:
        entry["profile"] = profile_report(budget, ctx.opts.out / "gpu_profile.txt")
    del trainer, model
    reset_memory(device)
    return entry


def dynamo_stats() -> dict:
    """How often dynamo compiled (recompiles mean new shapes; graph breaks mean Python between graphs)."""
    try:
        from torch._dynamo.utils import counters

        return {"unique_graphs": int(counters["stats"].get("unique_graphs", 0)),
                "graph_breaks": int(sum(counters["graph_break"].values()))}
    except Exception as err:  # private API: report what is missing rather than fail the part
        return {"unavailable": repr(err)}


def argmax_before_gather(logits, labels):
    """The CTC family's `preprocess_logits_for_metrics` (it uses nothing of its instance)."""
    return TaskFamily.preprocess_logits_for_metrics(None, logits, labels)  # type: ignore[arg-type]


def eval_part(ctx: SimpleNamespace, budget_s: float) -> dict:
    """`Trainer.predict` as the runner evaluates (longest first, argmax before the gather): a short warm-up pass
    gives a rate, then one pass sized to fill the rest of the budget is timed."""
    opts, device = ctx.opts, ctx.info["device"]
    reset_memory(device)
    start = time.perf_counter()
    model = bench.build_model(opts.model_shape, False, device=device)
    cfg = model.config
    args = XtremeSTrainingArguments(**bench.train_args(
        ctx.work / "eval", SimpleNamespace(device=device, compile=False, precision="bf16"),
        per_device_eval_batch_size=opts.eval_batch_size, **({"dataloader_num_workers": opts.workers}
                                                             if opts.workers is not None else {})))
    trainer = SpeechTrainer(model=model, args=args, data_collator=SpeechCollator(bench.feature_extractor()),
                            preprocess_logits_for_metrics=argmax_before_gather)
    rng = np.random.default_rng(11)
    durations = ctx.data["durations"]

    def timed(trainer: SpeechTrainer, n: int) -> tuple[float, float, float, Any]:
        rows = rng.integers(0, len(durations), n)
        ds = ctx.data["dataset"](opts.audio_format, rows)
        sync()
        t0 = time.perf_counter()
        out = trainer.predict(ds)
        sync()
        seconds = time.perf_counter() - t0
        audio = float(sum(durations[rows]))
        flops = sum(model_flops.eval_flops(cfg, int(round(d * SR))) for d in durations[rows])
        return seconds, audio, flops, out

    warm_s, warm_audio, _, _ = timed(trainer, 2 * opts.eval_batch_size)
    left = budget_s - (time.perf_counter() - start)
    rate = warm_audio / warm_s  # clips per second is what the timed pass needs, through the mean duration
    n = max(2 * opts.eval_batch_size, int(0.8 * left * rate / float(np.mean(durations))))
    seconds, audio, flops, out = timed(trainer, n)
    preds = np.asarray(out.predictions)
    entry = {"status": "ok", "clips": n, "batch_size": opts.eval_batch_size, "audio_s": round(audio, 1),
             "seconds": round(seconds, 2), "audio_s_per_s": round(audio / seconds, 2),
             "model_tflops_per_s": sig(flops / seconds / 1e12),
             "mfu_forward": sig(flops / seconds / 1e12 / ctx.info["peak_tflops"]),
             "warmup_s": round(warm_s, 2), "precision": bench.effective_precision(trainer),
             "argmax_before_gather": bool(preds.ndim == 2 and np.issubdtype(preds.dtype, np.integer)),
             "predictions_shape": list(preds.shape), "wall_s": round(time.perf_counter() - start, 1),
             **peak_memory(device)}
    if not entry["argmax_before_gather"]:
        entry["status"] = f"predictions are {preds.dtype} {preds.shape}, not argmax ids: logits were gathered"
    del trainer, model
    reset_memory(device)
    return entry


def loader_part(ctx: SimpleNamespace, budget_s: float) -> dict:
    """The training DataLoader alone (duration sampler, collator, workers as the runner), WAV and FLAC."""
    opts, device = ctx.opts, ctx.info["device"]
    workers = opts.workers if opts.workers is not None else (min(4, os.cpu_count() or 1) if device == "cuda" else 0)
    out: dict[str, Any] = {"status": "ok", "workers": workers}
    for fmt in ("wav", "flac"):
        ds = ctx.data["train"][fmt]
        sampler = DurationBatchSampler(ds.durations, ctx.max_batch_seconds, seed=0)
        loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=workers,
                                             collate_fn=SpeechCollator(bench.feature_extractor()),
                                             pin_memory=device == "cuda")
        start, first, audio, batches = time.perf_counter(), None, 0.0, 0
        while True:
            for batch in loader:
                if first is None:  # workers started and the first batch made: the rest is steady
                    first = time.perf_counter()
                else:
                    audio += float(batch["attention_mask"].sum()) / SR
                    batches += 1
                if time.perf_counter() - start > budget_s / 2 and batches >= 2:
                    break
            else:
                sampler.set_epoch(sampler.epoch + 1)
                continue
            break
        seconds = time.perf_counter() - first
        out[fmt] = {"batches": batches, "audio_s_per_s": round(audio / seconds, 1),
                    "startup_s": round(first - start, 2)}
        del loader
    return out


# -- report -------------------------------------------------------------------------------------------------


def summarise(res: dict) -> None:
    """Comparisons and targets from the parts that ran (re-done after every part)."""
    runs, comp, targets = res["runs"], {}, []
    eager, fixed = runs.get("eager", {}), runs.get("fixed", {})
    if eager.get("status") == "ok" and fixed.get("status") == "ok":
        comp["duration_vs_fixed_speedup"] = round(eager["audio_s_per_s"] / fixed["audio_s_per_s"], 3)
        comp["peak_memory_ratio_duration_over_fixed"] = round(eager["peak_memory_gib"] / fixed["peak_memory_gib"], 3)
        comp["same_peak_memory"] = abs(comp["peak_memory_ratio_duration_over_fixed"] - 1) <= SAME_MEMORY_TOLERANCE
        targets.append({"target": f"duration batching >= {TARGET_SPEEDUP}x fixed batches at equal peak memory",
                        "value": comp["duration_vs_fixed_speedup"],
                        "met": comp["duration_vs_fixed_speedup"] >= TARGET_SPEEDUP and comp["same_peak_memory"]})
    for run in ("ckpt", "compile", "compile_ckpt"):
        if eager.get("status") == "ok" and runs.get(run, {}).get("status") == "ok":
            comp[f"{run}_vs_eager"] = round(runs[run]["audio_s_per_s"] / eager["audio_s_per_s"], 3)
    probe = res.get("protocols", {}).get("ratios", {}).get("probe / full")
    if probe:
        comp["probe_vs_full_step_time"] = probe["step_time"]
        comp["probe_vs_full_peak_memory"] = probe["peak_memory"]
        targets.append({"target": f"probe step time <= {TARGET_PROBE_STEP}x full fine-tuning (same batches, bf16)",
                        "value": probe["step_time"], "met": probe["step_time"] <= TARGET_PROBE_STEP})
    lora = res.get("protocols", {}).get("ratios", {}).get("lora / full")
    if lora:
        comp["lora_vs_full_step_time"] = lora["step_time"]
        comp["lora_vs_full_peak_memory"] = lora["peak_memory"]
    gen = [r for r in res.get("generate", {}).get("runs", []) if r.get("status") == "ok"]
    if len(gen) >= 2:
        comp["generate_rtfx_largest_over_smallest_batch"] = round(gen[-1]["rtfx"] / gen[0]["rtfx"], 3)
    no_ckpt = [runs[r]["mfu"] for r in ("eager", "compile") if runs.get(r, {}).get("status") == "ok"]
    if no_ckpt:
        targets.insert(0, {"target": f"MFU >= {TARGET_MFU:.0%} without activation checkpointing (best of eager, "
                                     "compile)", "value": max(no_ckpt), "met": max(no_ckpt) >= TARGET_MFU})
    res["comparisons"], res["targets"] = comp, targets


def markdown(res: dict) -> str:
    info = res["device"]
    lines = [f"# GPU check: {res['model']['shape']} on {info['device_name']}" + (" (DRY RUN: figures mean nothing)"
                                                                                 if res["dry_run"] else ""), "",
             f"{res['when']}, {res['seconds']:.0f} s in all; bf16 peak {info['peak_tflops']} TFLOP/s "
             f"({info['peak_source']}); {res['model']['parameters'] / 1e6:.1f} M parameters, "
             f"{res['model']['train_gflops_per_audio_s']} GFLOP per audio second trained and "
             f"{res['model']['eval_gflops_per_audio_s']} evaluated (mean clip, benchmarks/model_flops.py); "
             f"{res['data']['rows']} rows of {res['data']['pool_clips']} synthetic {res['data']['audio_format']} "
             "clips, "
             f"mean {res['data']['mean_duration_s']} s, longest {res['data']['max_duration_s']} s.", "",
             "## Training (steady state after the warm-up steps; MFU = model FLOPs of the real audio / peak)", ""]
    rows = []
    for name, r in res["runs"].items():
        rows.append([name, r.get("sampler", "-"), r.get("gradient_checkpointing", "-"),
                     r.get("torch_compile") or "-", r.get("precision", "-"), r.get("steps", "-"),
                     r.get("audio_s_per_s", "-"), r.get("model_tflops_per_s", "-"),
                     f"**{100 * r['mfu']:.3g} %**" if "mfu" in r else "-", r.get("padding_ratio", "-"),
                     r.get("mean_batch_audio_s", "-"), r.get("peak_memory_gib", "-"), r.get("warmup_s", "-"),
                     r.get("status", "-")])
    lines += bench.md_table(["run", "batches", "act. ckpt", "compile", "precision", "steps", "audio s/s",
                             "model TFLOP/s", "MFU", "padding", "audio s/batch", "peak GiB", "warm-up s", "status"],
                            rows)
    prof = res["runs"].get("eager", {}).get("profile")
    if prof:
        lines += ["", f"Profile of {prof['profiled_steps']} step(s) after the eager measurement: `{prof['file']}`"
                  + (f"; GPU busy {prof['gpu_busy_fraction']:.0%} of the wall time" if "gpu_busy_fraction" in prof
                     else "") + "."]
    ev = res.get("eval")
    if ev:
        lines += ["", "## Evaluation (Trainer.predict, longest first, argmax before the gather)", ""]
        lines += (bench.md_table(["clips", "batch", "audio s/s", "model TFLOP/s", "forward MFU", "argmax ids kept",
                                  "peak GiB", "status"],
                                 [[ev["clips"], ev["batch_size"], ev["audio_s_per_s"], ev["model_tflops_per_s"],
                                   f"{100 * ev['mfu_forward']:.3g} %", ev["argmax_before_gather"],
                                   ev["peak_memory_gib"], ev["status"]]]) if "clips" in ev
                  else [f"status: {ev.get('status')}"])
    ld = res.get("loader")
    if ld:
        lines += ["", f"## Data loader alone ({ld.get('workers')} workers; the ceiling on training audio s/s)", ""]
        lines += (bench.md_table(["format", "audio s/s", "start-up s"],
                                 [[f, ld[f]["audio_s_per_s"], ld[f]["startup_s"]] for f in ("wav", "flac") if f in ld])
                  if "wav" in ld else [f"status: {ld.get('status')}"])
    lines += protocols_markdown(res.get("protocols")) + generate_markdown(res.get("generate"))
    if res.get("comparisons"):
        lines += ["", "## Comparisons", ""]
        lines += [f"- {k}: {v}" for k, v in res["comparisons"].items()]
    if res.get("targets"):
        lines += ["", "## Targets", ""]
        lines += bench.md_table(["target", "measured", "met"],
                                [[t["target"], t["value"], "yes" if t["met"] else "**no**"] for t in res["targets"]])
    skipped = {k: v for k, v in res["parts"].items() if v != "ok"}
    if skipped:
        lines += ["", "Parts not completed: " + "; ".join(f"{k}: {v}" for k, v in skipped.items())]
    return "\n".join(lines) + "\n"


def protocols_markdown(pr: dict | None) -> list[str]:
    if not pr:
        return []
    lines = ["", f"## Protocols (same {pr.get('distinct_batches')} batches of {pr.get('clips_per_batch')} clips, "
                 f"{pr.get('mean_batch_audio_s')} s of audio each, padded to {pr.get('padded_batch_audio_s')} s; "
                 f"{pr.get('precision')}; median step)", ""]
    ratios = pr.get("ratios", {})
    rows = []
    for name in ("full", "probe", "lora"):
        r = pr.get(name)
        if not r:
            continue
        rel = ratios.get(f"{name} / full", {"step_time": 1.0, "peak_memory": 1.0} if name == "full" else {})
        rows.append([name, f"{r['trainable_parameters']:,}" if "trainable_parameters" in r else "-",
                     r.get("steps", "-"), r.get("step_s", "-"), r.get("audio_s_per_s", "-"),
                     f"{100 * r['mfu']:.3g} %" if "mfu" in r else "-", r.get("peak_memory_gib", "-"),
                     r.get("training_memory_gib") if r.get("training_memory_gib") is not None else "-",
                     rel.get("step_time", "-"), rel.get("peak_memory", "-"), r.get("status", "-")])
    return lines + bench.md_table(["protocol", "trainable params", "steps", "s/step", "audio s/s", "MFU",
                                   "peak GiB", "training GiB", "step time / full", "peak memory / full", "status"],
                                  rows)


def generate_markdown(gen: dict | None) -> list[str]:
    if not gen:
        return []
    lines = ["", f"## Evaluation by generation ({gen.get('model')}, {gen.get('parameters', 0) / 1e6:.1f} M "
                 f"parameters; SpeechSeq2SeqTrainer.predict, {gen.get('decoding')}, {gen.get('max_new_tokens')} "
                 "tokens per clip; RTFx = audio s / wall s)", ""]
    if not gen.get("runs"):
        return lines + [f"status: {gen.get('status')}"]
    return lines + bench.md_table(
        ["batch", "clips", "audio s", "wall s", "RTFx", "tokens/s", "precision", "encoder / decoder in",
         "peak GiB", "status"],
        [[r["batch_size"], r["clips"], r["audio_s"], r["seconds"], f"**{r['rtfx']}**", r["generated_tokens_per_s"],
          r["precision"], " / ".join(",".join(r["computed_in"][k]) or "-" for k in ("encoder", "decoder")),
          r["peak_memory_gib"], r["status"]] for r in gen["runs"]])


def write(res: dict, out: Path) -> None:
    res["seconds"] = round(time.perf_counter() - res["_start"], 1)
    summarise(res)
    public = {k: v for k, v in res.items() if not k.startswith("_")}
    (out / "gpu.json").write_text(json.dumps(public, indent=2, allow_nan=False) + "\n")
    (out / "gpu.md").write_text(markdown(public))


def main(argv: list[str] | None = None) -> dict:
    opts = parse_args(argv)
    info = validate(opts)
    t0 = time.perf_counter()
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    res: dict[str, Any] = {
        "_start": t0, "schema": 1, "dry_run": opts.dry_run, "machine": bench.machine(), "device": info,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "options": {k: (str(v) if isinstance(v, Path) or v == math.inf else v) for k, v in vars(opts).items()
                    if k != "parser"},
        "parts": {part: "not run (--parts)" for part in PARTS}, "runs": {}}
    work = Path(tempfile.mkdtemp(prefix="xtreme_s_gpu_check_"))
    threads = torch.get_num_threads()
    if opts.dry_run:
        torch.set_num_threads(1)  # the tiny model's ops are too small to share: threads only add overhead
    try:
        data = synthesize(work, opts)
        durations = data["durations"]
        cfg = bench.model_config(opts.model_shape)
        mean_n = int(round(float(np.mean(durations)) * SR))
        res["model"] = {"shape": opts.model_shape, "parameters": model_parameters(opts.model_shape),
                        "train_gflops_per_audio_s": round(model_flops.training_flops(cfg, mean_n) / 1e9
                                                          / float(np.mean(durations)), 3),
                        "eval_gflops_per_audio_s": round(model_flops.eval_flops(cfg, mean_n) / 1e9
                                                         / float(np.mean(durations)), 3),
                        "frozen_feature_encoder": True, "attention": "sdpa"}
        max_batch_seconds = opts.max_batch_seconds or opts.batch_size * float(durations.max())
        res["data"] = {"pool_clips": opts.pool_clips, "rows": opts.rows, "audio_format": opts.audio_format,
                       "mean_duration_s": round(float(np.mean(durations)), 2),
                       "max_duration_s": round(float(durations.max()), 2),
                       "max_batch_seconds": round(max_batch_seconds, 1),
                       "synthesis_s": round(time.perf_counter() - t0, 1)}
        ctx = SimpleNamespace(opts=opts, info=info, data=data, work=work, max_batch_seconds=max_batch_seconds)
        for part in PARTS:
            if part not in opts.parts:
                continue
            budget = getattr(opts, f"budget_{part}")
            elapsed = time.perf_counter() - t0
            if elapsed + budget > opts.total_budget:
                res["parts"][part] = (f"skipped: {elapsed:.0f} s spent, its {budget:.0f} s budget would pass "
                                      f"--total-budget {opts.total_budget:.0f} s")
                print(f"gpu_check: {res['parts'][part]}", flush=True)
                continue
            print(f"gpu_check: part {part} ({budget:.0f} s budget, {elapsed:.0f} s spent)", flush=True)
            try:
                if part in TRAIN_PARTS:
                    checkpointing, compile = TRAIN_PARTS[part]
                    entry = train_run(ctx, part, fixed=False, checkpointing=checkpointing, compile=compile,
                                      budget_s=budget, profile=part == "eager" and opts.profile_steps > 0)
                    res["runs"][part] = entry
                elif part == "fixed":
                    entry = res["runs"]["fixed"] = train_run(ctx, part, fixed=True, checkpointing=False,
                                                             compile=False, budget_s=budget)
                elif part == "eval":
                    entry = res["eval"] = eval_part(ctx, budget)
                elif part == "protocols":
                    entry = res["protocols"] = protocols_part(ctx, budget)
                elif part == "generate":
                    entry = res["generate"] = generate_part(ctx, budget)
                else:
                    entry = res["loader"] = loader_part(ctx, budget)
                res["parts"][part] = entry["status"]
            except Exception as err:  # a failed part (out of memory, compiler error) must not cost the others
                traceback.print_exc()
                res["parts"][part] = f"failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                reset_memory(info["device"])
            print(json.dumps({part: res["runs"].get(part, res.get(part))}, indent=1, default=str), flush=True)
            write(res, opts.out)
        write(res, opts.out)
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(work, ignore_errors=True)
    print(markdown({k: v for k, v in res.items() if not k.startswith("_")}))
    print(f"gpu_check: wrote {opts.out / 'gpu.json'} and gpu.md", flush=True)
    return res


def model_parameters(shape: str) -> int:
    with torch.device("meta"):
        model = bench.Wav2Vec2ForCTC(bench.model_config(shape))
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    main()
