"""Real-size check: XLS-R 300M and w2v-BERT 2.0 (random weights, published shapes) through every task family on CPU.

Not part of the test suite (minutes and ~10 GB of memory). Each (encoder, family) runs the real entry point on the
mini benchmark in its own process: a few training steps where the family trains, then evaluation on a few items.
Printed per run: seconds per training step (Trainer's train_runtime / steps, so the first step's warm-up is
included), seconds of evaluation + prediction, and the process's peak resident memory (ru_maxrss).

Shapes, from the public config.json of each checkpoint (random weights: speed and memory do not depend on them):
facebook/wav2vec2-xls-r-300m: wav2vec2, hidden 1024, 24 layers, 16 heads, FFN 4096, 7 conv layers of 512, stable
layer norm, positional conv 128 / 16 groups. facebook/w2v-bert-2.0: wav2vec2-bert (Conformer), hidden 1024, 24
layers, 16 heads, FFN 4096, 160-dim stacked fbank input, relative_key positions (64 left / 8 right), depthwise
conv kernel 31, swish. Seq2seq stacks the bundled tiny text decoder on the real-size encoder.

Usage: python benchmarks/encoders_real_size.py [--encoder xls-r-300m] [--family ctc] [--steps 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ENCODERS = {
    "xls-r-300m": ("Wav2Vec2Config", dict(
        hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096, hidden_act="gelu",
        feat_extract_norm="layer", feat_extract_activation="gelu", do_stable_layer_norm=True, conv_bias=True,
        conv_dim=(512,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
        num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16, vocab_size=32,
        architectures=["Wav2Vec2ForPreTraining"]), "Wav2Vec2FeatureExtractor"),
    "w2v-bert-2.0": ("Wav2Vec2BertConfig", dict(
        hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096, hidden_act="swish",
        feature_projection_input_dim=160, position_embeddings_type="relative_key", left_max_position_embeddings=64,
        right_max_position_embeddings=8, conv_depthwise_kernel_size=31, add_adapter=False,
        architectures=["Wav2Vec2BertModel"]), "SeamlessM4TFeatureExtractor"),
}
FAMILIES = {
    "ctc": ["--dataset_config_name", "mls.pl", "--do_train", "--do_eval"],
    "classification": ["--dataset_config_name", "minds14.fr-FR", "--do_train", "--do_eval"],
    "retrieval": ["--task", "fleurs-retrieval", "--language", "all", "--do_eval", "--retrieval_distractor_splits",
                  "train"],
    "seq2seq": ["--dataset_config_name", "covost2.fr.en", "--do_train", "--do_eval", "--generation_max_length", "8"],
}


def build(name: str, out: Path) -> Path:
    """Save a random-weight checkpoint of `name` at its published shape."""
    import torch
    import transformers

    config_cls, shape, fe_cls = ENCODERS[name]
    config = getattr(transformers, config_cls)(**shape)
    torch.manual_seed(0)
    model = transformers.AutoModel.from_config(config)
    model.save_pretrained(out)
    if fe_cls == "Wav2Vec2FeatureExtractor":
        fe = transformers.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                                   do_normalize=True, return_attention_mask=True)
    else:
        fe = transformers.SeamlessM4TFeatureExtractor()
    fe.save_pretrained(out)
    n = sum(p.numel() for p in model.parameters())
    print(f"built {name}: {n / 1e6:.0f}M parameters -> {out}", flush=True)
    return out


def run_one(model: Path, family: str, steps: int, work: Path) -> dict:
    """One family on one encoder in a child process; its own peak RSS from wait4."""
    out = work / f"{model.name}-{family}"
    args = [sys.executable, str(ROOT / "run_xtreme_s.py"), "--mini", "--model_name_or_path", str(model),
            *FAMILIES[family], "--max_steps", str(steps), "--per_device_train_batch_size", "2",
            "--per_device_eval_batch_size", "2", "--max_train_samples", str(2 * steps), "--max_eval_samples", "4",
            "--eval_strategy", "no", "--save_strategy", "no", "--learning_rate", "5e-5", "--output_dir", str(out),
            "--cache_dir", str(work / "cache"), "--report_to", "none", "--disable_tqdm", "True",
            "--dataloader_num_workers", "0"]
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    log = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    row = {"encoder": model.name, "family": family, "exit": os.waitstatus_to_exitcode(status),
           "wall_s": round(wall, 1), "peak_rss_gb": round(usage.ru_maxrss / 2**20, 2)}
    results = out / "results.json"
    if row["exit"] != 0 or not results.exists():
        row["error"] = log.strip().splitlines()[-1][:300] if log.strip() else "no output"
        return row
    res = json.loads(results.read_text())
    if "train" in res:
        row["s_per_step"] = round(res["train"]["train_runtime"] / max(1, steps), 2)
    ev = json.loads((out / "all_results.json").read_text()) if (out / "all_results.json").exists() else {}
    row["eval_s"] = ev.get("eval_runtime")
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoder", action="append", choices=sorted(ENCODERS), help="default: both")
    p.add_argument("--family", action="append", choices=list(FAMILIES), help="default: all four")
    p.add_argument("--steps", type=int, default=3, help="training steps per run (batch of 2 clips)")
    p.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        rows = []
        for name in args.encoder or list(ENCODERS):
            model = build(name, work / name)
            for family in args.family or list(FAMILIES):
                row = run_one(model, family, args.steps, work)
                print(json.dumps(row), flush=True)
                rows.append(row)
        print("\n| encoder | family | s/step (train) | eval s | peak RSS GB | wall s | result |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['encoder']} | {r['family']} | {r.get('s_per_step', '-')} | {r.get('eval_s', '-')} | "
                  f"{r['peak_rss_gb']} | {r['wall_s']} | {'ok' if r['exit'] == 0 else r.get('error')} |")


if __name__ == "__main__":
    main()
