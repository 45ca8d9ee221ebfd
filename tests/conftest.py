"""Shared fixtures: the bundled mini benchmark, offline by construction."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "mini_benchmark"
MINI_HUB = MINI / "hub"
TINY_MODEL = MINI / "models" / "tiny-xls-r"


@pytest.fixture(scope="session")
def hf_cache(tmp_path_factory) -> Path:
    """A private datasets cache, so tests neither read nor pollute the user's."""
    path = tmp_path_factory.mktemp("hf_cache")
    return path


def run_cli(args: list[str], output_dir: Path, cache_dir: Path) -> dict | None:
    """Run the real entry point in-process and return results.json (None when the run writes none)."""
    from xtreme_s.cli import main

    main([*args, "--output_dir", str(output_dir), "--cache_dir", str(cache_dir), "--report_to", "none",
          "--disable_tqdm", "True", "--dataloader_num_workers", "0"])
    path = output_dir / "results.json"
    return json.loads(path.read_text()) if path.exists() else None
