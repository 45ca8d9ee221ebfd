"""results.json has one published shape: a real run's file validates against docs/results.schema.json, the schema
rejects a file that lacks what readers rely on, and `load_results` (what `score` and later tools read through)
reads any version it knows and refuses one it does not."""

from __future__ import annotations

import json

import jsonschema  # the test extra: pip install -e '.[test]'
import pytest
from conftest import ROOT, run_cli

from xtreme_s.reports.score import collect
from xtreme_s.results import SCHEMA_VERSION, ResultsFileError, load_results

SCHEMA = json.loads((ROOT / "docs" / "results.schema.json").read_text())


@pytest.fixture(scope="module")
def run(tmp_path_factory, hf_cache):
    """One short real run that trains, evaluates and predicts (CTC: notes, skipped, train metrics, two splits)."""
    out = tmp_path_factory.mktemp("schema-run")
    run_cli(["--mini", "--dataset_config_name", "mls.pl", "--do_train", "--do_eval", "--do_predict", "--max_steps",
             "1", "--max_train_samples", "4", "--max_eval_samples", "4", "--max_predict_samples", "4",
             "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "4", "--eval_strategy", "no",
             "--save_strategy", "no"], out, hf_cache)
    return out


def test_a_real_run_matches_the_published_schema(run):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    file, results = load_results(run)
    assert file == run / "results.json" and results["schema_version"] == SCHEMA_VERSION
    jsonschema.validate(results, SCHEMA)
    assert "train" in results and set(results["splits"]) == {"validation", "test"}
    # What the score reads is there: a run of a subset config is refused for the reason, not for its shape.
    report = collect([run])
    assert any("not the full mls.all" in p for p in report.problems), report.problems


@pytest.mark.parametrize("damage", [
    lambda r: r.pop("splits"),
    lambda r: r["splits"]["test"].pop("macro"),
    lambda r: r["splits"]["test"]["per_language"]["pl"].update(num_examples="4"),
    lambda r: r.update(schema_version=1),
], ids=["no-splits", "no-macro", "count-as-text", "version-as-number"])
def test_the_schema_rejects_what_readers_could_not_use(damage, run):
    results = json.loads((run / "results.json").read_text())
    damage(results)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(results, SCHEMA)


def test_load_results_reads_known_versions_and_refuses_others(run, tmp_path):
    results = json.loads((run / "results.json").read_text())
    old = dict(results)
    old.pop("schema_version")  # written before versioning: version 1's shape
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert load_results(tmp_path / "old.json")[1]["task"] == "mls"
    (tmp_path / "new.json").write_text(json.dumps({**results, "schema_version": "99"}))
    with pytest.raises(ResultsFileError, match="schema_version 99 is newer"):
        load_results(tmp_path / "new.json")
    with pytest.raises(ResultsFileError, match="no results.json"):
        load_results(tmp_path / "missing")
