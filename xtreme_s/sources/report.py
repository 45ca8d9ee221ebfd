"""`xtreme-s sources [CONFIG]`: where each source of a config would be read from, before any run.

Per source: the repository, the requested and the resolved revision, the layout found (parquet export, parquet,
raw fallback, on the Hub or a mirror; local folder for hand-downloaded data), files, rows and hours per split, and
warnings (partial export, missing languages). Nothing is converted or decoded: rows come from parquet footers or the
raw TSV, hours from the duration columns the files carry (FLEURS `num_samples`, MLS `audio_duration`); "?" where a
source has none (its durations are read from audio headers at load time).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..errors import ScriptArgumentParser, UsageError
from ..metrics import language_groups
from ..registry import TASKS, resolve
from .base import MINI_ROOT, SPLITS, LanguageUnavailable, LoadContext, SourceError
from .hub import HubAdapter
from .load import ADAPTERS, load_splits

logger = logging.getLogger(__name__)


def describe(config: str, ctx: LoadContext, splits: tuple[str, ...] = SPLITS) -> list[dict[str, Any]]:
    """One entry per (repository, layout) with per-language, per-split files/rows/hours, plus warnings."""
    task = resolve(config)
    adapter = ADAPTERS[task.spec.source]
    ctx.splits = tuple(splits)
    entries: dict[tuple, dict[str, Any]] = {}
    missing: list[str] = []
    if ctx.data_dir or not isinstance(adapter, HubAdapter):
        return [_describe_local(task, ctx, splits)]
    for lang in task.languages:
        sub = adapter.route(lang, ctx)  # e.g. MLS English: another repository
        for split in splits:
            try:
                survey = sub.survey(lang, split, ctx)
            except LanguageUnavailable as err:
                if lang not in missing:
                    missing.append(lang)
                logger.debug("%s", err)
                continue
            plan, n, seconds = survey.plan, survey.rows, survey.seconds
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
        duration = ds["duration"]  # each column read once, not once per language
        for lang, rows in language_groups(ds["language"]).items():
            entry["splits"].setdefault(split, {})[lang] = {
                "files": None, "rows": len(rows), "hours": sum(duration[i] for i in rows if duration[i] > 0) / 3600}
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
    parser = ScriptArgumentParser("sources", prog="xtreme-s sources", description=__doc__.splitlines()[0])
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
    if args.dataset_revision and mirror:
        raise UsageError(f"sources: --dataset_revision {args.dataset_revision}: the mirror {mirror} holds one "
                         "snapshot of each repository, not its revisions. Drop one of the two.")
    if args.config:
        configs = [args.config]
    else:
        configs = []
        for spec in TASKS.values():
            name = f"{spec.prefix}.all" if spec.has_all else f"{spec.prefix}.{spec.languages[0]}"
            if name not in configs and ADAPTERS[spec.source].repo is not None:  # else only a manual download
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
