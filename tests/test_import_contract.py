"""Dependencies point one way: the import-linter contracts of pyproject.toml hold for the package, and break on an
upward import or a cycle (a copy of the package with one bad import added), function-level imports included."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the test extra (pip install -e '.[test]').")
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120)


def test_the_package_keeps_its_import_contracts():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    """The package and its contracts in a scratch folder, to break on purpose."""
    root = tmp_path_factory.mktemp("contract")
    shutil.copy(ROOT / "pyproject.toml", root)
    shutil.copytree(ROOT / "xtreme_s", root / "xtreme_s", ignore=shutil.ignore_patterns("__pycache__"))
    return root


LAYERS = "Layers: cli -> run -> reports -> protocols -> families -> data and models -> base"


@pytest.mark.parametrize("additions, broken", [
    # A base module reaching up to the run (inside a function: function-level imports count too).
    ({"results.py": "def _upward():\n    from xtreme_s import runner  # noqa\n"}, LAYERS),
    # A family reaching into a protocol.
    ({"families/ctc.py": "from ..protocols import probe  # noqa\n"},
     "Families do not import protocols (protocols call family methods)"),
    # A report reaching past the results record.
    ({"reports/score.py": "from .. import encoders  # noqa\n"},
     "Reports read only the results record (+ registry, plots)"),
    # One family importing another.
    ({"families/retrieval.py": "from . import ctc  # noqa\n"},
     "Each family stands alone (shared parts live in families.base and families.probe_heads)"),
    # A protocol importing its package's __init__ (which imports the protocols: a cycle through the package).
    ({"protocols/lora.py": "from . import PROTOCOLS  # noqa\n"},
     "A package's modules import from its base module, never from the package's __init__"),
    # A cycle inside one layer: audio -> metrics -> audio.
    ({"audio.py": "from . import metrics  # noqa\n", "metrics.py": "from . import audio  # noqa\n"},
     "No import cycles between sibling modules, at any depth"),
], ids=["base-imports-runner", "family-imports-protocol", "report-imports-encoders", "family-imports-family",
        "protocol-imports-package", "cycle"])
def test_an_upward_import_or_a_cycle_breaks_its_contract(additions, broken, package_copy):
    originals = {name: (package_copy / "xtreme_s" / name).read_text() for name in additions}
    try:
        for name, line in additions.items():
            (package_copy / "xtreme_s" / name).write_text(originals[name] + "\n" + line)
        done = lint_imports(package_copy)
    finally:
        for name, text in originals.items():
            (package_copy / "xtreme_s" / name).write_text(text)
    report = " ".join(done.stdout.split())  # contract names are wrapped over lines
    assert done.returncode != 0 and f"{broken} BROKEN" in report, done.stdout[-3000:]
