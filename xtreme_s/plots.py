"""The figures a run writes (matplotlib on the Agg backend: runs write image files and never need a display)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (imported on first use: most imports of the package draw nothing)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def sorted_rows(res: dict, metric: str, greater_is_better: bool) -> list[tuple[str, dict]]:
    """A split's per-language rows that have `metric`, best first."""
    rows = [(lang, row) for lang, row in res.get("per_language", {}).items() if row.get(metric) is not None]
    return sorted(rows, key=lambda r: r[1][metric], reverse=greater_is_better)


METRIC_NAMES = {"wer": "WER", "cer": "CER", "bleu": "BLEU", "f1": "macro-F1", "accuracy": "accuracy",
                "precision_at_1": "P@1"}


def display_scale(metric: str) -> tuple[float, str]:
    """Figures show each metric in its natural units: BLEU 0-100 as it is, every fraction in percent (0-100)."""
    return (1.0, "0-100") if metric == "bleu" else (100.0, "%")


def wrap_title(text: str, fig: Any, fontsize: float = 10) -> str:
    """A title that fits the figure's width: long names and paths wrap instead of being cut at both ends."""
    import textwrap

    width = max(20, int(fig.get_figwidth() * 72 / (0.6 * fontsize)))
    return "\n".join(textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False))


def bar_chart(path: Path, res: dict, metric: str, greater_is_better: bool, title: str) -> Path | None:
    """Horizontal bars of `metric` per language, best on top, with the macro average as a dashed line, on the
    metric's natural range (0-100 %, BLEU 0-100; further when an error rate passes 100 %), each value written
    at its bar and marked with a dot, so that a 0 is seen."""
    plt = pyplot()
    rows = sorted_rows(res, metric, greater_is_better)
    if not rows:
        return None
    scale, unit = display_scale(metric)
    langs = [lang for lang, _ in rows][::-1]
    values = [row[metric] * scale for _, row in rows][::-1]
    fig, ax = plt.subplots(figsize=(7, 1.4 + 0.24 * len(rows)))
    ax.barh(langs, values, color="#4c72b0")
    ax.plot(values, range(len(values)), "o", color="#4c72b0", ms=3)
    top = max(100.0, max(values) * 1.08)
    ax.set_xlim(-0.01 * top, top)
    if len(rows) <= 40:
        for y, v in enumerate(values):
            ax.text(v + 0.015 * top, y, f"{v:.1f}" if v >= 1 else f"{v:.2f}", va="center", fontsize=7)
    label = f"{METRIC_NAMES.get(metric, metric)} ({unit}; {'higher' if greater_is_better else 'lower'} is better)"
    macro = res.get("macro", {}).get(metric)
    if macro is not None:
        ax.axvline(macro * scale, color="#c44e52", linestyle="--")
        label += f"; dashed line: macro average {macro * scale:.2f}"
    ax.set_xlabel(label)
    ax.set_title(wrap_title(title, fig), fontsize=10)
    ax.tick_params(axis="y", labelsize=7 if len(rows) > 30 else 9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_layer_weights(weights: list[float], path: Path, title: str) -> None:
    """Bar chart of a probe's learned layer weights (0 = the encoder's input to its first layer), one integer tick
    per hidden state (a locator on its own would put ticks at -0.5, 2.5, ...)."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    n = len(weights)
    fig, ax = plt.subplots(figsize=(max(4.5, 0.3 * n + 2), 3.4))
    ax.bar(range(n), weights, color="#4c72b0")
    ax.axhline(1 / n, color="grey", lw=0.8, ls="--", label=f"uniform (1/{n})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(0, max(max(weights), 1 / n) * 1.15)
    ax.set_xlabel("hidden state (0 = input to the first layer)")
    ax.set_ylabel("softmax weight")
    ax.set_title(wrap_title(title, fig, 9), fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_confusion(matrix: np.ndarray, labels: list[str], path: Path, title: str) -> None:
    """A confusion matrix as a heatmap (rows: reference, columns: prediction), counts written up to 30 classes."""
    plt = pyplot()
    n = len(labels)
    size = max(4.0, 0.3 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("prediction")
    ax.set_ylabel("reference")
    ax.set_title(wrap_title(title, fig), fontsize=10)
    if n <= 30:
        top = matrix.max() or 1
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if matrix[i, j] > top / 2 else "black")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
