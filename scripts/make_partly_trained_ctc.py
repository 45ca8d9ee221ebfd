"""Regenerate tests/data/partly_trained_ctc_en: the tiny mini-benchmark model trained part way on English.

The LM tests (tests/test_lm.py) need a model whose greedy transcripts still misspell words, so that an LM of the
training text has something to fix; training one inside the test would take about 85 s of the suite. This is the
`make demo` recipe stopped at 180 of its 300 steps (linear decay to 0 at step 180): on its 10 training clips,
greedy WER 0.82 and CER 0.33 (torch 2.13 CPU). Only the files an evaluation reads are kept (about 430 KB).

    python scripts/make_partly_trained_ctc.py [--out tests/data/partly_trained_ctc_en]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEEP = ("config.json", "model.safetensors", "processor_config.json", "tokenizer_config.json", "vocab.json")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "tests" / "data" / "partly_trained_ctc_en"))
    p.add_argument("--steps", type=int, default=180)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        subprocess.run([sys.executable, str(ROOT / "run_xtreme_s.py"), "--mini", "--dataset_config_name",
                        "fleurs.en_us", "--output_dir", str(run), "--do_train", "--do_eval", "--eval_split_name",
                        "train", "--max_steps", str(args.steps), "--learning_rate", "3e-3", "--warmup_steps", "30",
                        "--per_device_train_batch_size", "10", "--per_device_eval_batch_size", "10",
                        "--mask_time_prob", "0", "--freeze_feature_encoder", "False", "--save_strategy", "no",
                        "--logging_steps", "30", "--seed", "0", "--report_to", "none", "--disable_tqdm", "True",
                        "--dataloader_num_workers", "0"], check=True, cwd=ROOT,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name in KEEP:
            shutil.copyfile(run / name, out / name)
        print((run / "results.md").read_text())
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
