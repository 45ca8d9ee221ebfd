"""Throughput benchmark: xtreme-s's data path and duration batching against the reference runner's approach.

Baseline = what `run_xtreme_s.py` of the seed repository does (transformers' speech recognition example):
decode every clip at map time into cached float32 `input_values` (`datasets.map`), then train on fixed-size
batches (random order, or `group_by_length`). Ours = audio kept encoded, decoded in the collator, batches by
`--max_batch_seconds` (xtreme_s.sampling). Everything is measured in the same run on the same machine, so the
ratios are what to read; absolute figures depend on the (possibly shared) hardware.

    python benchmarks/bench.py                     # CPU, a few minutes: writes benchmarks/results/bench.{json,md}
    python benchmarks/bench.py --device cuda --model-shape xls-r-300m --bf16 [--gradient-checkpointing] [--compile]

Precision: by default both runners are given the reference recipes' `--fp16` and each does with it what it does on
this hardware (the Hugging Face Trainer: fp16 on a GPU, float32 on a CPU, where accelerate has no fp16; xtreme-s:
bf16 wherever the hardware computes it natively, see `--prefer_bf16`). When that makes the precisions differ, ours
is also run at the baseline's precision, so the effect of batching alone is reported too. `--bf16` or
`--precision fp32` give both sides the same precision.

Parts: `padding` (padding ratio, FLEURS- and MLS-like durations), `data` (audio seconds prepared per second and
cache bytes per audio hour), `train` (training audio seconds per second, same model and steps; with CUDA also
model FLOPs utilisation and peak memory), `first_step` (time from start to the first optimizer step on a
100k-row metadata-only dataset).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # model_flops, also when loaded by path (tests)

import datasets  # noqa: E402
import model_flops  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    Trainer,
    TrainerCallback,
    TrainingArguments,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
)
from transformers.trainer_pt_utils import LengthGroupedSampler  # noqa: E402

from xtreme_s.args import XtremeSTrainingArguments  # noqa: E402
from xtreme_s.audio import load_audio  # noqa: E402
from xtreme_s.collators import SpeechCollator, SpeechDataset  # noqa: E402
from xtreme_s.sampling import DurationBatchSampler, padding_ratio  # noqa: E402
from xtreme_s.trainer import SpeechTrainer  # noqa: E402

SR = 16_000
VOCAB = 40
CHARS_PER_SECOND = 12  # FLEURS/MLS transcripts: about 12-15 characters per second of speech
ROOT = Path(__file__).resolve().parent
TINY_SHAPE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                  conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
# facebook/wav2vec2-xls-r-300m's architecture (random weights: throughput does not depend on them).
XLSR_300M_SHAPE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                       conv_dim=(512,) * 7, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16)


def fleurs_like(n: int, rng: np.random.Generator) -> np.ndarray:
    """FLEURS-like durations: log-normal, mean about 11.5 s, clipped to 2-30 s."""
    return np.clip(rng.lognormal(np.log(10.5), 0.45, n), 2.0, 30.0)


def mls_like(n: int, rng: np.random.Generator) -> np.ndarray:
    """MLS-like durations: segmented audiobooks, 10-20 s."""
    return rng.uniform(10.0, 20.0, n)


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# -- padding --------------------------------------------------------------------------------------------------


def bench_padding(batch_size: int, n: int = 20_000) -> dict:
    rng = np.random.default_rng(0)
    out = {}
    for name, durations in (("fleurs_like", fleurs_like(n, rng)), ("mls_like", mls_like(n, rng))):
        perm = np.random.default_rng(1).permutation(n)
        random_batches = [perm[i:i + batch_size].tolist() for i in range(0, n, batch_size)]
        torch.manual_seed(1)
        grouped = list(LengthGroupedSampler(batch_size, lengths=[int(d * 1000) for d in durations]))
        grouped_batches = [grouped[i:i + batch_size] for i in range(0, n, batch_size)]
        budget = batch_size * float(durations.mean())
        sampler = DurationBatchSampler(durations.tolist(), budget, seed=0)
        out[name] = {
            "num_clips": n, "mean_duration_s": round(float(durations.mean()), 2),
            "baseline_random_batches": round(padding_ratio(durations, random_batches), 4),
            "baseline_group_by_length": round(padding_ratio(durations, grouped_batches), 4),
            "duration_batching": round(sampler.padding_ratio(), 4),
            "settings": f"fixed batch {batch_size}; duration budget {budget:.0f} s (same mean audio per batch)",
        }
    return out


# -- synthetic audio ------------------------------------------------------------------------------------------


def synth_clip(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Speech-like enough for codecs and throughput: a few gliding tones with a syllable envelope, plus noise."""
    t = np.arange(int(seconds * SR)) / SR
    wav = np.zeros_like(t)
    for _ in range(3):
        f0 = rng.uniform(100, 900)
        wav += np.sin(2 * np.pi * (f0 * t + 20 * np.sin(2 * np.pi * 0.7 * t)))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6))
    wav = 0.1 * wav * envelope + 0.01 * rng.standard_normal(len(t))
    return wav.astype(np.float32)


def write_source(folder: Path, durations: np.ndarray, rng: np.random.Generator, row_group_size: int = 100) -> Path:
    """A parquet file shaped like the Hub's audio datasets: FLAC bytes embedded, plus metadata columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = {"id": [], "audio": [], "transcription": []}
    for i, d in enumerate(durations):
        buf = io.BytesIO()
        sf.write(buf, synth_clip(float(d), rng), SR, format="FLAC")
        rows["id"].append(f"utt{i:06d}")
        rows["audio"].append({"bytes": buf.getvalue(), "path": f"utt{i:06d}.flac"})
        rows["transcription"].append("".join(rng.choice(list("abcdefghij "), int(d * CHARS_PER_SECOND))))
    features = datasets.Features({"id": datasets.Value("string"), "audio": datasets.Audio(sampling_rate=SR),
                                  "transcription": datasets.Value("string")})
    table = pa.Table.from_pydict(rows, schema=features.arrow_schema)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train-00000-of-00001.parquet"
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def labels_for(durations, rng: np.random.Generator) -> list[list[int]]:
    return [rng.integers(1, VOCAB, max(1, int(d * CHARS_PER_SECOND))).tolist() for d in durations]


def feature_extractor() -> Wav2Vec2FeatureExtractor:
    return Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SR, padding_value=0.0, do_normalize=True,
                                    return_attention_mask=True)


# -- the two data paths -----------------------------------------------------------------------------------------


def baseline_prepare(parquet: Path, cache: Path, labels: list[list[int]], num_proc: int | None = None):
    """The reference runner: load, decode + normalise every clip at map time, cache float32 `input_values`."""
    fe = feature_extractor()
    ds = datasets.load_dataset("parquet", data_files=str(parquet), split="train", cache_dir=str(cache))
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    ds = ds.add_column("labels", labels)

    def prepare(batch):
        waves = [load_audio(a, SR) for a in batch["audio"]]
        batch["input_values"] = fe(waves, sampling_rate=SR).input_values
        batch["input_length"] = [len(w) for w in waves]
        return batch

    return ds.map(prepare, batched=True, batch_size=16, remove_columns=["audio", "transcription", "id"],
                  num_proc=num_proc, desc="baseline: decode into input_values")


class BaselineCollator:
    """DataCollatorCTCWithPadding of the reference runner: pad cached input_values and labels."""

    def __init__(self, pad_to_multiple_of: int | None = None):
        self.fe = feature_extractor()
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features):
        batch = self.fe.pad([{"input_values": f["input_values"]} for f in features], padding=True,
                            return_tensors="pt", return_attention_mask=True,
                            pad_to_multiple_of=self.pad_to_multiple_of)
        longest = max(len(f["labels"]) for f in features)
        labels = torch.full((len(features), longest), -100, dtype=torch.long)
        for i, f in enumerate(features):
            labels[i, : len(f["labels"])] = torch.tensor(f["labels"])
        batch["labels"] = labels
        return dict(batch)


def ours_prepare(parquet: Path, cache: Path, labels: list[list[int]]) -> SpeechDataset:
    """xtreme-s: the source parquet read in place (metadata only, audio by reference), durations from headers."""
    from xtreme_s.sources import LoadContext, add_header_durations, load_parquet_files

    ctx = LoadContext(cache_dir=str(cache))
    ds = load_parquet_files([str(parquet)], ctx)
    ds = ds.add_column("language", ["xx"] * len(ds))
    ds = add_header_durations(ds, ctx)
    out = SpeechDataset(ds, labels)
    out.metadata_bytes = ds.data.nbytes  # what the dataset holds (memory-mapped; no audio)
    return out


def iterate(loader) -> tuple[float, float]:
    """Seconds to produce every batch, and the real audio seconds they hold."""
    start, audio = time.perf_counter(), 0.0
    for batch in loader:
        audio += float(batch["attention_mask"].sum()) / SR
    return time.perf_counter() - start, audio


def bench_data(work: Path, n: int, batch_size: int, workers: int, row_group_size: int, window: int) -> dict:
    from xtreme_s import parquet_audio

    rng = np.random.default_rng(2)
    durations = fleurs_like(n, rng)
    parquet = write_source(work / "source", durations, rng, row_group_size)
    labels = labels_for(durations, rng)
    raw = parquet.stat().st_size
    hours = float(durations.sum()) / 3600
    dl = dict(batch_size=None, num_workers=workers)
    import pyarrow.parquet as pq

    md = pq.read_metadata(parquet)
    groups = md.num_row_groups
    # The reader holds two windows of the largest row groups (what --row_group_cache_mb should allow), not the file.
    reader_bytes = 2 * window * max(md.row_group(i).total_byte_size for i in range(groups))

    t0 = time.perf_counter()
    base = baseline_prepare(parquet, work / "cache_baseline", labels)
    base_prep = time.perf_counter() - t0
    base_loader = torch.utils.data.DataLoader(base.with_format(None), batch_sampler=_fixed_batches(n, batch_size),
                                              collate_fn=BaselineCollator(), **_dl(dl))
    base_epoch, audio = iterate(base_loader)

    parquet_audio.reset(reader_bytes)
    t0 = time.perf_counter()
    ours = ours_prepare(parquet, work / "cache_ours", labels)
    ours_prep = time.perf_counter() - t0
    keys = parquet_audio.dataset_row_group_keys(ours)
    budget = batch_size * float(durations.mean())
    runs = {}
    for name, w in (("ours", window), ("ours_uniform_shuffle", 0)):
        sampler = DurationBatchSampler(ours.durations, budget, seed=0, groups=keys, window=w)
        sampler.set_epoch(1)  # a later epoch: the reader starts with what the previous epoch left
        reader = parquet_audio.reset(reader_bytes)
        loader = torch.utils.data.DataLoader(ours, batch_sampler=sampler,
                                             collate_fn=SpeechCollator(feature_extractor()), **_dl(dl))
        epoch_s, audio_ours = iterate(loader)
        assert abs(audio_ours - audio) < 1.0, (audio_ours, audio)  # both paths delivered the same audio
        runs[name] = {"epoch_s": epoch_s, "padding_ratio": round(sampler.padding_ratio(), 4),
                      "row_group_reads": reader.group_reads if workers == 0 else None}

    base_cache, ours_cache = dir_bytes(work / "cache_baseline"), dir_bytes(work / "cache_ours")
    total = float(durations.sum())
    ours_epoch = runs["ours"]["epoch_s"]
    return {
        "num_clips": n, "audio_hours": round(hours, 3), "raw_audio_bytes": raw, "dataloader_workers": workers,
        "row_groups": groups, "rows_per_group": row_group_size, "window_row_groups": window,
        "reader_cache_bytes": reader_bytes,
        "baseline": {"prepare_s": round(base_prep, 2), "epoch_s": round(base_epoch, 2),
                     "first_epoch_audio_s_per_s": round(total / (base_prep + base_epoch), 1),
                     "later_epoch_audio_s_per_s": round(total / base_epoch, 1),
                     "cache_bytes": base_cache, "cache_bytes_per_audio_hour": int(base_cache / hours),
                     "cache_over_raw": round(base_cache / raw, 3)},
        "ours": {"prepare_s": round(ours_prep, 2), "epoch_s": round(ours_epoch, 2),
                 "first_epoch_audio_s_per_s": round(total / (ours_prep + ours_epoch), 1),
                 "later_epoch_audio_s_per_s": round(total / ours_epoch, 1),
                 "cache_bytes": ours_cache, "cache_bytes_per_audio_hour": int(ours_cache / hours),
                 "cache_over_raw": round(ours_cache / raw, 4),
                 "metadata_bytes": ours.metadata_bytes,
                 "metadata_over_raw": round(ours.metadata_bytes / raw, 4),
                 "row_group_reads_per_epoch": runs["ours"]["row_group_reads"],
                 "padding_ratio": runs["ours"]["padding_ratio"]},
        "ours_uniform_shuffle": {"epoch_s": round(runs["ours_uniform_shuffle"]["epoch_s"], 2),
                                 "later_epoch_audio_s_per_s": round(total / runs["ours_uniform_shuffle"]["epoch_s"], 1),
                                 "row_group_reads_per_epoch": runs["ours_uniform_shuffle"]["row_group_reads"],
                                 "padding_ratio": runs["ours_uniform_shuffle"]["padding_ratio"]},
    }


def _dl(params: dict) -> dict:
    params = {k: v for k, v in params.items() if k != "batch_size"}
    return params


def _fixed_batches(n: int, batch_size: int) -> list[list[int]]:
    perm = np.random.default_rng(3).permutation(n).tolist()
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


# -- training -------------------------------------------------------------------------------------------------


def model_config(shape: str) -> Wav2Vec2Config:
    return Wav2Vec2Config(**(XLSR_300M_SHAPE if shape == "xls-r-300m" else TINY_SHAPE), vocab_size=VOCAB,
                         pad_token_id=0, feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
                         feat_extract_activation="gelu", mask_time_prob=0.05, layerdrop=0.0,
                         ctc_loss_reduction="mean", ctc_zero_infinity=True, attn_implementation="sdpa")


def build_model(shape: str, gradient_checkpointing: bool, device: str | None = None) -> Wav2Vec2ForCTC:
    """Random weights; `device` initialises them there (XLS-R 300M: ~1 s on a GPU against ~10 s on a CPU)."""
    torch.manual_seed(0)
    with torch.device(device or "cpu"):
        model = Wav2Vec2ForCTC(model_config(shape))
    model.freeze_feature_encoder()
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model


class StepMeter(TrainerCallback):
    """Counts the real (unpadded) and padded audio seconds the training steps consume, in the training process
    (whatever runs in DataLoader workers), and notes time and audio when the first `warmup_steps` optimizer steps
    end: steady state is measured from there, so one-off costs (Trainer set-up, worker start, the first batch's
    allocations, compilation) do not count as throughput. With `flops_per_clip` (samples -> FLOPs, see
    model_flops.py) it also adds up the model FLOPs of every real clip."""

    def __init__(self, warmup_steps: int = 1, flops_per_clip=None):
        self.real, self.padded, self.at, self.audio_at = 0.0, 0.0, None, 0.0
        self.flops, self.flops_at, self.steps = 0.0, 0.0, 0
        self.warmup_steps, self.flops_per_clip = warmup_steps, flops_per_clip

    def attach(self, trainer: Trainer) -> Trainer:
        step = trainer.training_step

        def counted(model, inputs, *args, **kwargs):
            mask = inputs["attention_mask"]
            self.real += float(mask.sum()) / SR
            self.padded += mask.numel() / SR
            if self.flops_per_clip is not None:
                self.flops += sum(self.flops_per_clip(int(n)) for n in mask.sum(-1).tolist())
            return step(model, inputs, *args, **kwargs)

        trainer.training_step = counted
        trainer.add_callback(self)
        return trainer

    def on_step_end(self, args, state, control, **kw):
        self.steps += 1
        if self.at is None and self.steps >= self.warmup_steps:
            if torch.cuda.is_available():
                torch.cuda.synchronize()  # the steps queued so far belong to the warm-up
            self.at, self.audio_at, self.flops_at = time.perf_counter(), self.real, self.flops


PRECISION_FLAGS = {"reference": {"fp16": True}, "bf16": {"bf16": True}, "fp32": {}}
PRECISION_NOTE = {"reference": "--fp16 (as the reference recipes)", "bf16": "--bf16", "fp32": "none (float32)"}
# Flags that make xtreme-s train in exactly this precision (for the batching-alone run).
EXACT_PRECISION_FLAGS = {"fp32": {}, "fp16": {"fp16": True, "prefer_bf16": False}, "bf16": {"bf16": True}}


def train_args(out: Path, opts, **kw) -> dict:
    return dict(output_dir=str(out), report_to="none", save_strategy="no", eval_strategy="no", logging_steps=10**6,
                remove_unused_columns=False,
                learning_rate=1e-4, warmup_steps=0, disable_tqdm=True, seed=0,
                use_cpu=opts.device == "cpu", torch_compile=opts.compile,
                dataloader_pin_memory=opts.device == "cuda", **PRECISION_FLAGS[opts.precision], **kw)


def effective_precision(trainer: Trainer) -> str:
    """What the training step really computes in (accelerate ignores fp16 on a CPU without a word)."""
    return trainer.accelerator.mixed_precision if trainer.accelerator.native_amp else "fp32"


def bench_train(work: Path, opts) -> dict:
    rng = np.random.default_rng(4)
    n, bs = opts.train_clips, opts.batch_size
    durations = fleurs_like(n, rng)
    parquet = write_source(work / "train_source", durations, rng)
    labels = labels_for(durations, rng)
    budget = bs * float(durations.max() if opts.budget_rule == "same-peak" else durations.mean())
    results: dict = {"model_shape": opts.model_shape, "device": opts.device, "steps": opts.steps,
                     "batch_size": bs, "max_batch_seconds": round(budget, 1), "num_clips": n,
                     "precision_asked": opts.precision, "gradient_checkpointing": opts.gradient_checkpointing,
                     "torch_compile": opts.compile}
    base_ds = baseline_prepare(parquet, work / "train_cache_baseline", labels)
    ours_ds = ours_prepare(parquet, work / "train_cache_ours", labels)
    # With torch.compile both sides pad to 2 s multiples (few shapes, as xtreme-s does with --torch_compile).
    multiple = 2 * SR if opts.compile else None
    runs = [("baseline_random", "random", None), ("baseline_group_by_length", "group_by_length", None),
            ("duration_batching", None, budget)]
    for name, strategy, max_seconds, *forced in runs:  # may grow by one run, below
        model = build_model(opts.model_shape, opts.gradient_checkpointing)
        if opts.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        if max_seconds is None:
            args = TrainingArguments(**train_args(work / name, opts, max_steps=opts.steps,
                                                  per_device_train_batch_size=bs, train_sampling_strategy=strategy,
                                                  length_column_name="input_length"))
            trainer = Trainer(model=model, args=args, train_dataset=base_ds, data_collator=BaselineCollator(multiple))
        else:
            kw = train_args(work / name, opts, max_steps=opts.steps, max_batch_seconds=max_seconds)
            if opts.train_workers is not None:  # else xtreme-s's default; the baseline keeps the Trainer's 0
                kw["dataloader_num_workers"] = opts.train_workers
            if forced:  # ours at the baseline's precision
                kw = {**{k: v for k, v in kw.items() if k not in ("fp16", "bf16")}, **EXACT_PRECISION_FLAGS[forced[0]]}
            args = XtremeSTrainingArguments(**kw)
            trainer = SpeechTrainer(model=model, args=args, train_dataset=ours_ds,
                                    data_collator=SpeechCollator(feature_extractor(), pad_to_multiple_of=multiple))
        cfg = model.config
        (counter := StepMeter(flops_per_clip=lambda n, cfg=cfg: model_flops.training_flops(cfg, n))).attach(trainer)
        start = time.perf_counter()
        trainer.train()
        end = time.perf_counter()
        # Steady state: from the end of the first optimizer step (set-up, warm-up, compilation) to the end.
        steady_audio, steady_s = counter.real - counter.audio_at, end - counter.at
        entry = {"wall_s": round(end - start, 2), "audio_s": round(counter.real, 1),
                 "steady_s": round(steady_s, 2), "audio_s_per_s": round(steady_audio / steady_s, 2),
                 "audio_s_per_s_incl_setup": round(counter.real / (end - start), 2),
                 "precision": effective_precision(trainer),
                 "model_tflops_per_s": round((counter.flops - counter.flops_at) / steady_s / 1e12, 4),
                 "padding_ratio": round(counter.padded / max(counter.real, 1e-9), 4)}
        if opts.device == "cuda":
            entry["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        results[name] = entry
        del trainer, model
        if name == "duration_batching" and entry["precision"] != results["baseline_group_by_length"]["precision"]:
            runs.append(("duration_batching_same_precision", None, budget,
                         results["baseline_group_by_length"]["precision"]))
    for name in ("baseline_random", "baseline_group_by_length"):
        results[f"speedup_vs_{name.removeprefix('baseline_')}"] = round(
            results["duration_batching"]["audio_s_per_s"] / results[name]["audio_s_per_s"], 3)
    if "duration_batching_same_precision" in results:
        results["speedup_batching_alone_vs_group_by_length"] = round(
            results["duration_batching_same_precision"]["audio_s_per_s"]
            / results["baseline_group_by_length"]["audio_s_per_s"], 3)
    if opts.device == "cuda":
        gpu = torch.cuda.get_device_name()
        peak = model_flops.peak_bf16_tflops(gpu)
        results["gpu"] = gpu
        if peak:
            results["peak_bf16_tflops"] = peak
            for name, *_ in runs:
                results[name]["mfu"] = round(results[name]["model_tflops_per_s"] / peak, 4)
    return results


# -- time to first optimizer step ---------------------------------------------------------------------------------


def bench_first_step(work: Path, opts) -> dict:
    """100k rows of metadata (audio referenced by path, durations known); audio from a small pool of files."""
    rng = np.random.default_rng(5)
    n, pool = opts.first_step_rows, 32
    pool_dir = work / "pool"
    pool_dir.mkdir(parents=True, exist_ok=True)
    pool_durations = fleurs_like(pool, rng)
    paths = []
    for i, d in enumerate(pool_durations):
        path = pool_dir / f"clip{i}.flac"
        sf.write(path, synth_clip(float(d), rng), SR)
        paths.append(str(path))
    which = rng.integers(0, pool, n)
    rows = {"id": [f"u{i}" for i in range(n)], "language": ["xx"] * n,
            "audio": [{"bytes": None, "path": paths[w]} for w in which],
            "duration": [float(pool_durations[w]) for w in which]}
    labels = [rng.integers(1, VOCAB, int(pool_durations[w] * CHARS_PER_SECOND)).tolist() for w in which]
    budget = opts.batch_size * float(pool_durations.mean())

    # Ours: build the dataset view, the sampler and the Trainer, then the first step; all measured.
    start = time.perf_counter()
    table = datasets.Dataset.from_dict(rows)
    ds = SpeechDataset(table, labels)
    args = XtremeSTrainingArguments(**train_args(work / "first_step", opts, max_steps=1, max_batch_seconds=budget))
    trainer = SpeechTrainer(model=build_model(opts.model_shape, opts.gradient_checkpointing), args=args,
                            train_dataset=ds, data_collator=SpeechCollator(feature_extractor()))
    (first := StepMeter()).attach(trainer)
    trainer.train()
    ours = first.at - start

    # Baseline: the reference runner decodes every row before its first step; time a slice, scale to n rows.
    k = opts.first_step_sample
    sample = datasets.Dataset.from_dict({key: v[:k] for key, v in rows.items()})
    fe = feature_extractor()
    start = time.perf_counter()
    mapped = sample.map(lambda b: {"input_values": fe([load_audio(a, SR) for a in b["audio"]],
                                                      sampling_rate=SR).input_values},
                        batched=True, batch_size=16, cache_file_name=str(work / "first_step_map.arrow"))
    per_row = (time.perf_counter() - start) / k
    cache_per_row = (work / "first_step_map.arrow").stat().st_size / k
    del mapped
    return {"rows": n, "ours_s": round(ours, 2),
            "baseline_s_extrapolated": round(per_row * n, 1),
            "baseline_cache_bytes_extrapolated": int(cache_per_row * n),
            "speedup": round(per_row * n / ours, 1),
            "note": f"baseline = decoding all rows at map time before step 1; timed on {k} rows and scaled "
                    "linearly (decoding is per row); its training step itself is not even counted"}


# -- report ---------------------------------------------------------------------------------------------------


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def md_table(header: list[str], rows: list[list]) -> list[str]:
    """Lines of a markdown table."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]


def markdown(res: dict) -> str:
    lines = ["# xtreme-s throughput benchmark", "", f"Machine: `{json.dumps(res['machine'])}`  ",
             f"Run: {res['when']}, {res['seconds']:.0f} s. Ratios are measured in the same run; see "
             "benchmarks/bench.py for what each figure is.", ""]
    if "padding" in res:
        lines += ["## Padding ratio (padded / real audio; 1.0 = none)", ""]
        lines += md_table(["durations", "random fixed batches", "group_by_length", "duration batching", "settings"],
                          [[f"{name} (mean {r['mean_duration_s']} s)", r["baseline_random_batches"],
                            r["baseline_group_by_length"], f"**{r['duration_batching']}**", r["settings"]]
                           for name, r in res["padding"].items()])
        lines.append("")
    if "data" in res:
        d = res["data"]
        lines += [f"## Data path ({d['num_clips']} FLEURS-like clips, {d['audio_hours']} h of 16 kHz FLAC, "
                  f"{d['raw_audio_bytes'] / 2**20:.1f} MiB raw in {d['row_groups']} row groups of "
                  f"{d['rows_per_group']}, {d['dataloader_workers']} DataLoader workers)", ""]
        lines += md_table(["", "prepare s", "epoch s", "1st epoch audio s/s", "later epochs audio s/s",
                           "cache MiB/audio h", "cache / raw"],
                          [[name, d[name]["prepare_s"], d[name]["epoch_s"], d[name]["first_epoch_audio_s_per_s"],
                            d[name]["later_epoch_audio_s_per_s"],
                            f"{d[name]['cache_bytes_per_audio_hour'] / 2**20:.1f}", d[name]["cache_over_raw"]]
                           for name in ("baseline", "ours")])
        if "ours_uniform_shuffle" in d:
            o, u = d["ours"], d["ours_uniform_shuffle"]
            lines += ["", "Ours reads the source parquet in place: the dataset is "
                      f"{o['metadata_bytes'] / 2**10:.0f} KiB of metadata "
                      f"({o['metadata_over_raw']} of raw; the cache column counts every file written: the "
                      "metadata's Arrow file and the header-duration map). "
                      f"Row groups read per epoch ({d['row_groups']} groups, reader memory "
                      f"{d['reader_cache_bytes'] / 2**20:.1f} MiB = two windows): row-group-aware order (windows of "
                      f"{d['window_row_groups']} groups) **{o['row_group_reads_per_epoch']}** "
                      f"({o['later_epoch_audio_s_per_s']} audio s/s, padding {o['padding_ratio']}); uniform shuffle "
                      f"{u['row_group_reads_per_epoch']} ({u['later_epoch_audio_s_per_s']} audio s/s, padding "
                      f"{u['padding_ratio']})."]
        lines.append("")
    if "train" in res:
        t = res["train"]
        lines += [f"## Training ({t['model_shape']} model on {t['device']}, {t['steps']} optimizer steps, batch "
                  f"{t['batch_size']} vs budget {t['max_batch_seconds']} s, precision asked: "
                  f"{PRECISION_NOTE[t['precision_asked']]}, gradient checkpointing={t['gradient_checkpointing']}, "
                  f"compile={t['torch_compile']})", "",
                  "Audio s/s is steady state: after the first optimizer step (set-up and warm-up excluded; including "
                  "them in the last column). Precision is what each run computed in.", ""]
        names = [n for n in ("baseline_random", "baseline_group_by_length", "duration_batching",
                             "duration_batching_same_precision") if n in t]
        lines += md_table(["", "precision", "audio s/s", "padding ratio", "wall s", "audio s",
                           "audio s/s incl. set-up", "extra"],
                          [[name, t[name]["precision"], t[name]["audio_s_per_s"], t[name]["padding_ratio"],
                            t[name]["wall_s"], t[name]["audio_s"], t[name]["audio_s_per_s_incl_setup"],
                            ", ".join(f"{k}={t[name][k]}" for k in ("mfu", "peak_memory_gib") if k in t[name])]
                           for name in names])
        lines += ["", f"Speed-up of xtreme-s (duration batching, its precision): **{t['speedup_vs_random']}x** vs "
                  f"random batches, **{t['speedup_vs_group_by_length']}x** vs group_by_length."]
        if "speedup_batching_alone_vs_group_by_length" in t:
            lines.append(f"Duration batching alone (same precision as the baseline): "
                         f"{t['speedup_batching_alone_vs_group_by_length']}x vs group_by_length.")
        lines.append("")
    if "first_step" in res:
        f = res["first_step"]
        lines += [f"## Time to first optimizer step ({f['rows']:,} metadata-only rows)", "",
                  f"- ours: **{f['ours_s']} s**", f"- baseline: {f['baseline_s_extrapolated']} s (extrapolated) and "
                  f"{f['baseline_cache_bytes_extrapolated'] / 2**30:.1f} GiB of cache; {f['note']}",
                  f"- speed-up: {f['speedup']}x", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default="padding,data,train,first_step", help="comma-separated parts to run")
    p.add_argument("--out", default=str(ROOT / "results"), help="folder for bench.json and bench.md")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the training part runs")
    p.add_argument("--model-shape", default="tiny", choices=["tiny", "xls-r-300m"],
                   help="tiny (CPU) or facebook/wav2vec2-xls-r-300m's architecture (random weights)")
    p.add_argument("--precision", default="reference", choices=sorted(PRECISION_NOTE),
                   help="what both runners are asked for: reference (the recipes' --fp16), bf16 or fp32")
    p.add_argument("--bf16", action="store_const", const="bf16", dest="precision", help="= --precision bf16")
    p.add_argument("--gradient-checkpointing", action="store_true", help="recompute activations in backward")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (Trainer's torch_compile)")
    p.add_argument("--batch-size", type=int, default=8, help="baseline batch size; budget = this x mean duration")
    p.add_argument("--padding-batch-size", type=int, default=16, help="fixed batch size in the padding part")
    p.add_argument("--steps", type=int, default=20, help="optimizer steps per training run")
    p.add_argument("--train-clips", type=int, default=400, help="clips in the training benchmark's dataset")
    p.add_argument("--budget-rule", default="same-mean", choices=["same-peak", "same-mean"],
                   help="ours' --max_batch_seconds in the training part: same-peak = batch size x longest clip (the "
                        "most padded audio, so the memory, the baseline's fixed batch can need: what sizes a batch "
                        "in practice), same-mean = batch size x mean clip (same average audio per step)")
    p.add_argument("--train-workers", type=int, default=None,
                   help="DataLoader workers of ours in the training part (default: xtreme-s's: 0 on a CPU, min(4, "
                        "cores) with a GPU; the baseline keeps the Trainer's default, 0, as the reference runner did)")
    p.add_argument("--data-clips", type=int, default=200, help="clips in the data path benchmark")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers in the data path benchmark")
    p.add_argument("--data-row-group-size", type=int, default=25,
                   help="rows per parquet row group in the data path benchmark (Hub exports: about 100)")
    p.add_argument("--window", type=int, default=2,
                   help="row groups per shuffle window in the data path benchmark (--shuffle_window_row_groups)")
    p.add_argument("--first-step-rows", type=int, default=100_000, help="rows of the metadata-only dataset")
    p.add_argument("--first-step-sample", type=int, default=200, help="rows the baseline decodes (then scaled)")
    opts = p.parse_args(argv)
    if opts.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA GPU is visible")
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    parts = opts.parts.split(",")
    res: dict = {"machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "options": {k: v for k, v in vars(opts).items() if k != "out"}}
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="xtreme_s_bench_"))
    try:
        if "padding" in parts:
            res["padding"] = bench_padding(opts.padding_batch_size)
            print(json.dumps(res["padding"], indent=1), flush=True)
        if "data" in parts:
            res["data"] = bench_data(work, opts.data_clips, opts.batch_size, opts.workers, opts.data_row_group_size,
                                     opts.window)
            print(json.dumps(res["data"], indent=1), flush=True)
        if "train" in parts:
            res["train"] = bench_train(work, opts)
            print(json.dumps(res["train"], indent=1), flush=True)
        if "first_step" in parts:
            res["first_step"] = bench_first_step(work, opts)
            print(json.dumps(res["first_step"], indent=1), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["seconds"] = time.perf_counter() - start
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if opts.device == "cpu" else f"_{opts.device}_{opts.model_shape}"
    (out / f"bench{suffix}.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / f"bench{suffix}.md").write_text(markdown(res))
    print(markdown(res))
    return res


if __name__ == "__main__":
    main()
