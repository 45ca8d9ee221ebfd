"""Cost of the training protocols on CPU: peak memory and step time of the frozen-encoder probe and LoRA against full
fine-tuning, on the same batches, as ratios measured in one run.

The three protocols, each as the runner builds it for a CTC task (random weights: cost does not depend on them):
- full: `Wav2Vec2ForCTC` with the convolutional feature encoder frozen (`freeze_feature_encoder()`, as in every
  XTREME-S run), everything else trained;
- probe: `xtreme_s.families.probe_heads.CTCProbe` around a `Wav2Vec2Model` of the same config, default `ProbeSpec()`
  (encoder frozen and run under no_grad; weighted layer sum, 2-layer Transformer, linear CTC trained);
- lora: the same `Wav2Vec2ForCTC` wrapped by peft as `--protocol lora` does (r 8, alpha 16, dropout 0.05 on the
  attention query/value projections, `lm_head` trained in full).
The encoder is a wav2vec2 with XLS-R's architecture (stable layer norm, 7-layer conv front end with XLS-R's
kernels and strides, positional conv 128 / 16 groups) at wav2vec2-base's width and depth (hidden 768, 12 layers,
FFN 3072; about 95M parameters), and the runner's defaults (no dropout or layerdrop, SpecAugment time masks 0.05).
The batches are seeded random audio with random CTC labels (12 labels per second, about the characters per
second of FLEURS and MLS transcripts), identical for the three protocols. A step is what the Trainer does:
forward, backward, gradient clipping to norm 1, AdamW step over the trainable parameters, zero_grad.

Step time: the median over `--steps` steps, after `--warmup` steps that are not timed into it.
Memory: each protocol runs in its own fresh process, which takes `ru_maxrss` (getrusage: the process's peak
resident memory so far) just after the model and the optimizer are built, and again after the last step. The
increase is the training-time memory: activations kept for backward, gradients and AdamW's state (created on the
first step), anything the steps allocate beyond the model itself. The absolute peak (the second reading: Python,
torch, the model and the training together) is reported too. Memory that building the model took transiently and
then freed raises the first reading, so the increase can only be underestimated; the resident memory right after
building (`rss_after_build_mib`) is recorded to show that gap (0 when building has no transient peak). Resident
memory counts what the allocator holds, live tensors or freed buffers it keeps for reuse. Every protocol's figure
includes the buffers of the convolutional front end's forward pass (run without gradients, so not kept: about
0.7 GB for 4 clips of 8 s at 512 channels), a floor the probe cannot go below on CPU.

Figures depend on the machine and on what else runs on it; the ratios are what to read. On a machine shared with
other work, give fewer threads than cores (`--threads 1` on 2 cores): a torch thread that waits for a core another
process holds stalls every operation (2 threads with one core busy ran 2 to 10 times slower, unevenly).

    python benchmarks/protocols.py                 # a few minutes on 2 cores: benchmarks/results/protocols.{json,md}
    python benchmarks/protocols.py --tiny --steps 1 --out /tmp/p    # ~20 s: the tiny model (the test)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from xtreme_s.errors import ScriptArgumentParser  # noqa: E402

PROTOCOLS = ("full", "probe", "lora")
SR = 16_000
VOCAB = 40  # a character vocabulary; id 0 is padding and the CTC blank, as our tokenizers have it
BLANK = 0
LABELS_PER_SECOND = 12
XLS_R = dict(feat_extract_norm="layer", feat_extract_activation="gelu", do_stable_layer_norm=True, conv_bias=True,
             conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2), hidden_act="gelu")
SHAPES = {
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 conv_dim=(512,) * 7, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16),
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                 conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4),
}
# The runner's model defaults (xtreme_s/args.py ModelArguments, families/ctc.py CTCArguments).
RUNNER_DEFAULTS = dict(attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0, hidden_dropout=0.0,
                       final_dropout=0.0, layerdrop=0.0, mask_time_prob=0.05, mask_time_length=10,
                       mask_feature_prob=0.0, ctc_loss_reduction="mean", ctc_zero_infinity=True)
LORA = dict(r=8, lora_alpha=16, lora_dropout=0.05)  # xtreme_s/protocols/lora.py DEFAULTS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = ScriptArgumentParser("protocols", prog="benchmarks/protocols.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true",
                   help="the tiny model and 2 clips of 1-2 s (seconds; the test's check, figures mean nothing)")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per protocol (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps before them (default 1)")
    p.add_argument("--clips", type=int, default=None, help="clips per batch (default 4; --tiny 2)")
    p.add_argument("--seconds", type=float, nargs=2, default=None, metavar=("MIN", "MAX"),
                   help="clip durations, uniform in [MIN, MAX] seconds (default 4 8; --tiny 1 2)")
    p.add_argument("--threads", type=int, default=2,
                   help="torch threads per protocol's process (default 2; on a shared machine fewer than its cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of the batches and of the models' weights")
    p.add_argument("--protocols", default=",".join(PROTOCOLS),
                   help=f"comma-separated, of {','.join(PROTOCOLS)} (full is needed for the ratios)")
    p.add_argument("--out", default=None,
                   help="folder for protocols.json and protocols.md (default benchmarks/results; with --tiny a "
                        "temporary folder, so a tiny run never replaces the figures)")
    p.add_argument("--child", choices=PROTOCOLS, help=argparse.SUPPRESS)  # one protocol, in this process
    opts = p.parse_args(argv)
    if opts.steps < 1 or opts.warmup < 0 or opts.threads < 1:
        p.error("--steps and --threads must be at least 1, --warmup at least 0")
    opts.clips = opts.clips if opts.clips is not None else (2 if opts.tiny else 4)
    opts.seconds = opts.seconds or ([1.0, 2.0] if opts.tiny else [4.0, 8.0])
    if opts.clips < 1 or not 0.5 <= opts.seconds[0] <= opts.seconds[1]:
        p.error("--clips must be at least 1 and --seconds MIN MAX with 0.5 <= MIN <= MAX")
    wanted = opts.protocols.split(",")
    bad = [w for w in wanted if w not in PROTOCOLS]
    if bad or "full" not in wanted:
        p.error(f"--protocols {opts.protocols}: choose from {','.join(PROTOCOLS)}, full included")
    opts.protocols = [name for name in PROTOCOLS if name in wanted]
    if opts.out is None and opts.child is None:
        opts.out = tempfile.mkdtemp(prefix="xtreme_s_protocols_") if opts.tiny else str(ROOT / "benchmarks" / "results")
    if opts.child is None:
        try:
            Path(opts.out).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            p.error(f"--out {opts.out}: cannot write there ({err.strerror})")
    return opts


# -- one protocol, in its own process -------------------------------------------------------------------------
def model_config(tiny: bool):
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(**XLS_R, **SHAPES["tiny" if tiny else "base"], **RUNNER_DEFAULTS, vocab_size=VOCAB,
                          pad_token_id=BLANK)


def make_batches(n: int, clips: int, seconds: tuple[float, float], seed: int) -> list[dict]:
    """`n` batches of seeded random audio (zero mean, unit variance) and random CTC labels, each padded to the
    longest duration allowed: every step computes on the same shape, so their median is well defined."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(n):
        lengths = (rng.uniform(*seconds, clips) * SR).astype(int)
        width = int(seconds[1] * SR)
        audio = np.zeros((clips, width), np.float32)
        mask = np.zeros((clips, width), np.int64)
        n_labels = np.maximum(1, (lengths / SR * LABELS_PER_SECOND).astype(int))
        labels = np.full((clips, n_labels.max()), -100, np.int64)
        for i, (length, k) in enumerate(zip(lengths, n_labels, strict=True)):
            audio[i, :length] = rng.standard_normal(length)
            mask[i, :length] = 1
            labels[i, :k] = rng.integers(1, VOCAB, k)
        batches.append({"input_values": torch.from_numpy(audio), "attention_mask": torch.from_numpy(mask),
                        "labels": torch.from_numpy(labels), "audio_s": float(lengths.sum() / SR)})
    return batches


def build(name: str, config):
    """The model `name` trains, as the runner builds it."""
    from transformers import Wav2Vec2ForCTC, Wav2Vec2Model

    if name == "probe":
        from xtreme_s.families.probe_heads import CTCProbe, ProbeSpec

        return CTCProbe(Wav2Vec2Model(config), ProbeSpec(), VOCAB, BLANK)
    model = Wav2Vec2ForCTC(config)
    model.freeze_feature_encoder()
    if name == "full":
        return model
    import peft

    from xtreme_s.protocols.lora import target_modules

    targets = target_modules(model, ("lm_head",), None)
    config = peft.LoraConfig(**LORA, target_modules=targets, modules_to_save=["lm_head"], bias="none")
    return peft.get_peft_model(model, config)


def mib(kib: float) -> float:
    return round(kib / 1024, 1)


def max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def rss_kib() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def measure(name: str, opts: argparse.Namespace) -> dict:
    """Build `name`'s model and optimizer, then train it on the shared batches: step times and memory."""
    import gc

    import numpy as np
    import torch

    from xtreme_s.protocols import count_parameters

    torch.set_num_threads(opts.threads)
    batches = make_batches(opts.warmup + opts.steps, opts.clips, tuple(opts.seconds), opts.seed)
    torch.manual_seed(opts.seed)
    model = build(name, model_config(opts.tiny))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    gc.collect()
    rss_built, max_built = rss_kib(), max_rss_kib()
    torch.manual_seed(opts.seed)
    np.random.seed(opts.seed)  # SpecAugment draws its masks with numpy
    times, losses = [], []
    for batch in batches:
        inputs = {k: v for k, v in batch.items() if k != "audio_s"}
        start = time.perf_counter()
        loss = model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
        losses.append(round(float(loss.detach()), 4))
    max_end = max_rss_kib()
    timed = times[opts.warmup:]
    return {
        **count_parameters(model),
        "step_s": round(statistics.median(timed), 4),
        "step_times_s": [round(t, 4) for t in timed],
        "warmup_times_s": [round(t, 4) for t in times[:opts.warmup]],
        "audio_s_per_batch": [round(b["audio_s"], 2) for b in batches],
        "losses": losses,
        "training_memory_mib": mib(max_end - max_built),
        "peak_rss_mib": mib(max_end),
        "maxrss_after_build_mib": mib(max_built),
        "rss_after_build_mib": mib(rss_built) if rss_built is not None else None,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


# -- the run: one process per protocol ------------------------------------------------------------------------
def run_child(name: str, opts: argparse.Namespace) -> dict:
    args = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--steps", str(opts.steps), "--warmup",
            str(opts.warmup), "--clips", str(opts.clips), "--seconds", *map(str, opts.seconds), "--threads",
            str(opts.threads), "--seed", str(opts.seed), *(["--tiny"] if opts.tiny else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": str(opts.threads), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"the {name} run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


def parameter_state_mib(run: dict) -> float:
    """Memory of the float32 gradients and AdamW's two moments of the trained parameters."""
    return round(run["trainable_parameters"] * 12 / 2**20, 1)


def markdown(res: dict) -> str:
    m, o = res["machine"], res["options"]
    runs = res["protocols"]
    lines = ["# Protocol cost: probe and LoRA against full fine-tuning (CPU)", "",
             f"Machine: {m['cpu']}, {m['cpu_count']} cores, torch {m['torch']}, torch threads: {m['torch_threads']}, "
             f"{m['platform']}; load average {m['load_before']} before, {m['load_after']} after.  ",
             f"Command: `{res['command']}`  ",
             f"Run: {res['when']}, {res['seconds']:.0f} s. Model: {res['model']}. Batches: {o['warmup']} warm-up + "
             f"{o['steps']} timed steps of {o['clips']} clips of {o['seconds'][0]:g}-{o['seconds'][1]:g} s, the same "
             "for every protocol. Step time is the median of the timed steps; training memory is the increase of "
             "the process's peak resident memory (ru_maxrss) from the built model and optimizer to the end of the "
             "steps (see benchmarks/protocols.py).", ""]
    lines += ["Step times are wall-clock seconds on a possibly shared machine (the load averages above count "
              "this run's own processes too): another run can differ by tens of percent; memory is steadier.", ""]
    lines += ["| protocol | trainable params | total params | trainable % | s/step (median) | training memory MiB "
              "| of which grads + AdamW MiB | peak RSS MiB | step time / full | training memory / full |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in runs.items():
        rel = res["ratios"].get(f"{name} / full", {"step_time": 1.0, "training_memory": 1.0})
        lines.append(f"| {name} | {r['trainable_parameters']:,} | {r['total_parameters']:,} | "
                     f"{100 * r['trainable_fraction']:.2f} | {r['step_s']} | {r['training_memory_mib']} | "
                     f"{parameter_state_mib(r)} | {r['peak_rss_mib']} | {rel['step_time']} | "
                     f"{rel['training_memory']} |")
    lines += ["", "Grads + AdamW is computed, not measured: trainable parameters x 12 bytes (a float32 gradient and "
              "AdamW's two moments), the part of the training memory that only the number of trained weights "
              "decides; the rest is activations kept for backward and transient buffers (the convolutional front "
              "end's, run without gradients, in every protocol).", "",
              "Step times of each timed step (s): " + "; ".join(f"{name} {r['step_times_s']}"
                                                                for name, r in runs.items()), ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    opts = parse_args(argv)
    if opts.child:
        print(json.dumps(measure(opts.child, opts)), flush=True)
        return {}
    start = time.perf_counter()
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = {}
    for name in opts.protocols:
        runs[name] = run_child(name, opts)
        r = runs[name]
        print(f"{name}: {r['step_s']} s/step (steps {r['step_times_s']}), training memory "
              f"{r['training_memory_mib']} MiB, peak {r['peak_rss_mib']} MiB, trainable "
              f"{r['trainable_parameters']:,} of {r['total_parameters']:,}", flush=True)
    load_after = [round(x, 2) for x in os.getloadavg()]
    full = runs["full"]
    ratios = {f"{name} / full": {"step_time": ratio(r["step_s"], full["step_s"]),
                                 "training_memory": ratio(r["training_memory_mib"], full["training_memory_mib"]),
                                 "peak_rss": ratio(r["peak_rss_mib"], full["peak_rss_mib"])}
              for name, r in runs.items() if name != "full"}
    shape = SHAPES["tiny" if opts.tiny else "base"]
    res = {
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu_model(),
                    "cpu_count": os.cpu_count(), "torch": full["torch"], "torch_threads": full["torch_threads"],
                    "load_before": load_before, "load_after": load_after},
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(["python benchmarks/protocols.py", *(sys.argv[1:] if argv is None else argv)]),
        "options": {k: v for k, v in vars(opts).items() if k not in ("out", "child")},
        "model": (f"wav2vec2 with XLS-R's architecture, hidden {shape['hidden_size']}, {shape['num_hidden_layers']} "
                  f"layers, FFN {shape['intermediate_size']}, conv {shape['conv_dim'][0]} channels, "
                  f"{full['total_parameters'] / 1e6:.1f}M parameters with the CTC head (random weights)"),
        "protocols": runs,
        "ratios": ratios,
        "seconds": time.perf_counter() - start,
    }
    out = Path(opts.out)
    (out / "protocols.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "protocols.md").write_text(markdown(res))
    print(markdown(res))
    print(f"written: {out / 'protocols.json'}, {out / 'protocols.md'}")
    return res


if __name__ == "__main__":
    main()
