"""Decoding speed with an n-gram LM: RTFx (audio seconds decoded per second) of greedy, beam 50 and beam 500.

Decoding alone: the CTC log-probabilities are computed once (the run's logits cache, xtreme_s.lm.cache) and every
decoder reads the same ones. Greedy is the CTC family's own decoding (argmax, then the tokenizer merges repeats and
drops blanks); the beam searches are flashlight's lexicon decoder with a KenLM word LM (xtreme_s.lm.decoder), over
--workers processes (default: every core) and also in one process, so the per-core speed is there too.

    python benchmarks/lm_decode.py                       # the mini benchmark: partly trained tiny model, word 4-gram
    python benchmarks/lm_decode.py --logits RUN/lm_logits/test-<key>.npz --model RUN --lm_path LMS --languages pl

Writes benchmarks/results/lm_decode.{json,md}. The mini benchmark's clips are few (10, 17.7 s), so they are
decoded --repeat times; its model is tiny (25 tokens), so beams prune less than a trained XLS-R's peaked outputs
would: read the ratios, and measure a real run's cache for real figures.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xtreme_s.errors import ScriptArgumentParser  # noqa: E402

PARTLY_TRAINED = ROOT / "tests" / "data" / "partly_trained_ctc_en"


def _mini_cache(work: Path) -> tuple[Path, Path, Path, list[str]]:
    """Run the partly trained model over the mini FLEURS English training clips once (the run fills the logits
    cache) with a word 4-gram of their text; returns (cache file, model folder, LM folder, languages)."""
    from xtreme_s.cli import main
    from xtreme_s.lm_build import build

    lms = work / "lms"
    build(["fleurs.en_us", "--mini", "--output_dir", str(lms)])
    out = work / "run"
    main(["--mini", "--dataset_config_name", "fleurs.en_us", "--model_name_or_path", str(PARTLY_TRAINED),
          "--do_eval", "--eval_split_name", "train", "--output_dir", str(out), "--lm_path", str(lms),
          "--beam_width", "8", "--lm_num_workers", "0", "--report_to", "none", "--disable_tqdm", "True",
          "--dataloader_num_workers", "0", "--cache_dir", str(work / "hf")])
    res = json.loads((out / "results.json").read_text())["splits"]["train"]
    rows = [json.loads(line) for line in (out / "lm_predictions_train.jsonl").read_text().splitlines()]
    return Path(res["lm"]["logits_cache"]), PARTLY_TRAINED, lms, [r["language"] for r in rows]


def main(argv: list[str] | None = None) -> dict:
    p = ScriptArgumentParser("lm_decode.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--logits", help="a logits cache file (RUN/lm_logits/<split>-<key>.npz); default: the mini run")
    p.add_argument("--model", help="the model folder of that run (its tokenizer)")
    p.add_argument("--lm_path", help="the ARPA file or folder the run decoded with")
    p.add_argument("--languages", nargs="+", help="the language of every utterance (one value: all)")
    p.add_argument("--beams", type=int, nargs="+", default=[50, 500])
    p.add_argument("--workers", type=int, default=None, help="decoding processes (default: every core)")
    p.add_argument("--repeat", type=int, default=None, help="decode the utterances this many times (mini: 20)")
    p.add_argument("--frame_seconds", type=float, default=0.02, help="audio per CTC frame (XLS-R: 20 ms)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from transformers import Wav2Vec2CTCTokenizer

    from xtreme_s.families.ctc_lm import LMDecoding
    from xtreme_s.lm import cache
    from xtreme_s.lm.decoder import DecoderSettings, beam_decode, default_workers

    with tempfile.TemporaryDirectory() as tmp:
        if args.logits is None:
            cache_path, model, lm_path, languages = _mini_cache(Path(tmp))
            repeat = args.repeat or 20
        else:
            if not (args.model and args.lm_path and args.languages):
                p.error("--logits needs --model, --lm_path and --languages")
            cache_path, model, lm_path, languages = Path(args.logits), Path(args.model), args.lm_path, args.languages
            repeat = args.repeat or 1
        cached = cache.read(cache_path)[2]
        rows = cached * repeat
        if len(languages) == 1:
            languages = languages * len(cached)
        languages = list(languages) * repeat
        tokenizer = Wav2Vec2CTCTokenizer.from_pretrained(model)
        lm = LMDecoding(SimpleNamespace(lm_path=str(lm_path), lm_decoding="lexicon", beam_width=50,
                                        beam_threshold=50.0, lm_weight=2.0, word_score=0.0), "", tmp, tmp)
        lm.prepare(tokenizer, sorted(set(languages)))
        audio = sum(len(r) for r in rows) * args.frame_seconds
        items = list(zip(languages, rows, strict=True))
        workers = default_workers() if args.workers is None else args.workers
        result: dict = {"machine": {"cpus": default_workers(), "platform": platform.platform(),
                                    "python": platform.python_version()},
                        "utterances": len(rows), "audio_seconds": round(audio, 1), "workers": workers,
                        "vocabulary": len(tokenizer), "lm": str(lm_path), "rtfx": {}}
        start = time.perf_counter()
        ids = [np.argmax(r, axis=-1) for r in rows]
        tokenizer.batch_decode(ids)
        result["rtfx"]["greedy"] = round(audio / (time.perf_counter() - start), 1)
        for beam in args.beams:
            settings = DecoderSettings("lexicon", beam, 50.0, 2.0, 0.0)
            for n in sorted({workers, 1}):
                start = time.perf_counter()
                beam_decode(lm.spec, items, [settings], n)
                result["rtfx"][f"beam {beam}, {n} process{'es' if n > 1 else ''}"] = round(
                    audio / (time.perf_counter() - start), 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lm_decode.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = ["# LM decoding speed (RTFx: audio seconds per second of decoding)", "",
             f"{result['utterances']} utterances, {result['audio_seconds']} s of audio, {result['machine']['cpus']} "
             f"CPU cores, vocabulary {result['vocabulary']}, LM {Path(result['lm']).name}", "",
             "| decoder | RTFx |", "|---|---:|"] + [f"| {k} | {v} |" for k, v in result["rtfx"].items()]
    (out / "lm_decode.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
