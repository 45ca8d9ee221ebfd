"""Cost of `xtreme-s compare`'s statistics: a paired bootstrap of many systems over one test set, against the naive
way (draw a resample, re-score it with the metric, repeat), measured in one run.

What is timed, on one core (the script sets OMP_NUM_THREADS / OPENBLAS_NUM_THREADS to 1 before numpy loads):
- fast: `xtreme_s.stats.bootstrap_sums` over all systems at once (the same draws for every system: resample count
  matrices times per-utterance statistics, chunked), then each system's corpus metric per resample, its percentile
  interval, and each system's paired difference, interval and p-value against system 0. The per-utterance
  statistics are computed once per system before (their cost is reported apart: it is the cost of scoring once).
- naive: for a resample, gather the texts and call `xtreme_s.metrics` on them, per system. It is timed on
  `--naive-resamples` resamples of one system and extrapolated to systems x resamples (said so in the output).
Both use the same draws (the first rows of the same generator), and the script checks that they give the same
resampled scores, so the figure compares two ways to compute the same numbers.

Data: system 0's hypotheses and the references are synthetic sentences (random words; the hypothesis drops and
inserts words), scored with sacreBLEU's own statistics (`--metric bleu`, 10 statistics per utterance) or jiwer's
(`--metric wer`, 2); the other systems' statistics are system 0's with seeded random perturbations (the bootstrap's
cost depends on the shape of the statistics, not their values).

    python benchmarks/compare.py      # 10 x 100,000 x 1,000, about 2 minutes: benchmarks/results/compare.{json,md}
    python benchmarks/compare.py --utterances 2000 --resamples 50 --out /tmp/c    # a second: the test
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, before numpy loads
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from xtreme_s import metrics, stats  # noqa: E402
from xtreme_s.errors import ScriptArgumentParser  # noqa: E402

WORDS = [f"w{i}" for i in range(2000)]


def synthetic_texts(n: int, seed: int) -> tuple[list[str], list[str]]:
    rnd = random.Random(seed)
    refs, hyps = [], []
    for _ in range(n):
        ref = rnd.choices(WORDS, k=rnd.randint(3, 25))
        hyp = [w for w in ref if rnd.random() > 0.15] + rnd.choices(WORDS, k=rnd.randint(0, 2))
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    return refs, hyps


def perturbed(base: np.ndarray, metric: str, rng: np.random.Generator) -> np.ndarray:
    """Another system's statistics of the same shape: errors (WER) or matches (BLEU) moved a little."""
    out = base.copy()
    if metric == "wer":
        out[:, 0] = np.maximum(0, out[:, 0] + rng.integers(-1, 2, len(out)))
    else:
        k = stats.BLEU_ORDER
        moved = np.maximum(0, out[:, 2:2 + k] + rng.integers(-1, 2, (len(out), k)))
        out[:, 2:2 + k] = np.minimum(out[:, 2 + k:], moved)
    return out


def main(argv: list[str] | None = None) -> dict:
    p = ScriptArgumentParser("benchmarks/compare.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--systems", type=int, default=10)
    p.add_argument("--utterances", type=int, default=100_000)
    p.add_argument("--resamples", type=int, default=1000)
    p.add_argument("--metric", choices=["bleu", "wer"], default="bleu")
    p.add_argument("--naive-resamples", type=int, default=2, help="resamples the naive loop is timed on")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = p.parse_args(argv)

    refs, hyps = synthetic_texts(a.utterances, a.seed)
    t0 = time.perf_counter()
    base = stats.utterance_stats(a.metric, refs, hyps)
    extract_s = time.perf_counter() - t0
    rng = np.random.default_rng(a.seed + 1)
    systems = [base] + [perturbed(base, a.metric, rng) for _ in range(a.systems - 1)]

    t0, c0 = time.perf_counter(), time.process_time()
    sums = stats.bootstrap_sums(systems, a.resamples, np.random.default_rng(a.seed))
    t_draws = time.perf_counter() - t0
    samples = [stats.corpus_metric(a.metric, s) for s in sums]
    points = [float(stats.corpus_metric(a.metric, s.sum(0))) for s in systems]
    results = [stats.estimate(points[i], samples[i], 0.95, points[0], samples[0]) for i in range(a.systems)]
    fast_s, fast_cpu = time.perf_counter() - t0, time.process_time() - c0

    # The naive loop, on the first resamples of the same draws, system 0 only.
    scorer = metrics.bleu if a.metric == "bleu" else metrics.wer_cer
    idx = np.random.default_rng(a.seed).choice(a.utterances, size=(a.naive_resamples, a.utterances), replace=True)
    t0, c0 = time.perf_counter(), time.process_time()
    naive_scores = [scorer([refs[i] for i in row], [hyps[i] for i in row])[a.metric] for row in idx]
    naive_each = (time.perf_counter() - t0) / a.naive_resamples
    naive_cpu = (time.process_time() - c0) / a.naive_resamples * a.resamples * a.systems
    naive_s = naive_each * a.resamples * a.systems
    agree = bool(np.allclose(naive_scores, samples[0][: a.naive_resamples], rtol=1e-12, atol=1e-12))
    if not agree:
        raise SystemExit(f"naive and fast resampled scores differ: {naive_scores} vs {samples[0][:a.naive_resamples]}")

    res = {
        "systems": a.systems, "utterances": a.utterances, "resamples": a.resamples, "metric": a.metric,
        "statistics_per_utterance": int(base.shape[1]), "threads": os.environ.get("OMP_NUM_THREADS"),
        "fast_seconds": round(fast_s, 3), "fast_draws_and_sums_seconds": round(t_draws, 3),
        "statistics_extraction_seconds_per_system": round(extract_s, 3),
        "naive_seconds_per_resample_and_system": round(naive_each, 4),
        "naive_seconds_extrapolated": round(naive_s, 1), "naive_resamples_timed": a.naive_resamples,
        "fast_cpu_seconds": round(fast_cpu, 3), "naive_cpu_seconds_extrapolated": round(naive_cpu, 1),
        "speedup": round(naive_s / fast_s, 1), "speedup_cpu": round(naive_cpu / fast_cpu, 1),
        "naive_and_fast_agree": agree,
        "example": {"system": 1, **results[1].to_json()},
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "processor": platform.processor()},
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    md = (f"# Paired bootstrap: {a.systems} systems x {a.utterances:,} utterances x {a.resamples:,} resamples "
          f"({a.metric.upper()}, one thread)\n\n| path | wall seconds | CPU seconds |\n|---|---|---|\n"
          f"| xtreme_s.stats (all systems, intervals and paired p-values) | {fast_s:.2f} | {fast_cpu:.2f} |\n"
          f"| naive re-scoring (timed on {a.naive_resamples} resamples of 1 system, extrapolated) | {naive_s:,.0f} "
          f"| {naive_cpu:,.0f} |\n"
          f"\nSpeed-up {naive_s / fast_s:,.0f}x (wall), {naive_cpu / fast_cpu:,.0f}x (CPU). "
          "Per-utterance statistics, computed once per system before either: "
          f"{extract_s:.2f} s (wall) per system. The two paths give the same resampled scores: {agree}.\n")
    (out / "compare.md").write_text(md, encoding="utf-8")
    print(md)
    return res


if __name__ == "__main__":
    main()
