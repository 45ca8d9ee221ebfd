"""An output directory knows what made it, and nothing of an old run is read as a new one's: through the real command
line, a LoRA run records its base model absolutely, a resume with other protocol settings is refused in one line,
`--overwrite_output_dir` starts from a clean folder, and files other commands read are written whole or not at all."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import TINY_MODEL, run_user_cli
from test_user_errors import error_line

LORA = ["--mini", "--dataset_config_name", "mls.pl", "--do_train", "--protocol", "lora", "--max_steps", "1",
        "--per_device_train_batch_size", "4", "--save_steps", "1", "--seed", "0"]


def test_lora_run_records_its_base_absolutely_and_refuses_a_resume_with_other_settings(tmp_path, capsys, hf_cache,
                                                                                     monkeypatch, caplog):
    """The base model given as a relative path is recorded absolute (evaluated from another folder, it is the same
    model), with its config checksum in results.json; a resume of the killed run with another LoRA rank is one
    line naming the difference (it crashed loading the checkpoint); --overwrite_output_dir moves the old run aside
    in one line and starts clean (a kill mid-way can no longer leave the old results or checkpoints beside it)."""
    shutil.copytree(TINY_MODEL, tmp_path / "model")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    code, err = run_user_cli([*LORA, "--model_name_or_path", "model", "--lora_r", "4"], capsys, out, hf_cache)
    assert code == 0, err[-3000:]
    marker = json.loads((out / "xtreme_s_lora.json").read_text())
    assert marker["base_model"] == str(tmp_path / "model")
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tmp_path / "model")
    source = json.loads((out / "results.json").read_text())["model_source"]
    assert source["path"] == str(tmp_path / "model") and len(source["config_sha256"]) == 64
    assert json.loads((out / "xtreme_s_run.json").read_text())["protocol_settings"]["lora_r"] == 4

    (out / "results.json").unlink()  # as if killed after checkpoint-1
    line = error_line(*run_user_cli([*LORA, "--model_name_or_path", "model", "--lora_r", "8"], capsys, out,
                                    hf_cache))
    assert "holds another run" in line and "protocol_settings.lora_r: 4 there, 8 here" in line, line

    caplog.clear()
    code, err = run_user_cli([*LORA, "--model_name_or_path", "model", "--lora_r", "8", "--overwrite_output_dir",
                              "--preprocessing_only"], capsys, out, hf_cache)
    assert code == 0, err[-3000:]
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("out.replaced-")]
    assert len(aside) == 1 and (aside[0] / "checkpoint-1").is_dir() and (aside[0] / "xtreme_s_lora.json").exists()
    assert not (out / "checkpoint-1").exists() and not (out / "xtreme_s_lora.json").exists()
    assert json.loads((out / "xtreme_s_run.json").read_text())["protocol_settings"]["lora_r"] == 8
    assert f"were moved to {aside[0]}" in caplog.text


def test_a_write_that_fails_half_way_leaves_the_old_file_whole(tmp_path):
    """results.json and the other files commands read: a write cut short (killed, disk full) leaves the previous
    content, never half a file, and no temporary file behind."""
    from xtreme_s import atomic
    from xtreme_s.results import Results, SplitResult

    results = Results("mls", "mls.pl", "ctc", "m", ["pl"], [], None, "wer", False)
    results.splits["test"] = SplitResult(3, None, {"macro": {"wer": 0.25}})
    path = results.write(tmp_path)
    before = path.read_text()

    class Killed(Exception):
        pass

    with pytest.raises(Killed), atomic.atomic_open(path) as f:
        f.write('{"task": "mls", "spl')
        raise Killed
    assert path.read_text() == before and json.loads(before)["splits"]["test"]["macro"]["wer"] == 0.25
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
