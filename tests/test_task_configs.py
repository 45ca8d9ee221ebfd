"""Every file in task_configs/ is checked, so a broken recipe fails CI instead of a user's first GPU hour.

YAML recipes go through the real argument parser (as `run_xtreme_s.py task_configs/X.yaml` and `make X` read
them) and their task resolves through the registry to a family that exists. The JSON files (FSDP and DeepSpeed
settings) must parse and be named by a recipe or a document, so none is left behind when its user goes.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from xtreme_s.args import parse_args
from xtreme_s.families import FAMILIES
from xtreme_s.registry import resolve

CONFIGS = ROOT / "task_configs"
RECIPES = sorted(p for p in CONFIGS.iterdir() if p.suffix in (".yaml", ".yml"))
JSON_FILES = sorted(CONFIGS.glob("*.json"))
# Where a file in task_configs/ may be named: the recipes, the Makefile and the documentation.
REFERRING_FILES = [*RECIPES, ROOT / "Makefile", ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def check_recipe(recipe: Path, output_dir: Path, *extra: str) -> str:
    """Parse a recipe as the entry point does and resolve its task; return the task's name."""
    parsed = parse_args([str(recipe), "--output_dir", str(output_dir), *extra])
    # Picked by field, not position: the shared dataclasses, whatever family dataclasses sit beside them.
    model_args, data_args, training_args = (next(a for a in parsed if hasattr(a, field)) for field in
                                            ("model_name_or_path", "dataset_config_name", "output_dir"))
    task = resolve(data_args.dataset_config_name, data_args.task, data_args.language, data_args.target_column_name,
                   data_args.language_group)
    assert task.spec.family in FAMILIES, (recipe.name, task.spec.family)
    assert task.languages, recipe.name
    assert model_args.model_name_or_path and training_args.output_dir == str(output_dir)
    for key in ("fsdp_config", "deepspeed"):  # settings files the recipe points at exist (paths from the repo root)
        value = yaml.safe_load(recipe.read_text()).get(key)
        if isinstance(value, str):
            assert (ROOT / value).is_file(), f"{recipe.name}: {key} {value} does not exist"
    return task.name


OVERLAY_DIRS = ("encoders", "probe", "peft")  # settings layered over a recipe by `make <task> MODEL=.. PROTOCOL=..`
PROBE_OVERLAYS = sorted((CONFIGS / "probe").glob("*.yaml"))


def test_task_configs_holds_recipes_and_settings_only():
    assert len(RECIPES) >= 9
    assert {p.suffix for p in CONFIGS.iterdir() if p.name not in OVERLAY_DIRS} <= {".yaml", ".yml", ".json"}
    # Per-encoder settings (parsed in tests/test_encoders.py) and per-protocol settings (below).
    for folder in OVERLAY_DIRS:
        assert {p.suffix for p in (CONFIGS / folder).iterdir()} == {".yaml"}, folder


def test_every_task_has_a_probe_recipe():
    tasks = {p.stem for p in RECIPES if not any(p.stem.startswith(f"{q.stem}-") for q in RECIPES)}
    assert {p.stem for p in PROBE_OVERLAYS} == tasks


@pytest.mark.parametrize("overlay", [*PROBE_OVERLAYS, *sorted((CONFIGS / "peft").glob("*.yaml"))],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_protocol_recipe_layers_over_its_task(overlay, tmp_path, monkeypatch):
    """`make <task> PROTOCOL=..` parses (recipe, then the protocol's settings) and the protocol accepts them."""
    from xtreme_s import protocols
    from xtreme_s.hub import ModelSource

    monkeypatch.chdir(ROOT)
    task = overlay.stem if overlay.parent.name == "probe" else "mls"
    recipe = CONFIGS / f"{task}.yaml"
    settings = yaml.safe_load(overlay.read_text())
    for extra in ([], ["--mini"]):
        assert check_recipe(recipe, tmp_path, "--config", str(overlay), *extra) == task
        model_args, data_args, training_args, own = parse_args(
            [str(recipe), "--config", str(overlay), "--output_dir", str(tmp_path), *extra])
        assert protocols.resolve(own["protocol"], ModelSource.of(model_args)).name == settings["protocol"]
        for key, value in settings.items():  # the overlay wins over the recipe
            parsed = next(getattr(a, key) for a in (model_args, data_args, training_args, *own.values())
                          if hasattr(a, key))
            assert parsed == value, (overlay.name, key, parsed, value)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_parses_and_resolves_its_task(recipe, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # recipes name their settings files relative to the repository root, as `make` runs them
    name = check_recipe(recipe, tmp_path / "out")
    # The file is named after its task (mls-xls-r-2b.yaml is the 2B recipe of mls), so `make <task>` runs that task.
    assert recipe.stem == name or recipe.stem.startswith(f"{name}-"), (recipe.name, name)
    # `make <recipe> MINI=1` runs it offline on the mini benchmark.
    assert check_recipe(recipe, tmp_path / "mini", "--mini") == name


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.name)
def test_recipe_has_its_make_target(recipe):
    # The rule whose recipe runs `task_configs/$@.yaml`: its targets are the recipes `make` can run.
    rule = re.search(r"^([^\n:#=]+):[^\n]*\n\t[^\n]*task_configs/\$@\.yaml", (ROOT / "Makefile").read_text(), re.M)
    assert rule and recipe.stem in rule.group(1).split(), f"no `make {recipe.stem}` target runs {recipe.name}"


@pytest.mark.parametrize("settings", JSON_FILES, ids=lambda p: p.name)
def test_settings_file_parses_and_is_referenced(settings):
    assert isinstance(json.loads(settings.read_text()), dict), settings.name
    needle = f"task_configs/{settings.name}"
    users = [p.relative_to(ROOT) for p in REFERRING_FILES if p.is_file() and needle in p.read_text()]
    assert users, f"{needle} is named by no recipe, Makefile target or document"


@pytest.mark.parametrize("breakage,error", [
    (lambda text: text.replace("dataset_config_name: fleurs.all", "dataset_config_name: fleur.all"), "config name"),
    (lambda text: text.replace("learning_rate:", "learnin_rate:"), "learnin_rate"),
    (lambda text: text.replace("num_train_epochs: 100", "num_train_epochs: many"), "many"),
    (lambda text: text + "mask_time_prob: [0.3\n", "flow sequence|expected"),
], ids=["misspelt-config-name", "unknown-flag", "wrong-type", "invalid-yaml"])
def test_a_broken_recipe_fails(breakage, error, tmp_path, capsys):
    """The check above can fail: the same recipe, broken in the ways recipes break, is refused."""
    broken = tmp_path / "fleurs-asr.yaml"
    shutil.copy(CONFIGS / "fleurs-asr.yaml", broken)
    text = broken.read_text()
    broken.write_text(breakage(text))
    assert broken.read_text() != text
    # argparse reports a wrong type on stderr and exits with code 2; the others raise.
    with pytest.raises((ValueError, yaml.YAMLError, SystemExit)) as caught:
        check_recipe(broken, tmp_path / "out")
    assert re.search(error, f"{caught.value} {capsys.readouterr().err}"), caught.value
