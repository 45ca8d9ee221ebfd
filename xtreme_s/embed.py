"""`xtreme-s embed`: pooled per-layer embeddings of one split, written to a file for outside analysis (the XLS-R
recipe's gen_audio_embedding.py, for any encoder the runner loads).

Takes the run's usual flags (--model_name_or_path, --dataset_config_name or --task/--language, --mini, data flags,
--per_device_eval_batch_size) plus `--split` (default: --predict_split_name) and `--output_file` (default:
<output_dir>/embeddings_<split>.npz). The .npz holds `embeddings` (utterances x hidden states x hidden size,
float32: every hidden state, 0 = the input to the first layer, each mean-pooled over the frames that hold audio),
`ids`, `languages`, `labels` (the task's target as text: transcript, translation, class index) and `model`,
`task`, `split`, `pooling`. Load it with `numpy.load(path)` (no pickle needed).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoFeatureExtractor, AutoModel

from . import encoders
from . import robustness as rb
from .errors import UsageError
from .hub import ModelSource
from .results import RunTally
from .runner import load_task_data, resolve_task, start_up

logger = logging.getLogger("xtreme_s")
POOLING = "mean over the frames that hold audio, per hidden state (0 = input to the first layer)"


def _inputs(fe: Any, spec: encoders.InputSpec, waves: list[np.ndarray]) -> tuple[dict, torch.Tensor]:
    batch = fe(waves, sampling_rate=fe.sampling_rate, padding=spec.padding, return_tensors="pt",
               return_attention_mask=True)
    mask = batch.pop("attention_mask")
    return {"attention_mask": mask if spec.attention_mask else None, spec.input_name: batch[spec.input_name]}, mask


@torch.inference_mode()
def embed(model_args: Any, data_args: Any, training_args: Any, split: str, output_file: Path) -> Path:
    """Write the pooled per-layer embeddings of `split`; returns the file."""
    start_up(training_args)
    task = resolve_task(data_args)
    source = ModelSource.of(model_args)
    fe = source.from_pretrained(AutoFeatureExtractor)
    encoder = encoders.encoder_of(source.from_pretrained(AutoModel)).eval()
    spec = encoders.InputSpec.of(fe)
    min_samples = encoders.input_limits(model_args).min_samples
    data, _, _ = load_task_data(task, data_args, model_args, training_args, {"predict": split}, RunTally())
    ds = data[split]
    if data_args.max_predict_samples is not None:
        ds = ds.select(range(min(data_args.max_predict_samples, len(ds))))
    if len(ds) == 0:
        raise UsageError(f"--split {split}: no utterance to embed. Check the data and --max_predict_samples.")
    # The columns read once (a row read would copy its audio bytes too); the audio, row by row, once.
    ids, languages, durations = list(ds["id"]), list(ds["language"]), list(ds["duration"])
    audio = ds.select_columns([c for c in ("audio", "segment_start", "segment_end") if c in ds.column_names])
    order = sorted(range(len(ds)), key=lambda i: -durations[i])
    size = training_args.per_device_eval_batch_size
    rows: dict[int, np.ndarray] = {}
    skipped = 0
    for start in range(0, len(order), size):
        batch, waves = [], []
        for i in order[start:start + size]:
            row = audio[i]
            wav, problem = rb.decode_checked(row["audio"], fe.sampling_rate, row.get("segment_start"),
                                             row.get("segment_end"))
            if problem is not None:
                if not data_args.allow_skipping_eval_items:
                    raise rb.BadAudioError(f"{split}: cannot embed {ids[i]}: {problem}. Fix or remove it, or pass "
                                           "--allow_skipping_eval_items.")
                skipped += 1
                continue
            waves.append(np.pad(wav, (0, max(0, min_samples - wav.size))))
            batch.append(i)
        if not waves:
            continue
        inputs, mask = _inputs(fe, spec, waves)
        states, frames = encoders.hidden_states(encoder, inputs.get("input_values"), inputs.get("input_features"),
                                                inputs["attention_mask"], mask)
        weights = frames.unsqueeze(-1).float()
        pooled = torch.stack([(h.float() * weights).sum(1) / weights.sum(1).clamp(min=1) for h in states], dim=1)
        for i, vector in zip(batch, pooled.numpy(), strict=True):
            rows[i] = vector
    kept = sorted(rows)
    targets = ds["target"]
    output_file.parent.mkdir(parents=True, exist_ok=True)
    np.savez(output_file, embeddings=np.stack([rows[i] for i in kept]).astype(np.float32),
             ids=np.array([ids[i] for i in kept]), languages=np.array([languages[i] for i in kept]),
             labels=np.array([str(targets[i]) for i in kept]), model=np.array(model_args.model_name_or_path),
             task=np.array(task.config_name), split=np.array(split), pooling=np.array(POOLING),
             skipped=np.array(skipped))
    logger.info("Wrote %s: %d utterances x %d hidden states x %d (%d skipped).", output_file, len(kept),
                len(rows[kept[0]]) if kept else 0, rows[kept[0]].shape[-1] if kept else 0, skipped)
    return output_file


def main(argv: list[str]) -> int:
    from .args import parse_args

    own = argparse.ArgumentParser(prog="xtreme-s embed", add_help=False)
    own.add_argument("--split", default=None)
    own.add_argument("--output_file", default=None)
    known, rest = own.parse_known_args(argv)
    if {"-h", "--help"} & set(rest):
        print(__doc__)
        print("The run's flags follow (`python run_xtreme_s.py --help`).\n")
    if known.output_file and not any(a.split("=")[0] == "--output_dir" for a in rest):
        rest += ["--output_dir", str(Path(known.output_file).parent)]
    model_args, data_args, training_args, _ = parse_args(rest)
    split = known.split or data_args.predict_split_name
    output = Path(known.output_file or Path(training_args.output_dir) / f"embeddings_{split}.npz")
    embed(model_args, data_args, training_args, split, output)
    return 0
