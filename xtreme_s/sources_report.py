"""`xtreme-s sources [CONFIG]`: where each source of a config would be read from, before any run.

Per source: the repository, the requested and the resolved revision, the layout found (parquet export, parquet,
raw fallback, on the Hub or a mirror; local folder for hand-downloaded data), files, rows and hours per split, and
warnings (partial export, missing languages). Nothing is converted or decoded: rows come from parquet footers or the
raw TSV, hours from the duration columns the files carry (FLEURS `num_samples`, MLS `audio_duration`); "?" where a
source has none (its durations are read from audio headers at load time).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from .manifest import read_manifest
from .registry import TASKS, resolve
from .sources import (
    ADAPTERS,
    MLS_ENGLISH,
    SPLITS,
    LanguageUnavailable,
    LoadContext,
    SourceError,
    SourcePlan,
    _hub_fs,
    _local_file,
    load_splits,
)

logger = logging.getLogger(__name__)
MINI_ROOT = Path(__file__).resolve().parents[1] / "mini_benchmark"  # as xtreme_s.args (not imported: transformers)


def _open_parquet(path: str, ctx: LoadContext) -> pq.ParquetFile:
    if path.startswith("hf://"):  # footer and one column read by range requests, not the whole file
        return pq.ParquetFile(_hub_fs(ctx).open(path.removeprefix("hf://"), "rb"))
    return pq.ParquetFile(path)


def _parquet_stats(files: list[str], ctx: LoadContext) -> tuple[int, float | None]:
    rows, seconds = 0, 0.0
    for f in files:
        pf = _open_parquet(f, ctx)
        rows += pf.metadata.num_rows
        names = pf.schema_arrow.names
        if seconds is not None and "num_samples" in names:
            seconds += sum(pf.read(columns=["num_samples"]).column(0).to_pylist()) / 16_000
        elif seconds is not None and "audio_duration" in names:
            seconds += sum(pf.read(columns=["audio_duration"]).column(0).to_pylist())
        else:
            seconds = None
    return rows, seconds


def _raw_stats(plan: SourcePlan, ctx: LoadContext, columns: tuple[str, ...] | None) -> tuple[int, float | None]:
    rows = read_manifest(_local_file(plan.files[0], ctx), columns=columns)
    if rows and "num_samples" in rows[0]:
        return len(rows), sum(int(r["num_samples"]) for r in rows) / 16_000
    return len(rows), None


def describe(config: str, ctx: LoadContext, splits: tuple[str, ...] = SPLITS) -> list[dict[str, Any]]:
    """One entry per (repository, layout) with per-language, per-split files/rows/hours, plus warnings."""
    task = resolve(config)
    adapter = ADAPTERS[task.spec.source]
    ctx.splits = tuple(splits)
    entries: dict[tuple, dict[str, Any]] = {}
    missing: list[str] = []
    if ctx.data_dir or not hasattr(adapter, "plan") or adapter.repo is None:
        return [_describe_local(task, ctx, splits)]
    for lang in task.languages:
        sub = adapter
        if task.spec.source == "mls" and lang == "en":
            if not (ctx.mirror and (Path(ctx.mirror) / adapter.repo / "english").is_dir()):
                sub = MLS_ENGLISH
        for split in splits:
            try:
                if sub is not adapter and split == "train" and not ctx.mls_english_train_ids:
                    raise LanguageUnavailable("MLS English: no 9-hour training ids (--mls_english_train_ids)")
                plan = sub.plan(lang, "train" if task.spec.source == "minds14" else split, ctx)
            except LanguageUnavailable as err:
                if lang not in missing:
                    missing.append(lang)
                logger.debug("%s", err)
                continue
            if plan.layout == "raw fallback":
                n, seconds = _raw_stats(plan, ctx, sub.raw_tsv_columns)
            elif task.spec.source == "minds14":  # one file per locale; the split is its list of ids
                n, seconds = len(sub._split_ids(lang, split, ctx)), None
            else:
                n, seconds = _parquet_stats(plan.files, ctx)
            key = (plan.repo, plan.layout, plan.requested)
            entry = entries.setdefault(key, {"repository": plan.repo, "layout": plan.layout, "where": plan.where,
                                             "requested_revision": plan.requested, "resolved_revision": plan.commit,
                                             "splits": {}, "warnings": []})
            entry["resolved_revision"] = entry["resolved_revision"] or plan.commit
            entry["splits"].setdefault(split, {})[lang] = {"files": len(plan.files), "rows": n,
                                                           "hours": None if seconds is None else seconds / 3600}
            entry["warnings"] += [w for w in plan.warnings if w not in entry["warnings"]]
    out = list(entries.values())
    if not out:
        raise SourceError(f"{config}: none of its languages was found" +
                          (f" in the mirror {ctx.mirror}" if ctx.mirror else "") + ".")
    if missing:
        out[0]["warnings"].append(f"missing languages ({len(missing)} of {len(task.languages)}): {' '.join(missing)}")
    return out


def _describe_local(task, ctx: LoadContext, splits: tuple[str, ...]) -> dict[str, Any]:
    """Hand-downloaded data and plain folders: loaded (metadata and headers only) to count rows and hours."""
    loaded, missing = load_splits(task, list(splits), ctx)
    entry = {"repository": None, "layout": "local folder", "where": ctx.data_dir, "requested_revision": None,
             "resolved_revision": None, "splits": {}, "warnings": []}
    for split, ds in loaded.items():
        for lang in sorted(set(ds["language"])):
            durations = [d for d, lg in zip(ds["duration"], ds["language"], strict=True) if lg == lang]
            entry["splits"].setdefault(split, {})[lang] = {
                "files": None, "rows": len(durations), "hours": sum(d for d in durations if d > 0) / 3600}
    if missing:
        entry["warnings"].append(f"missing languages: {' '.join(missing)}")
    return entry


def format_report(config: str, entries: list[dict[str, Any]]) -> str:
    lines = [f"Sources of {config}"]
    for e in entries:
        repo = e["repository"] or "(local)"
        resolved = e["resolved_revision"] or ("n/a on a mirror" if str(e["where"]).startswith("mirror") else "n/a")
        lines += ["", f"{repo}  layout: {e['layout']}  ({e['where']})",
                  f"  revision: requested {e['requested_revision']}, resolved {resolved}"]
        for split, langs in e["splits"].items():
            files = sum(v["files"] or 0 for v in langs.values())
            rows = sum(v["rows"] for v in langs.values())
            hours = [v["hours"] for v in langs.values()]
            h = "?" if any(x is None for x in hours) else f"{sum(hours):.2f}"
            lines.append(f"  {split:10s} {len(langs):3d} language(s)  {files:5d} files  {rows:8d} rows  {h:>8s} h")
        lines += [f"  WARNING: {w}" for w in e["warnings"]]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="xtreme-s sources", description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default=None,
                        help="an XTREME-S config (e.g. fleurs.all, covost2.fr.en); default: every task's .all / "
                             "first config")
    parser.add_argument("--mirror_root", help="a local copy of the Hub repositories (same layout), read offline")
    parser.add_argument("--mini", action="store_true", help="the bundled mini benchmark's mirror")
    parser.add_argument("--data_dir", help="hand-downloaded data or a local folder (as for a run)")
    parser.add_argument("--dataset_revision", help="override the pinned revision (as for a run)")
    parser.add_argument("--source_layout", default="auto", choices=["auto", "parquet", "raw"],
                        help="which files to look for (as for a run)")
    parser.add_argument("--mls_english_train_ids", help="MLS English 9-hour training ids (as for a run)")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS), help="splits to report")
    parser.add_argument("--cache_dir", help="datasets cache (raw TSVs downloaded from the Hub land there)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    mirror = args.mirror_root or (str(MINI_ROOT / "hub") if args.mini else None)
    if args.config:
        configs = [args.config]
    else:
        configs = []
        for spec in TASKS.values():
            name = f"{spec.prefix}.all" if spec.has_all else f"{spec.prefix}.{spec.languages[0]}"
            if name not in configs and spec.source not in ("babel",):
                configs.append(name)
    report: dict[str, Any] = {}
    for config in configs:
        ctx = LoadContext(mirror_root=mirror, data_dir=args.data_dir, revision=args.dataset_revision,
                          cache_dir=args.cache_dir, source_layout=args.source_layout,
                          mls_english_train_ids=args.mls_english_train_ids)
        try:
            report[config] = describe(config, ctx, tuple(args.splits))
        except SourceError as err:
            if args.config:  # the one config asked for: the one-line error of the CLI
                raise
            report[config] = [{"repository": ADAPTERS[resolve(config).spec.source].repo, "layout": "not found",
                               "where": ctx.mirror or "hub", "requested_revision": None, "resolved_revision": None,
                               "splits": {}, "warnings": [str(err)]}]
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print("\n\n".join(format_report(c, e) for c, e in report.items()))
    return 0
