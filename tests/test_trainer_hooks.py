"""The Trainer and accelerate internals we override or call (xtreme_s/trainer.py) exist, with the parameters we rely
on, in the installed versions; the installed transformers is in the range pyproject.toml supports.

A transformers release that renames or reshapes one of them fails here, naming it, instead of deep inside a run
(or worse, silently: an override whose hook was renamed is simply never called)."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from xtreme_s import trainer as ours

ROOT = Path(__file__).resolve().parents[1]


def _resolve(path: str):
    module, _, attr = path.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _pinned(package: str) -> Requirement:
    """The dependency line of `package` in pyproject.toml (read as text: tomllib needs Python 3.11)."""
    match = re.search(rf'^\s*"({package}[<>=!~,. \d]*)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert match, f"no {package} dependency in pyproject.toml"
    return Requirement(match.group(1))


def test_installed_transformers_is_in_the_supported_range():
    import transformers

    req = _pinned("transformers")
    assert Version(transformers.__version__) in req.specifier, (
        f"transformers {transformers.__version__} is outside the supported range {req.specifier} "
        "(pyproject.toml); check xtreme_s/trainer.py against it before widening the range")


@pytest.mark.parametrize("path", [*ours.TRANSFORMERS_HOOKS, *ours.ACCELERATE_HOOKS])
def test_private_hook_exists_with_the_parameters_we_rely_on(path):
    import accelerate
    import transformers

    expected = {**ours.TRANSFORMERS_HOOKS, **ours.ACCELERATE_HOOKS}[path]
    versions = f"transformers {transformers.__version__}, accelerate {accelerate.__version__}"
    obj = _resolve(path)
    assert obj is not None, f"{path} no longer exists ({versions}); xtreme_s/trainer.py relies on it"
    params = [p for p in inspect.signature(obj).parameters if p != "self"]
    assert params[:len(expected)] == list(expected), (
        f"{path}: xtreme_s/trainer.py relies on parameters {list(expected)}, {versions} has {params}")


def test_every_trainer_method_we_override_is_a_checked_trainer_hook():
    """An override of a hook the Trainer no longer has would never be called; each must be in the table above."""
    from transformers import Trainer

    checked = {p.rpartition(".")[2] for p in ours.TRANSFORMERS_HOOKS if ":Trainer." in p}
    for mixin in (ours.SkippedItemsMixin, ours.SpeechSamplingMixin):
        for name, value in vars(mixin).items():
            if callable(value) and not name.startswith("__") and name != "skipped_during_training":
                assert hasattr(Trainer, name), f"{mixin.__name__}.{name} overrides nothing in Trainer"
                assert name in checked, f"{mixin.__name__}.{name}: add it to trainer.TRANSFORMERS_HOOKS"


def test_internals_our_overrides_depend_on():
    from accelerate.data_loader import BatchSamplerShard
    from transformers import Trainer
    from transformers.trainer_pt_utils import LengthGroupedSampler
    from transformers.trainer_utils import EvalLoopOutput

    # ResumableLengthGroupedSampler seeds the stock sampler through `self.generator`.
    assert "self.generator" in inspect.getsource(LengthGroupedSampler.__iter__)
    # evaluation_loop_in_dataset_order swaps `trainer.compute_metrics` around the stock loop and edits its output.
    assert "self.compute_metrics(" in inspect.getsource(Trainer.evaluation_loop)
    assert {"predictions", "label_ids"} <= set(EvalLoopOutput._fields)
    # unshard turns accelerate's wrapper into a pass-through and gives it our set_epoch.
    shard = BatchSamplerShard([[0, 1], [2, 3]], num_processes=2, process_index=1)
    assert {"batch_sampler", "num_processes", "process_index"} <= set(vars(shard))
