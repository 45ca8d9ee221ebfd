"""The corpus registry and `load_splits`: every split of a task, all its languages, in the common schema."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import datasets
from datasets import Dataset

from ..registry import TASKS, ResolvedTask
from .babel import BabelAdapter
from .base import MINI_ROOT, SPLITS, LanguageUnavailable, LoadContext, SourceAdapter, SourceError
from .covost2 import Covost2Adapter
from .fleurs import FleursAdapter
from .local import LocalFolderAdapter
from .minds14 import Minds14Adapter
from .mls import MlsAdapter
from .voxpopuli import VoxPopuliAdapter

logger = logging.getLogger(__name__)

# One adapter per corpus, by the name the task registry's `source` uses.
ADAPTERS: dict[str, SourceAdapter] = {
    a.name: a for a in (FleursAdapter(), MlsAdapter(), VoxPopuliAdapter(), Minds14Adapter(), Covost2Adapter(),
                        BabelAdapter())
}


def mini_defaults(task: str) -> dict[str, str]:
    """--mini: the data settings (mirror_root, and data_dir for a corpus only downloaded by hand) that read a task
    (a task name or config-name prefix, e.g. `babel`, `fleurs-asr`, `fleurs`) from the bundled mini benchmark."""
    spec = next((s for name, s in TASKS.items() if task in (name, s.prefix)), None)
    if spec is None:  # no task named yet: the mirror (the run stops later with the missing-task error)
        return {"mirror_root": str(MINI_ROOT / "hub")}
    return ADAPTERS[spec.source].mini_defaults()


def with_target(ds: Dataset, column: str, source: str, where: str) -> Dataset:
    """Add the common `target` column: a copy of the XTREME-S column the task predicts."""
    column = ADAPTERS[source].column_aliases.get(column, column) if source in ADAPTERS else column
    if column not in ds.column_names:
        raise SourceError(f"{where} has no column '{column}' to predict (columns: {', '.join(ds.column_names)}). "
                          "Check --target_column_name.")
    if "target" in ds.column_names:
        ds = ds.remove_columns("target")
    return ds.add_column("target", ds[column], feature=ds.features[column])


def _languages_of_task(ds: Dataset, split: str, task: ResolvedTask, ctx: LoadContext) -> Dataset:
    """Keep the rows in the task's languages; never drop an evaluation row silently.

    Codes are matched case-insensitively where that is unambiguous (`PL` is `pl`). Rows of other languages are
    left out of a training split and counted; in an evaluation split they are an error unless
    --allow_skipping_eval_items, and then counted under `skipped.<split>` in results.json."""
    wanted = set(task.languages)
    by_fold: dict[str, set[str]] = {}
    for lang in task.languages:
        by_fold.setdefault(lang.casefold(), set()).add(lang)
    found = set(ds.unique("language"))
    rename = {f: next(iter(by_fold[f.casefold()])) for f in found - wanted
              if len(by_fold.get(f.casefold(), ())) == 1}
    if rename:
        logger.warning("%s %s: language code(s) %s read as %s (case-insensitive match).", ctx.data_dir, split,
                       ", ".join(sorted(rename)), ", ".join(rename[k] for k in sorted(rename)))
        ds = ds.map(lambda lang: {"language": rename.get(lang, lang)}, input_columns=["language"],
                    desc="Language codes")
        found = {rename.get(f, f) for f in found}
    if not found & wanted:
        raise SourceError(f"{ctx.data_dir} {split}: no row is in the languages of {task.config_name} "
                          f"(found {', '.join(sorted(found)) or 'none'}; codes must match, e.g. "
                          f"{', '.join(task.languages[:3])}).")
    outside = found - wanted
    if not outside:
        return ds
    if ctx.select_languages:
        return ds.filter(lambda lang: lang in wanted, input_columns=["language"])
    languages = ds["language"]
    counts = Counter(lang for lang in languages if lang not in wanted)
    listing = ", ".join(f"{lang} ({n})" for lang, n in sorted(counts.items()))
    is_train = split == ctx.train_split
    if not is_train and not ctx.allow_skipping:
        raise SourceError(f"{ctx.data_dir} {split}: {sum(counts.values())} row(s) are in languages outside "
                          f"{task.config_name}: {listing}. Evaluation rows are never dropped silently: fix their "
                          "'language' codes, pick a config with those languages, or pass --allow_skipping_eval_items "
                          "to leave them out (counted in results.json).")
    key = "train" if is_train else split
    for lang, n in counts.items():
        ctx.skipped.setdefault(key, Counter())[f"language {lang} not in {task.config_name}"] += n
    logger.warning("%s %s: LEAVING OUT rows of languages outside %s (counted in results.json): %s", ctx.data_dir,
                   split, task.config_name, listing)
    return ds.select([i for i, lang in enumerate(languages) if lang in wanted])


def load_splits(task: ResolvedTask, splits: list[str], ctx: LoadContext,
                target_column: str | None = None) -> tuple[dict[str, Dataset], list[str]]:
    """Every requested split of a task, all its languages concatenated, in the common schema.

    `target` holds the task's target column (or `target_column`). Returns the splits and the languages that had
    to be left out (a `.all` config whose source lacks a language, e.g. MLS English); a single-language config
    raises instead.
    """
    target_column = target_column or task.spec.target_column
    adapter = ADAPTERS[task.spec.source]
    local = None
    manual = adapter.manual_download  # its --data_dir is the hand-downloaded layout
    if ctx.data_dir and (not manual or all(LocalFolderAdapter.detect(Path(ctx.data_dir), s) for s in splits)):
        local = LocalFolderAdapter(task.languages[0] if len(task.languages) == 1 else None)
    out: dict[str, Dataset] = {}
    missing: list[str] = []
    ctx.splits = tuple(splits)
    for split in splits:
        if split not in SPLITS:
            raise SourceError(f"Unknown split '{split}'; XTREME-S splits are {', '.join(SPLITS)}.")
        if local is not None:
            ds = _languages_of_task(local.load_split(split, ctx), split, task, ctx)
            out[split] = with_target(ds, target_column, "local", f"{ctx.data_dir} {split}")
            continue
        parts = []
        for lang in task.languages:
            if lang in missing:
                continue
            try:
                parts.append(adapter.load(lang, split, ctx))
            except LanguageUnavailable as err:
                if len(task.languages) == 1:
                    raise
                logger.debug("Leaving %s out of %s: %s", lang, task.config_name, err)
                missing.append(lang)
        if not parts:
            raise SourceError(f"No data for {task.config_name} {split}: none of its languages was found.")
        ds = parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
        out[split] = with_target(ds, target_column, task.spec.source, f"{task.config_name} {split}")
    for split, ds in out.items():  # a language found missing in a later split leaves every split
        if local is None and missing and set(ds.unique("language")) & set(missing):
            out[split] = ds.filter(lambda lang: lang not in missing, input_columns=["language"])
    if missing:
        logger.warning("%s: %d of %d languages are not available and are LEFT OUT (recorded in results.json as "
                       "languages_missing): %s", task.config_name, len(missing), len(task.languages),
                       " ".join(missing))
    return out, missing
