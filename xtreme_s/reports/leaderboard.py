"""What `xtreme-s compare` writes from its leaderboard (reports.compare): leaderboard.md, a self-contained
leaderboard.html (inline CSS and JS, sortable columns, no network) and the charts.

Values are shown in percent (error rates, accuracies, F1, P@1) or BLEU points (0-100); differences are system minus
baseline in those units. Charts keep each metric's natural range (0-100, more for an error rate above 100 %).
"""

from __future__ import annotations

import base64
import html
import math
import textwrap
from pathlib import Path

from ..plots import METRIC_NAMES as NAMES
from ..plots import display_scale, pyplot, wrap_title


def scale(metric: str) -> float:
    return display_scale(metric)[0]


def unit(metric: str) -> str:
    return "BLEU points" if metric == "bleu" else "%"


def _num(v: float | None, metric: str, signed: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    x = v * scale(metric)
    return f"{x:+.1f}" if signed else f"{x:.1f}"


def value_text(e: dict | None, metric: str) -> str:
    if not e:
        return "—"
    return f"{_num(e['value'], metric)} [{_num(e['low'], metric)}, {_num(e['high'], metric)}]"


def diff_text(e: dict | None, metric: str, markdown: bool = True) -> str:
    if not e or e.get("diff") is None:
        return "—"
    p = e.get("p_value")
    ptxt = "p n/a" if p is None else f"p={p:.3f}"
    text = (f"{_num(e['diff'], metric, True)} [{_num(e['diff_low'], metric, True)}, "
            f"{_num(e['diff_high'], metric, True)}] {ptxt}")
    return f"**{text} \\***" if markdown and e.get("significant") else text


def _arrow(board: dict, task: str) -> str:
    return "↑" if board["tasks"][task]["greater_is_better"] else "↓"


def _units(board: dict) -> str:
    """The resampling unit of each task (utterances, or blocks of one speaker or sentence)."""
    units = {t: info.get("resampling_unit", "utterance") for t, info in board["tasks"].items()}
    if len(set(units.values())) <= 1:
        return next(iter(units.values()), "utterance")
    return ", ".join(f"{t}: {u}" for t, u in units.items())


def _data_notes(board: dict) -> list[str]:
    """What data the runs read, where it is not the benchmark's (the mini benchmark is a smoke test)."""
    kinds = {t: info.get("data", []) for t, info in board["tasks"].items()}
    mini = [t for t, k in kinds.items() if "mini" in k]
    local = [t for t, k in kinds.items() if "local" in k]
    out = []
    if mini:
        out.append(f"**Smoke test on synthetic data** ({', '.join(mini)}): runs on the bundled mini benchmark; the "
                   "numbers only show that the pipeline runs and say nothing about model quality.")
    if local:
        out.append(f"Runs of {', '.join(local)} read a local folder, not the benchmark's Hub sources.")
    return out


def _header(board: dict) -> list[str]:
    r = board["resampling"]
    return [f"Split `{board['split']}`. Baseline: **{board['baseline']}**.",
            "",
            f"Cells: the metric recomputed from each run's predictions (equal to its results.json) with its "
            f"{int(100 * r['confidence'])} % {r['interval']} bootstrap interval: {r['n_resamples']} resamples, seed "
            f"{r['seed']}, resampling unit: {_units(board)}; {r['strata']}. Error rates, accuracy, F1 and P@1 in %, "
            "BLEU 0-100.",
            f"Differences: system minus baseline on the same resamples (paired), with interval and p-value "
            f"({r['p_value']}); \\* marks p < {board['alpha']} with an interval that excludes 0 (no correction "
            "for multiple comparisons)."]


def to_markdown(board: dict) -> str:
    lines = ["# XTREME-S leaderboard", "", *_header(board), "", *_data_notes(board), ""]
    for task, info in board["tasks"].items():
        if info["intersection"]:
            lines.append(f"- **{task}: scored on the intersection of the runs' utterances, {info['utterances']} "
                         f"utterances** (runs had: " + ", ".join(f"{k} {v}" for k, v in info["per_run"].items())
                         + "); values there differ from the runs' results.json.")
    tasks = list(board["tasks"])
    lines += ["", "## Overview (macro average over languages)", "",
              "| system | protocol | encoder | " + " | ".join(
                  f"{t} {NAMES[board['tasks'][t]['metric']]} {_arrow(board, t)}" for t in tasks)
              + " | XTREME-S score ↑ |", "|---|---|---|" + "---|" * (len(tasks) + 1)]
    for s in board["systems"]:
        cells = [value_text(s["macro"].get(t, {}).get(board["tasks"][t]["metric"]), board["tasks"][t]["metric"])
                 for t in tasks]
        score = value_text(s["score"], "bleu") if s["score"] else "— (needs " + ", ".join(
            s["score_missing_tasks"]) + ")"
        lines.append(f"| {s['label']} | {s['protocol']} | {s['encoder']} | " + " | ".join(cells) + f" | {score} |")
    lines += ["", f"### Differences from the baseline ({board['baseline']})", "",
              "| system | " + " | ".join(f"{t} {NAMES[board['tasks'][t]['metric']]}" for t in tasks)
              + " | score |", "|---|" + "---|" * (len(tasks) + 1)]
    for s in board["systems"][1:]:
        cells = [diff_text(s["macro"].get(t, {}).get(board["tasks"][t]["metric"]), board["tasks"][t]["metric"])
                 for t in tasks]
        lines.append(f"| {s['label']} | " + " | ".join(cells) + f" | {diff_text(s['score'], 'bleu')} |")
    for task, info in board["tasks"].items():
        m = info["metric"]
        langs = info["languages"]
        rows = [s for s in board["systems"] if task in s["cells"]]
        lines += ["", f"## {task}: {NAMES[m]} ({unit(m)}, {'higher' if info['greater_is_better'] else 'lower'} "
                      f"is better)", "", "utterances: " + ", ".join(f"{lang} {n}" for lang, n in
                                                                     info["utterances_per_language"].items()), "",
                  "| system | " + " | ".join(langs) + " | macro |", "|---|" + "---|" * (len(langs) + 1)]
        for s in rows:
            lines.append(f"| {s['label']} | " + " | ".join(value_text(s["cells"][task][lang][m], m) for lang in langs)
                         + f" | {value_text(s['macro'][task][m], m)} |")
        if info["baseline_present"] and len(rows) > 1:
            lines += ["", f"Differences from {board['baseline']}:", "",
                      "| system | " + " | ".join(langs) + " | macro |", "|---|" + "---|" * (len(langs) + 1)]
            for s in rows:
                if s["label"] == board["baseline"]:
                    continue
                diffs = [diff_text(s["cells"][task][lang][m], m) for lang in langs]
                lines.append(f"| {s['label']} | " + " | ".join(diffs) + f" | {diff_text(s['macro'][task][m], m)} |")
    return "\n".join(lines) + "\n"


# -- HTML -----------------------------------------------------------------------------------------------------------
_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right;white-space:nowrap}th{background:#f3f3f3;cursor:pointer}
td.l,th.l{text-align:left}th:after{content:" ⇅";color:#999}.ci{color:#777;font-size:85%}
.better{background:#d8f0d8;font-weight:bold}.worse{background:#f6d5d5;font-weight:bold}.ns{color:#999}
caption{text-align:left;font-weight:bold;padding:.4em 0}"""
# Sort the clicked column: numbers by data-v (missing last), text otherwise; a second click reverses.
_JS = """document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){
var tb=th.closest('table').tBodies[0],rows=Array.from(tb.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
rows.sort(function(a,b){var x=a.cells[i],y=b.cells[i],p=parseFloat(x.dataset.v),q=parseFloat(y.dataset.v);
if(isNaN(p)&&isNaN(q)){var c=x.textContent.localeCompare(y.textContent);return asc?c:-c;}
if(isNaN(p))return 1;if(isNaN(q))return -1;return asc?p-q:q-p;});rows.forEach(function(r){tb.appendChild(r);});});});"""


def _td(text: str, v: float | None = None, cls: str = "") -> str:
    data = "" if v is None or not math.isfinite(v) else f' data-v="{v:.10g}"'
    c = f' class="{cls}"' if cls else ""
    return f"<td{c}{data}>{text}</td>"


def _value_td(e: dict | None, metric: str) -> str:
    if not e:
        return _td("—")
    return _td(f"{_num(e['value'], metric)} <span class=ci>[{_num(e['low'], metric)}, {_num(e['high'], metric)}]"
               f"</span>", e["value"])


def _diff_td(e: dict | None, metric: str, greater_is_better: bool) -> str:
    if not e or e.get("diff") is None:
        return _td("—")
    cls = "ns"
    if e.get("significant"):
        cls = "better" if (e["diff"] > 0) == greater_is_better else "worse"
    return _td(html.escape(diff_text(e, metric, markdown=False)), e["diff"], cls)


def _table(caption: str, head: list[str], rows: list[list[str]]) -> str:
    ths = "".join(f'<th class="{"l" if i < 1 else ""}">{html.escape(h)}</th>' for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return (f"<table class=sortable><caption>{html.escape(caption)}</caption><thead><tr>{ths}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def to_html(board: dict, charts: list[Path]) -> str:
    """One file that opens anywhere: CSS, the sorting script and the charts (base64 PNG) inline."""
    tasks = list(board["tasks"])
    first = lambda s: [_td(html.escape(s["label"]), None, "l"), _td(html.escape(str(s["protocol"])), None, "l"),  # noqa: E731
                       _td(html.escape(str(s["encoder"])), None, "l")]
    overview = [first(s) + [_value_td(s["macro"].get(t, {}).get(board["tasks"][t]["metric"]),
                                      board["tasks"][t]["metric"]) for t in tasks]
                + [_value_td(s["score"], "bleu") if s["score"] else _td("— (incomplete)")] for s in board["systems"]]
    heads = [f"{t} {NAMES[board['tasks'][t]['metric']]} {_arrow(board, t)}" for t in tasks]
    parts = [_table("Overview: macro average over languages", ["system", "protocol", "encoder", *heads,
                                                               "XTREME-S score ↑"], overview)]
    diffs = [first(s) + [_diff_td(s["macro"].get(t, {}).get(board["tasks"][t]["metric"]), board["tasks"][t]["metric"],
                                  board["tasks"][t]["greater_is_better"]) for t in tasks]
             + [_diff_td(s["score"], "bleu", True)] for s in board["systems"][1:]]
    if diffs:
        parts.append(_table(f"Differences from the baseline ({board['baseline']}); coloured: p < {board['alpha']}",
                            ["system", "protocol", "encoder"] + [f"{t} {NAMES[board['tasks'][t]['metric']]}"
                                                                 for t in tasks] + ["score"], diffs))
    for task, info in board["tasks"].items():
        m, langs = info["metric"], info["languages"]
        rows = [s for s in board["systems"] if task in s["cells"]]
        parts.append(_table(f"{task}: {NAMES[m]} ({unit(m)}, {'higher' if info['greater_is_better'] else 'lower'} is "
                            f"better); utterances: " + ", ".join(f"{k} {v}" for k, v in
                                                                 info["utterances_per_language"].items()),
                            ["system", "protocol", "encoder", *langs, "macro"],
                            [first(s) + [_value_td(s["cells"][task][lang][m], m) for lang in langs]
                             + [_value_td(s["macro"][task][m], m)] for s in rows]))
        if info["baseline_present"] and len(rows) > 1:
            parts.append(_table(f"{task}: difference from {board['baseline']}",
                                ["system", "protocol", "encoder", *langs, "macro"],
                                [first(s) + [_diff_td(s["cells"][task][lang][m], m, info["greater_is_better"])
                                             for lang in langs] + [_diff_td(s["macro"][task][m], m,
                                                                            info["greater_is_better"])]
                                 for s in rows if s["label"] != board["baseline"]]))
    notes = "".join(f"<p>{html.escape(line).replace('**', '')}</p>" for line in [*_header(board),
                                                                                  *_data_notes(board)] if line)
    imgs = "".join(f'<p><img alt="{html.escape(c.name)}" style="max-width:100%" src="data:image/png;base64,'
                   f'{base64.b64encode(c.read_bytes()).decode()}"></p>' for c in charts)
    return (f"<!DOCTYPE html><html><head><meta charset=utf-8><title>XTREME-S leaderboard</title><style>{_CSS}</style>"
            f"</head><body><h1>XTREME-S leaderboard</h1>{notes}{''.join(parts)}{imgs}<script>{_JS}</script>"
            "</body></html>\n")


# -- charts ---------------------------------------------------------------------------------------------------------
def _wrap(text: str, width: int = 70) -> str:
    return "\n".join(textwrap.wrap(text, width, break_long_words=True))


def task_chart(board: dict, task: str, path: Path) -> Path:
    """Each system's value per language and macro average, with its 95 % interval as error bars."""
    plt = pyplot()
    info = board["tasks"][task]
    m, langs = info["metric"], [*info["languages"], "macro"]
    rows = [s for s in board["systems"] if task in s["cells"]]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(langs) + 2.5), 3.2 + 0.25 * len(rows)))
    width = 0.8 / max(len(rows), 1)
    top = 100.0
    for j, s in enumerate(rows):
        ests = [s["cells"][task][lang][m] if lang != "macro" else s["macro"][task][m] for lang in langs]
        x = [i - 0.4 + width * (j + 0.5) for i in range(len(langs))]
        y = [e["value"] * scale(m) if e["value"] is not None else math.nan for e in ests]
        # Error bars from the interval's ends (none where the interval is undefined).
        lo = [0.0 if e["low"] is None else max(0.0, v - e["low"] * scale(m)) for v, e in zip(y, ests, strict=True)]
        hi = [0.0 if e["high"] is None else max(0.0, e["high"] * scale(m) - v) for v, e in zip(y, ests, strict=True)]
        ax.errorbar(x, y, yerr=[lo, hi], fmt="o", capsize=3, label=_wrap(s["label"], 60))
        top = max([top, *[(e["high"] or 0) * scale(m) * 1.05 for e in ests]])
    ax.set_xticks(range(len(langs)), langs)
    # The metric's natural range, 0-100 (an error rate can pass 100), a little below 0 so zeros show whole.
    ax.set_ylim(-0.03 * top, top)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylabel(f"{NAMES[m]} ({unit(m)}; {'higher' if info['greater_is_better'] else 'lower'} is better)")
    ax.set_title(wrap_title(f"{task} ({board['split']}): {NAMES[m]} per language and macro average, with 95 % "
                            f"bootstrap intervals ({board['resampling']['n_resamples']} resamples)", fig), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=1 if len(rows) > 3 else len(rows))
    fig.savefig(path, dpi=110, bbox_inches="tight")  # the legend and the whole title stay in the picture
    plt.close(fig)
    return path


def difference_heatmap(board: dict, path: Path) -> Path | None:
    """Each system's difference from the baseline per (task, language): green better, red worse, in the metric's
    units; grey where the paired p-value is not below alpha."""
    import numpy as np

    plt = pyplot()
    rows = [s for s in board["systems"][1:]]
    # Columns of tasks that at least one system shares with the baseline.
    cols = [(t, lang) for t, info in board["tasks"].items() if info["baseline_present"]
            and any(t in s["cells"] for s in rows) for lang in [*info["languages"], "macro"]]
    if not cols or not rows:
        return None
    from matplotlib.colors import TwoSlopeNorm

    better = np.full((len(rows), len(cols)), np.nan)
    labels = [["" for _ in cols] for _ in rows]
    sig = np.zeros((len(rows), len(cols)), dtype=bool)
    for i, s in enumerate(rows):
        for j, (t, lang) in enumerate(cols):
            m = board["tasks"][t]["metric"]
            e = (s["macro"] if lang == "macro" else s["cells"]).get(t, {})
            e = e.get(m) if lang == "macro" else (e.get(lang) or {}).get(m)
            if not e or e.get("diff") is None:
                labels[i][j] = "—"
                continue
            d = e["diff"] * scale(m)
            better[i, j] = d if board["tasks"][t]["greater_is_better"] else -d
            sig[i, j] = bool(e.get("significant"))
            labels[i][j] = f"{d:+.1f}" + ("*" if sig[i, j] else "")
    bound = float(np.nanmax(np.abs(better))) if np.isfinite(better).any() else 1.0
    bound = bound or 1.0
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(cols) + 3.0), 1.6 + 0.55 * len(rows)))
    shown = np.where(sig, better, np.nan)
    ax.imshow(np.where(np.isfinite(better) & ~sig, 0.5, np.nan), cmap="Greys", vmin=0, vmax=1, aspect="auto")
    im = ax.imshow(shown, cmap="RdYlGn", norm=TwoSlopeNorm(0.0, -bound, bound), aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            dark = bool(sig[i, j]) and abs(better[i, j]) > 0.6 * bound  # white on the deep colours
            ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(cols)), [f"{t}\n{lang}" for t, lang in cols], fontsize=8)
    ax.set_yticks(range(len(rows)), [_wrap(s["label"], 40) for s in rows], fontsize=8)
    fig.colorbar(im, ax=ax, label="better (+) / worse (−)")
    ax.set_title(wrap_title(f"Difference from {board['baseline']} (system − baseline, % points; BLEU points). "
                            f"Colour: better or worse with p < {board['alpha']} and a 95 % interval without 0 (*, "
                            "paired bootstrap); grey: not significant; —: no run", fig, 9), fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_all(board: dict, out_dir: Path) -> dict[str, Path]:
    """leaderboard.md, leaderboard.html and the charts; returns what was written."""
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    charts = []
    for task in board["tasks"]:
        charts.append(task_chart(board, task, out_dir / f"chart_{task}.png"))
    heat = difference_heatmap(board, out_dir / "chart_differences.png")
    if heat is not None:
        charts.append(heat)
    for name, text in (("leaderboard.json", json.dumps(board, indent=2, ensure_ascii=False) + "\n"),
                       ("leaderboard.md", to_markdown(board)), ("leaderboard.html", to_html(board, charts))):
        (out_dir / name).write_text(text, encoding="utf-8")
        written[name] = out_dir / name
    written.update({c.name: c for c in charts})
    return written
