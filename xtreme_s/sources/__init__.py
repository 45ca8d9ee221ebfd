"""Data sources: each XTREME-S corpus as it exists today, one module per corpus (as lhotse's recipes), mapped to one
common schema (base.py). CoVoST-2 and BABEL can come from folders the user downloaded by hand (spec 3.5), and any
task can read a plain local folder (`<split>.tsv` manifest + audio files, or `<split>/*.parquet`; local.py).

    base.py        the adapter base, the common schema, LoadContext, errors, MINI_ROOT
    hub.py         Hub file resolution at pinned revisions, parquet loading, the Hub adapter base (raw fallback)
    raw_layout.py  the original tar shards + TSVs converted once into parquet
    tsv.py         the one strict reader of tab-separated manifests
    fleurs.py, mls.py, voxpopuli.py, minds14.py, covost2.py, babel.py, local.py: one adapter each
    load.py        the adapter registry, --mini defaults and load_splits
    report.py      `xtreme-s sources`: where each corpus would be read from (asks the adapters)
"""

from .base import (
    MINI_ROOT,
    SPLITS,
    LanguageUnavailable,
    LoadContext,
    SourceAdapter,
    SourceError,
    add_header_durations,
)
from .hub import HubAdapter, load_parquet_files, resolve_hub_files
from .load import ADAPTERS, load_splits, mini_defaults, with_target

__all__ = ["ADAPTERS", "MINI_ROOT", "SPLITS", "HubAdapter", "LanguageUnavailable", "LoadContext", "SourceAdapter",
           "SourceError", "add_header_durations", "load_parquet_files", "load_splits", "mini_defaults",
           "resolve_hub_files", "with_target"]
