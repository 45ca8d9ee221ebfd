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


@pytest.fixture(scope="session")
def espeak_ng() -> str:
    """The espeak-ng the speech-synthesising tests need. Missing, they fail in one line instead of being skipped:
    `make test` (the README's test command, what CI runs) installs it first (`make system-deps`)."""
    import shutil

    path = shutil.which("espeak-ng")
    if path is None:
        pytest.fail("espeak-ng is not installed: `make system-deps` installs it (`make test` runs it first)",
                    pytrace=False)
    return path


def load_script(name: str):
    """A benchmark script (benchmarks/<name>.py) as a module, as the tests of each script import it."""
    import importlib.util
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_encoders(tmp_path_factory) -> dict[str, Path]:
    """Tiny random checkpoints of every supported encoder architecture (scripts/make_tiny_encoders.py), built once
    per session: architecture -> folder."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    from make_tiny_encoders import make_all

    return make_all(tmp_path_factory.mktemp("encoders"))


def run_cli(args: list[str], output_dir: Path, cache_dir: Path) -> dict | None:
    """Run the real entry point in-process and return results.json (None when the run writes none)."""
    from xtreme_s.cli import main

    main([*args, "--output_dir", str(output_dir), "--cache_dir", str(cache_dir), "--report_to", "none",
          "--disable_tqdm", "True", "--dataloader_num_workers", "0"])
    path = output_dir / "results.json"
    return json.loads(path.read_text()) if path.exists() else None


def pytest_collection_modifyitems(config, items):
    """Every skipped test says why (and so what a newcomer misses and how to get it)."""
    for item in items:
        for mark in [*item.iter_markers(name="skip"), *item.iter_markers(name="skipif")]:
            if not mark.kwargs.get("reason"):
                raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{mark.name} needs reason=... (say why)")


def run_user_cli(args: list[str], capsys, output_dir: Path | None = None, cache_dir: Path | None = None,
                 runner_flags: bool = True) -> tuple[int, str]:
    """The command line as a user meets it (`xtreme_s.cli.main()` on sys.argv, the one error policy included):
    returns the exit code and stderr. `runner_flags=False` for subcommands that take none of the runner's flags."""
    import sys
    from unittest import mock

    from xtreme_s.cli import main

    extra = [] if output_dir is None else ["--output_dir", str(output_dir)]
    extra += [] if cache_dir is None else ["--cache_dir", str(cache_dir)]
    argv = ["xtreme-s", *args, *extra]
    if runner_flags:
        argv += ["--report_to", "none", "--disable_tqdm", "True", "--dataloader_num_workers", "0"]
    capsys.readouterr()
    code = 0
    with mock.patch.object(sys, "argv", argv):
        try:
            main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, capsys.readouterr().err
