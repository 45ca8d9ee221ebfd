"""The seed README's command lines and config files parse into the expected arguments."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest

from xtreme_s.args import XtremeSTrainingArguments, parse_args, resolve_precision, translate_legacy_flags

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # transformers renames gradient_checkpointing

# The seed README's command lines, verbatim, in tests/data/seed_*.txt.
DATA = Path(__file__).parent / "data"
GENERIC, MLS, MINDS14 = ((DATA / f"seed_{name}.txt").read_text() for name in ("generic", "mls", "minds14"))


def shell_words(command: str, output_dir, task_name: str = "mls.all") -> list[str]:
    """What the shell would pass: continuation lines joined, ${TASK_NAME} expanded, quotes removed."""
    lines = [line for line in command.splitlines() if not line.startswith("#")]
    argv = shlex.split("\n".join(lines).replace("\\\n", " ").replace("${TASK_NAME}", task_name))
    argv = argv[argv.index("run_xtreme_s.py") + 1:]  # drop `export ...`, `python [-m launcher ...]`
    return [f"--output_dir={output_dir}" if a.startswith("--output_dir=") else a for a in argv]


def asked_fp16(t) -> bool:
    """The command line asked for --fp16 (kept, or turned into what this hardware runs, with a note)."""
    return t.fp16 or (t.precision_note or "").startswith("--fp16")


def test_generic_command_line(tmp_path):
    m, d, t, _ = parse_args(shell_words(GENERIC, tmp_path / "out"))
    assert m.model_name_or_path == "facebook/wav2vec2-xls-r-300m"
    assert m.freeze_feature_encoder is True
    assert d.dataset_name == "google/xtreme_s"
    assert d.dataset_config_name == "mls.all"
    assert d.eval_split_name == "validation"
    assert d.target_column_name == "transcription"
    assert t.output_dir == str(tmp_path / "out")
    assert t.num_train_epochs == 100
    assert t.per_device_train_batch_size == 32
    assert t.learning_rate == pytest.approx(3e-4)
    assert (t.save_steps, t.eval_steps) == (500, 500)
    assert t.gradient_checkpointing is True
    assert asked_fp16(t)
    assert t.train_sampling_strategy == "group_by_length"
    assert t.do_train and t.do_eval
    assert t.push_to_hub is True
    assert t.overwrite_output_dir is False


def test_mls_command_line(tmp_path):
    m, d, t, _ = parse_args(shell_words(MLS, tmp_path / "mls"))
    assert d.dataset_config_name == "mls.all"
    assert d.eval_split_name == "test"
    assert d.target_column_name == "transcription"
    assert d.max_duration_in_seconds == 20
    assert t.overwrite_output_dir is True
    assert t.eval_strategy == "steps"
    assert t.train_sampling_strategy == "group_by_length"
    assert t.learning_rate == pytest.approx(3e-4)
    assert (t.per_device_train_batch_size, t.per_device_eval_batch_size, t.gradient_accumulation_steps) == (4, 1, 2)
    assert t.warmup_steps == 3000
    assert t.num_train_epochs == 100
    assert t.logging_steps == 1
    assert m.layerdrop == 0.0
    assert m.mask_time_prob == pytest.approx(0.3)
    assert m.mask_time_length == 10
    assert m.mask_feature_prob == pytest.approx(0.1)
    assert m.mask_feature_length == 64
    assert m.freeze_feature_encoder is True
    assert t.metric_for_best_model == "wer"
    assert t.greater_is_better is False
    assert t.load_best_model_at_end is True
    assert asked_fp16(t) and t.push_to_hub is True


def test_minds14_command_line(tmp_path):
    m, d, t, _ = parse_args(shell_words(MINDS14, tmp_path / "minds"))
    assert d.dataset_config_name == "minds14.all"
    assert d.target_column_name == "intent_class"
    assert d.max_duration_in_seconds == 30
    assert t.overwrite_output_dir is True
    assert t.eval_strategy == "steps"
    assert t.train_sampling_strategy == "group_by_length"
    assert t.learning_rate == pytest.approx(3e-4)
    assert (t.per_device_train_batch_size, t.per_device_eval_batch_size) == (32, 8)
    assert (t.save_steps, t.eval_steps, t.warmup_steps, t.num_train_epochs) == (200, 200, 1500, 50)
    assert m.mask_time_prob == pytest.approx(0.3)
    assert t.metric_for_best_model == "f1"
    assert t.greater_is_better is True


def test_defaults_without_reference_flags(tmp_path):
    m, d, t, _ = parse_args(["--output_dir", str(tmp_path)])
    assert t.train_sampling_strategy != "group_by_length"
    assert t.overwrite_output_dir is False
    assert d.max_duration_in_seconds == 30.0
    assert d.text_normalization == "xtreme_s"
    assert m.freeze_feature_encoder is True


def test_yaml_config_with_cli_overrides(tmp_path):
    cfg = tmp_path / "mls.yaml"
    cfg.write_text(
        "dataset_config_name: mls.all\n"
        "learning_rate: 3.0e-4\n"
        "mask_time_prob: 0.3\n"
        "max_duration_in_seconds: 20\n"
        "do_train: true\n"
        "greater_is_better: false\n"
        "metric_for_best_model: wer\n"
        "evaluation_strategy: steps\n"  # legacy names work in config files too
        "group_by_length: true\n"
        "chars_to_ignore: [',', '?']\n"
        f"output_dir: {tmp_path / 'from_yaml'}\n",
        encoding="utf-8",
    )
    m, d, t, _ = parse_args([str(cfg), "--learning_rate", "1e-5", "--max_duration_in_seconds=15",
                          "--output_dir", str(tmp_path / "cli")])
    assert d.dataset_config_name == "mls.all"
    assert m.mask_time_prob == pytest.approx(0.3)
    assert t.do_train is True
    assert t.greater_is_better is False
    assert t.metric_for_best_model == "wer"
    assert t.eval_strategy == "steps"
    assert t.train_sampling_strategy == "group_by_length"
    assert d.chars_to_ignore == [",", "?"]
    # The command line wins.
    assert t.learning_rate == pytest.approx(1e-5)
    assert d.max_duration_in_seconds == 15
    assert t.output_dir == str(tmp_path / "cli")


def test_json_config_flag(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"dataset_config_name": "minds14.all", "learning_rate": 1e-4,
                               "target_column_name": "intent_class", "greater_is_better": True}), encoding="utf-8")
    m, d, t, _ = parse_args(["--output_dir", str(tmp_path), "--config", str(cfg), "--learning_rate", "2e-4"])
    assert d.dataset_config_name == "minds14.all"
    assert d.target_column_name == "intent_class"
    assert t.greater_is_better is True
    assert t.learning_rate == pytest.approx(2e-4)


def test_positional_yaml_then_config_flag(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("dataset_config_name: mls.all\nmask_time_prob: 0.3\n", encoding="utf-8")
    over = tmp_path / "over.json"
    over.write_text(json.dumps({"dataset_config_name": "voxpopuli.all"}), encoding="utf-8")
    m, d, t, _ = parse_args([str(base), "--config", str(over), "--output_dir", str(tmp_path)])
    assert d.dataset_config_name == "voxpopuli.all"  # --config file overrides the positional one
    assert m.mask_time_prob == pytest.approx(0.3)


def test_config_flag_with_equals(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"dataset_config_name": "minds14.all"}), encoding="utf-8")
    _, d, _, _ = parse_args([f"--config={cfg}", "--output_dir", str(tmp_path)])
    assert d.dataset_config_name == "minds14.all"


def test_config_file_must_be_a_mapping(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="mapping"):
        parse_args([str(cfg), "--output_dir", str(tmp_path)])


@pytest.mark.parametrize("flags", [["--local-rank", "0"], ["--local-rank=0"], ["--local_rank=0"]])
def test_local_rank_from_launcher_is_accepted(tmp_path, flags):
    _, _, t, _ = parse_args([*flags, "--output_dir", str(tmp_path)])
    assert t.local_rank == 0


@pytest.mark.parametrize("flags", [["--group_by_length", "False"], ["--group_by_length=false"],
                                   ["--group_by_length", "0"]])
def test_group_by_length_false_does_not_group(tmp_path, flags):
    _, _, t, _ = parse_args([*flags, "--do_train", "--output_dir", str(tmp_path)])
    assert t.train_sampling_strategy != "group_by_length"
    assert t.do_train is True  # the following flag was not swallowed


@pytest.mark.parametrize("flags", [["--group_by_length", "True"], ["--group_by_length=1"], ["--group_by_length"]])
def test_group_by_length_true_groups(tmp_path, flags):
    _, _, t, _ = parse_args([*flags, "--output_dir", str(tmp_path)])
    assert t.train_sampling_strategy == "group_by_length"


@pytest.mark.parametrize("flags", [["--group_by_length=yes"], ["--group_by_length", "yes"]])
def test_group_by_length_yes_groups(tmp_path, flags):
    _, _, t, _ = parse_args([*flags, "--output_dir", str(tmp_path)])
    assert t.train_sampling_strategy == "group_by_length"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--evaluation_strategy", "steps"], ["--eval_strategy", "steps"]),
        (["--evaluation_strategy=steps"], ["--eval_strategy=steps"]),
        (["--evaluation-strategy", "epoch"], ["--eval_strategy", "epoch"]),
        (["--no_cuda"], ["--use_cpu"]),
        (["--push_to_hub_token", "tok"], ["--hub_token", "tok"]),
        (["--group_by_length"], ["--train_sampling_strategy", "group_by_length"]),
        (["--group-by-length", "--do_train"], ["--train_sampling_strategy", "group_by_length", "--do_train"]),
        (["--group_by_length", "True", "--fp16"], ["--train_sampling_strategy", "group_by_length", "--fp16"]),
        (["--group_by_length", "false", "--fp16"], ["--fp16"]),
        (["--group_by_length=False"], []),
        (["--group_by_length=TRUE"], ["--train_sampling_strategy", "group_by_length"]),
        (["--learning_rate", "3e-4", "--do_eval"], ["--learning_rate", "3e-4", "--do_eval"]),
        ([], []),
    ],
)
def test_translate_legacy_flags(argv, expected):
    assert translate_legacy_flags(argv) == expected


def test_mini_keeps_an_output_dir_given_with_equals(tmp_path):
    from xtreme_s.args import parse_args

    _, data, training, _ = parse_args(["--mini", f"--output_dir={tmp_path}", "--dataset_config_name=mls.all"])
    assert training.output_dir == str(tmp_path) and data.mirror_root.endswith("mini_benchmark/hub")


@pytest.mark.parametrize(("flags", "cuda", "native", "expect"), [
    ({"fp16": True}, True, True, "bf16"),           # Ampere or newer: the recipes' fp16 becomes bf16
    ({"fp16": True}, True, False, "fp16"),          # V100: fp16 as asked
    ({"fp16": True, "prefer_bf16": False}, True, True, "fp16"),
    ({"bf16": True}, True, True, "bf16"),
    ({"fp16": True}, False, True, "bf16"),          # CPU with AVX512-BF16/AMX
    ({"fp16": True}, False, False, "fp32"),         # other CPUs: accelerate has no CPU fp16
    ({"fp16": True, "prefer_bf16": False}, False, True, "fp32"),
    ({"bf16": True}, False, True, "bf16"),
    ({"bf16": True}, False, False, "fp32"),         # emulated bf16 would be slower than float32
    ({}, False, True, "fp32"),                      # no precision asked, none imposed
])
def test_precision_follows_the_hardware(tmp_path, monkeypatch, flags, cuda, native, expect):
    monkeypatch.setattr("torch.cuda.is_available", lambda: cuda)
    monkeypatch.setattr("xtreme_s.args.native_bf16", lambda: native)
    args = SimpleNamespace(**{"fp16": False, "bf16": False, "prefer_bf16": True, "use_cpu": False, **flags})
    note = resolve_precision(args)
    assert ("bf16" if args.bf16 else "fp16" if args.fp16 else "fp32") == expect
    asked = "fp16" if flags.get("fp16") else "bf16" if flags.get("bf16") else "fp32"
    assert (note is None) == (expect == asked)  # every change is said
    assert args.use_cpu == (expect == "bf16" and not cuda)
    if not cuda:  # the Trainer's own arguments accept the outcome and tell accelerate
        monkeypatch.undo()
        monkeypatch.setattr("xtreme_s.args.native_bf16", lambda: native)
        t = XtremeSTrainingArguments(output_dir=str(tmp_path), **flags)
        assert t.mixed_precision == {"fp32": "no"}.get(expect, expect) and t.precision_note == note


def test_help_runs_through_the_real_entry_point_and_groups_flags_by_family():
    """`--help` (the first command a newcomer runs) works, with one group per family that has flags of its own."""
    import subprocess
    import sys

    from xtreme_s.families import family_arguments

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "run_xtreme_s.py"), "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert set(family_arguments()) == {"ctc", "seq2seq", "retrieval"}
    for family, dataclass_type in family_arguments().items():
        assert f"\n{dataclass_type._argument_group_name}:\n" in result.stdout, family
    group = result.stdout.split(f"\n{family_arguments()['retrieval']._argument_group_name}:\n", 1)[1]
    assert "--retrieval_layer" in group and "--decoder_name_or_path" not in group
    assert '“ % ‘' in result.stdout  # the literal percent sign of --chars_to_ignore's default
