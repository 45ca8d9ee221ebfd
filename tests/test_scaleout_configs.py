"""Large-checkpoint recipes: FSDP and DeepSpeed configs parse into the Trainer's arguments as intended.

FSDP and DeepSpeed themselves need GPUs (and DeepSpeed its package); what can be checked on CPU is checked here:
the files are valid, every key reaches TrainingArguments, and a run says when sharding is not in effect.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from conftest import ROOT, TINY_MODEL

from xtreme_s.args import parse_args
from xtreme_s.distributed import check_sharding

CONFIGS = ROOT / "task_configs"


def test_2b_recipe_shards_checkpoints_activations_and_lowers_the_learning_rate():
    model, data, train, _ = parse_args([str(CONFIGS / "mls-xls-r-2b.yaml"), "--output_dir", "/tmp/unused"])
    assert model.model_name_or_path == "facebook/wav2vec2-xls-r-2b" and data.dataset_config_name == "mls.all"
    assert train.fsdp is True
    plugin = train.fsdp_plugin_args
    assert plugin["activation_checkpointing"] is True and plugin["fsdp_version"] == 2
    assert plugin["auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert "Wav2Vec2EncoderLayerStableLayerNorm" in plugin["transformer_cls_names_to_wrap"]  # XLS-R's layer class
    assert not train.gradient_checkpointing  # FSDP's own checkpointing instead (no redundant all-gather)
    assert 3e-6 <= train.learning_rate <= 3e-5  # seed_xls_r_readme: 2B uses [3e-6, 3e-5]
    assert train.ddp_timeout == 7200 and train.ddp_timeout_delta.total_seconds() == 7200
    assert train.fp16 or train.precision_note.startswith("--fp16")  # as asked, or what this hardware runs


def test_2b_recipe_runs_on_the_mini_benchmark_parse():
    model, _, train, _ = parse_args([str(CONFIGS / "mls-xls-r-2b.yaml"), "--mini", "--output_dir", "/tmp/unused"])
    assert model.model_name_or_path == str(TINY_MODEL) and train.fsdp is True


@pytest.mark.parametrize("name,stage", [("ds_zero2.json", 2), ("ds_zero3.json", 3)])
def test_deepspeed_configs_leave_shared_values_to_the_trainer(name, stage):
    config = json.loads((CONFIGS / name).read_text())
    assert config["zero_optimization"]["stage"] == stage
    # "auto": the Trainer fills these from its own flags, so the recipe's batch size and learning rate stay the truth.
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping",
                "train_batch_size"):
        assert config[key] == "auto", key
    assert config["optimizer"]["params"]["lr"] == "auto" and config["bf16"]["enabled"] == "auto"
    try:
        import deepspeed  # noqa: F401
    except ImportError:
        with pytest.raises(Exception, match="deepspeed"):  # a clear message, not a crash later
            parse_args(["--mini", "--dataset_config_name", "mls.pl", "--deepspeed", str(CONFIGS / name),
                        "--output_dir", "/tmp/unused"])
    else:
        _, _, train, _ = parse_args(["--mini", "--dataset_config_name", "mls.pl", "--deepspeed", str(CONFIGS / name),
                                  "--output_dir", "/tmp/unused"])
        assert train.hf_deepspeed_config.config["zero_optimization"]["stage"] == stage


def test_sharding_that_is_not_in_effect_is_reported(caplog):
    fake = SimpleNamespace(accelerator=SimpleNamespace(distributed_type=SimpleNamespace(value="MULTI_CPU")),
                           args=SimpleNamespace(world_size=2, fsdp=True, deepspeed=None))
    assert check_sharding(fake) == "MULTI_CPU"
    assert "NOT sharded" in caplog.text
    caplog.clear()
    fake.accelerator.distributed_type.value = "FSDP"
    check_sharding(fake)
    assert "NOT sharded" not in caplog.text
