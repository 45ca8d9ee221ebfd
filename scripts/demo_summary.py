"""Summarise `make demo`: the CER of the training clips before and after training, a few of their transcriptions,
and the held-out figures beside them.

The demo run scores the training split as its evaluation split (`--eval_split_name train --eval_on_start True`),
so the run itself records the CER before the first step (trainer_state.json) and after the last
(results.json). This script only reads those files; it computes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from xtreme_s.results import load_results


def _read(output_dir: Path) -> tuple[dict, dict, list[dict]]:
    _, results = load_results(output_dir)
    state = json.loads((output_dir / "trainer_state.json").read_text(encoding="utf-8"))
    predictions = [json.loads(line) for line in
                   (output_dir / "eval_predictions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return results, state, predictions


def summary(output_dir: Path, examples: int = 4) -> str:
    results, state, predictions = _read(output_dir)
    history = state["log_history"]
    splits = results["splits"]
    if "train" not in splits:
        raise SystemExit(f"{output_dir}: the training split was not scored (run with --eval_split_name train)")
    start = next((h for h in history if h.get("step") == 0 and "eval_cer" in h), None)
    if start is None:
        raise SystemExit(f"{output_dir}: no evaluation before training (run with --eval_on_start True)")
    train = splits["train"]
    steps = state["global_step"]
    lines = [
        f"Training clips ({train['num_examples']}, seen in training), CER before -> after {steps} steps: "
        f"{start['eval_cer']:.2f} -> {train['macro']['cer']:.2f} (WER {start['eval_wer']:.2f} -> "
        f"{train['macro']['wer']:.2f})",
        "  A few of them (reference | transcription after training):",
    ]
    shown: set[str] = set()
    for row in predictions:  # one clip per sentence (the mini benchmark has several speakers per sentence)
        if len(shown) < examples and row["reference"] not in shown:
            shown.add(row["reference"])
            lines.append(f"    {row['reference']}\n  | {row['prediction'] or '(empty)'}")
    for name, split in splits.items():
        if name != "train":
            macro = split["macro"]
            lines.append(f"Held-out {name} clips ({split['num_examples']}, never seen): CER {macro['cer']:.2f}, "
                         f"WER {macro['wer']:.2f}")
    lines.append("On the mini benchmark a model learns its few training clips by heart and does not generalise: the "
                 "held-out error stays high.\nAccuracy needs a pretrained encoder and real data (make fleurs-asr).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path, help="the demo run's --output_dir")
    parser.add_argument("--examples", type=int, default=4, help="training clips to show with their transcription")
    args = parser.parse_args(argv)
    print(summary(args.output_dir, args.examples))


if __name__ == "__main__":
    sys.exit(main())
