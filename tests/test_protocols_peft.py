"""LoRA and MMS adapters through the real entry point: exactly the intended parameters train, the output directory
evaluates to the same predictions without a protocol flag, results.json records the protocol, a LoRA run resumes,
and a misuse is one line.

Each training run is a few steps of the tiny model on the mini benchmark with a high learning rate, so every
trained tensor moves. The model a protocol builds is observed in the run itself (a wrapper around its `build`), so
"before" is the model the Trainer received and "after" the one it trained.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from conftest import MINI, ROOT, TINY_MODEL, run_cli, run_user_cli
from safetensors.torch import load_file
from transformers import AutoModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

from xtreme_s import encoders
from xtreme_s.protocols import lora, mms_adapters
from xtreme_s.protocols.lora import LoraProtocol, target_modules
from xtreme_s.protocols.mms_adapters import AdaptersProtocol

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

sys.path.insert(0, str(ROOT / "scripts"))
from make_tiny_encoders import ARCHITECTURES, CONV, SMALL  # noqa: E402

TINY_DECODER = MINI / "models" / "tiny-decoder"
STEPS = ["--max_steps", "6", "--lr_scheduler_type", "constant", "--logging_steps", "1", "--seed", "0"]
QUICK = ["--mini", "--do_train", "--do_eval", "--max_eval_samples", "4", "--per_device_train_batch_size", "4",
         "--per_device_eval_batch_size", "4", "--eval_strategy", "no", "--learning_rate", "1e-2", *STEPS]
TASKS = {"ctc": ["--dataset_config_name", "mls.pl"],
         "classification": ["--dataset_config_name", "minds14.all"],
         "seq2seq": ["--dataset_config_name", "covost2.fr.en", "--generation_max_length", "6",
                     "--num_adapter_layers", "1"]}  # not the default: the evaluation must rebuild the saved shape
RUNS = {  # name -> (protocol class, flags)
    "lora-ctc": (LoraProtocol, ["--protocol", "lora", *TASKS["ctc"]]),
    "lora-classification": (LoraProtocol, ["--protocol", "lora", *TASKS["classification"]]),
    "lora-seq2seq": (LoraProtocol, ["--protocol", "lora", *TASKS["seq2seq"]]),
    "lora-merged-ctc": (LoraProtocol, ["--protocol", "lora", "--lora_merge", "True", *TASKS["ctc"]]),
    "adapters-ctc": (AdaptersProtocol, ["--protocol", "adapters", *TASKS["ctc"]]),
    "adapters-classification": (AdaptersProtocol, ["--protocol", "adapters", *TASKS["classification"]]),
}


class Run(NamedTuple):
    out: Path
    results: dict
    model: torch.nn.Module  # the trained model object (merged in place for --lora_merge)
    before: dict[str, torch.Tensor]  # its state when the Trainer received it


def train(name: str, out: Path, cache: Path, *extra: str) -> Run:
    cls, flags = RUNS[name]
    seen: list = []
    original = cls.build

    def build(self, family):
        model = original(self, family)
        seen.append((model, {k: v.detach().clone() for k, v in model.state_dict().items()}))
        return model

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cls, "build", build)
        results = run_cli([*flags, *QUICK, "--save_strategy", "no", *extra], out, cache)
    [(model, before)] = seen
    return Run(out, results, model, before)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, hf_cache):
    """Each training run once per module, on first use."""
    done: dict[str, Run] = {}

    def get(name: str) -> Run:
        if name not in done:
            done[name] = train(name, tmp_path_factory.mktemp(name) / "run", hf_cache)
        return done[name]

    return get


def pretrained_encoder() -> dict[str, torch.Tensor]:
    """The tiny XLS-R's encoder weights as published (the `wav2vec2` part of the checkpoint)."""
    return {k: v for k, v in AutoModel.from_pretrained(TINY_MODEL).state_dict().items()}


def plain(key: str) -> str:
    """A peft state-dict key as the plain model names it (no wrapper prefix, no `base_layer`)."""
    return key.removeprefix("base_model.model.").replace(".base_layer.", ".")


ENCODER_PREFIX = {"ctc": "wav2vec2.", "classification": "wav2vec2.", "seq2seq": "encoder."}


def assert_pretrained_untouched(state: dict[str, torch.Tensor], prefix: str) -> None:
    """Every pretrained encoder weight is in the trained model, bit-identical."""
    by_plain = {plain(k): v for k, v in state.items()}
    pretrained = pretrained_encoder()
    assert len(pretrained) > 20
    for key, value in pretrained.items():
        assert torch.equal(by_plain[prefix + key], value), key


def changed(run: Run) -> set[str]:
    after = run.model.state_dict()
    assert set(after) == set(run.before)
    return {k for k, v in after.items() if not torch.equal(v, run.before[k])}


# -- exactly the intended parameters change -------------------------------------------------------------------
@pytest.mark.parametrize("family", ["ctc", "classification", "seq2seq"])
def test_lora_trains_only_its_matrices_and_the_head(family, runs):
    run = runs(f"lora-{family}")
    state = run.model.state_dict()
    assert_pretrained_untouched(state, ENCODER_PREFIX[family])
    # LoRA sits on the attention query/value projections only: every encoder layer's, plus the decoder's
    # self-attention for translation (its cross-attention is new, so trained in full instead).
    lora_modules = {plain(k).rsplit(".lora_", 1)[0] for k in state if ".lora_" in k}
    layers = range(2)
    qv = ("q_proj", "v_proj")
    expected = {f"{ENCODER_PREFIX[family]}encoder.layers.{i}.attention.{p}" for i in layers for p in qv}
    if family == "seq2seq":
        expected |= {f"decoder.model.decoder.layers.{i}.self_attn.{p}" for i in layers for p in qv}
    assert lora_modules == expected
    # What moved: exactly the trainable tensors (LoRA A and B, the trained copy of each head module), all of them.
    trainable = {k for k, p in run.model.named_parameters() if p.requires_grad}
    assert changed(run) == trainable
    assert all(".lora_" in k or ".modules_to_save." in k for k in trainable), trainable
    heads = {"ctc": {"lm_head"}, "classification": {"projector", "classifier"},
             "seq2seq": {"adapter", "encoder_attn", "encoder_attn_layer_norm"}}[family]
    assert {k.split(".modules_to_save.")[0].rsplit(".", 1)[-1] for k in trainable if ".modules_to_save." in k} == heads
    assert all(not torch.any(run.before[k]) for k in trainable if ".lora_B." in k)  # B starts at zero ...
    # ... and the decoder's pretrained weights stayed too (translation)
    if family == "seq2seq":
        by_plain = {plain(k): v for k, v in state.items()}
        decoder = {k: v for k, v in load_file(TINY_DECODER / "model.safetensors").items() if "decoder." + k in by_plain}
        assert len(decoder) > 20 and all(torch.equal(by_plain["decoder." + k], v) for k, v in decoder.items())
    # The output directory holds exactly LoRA and the head, as trained.
    saved = load_file(run.out / "adapter_model.safetensors")
    trained = {plain(k).replace(".modules_to_save.default.", ".").replace(".default.", "."): v
               for k, v in state.items() if k in trainable}
    assert {plain(k) for k in saved} == set(trained)
    assert all(torch.equal(v, trained[plain(k)]) for k, v in saved.items())


def test_lora_merge_saves_the_merged_weights(runs):
    run = runs("lora-merged-ctc")
    out = run.out
    merged = load_file(out / "model.safetensors")
    adapter = load_file(out / lora.ADAPTER_DIR / "adapter_model.safetensors")
    config = json.loads((out / lora.ADAPTER_DIR / "adapter_config.json").read_text())
    scale = config["lora_alpha"] / config["r"]
    pretrained = pretrained_encoder()
    for key, value in pretrained.items():
        module = "wav2vec2." + key.removesuffix(".weight")
        a = adapter.get(f"base_model.model.{module}.lora_A.weight")
        if a is None:  # not adapted: bit-identical
            assert torch.equal(merged["wav2vec2." + key], value), key
        else:  # W + alpha/r * B A
            b = adapter[f"base_model.model.{module}.lora_B.weight"]
            assert torch.any(b != 0)
            torch.testing.assert_close(merged["wav2vec2." + key], value + scale * b @ a)
    assert sum(".lora_A." in k for k in adapter) == 4
    assert torch.equal(merged["lm_head.weight"], adapter["base_model.model.lm_head.weight"])
    assert not any("lora" in k or "modules_to_save" in k for k in merged)  # a plain checkpoint
    assert json.loads((out / lora.MARKER_FILE).read_text())["merged"] is True


@pytest.mark.parametrize("family", ["ctc", "classification"])
def test_adapters_train_only_adapter_layers_and_the_head(family, runs):
    run = runs(f"adapters-{family}")
    state = run.model.state_dict()
    assert_pretrained_untouched(state, "wav2vec2.")
    adapter_layers = {n for n, m in run.model.named_modules() if type(m).__name__.endswith("AttnAdapterLayer")}
    assert len(adapter_layers) == 2  # one per transformer block
    heads = {"ctc": ("lm_head",), "classification": ("projector", "classifier")}[family]
    intended = {k for k in state if k.rsplit(".", 2)[0] in adapter_layers or k.split(".")[0] in heads}
    assert changed(run) == intended
    assert {k for k, p in run.model.named_parameters() if p.requires_grad} == intended
    # The MMS file: the trained adapter layers and head under the model's own names.
    lang = {"ctc": "pl", "classification": "all"}[family]
    saved = load_file(run.out / f"adapter.{lang}.safetensors")
    assert set(saved) == intended and all(torch.equal(saved[k], state[k]) for k in saved)


def test_mms_adapter_file_loads_with_load_adapter(runs):
    run = runs("adapters-ctc")
    model = Wav2Vec2ForCTC.from_pretrained(run.out)
    trained = run.model.state_dict()
    with torch.no_grad():  # forget the trained adapters and head ...
        for name, p in model.named_parameters():
            if "adapter_layer" in name or name.startswith("lm_head"):
                p.zero_()
    model.load_adapter("pl")  # ... and get them back from adapter.pl.safetensors, as the MMS recipe does
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in trained.items()), "load_adapter did not restore the training"


def test_adapters_start_fresh_on_an_mms_checkpoint(tiny_encoders, tmp_path, hf_cache):
    """Training adapters from a checkpoint that has some (MMS) starts them afresh, at the checkpoint's size."""
    mms = tiny_encoders["mms"]
    checkpoint = load_file(mms / "model.safetensors")
    seen = []
    original = AdaptersProtocol.build

    def build(self, family):
        model = original(self, family)
        seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return model

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AdaptersProtocol, "build", build)
        results = run_cli(["--mini", *TASKS["ctc"], "--model_name_or_path", str(mms), "--protocol", "adapters",
                           "--do_train", "--max_steps", "1", "--per_device_train_batch_size", "2",
                           "--save_strategy", "no"], tmp_path / "run", hf_cache)
    [start] = seen
    assert results["protocol"]["adapter_attn_dim"] == 8  # the checkpoint's, not the default 16
    adapter = {k for k in checkpoint if ".adapter_layer.linear" in k and k.endswith(".weight")}
    assert len(adapter) == 4 and all(not torch.equal(start["wav2vec2." + k], checkpoint[k]) for k in adapter)
    assert all(torch.equal(start["wav2vec2." + k], v) for k, v in checkpoint.items() if "adapter_layer" not in k)


# -- the output directory evaluates to the same predictions -----------------------------------------------------
@pytest.mark.parametrize("name", ["lora-ctc", "lora-classification", "lora-seq2seq", "lora-merged-ctc",
                                  "adapters-ctc", "adapters-classification"])
def test_evaluation_only_reproduces_the_training_run(name, runs, tmp_path, hf_cache):
    run = runs(name)
    task = TASKS[name.rsplit("-", 1)[-1]]
    task = [a for a in task if a not in ("--num_adapter_layers", "1")]  # the saved shape, not a flag, decides
    again = run_cli(["--mini", *task, "--model_name_or_path", str(run.out), "--do_eval", "--max_eval_samples", "4",
                     "--per_device_eval_batch_size", "4"], tmp_path / "eval", hf_cache)
    assert "train" not in again
    predictions = "eval_predictions.jsonl"
    assert (tmp_path / "eval" / predictions).read_text() == (run.out / predictions).read_text()
    # the loss depends on every weight, so a LoRA matrix or head left out would show even where the tiny model
    # predicts the same (e.g. empty) text
    assert again["splits"]["validation"]["loss"] == run.results["splits"]["validation"]["loss"]
    protocol, trained = again["protocol"], run.results["protocol"]
    assert protocol["name"] == trained["name"] == name.split("-")[0]
    for key in ("r", "target_suffixes", "trained_in_full", "merged", "adapter_attn_dim", "language"):
        assert protocol.get(key) == trained.get(key), key
    if trained["name"] == "lora":
        assert protocol["base_model"]["base_model"] == str(TINY_MODEL)


@pytest.mark.parametrize("name", list(RUNS))
def test_results_record_the_protocol(name, runs):
    protocol = runs(name).results["protocol"]
    assert 0 < protocol["trainable_parameters"] < protocol["total_parameters"]
    assert protocol["trainable_fraction"] == pytest.approx(protocol["trainable_parameters"]
                                                           / protocol["total_parameters"])
    if protocol["name"] == "lora":
        assert protocol["r"] == 8 and protocol["alpha"] == 16 and protocol["target_suffixes"] == ["q_proj", "v_proj"]
        assert protocol["merged"] is ("merged" in name)
        # peft keeps a frozen copy of the head beside the trained one: counted in the total, and said so
        assert 0 < protocol["head_copy_parameters"] < protocol["trainable_parameters"]
    else:
        assert protocol["name"] == "adapters" and protocol["adapter_attn_dim"] == mms_adapters.DEFAULT_ATTN_DIM
        assert protocol["adapter_layers"] == 2 and protocol["file"] == f"adapter.{protocol['language']}.safetensors"


# -- resume ------------------------------------------------------------------------------------------------------
def test_lora_run_resumes_from_its_checkpoint(runs, tmp_path, hf_cache, caplog):
    """A LoRA run stopped after its step-4 checkpoint resumes there and ends where the straight run ends."""
    straight = runs("lora-ctc")  # 6 steps at a constant learning rate
    out = tmp_path / "run"
    flags = [*RUNS["lora-ctc"][1], *QUICK, "--save_strategy", "steps", "--save_steps", "2"]
    run_cli([*flags, "--max_steps", "4"], out, hf_cache)
    (out / "results.json").unlink()  # as if killed after the checkpoint: the same command resumes
    caplog.clear()
    run_cli(flags, out, hf_cache)
    assert any("Resuming from" in r.getMessage() and "checkpoint-4" in r.getMessage() for r in caplog.records)
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 6
    mine, theirs = load_file(out / "adapter_model.safetensors"), load_file(straight.out / "adapter_model.safetensors")
    assert set(mine) == set(theirs) and all(torch.equal(mine[k], theirs[k]) for k in mine)


def test_lora_directory_trains_further_into_a_lora_directory(runs, tmp_path, hf_cache):
    """Training from a LoRA output directory continues its adapters (same base model, same LoRA layout)."""
    source = runs("lora-ctc").out
    out = tmp_path / "further"
    results = run_cli(["--mini", *TASKS["ctc"], "--model_name_or_path", str(source), "--do_train", "--max_steps", "2",
                       "--per_device_train_batch_size", "4", "--learning_rate", "1e-2", "--save_strategy", "no"],
                      out, hf_cache)
    assert results["protocol"]["name"] == "lora" and results["protocol"]["trainable_parameters"] > 0
    record = json.loads((out / lora.MARKER_FILE).read_text())
    assert record["base_model"] == str(TINY_MODEL) and record["merged"] is False
    before, after = load_file(source / "adapter_model.safetensors"), load_file(out / "adapter_model.safetensors")
    assert set(before) == set(after) and all(not torch.equal(before[k], after[k]) for k in before)
    assert json.loads((out / "config.json").read_text())["architectures"] == ["Wav2Vec2ForCTC"]


def test_lora_on_a_speech_translation_checkpoint(tmp_path, hf_cache):
    """A merged translation run is a plain speech encoder-decoder checkpoint; LoRA on it records it (no separate
    decoder) as the base, and that directory evaluates to the same translations."""
    short = [*QUICK, "--max_steps", "2", "--save_strategy", "no"]
    merged, further = tmp_path / "merged", tmp_path / "further"
    run_cli([*RUNS["lora-seq2seq"][1], "--lora_merge", "True", *short], merged, hf_cache)
    assert json.loads((merged / "config.json").read_text())["model_type"] == "speech-encoder-decoder"
    task = TASKS["seq2seq"][:4]  # config and generation length; the adapter comes with the checkpoint
    trained = run_cli([*task, "--model_name_or_path", str(merged), "--protocol", "lora", *short], further, hf_cache)
    record = json.loads((further / lora.MARKER_FILE).read_text())
    assert record["base_model"] == str(merged) and record["decoder"] is None and record["merged"] is False
    again = run_cli(["--mini", *task, "--model_name_or_path", str(further), "--do_eval", "--max_eval_samples", "4",
                     "--per_device_eval_batch_size", "4"], tmp_path / "eval", hf_cache)
    assert again["protocol"]["name"] == "lora"
    assert again["splits"]["validation"]["loss"] == trained["splits"]["validation"]["loss"]
    predictions = "eval_predictions.jsonl"
    assert (tmp_path / "eval" / predictions).read_text() == (further / predictions).read_text()


# -- target modules ----------------------------------------------------------------------------------------------
EXPECTED_TARGETS = {"wav2vec2-bert": {"linear_q", "linear_v"}, "sew-d": {"query_proj", "value_proj"}}


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_default_lora_targets_are_each_architectures_query_and_value(arch):
    config = ARCHITECTURES[arch][0]()
    encoder = encoders.encoder_of(AutoModel.from_config(config))
    targets = target_modules(encoder, (), None)
    assert {t.rsplit(".", 1)[-1] for t in targets} == EXPECTED_TARGETS.get(arch, {"q_proj", "v_proj"})
    assert len(targets) == 2 * 2  # query and value of each of the 2 layers
    assert all(isinstance(encoder.get_submodule(t), torch.nn.Linear) for t in targets)
    # the start-up check sees the same layers without building the weights
    assert target_modules(lora._skeleton(config), (), None) == targets


# -- user mistakes -----------------------------------------------------------------------------------------------
def error_line(code: int, err: str) -> str:
    ours = [line for line in err.splitlines() if line.startswith("xtreme-s:")]
    assert code == 2 and "Traceback" not in err, err[-3000:]
    assert len(ours) == 1 and ours[0].startswith("xtreme-s: error: "), err[-3000:]
    return ours[0]


@pytest.mark.parametrize("arch", ["hubert", "whisper", "post-LN wav2vec2"])
def test_adapters_refused_for_encoders_without_them(arch, tiny_encoders, tmp_path, capsys):
    if arch == "post-LN wav2vec2":  # wav2vec2-base's block layout: transformers gives it no adapter layers
        model = tmp_path / "w2v"
        AutoModel.from_config(Wav2Vec2Config(**SMALL, **CONV, do_stable_layer_norm=False)).save_pretrained(model)
        Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(model)
    else:
        model = tiny_encoders[arch]
    line = error_line(*run_user_cli(["--mini", "--dataset_config_name", "minds14.fr-FR", "--model_name_or_path",
                                     str(model), "--protocol", "adapters", "--do_train"], capsys, tmp_path / "out"))
    assert "--protocol adapters" in line and "--protocol lora" in line and "wav2vec2" in line


MLS = ["--dataset_config_name", "mls.pl", "--do_train", "--do_eval"]


@pytest.mark.parametrize("argv, expected", [
    ([*MLS, "--lora_r", "4"], "--lora_r belong(s) to --protocol lora"),
    ([*MLS, "--protocol", "lora", "--lora_target_modules", "nonexistent"],
     "--lora_target_modules nonexistent: no linear layer"),
    (["--task", "fleurs-retrieval", "--language", "all", "--do_eval", "--protocol", "lora"],
     "--protocol lora is not available for the retrieval family"),
    ([*MLS, "--protocol", "lorra"], "--protocol 'lorra': choose one of"),
    ([*MLS, "--protocol", "adapters", "--lora_merge", "True"], "--lora_merge belong(s) to --protocol lora"),
])
def test_protocol_mistakes_are_one_line(argv, expected, tmp_path, capsys):
    out = tmp_path / "out"
    line = error_line(*run_user_cli(["--mini", *argv], capsys, out))
    assert expected in line, line
    assert not (out / "preprocessor_config.json").exists()  # refused before any data was prepared



@pytest.mark.parametrize("damage, expected", [
    (lambda d: (d / "adapter_model.safetensors").unlink(), "without its adapter_model.safetensors"),
    (lambda d: (d / lora.MARKER_FILE).write_text("{broken"), "xtreme_s_lora.json is unreadable or not JSON"),
    (lambda d: (d / lora.MARKER_FILE).write_text(json.dumps({**json.loads((d / lora.MARKER_FILE).read_text()),
                                                             "base_model": "/gone/model"})), "base_model /gone/model"),
], ids=["no-adapter", "marker-not-json", "base-gone"])
def test_a_damaged_lora_directory_is_one_line_at_start_up(damage, expected, runs, tmp_path, capsys):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(runs("lora-classification").out, damaged, ignore=shutil.ignore_patterns("*.lock"))
    damage(damaged)
    out = tmp_path / "out"
    line = error_line(*run_user_cli(["--mini", *TASKS["classification"], "--model_name_or_path", str(damaged),
                                     "--do_eval"], capsys, out))
    assert expected in line, line
    assert not (out / "eval_predictions.jsonl").exists()
