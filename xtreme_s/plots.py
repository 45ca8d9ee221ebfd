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


def bar_chart(path: Path, res: dict, metric: str, greater_is_better: bool, title: str) -> Path | None:
    """Horizontal bars of `metric` per language, best on top, with the macro average as a dashed line."""
    plt = pyplot()
    rows = sorted_rows(res, metric, greater_is_better)
    if not rows:
        return None
    langs = [lang for lang, _ in rows][::-1]
    values = [row[metric] for _, row in rows][::-1]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.22 * len(rows)))
    ax.barh(langs, values, color="#4c72b0")
    macro = res.get("macro", {}).get(metric)
    label = f"{metric} ({'higher' if greater_is_better else 'lower'} is better)"
    if macro is not None:
        ax.axvline(macro, color="#c44e52", linestyle="--")
        label += f"; dashed line: macro average {macro:.3f}"
    ax.set_xlabel(label)
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=7 if len(rows) > 30 else 9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_layer_weights(weights: list[float], path: Path, title: str) -> None:
    """Bar chart of a probe's learned layer weights (0 = the encoder's input to its first layer)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.3 * len(weights) + 2), 3.2))
    ax.bar(range(len(weights)), weights, color="#4c72b0")
    ax.axhline(1 / len(weights), color="grey", lw=0.8, ls="--", label="uniform")
    ax.set_xlabel("hidden state (0 = input to the first layer)")
    ax.set_ylabel("softmax weight")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
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
    ax.set_title(title)
    if n <= 30:
        top = matrix.max() or 1
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if matrix[i, j] > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
