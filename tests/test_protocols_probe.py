"""The frozen-encoder probe (--protocol probe): only the layer weights and the downstream model train, the encoder
leaves the run bit-identical and runs without dropout or SpecAugment, the output directory evaluates on its own to
the same predictions, retrieval pools a probe's learned sum, every encoder architecture works, and a probe learns.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, TINY_MODEL, run_cli, run_user_cli
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

from xtreme_s import encoders
from xtreme_s.families import probe_heads as probe
from xtreme_s.layer_sum import layer_sum_of

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

sys.path.insert(0, str(ROOT / "scripts"))
from make_tiny_encoders import ARCHITECTURES  # noqa: E402

TRAIN = ["--protocol", "probe", "--do_train", "--do_eval", "--max_steps", "6", "--learning_rate", "1e-2",
         "--per_device_train_batch_size", "4", "--per_device_eval_batch_size", "4", "--max_train_samples", "8",
         "--max_eval_samples", "6", "--eval_strategy", "no", "--save_strategy", "no", "--seed", "0"]
PADDING_FREE = {"wav2vec2", "mms", "wav2vec2-bert", "whisper"}  # layer-norm front ends with a mask, or fixed window
TASKS = {"ctc": ["--dataset_config_name", "mls.pl"], "classification": ["--dataset_config_name", "minds14.fr-FR"],
         "seq2seq": ["--dataset_config_name", "covost2.fr.en", "--generation_max_length", "8"]}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, hf_cache):
    """One short probe run per family: family -> (output dir, results.json)."""
    runs = {}
    for family, task in TASKS.items():
        out = tmp_path_factory.mktemp(f"probe-{family}")
        runs[family] = out, run_cli(["--mini", *task, *TRAIN], out, hf_cache)
    return runs


def _pretrained_encoder_state() -> dict[str, torch.Tensor]:
    return encoders.encoder_of(AutoModel.from_pretrained(TINY_MODEL)).state_dict()


@pytest.mark.parametrize("family", list(TASKS))
def test_only_the_layer_weights_and_the_downstream_model_change(family, trained):
    out, results = trained[family]
    saved = load_file(out / "model.safetensors")
    before = _pretrained_encoder_state()
    # CTC / classification: encoder.*; speech translation: the speech encoder-decoder's encoder.* minus its adapter,
    # which trains with the decoder (the tiny XLS-R has none unless --add_adapter, which the recipe sets).
    encoder = {k.removeprefix("encoder."): v for k, v in saved.items()
               if k.startswith("encoder.") and "xtreme_s_layer_sum" not in k and not k.startswith("encoder.adapter.")}
    assert set(encoder) == set(before)
    changed = [k for k in before if not torch.equal(before[k], encoder[k])]
    assert not changed, f"frozen encoder weights changed: {changed[:5]}"
    # The layer weights moved away from equal, and they and the head are all that was trainable.
    (key,) = [k for k in saved if k.endswith("layer_sum.weights")]
    weights = saved[key]
    assert not torch.equal(weights, torch.zeros_like(weights))
    head = {k: v for k, v in saved.items() if k.removeprefix("encoder.") not in encoder}
    protocol = results["protocol"]
    assert protocol["name"] == "probe"
    assert protocol["trainable_parameters"] == sum(v.numel() for v in head.values())
    assert protocol["total_parameters"] == sum(v.numel() for v in saved.values())
    layers = AutoConfig.from_pretrained(TINY_MODEL).num_hidden_layers + 1
    assert len(protocol["layer_weights"]) == layers
    assert sum(protocol["layer_weights"]) == pytest.approx(1.0, abs=1e-4)
    assert protocol["layer_weights"] == pytest.approx(weights.softmax(0).tolist(), abs=1e-5)
    assert (out / "layer_weights.png").stat().st_size > 0
    assert "Protocol: **probe**" in (out / "results.md").read_text()
    assert "Protocol: **probe**" in (out / "README.md").read_text()


@pytest.mark.parametrize("family", list(TASKS))
def test_an_evaluation_only_run_of_the_output_directory_reproduces_the_predictions(family, trained, tmp_path,
                                                                                    hf_cache):
    out, results = trained[family]
    # No --protocol: the directory says it is a probe. Another batch size: the predictions must not depend on padding.
    again = run_cli(["--mini", *TASKS[family], "--model_name_or_path", str(out), "--do_eval",
                     "--max_eval_samples", "6", "--per_device_eval_batch_size", "5"], tmp_path / "eval", hf_cache)
    assert again["protocol"]["name"] == "probe"
    assert again["protocol"]["layer_weights"] == results["protocol"]["layer_weights"]
    first = (out / "eval_predictions.jsonl").read_text().splitlines()
    second = (tmp_path / "eval" / "eval_predictions.jsonl").read_text().splitlines()
    assert [json.loads(x)["prediction"] for x in first] == [json.loads(x)["prediction"] for x in second]
    assert again["splits"] == results["splits"]


def test_a_probe_pushed_to_the_hub_evaluates_from_its_hub_id(trained, tmp_path, hf_cache):
    """What `--push_to_hub` uploads is the output directory; read back through the Hub's own cache layout (offline,
    as after a download), the probe is recognised and reproduces its predictions."""
    import shutil

    out, results = trained["classification"]
    cache = tmp_path / "hub-cache"
    snapshot = cache / "models--someone--minds14-probe" / "snapshots" / ("0" * 40)
    shutil.copytree(out, snapshot, ignore=shutil.ignore_patterns("*.lock", "checkpoint-*"))
    (cache / "models--someone--minds14-probe" / "refs").mkdir()
    (cache / "models--someone--minds14-probe" / "refs" / "main").write_text("0" * 40)
    again = run_cli(["--mini", *TASKS["classification"], "--model_name_or_path", "someone/minds14-probe",
                     "--do_eval", "--max_eval_samples", "6"], tmp_path / "eval", cache)
    assert again["protocol"]["name"] == "probe"
    assert again["protocol"]["layer_weights"] == results["protocol"]["layer_weights"]
    assert again["splits"] == results["splits"]


@pytest.mark.parametrize("damage, expected", [
    (lambda d: (d / "model.safetensors").unlink(), "its weights cannot be read"),
    (lambda d: (d / "model.safetensors").write_bytes(b"not safetensors"), "its weights cannot be read"),
    (lambda d: (d / probe.MARKER_FILE).write_text("{broken"), "xtreme_s_probe.json is unreadable or not JSON"),
    (lambda d: (d / probe.MARKER_FILE).write_text('{"head": "classification"}'), "does not describe a probe"),
], ids=["no-weights", "weights-not-safetensors", "marker-not-json", "marker-incomplete"])
def test_a_damaged_probe_directory_is_one_line(damage, expected, trained, tmp_path, capsys):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(trained["classification"][0], damaged, ignore=shutil.ignore_patterns("*.lock"))
    damage(damaged)
    code, err = run_user_cli(["--mini", *TASKS["classification"], "--model_name_or_path", str(damaged),
                              "--do_eval"], capsys, tmp_path / "out")
    lines = [line for line in err.splitlines() if line.startswith("xtreme-s: error:")]
    assert code == 2 and len(lines) == 1 and expected in lines[0], err[-2000:]
    assert "Traceback" not in err


def test_retrieval_pools_the_learned_weighted_sum_of_a_probe(trained, tmp_path, hf_cache):
    args = ["--mini", "--task", "fleurs-retrieval", "--language", "all", "--do_eval", "--max_eval_samples", "4",
            "--per_device_eval_batch_size", "8", "--retrieval_distractor_splits", "train"]
    for family in ("classification", "seq2seq"):  # any probe's output directory
        out, results = trained[family]
        from_probe = run_cli([*args, "--model_name_or_path", str(out)], tmp_path / family, hf_cache)
        assert from_probe["protocol"]["layer_weights"] == results["protocol"]["layer_weights"]
        assert from_probe["protocol"]["trainable_parameters"] == 0  # retrieval trains nothing
        assert np.isfinite(from_probe["splits"]["validation"]["pooled"]["precision_at_1"])
    # From a plain encoder the untrained sum weighs every hidden state equally.
    uniform = run_cli([*args, "--protocol", "probe"], tmp_path / "uniform", hf_cache)
    weights = uniform["protocol"]["layer_weights"]
    assert weights == pytest.approx([1 / len(weights)] * len(weights))


def test_the_frozen_encoder_runs_without_dropout_or_specaugment():
    config = AutoConfig.from_pretrained(TINY_MODEL)
    config.update({"hidden_dropout": 0.5, "attention_dropout": 0.5, "mask_time_prob": 0.5, "mask_time_length": 2,
                   "layerdrop": 0.5})
    encoder = AutoModel.from_pretrained(TINY_MODEL, config=config)
    model = probe.ClassificationProbe(encoder, probe.ProbeSpec(), num_labels=3)
    model.train()  # what the Trainer does before each step
    assert model.training and not model.encoder.training
    wave = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    first, mask = model.features(wave, None, torch.ones_like(wave, dtype=torch.long), None)
    second, _ = model.features(wave, None, torch.ones_like(wave, dtype=torch.long), None)
    assert torch.equal(first, second)
    assert first.requires_grad  # through the layer weights only
    assert all(not p.requires_grad for p in model.encoder.parameters())


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_probes_and_padding_does_not_change_a_clip(arch, tiny_encoders, tmp_path):
    """CTC and classification probes on each architecture's tiny checkpoint: a clip's outputs are the same alone and
    padded in a batch (where the encoder takes an attention mask), the probe saves and loads back, and gradients
    reach only the probe."""
    path = tiny_encoders[arch]
    encoder = encoders.encoder_of(AutoModel.from_pretrained(path))
    fe = AutoFeatureExtractor.from_pretrained(path)
    spec = encoders.InputSpec.of(fe)
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (8000, 14000)]

    def batch(clips: list) -> dict:
        out = fe(clips, sampling_rate=16000, padding=spec.padding, return_tensors="pt", return_attention_mask=True)
        if not spec.attention_mask:
            out["padding_mask"] = out.pop("attention_mask")
        return dict(out)

    torch.manual_seed(0)
    ctc = probe.CTCProbe(encoder, probe.ProbeSpec(hidden_size=16, num_heads=2, ffn_size=32), 7, blank_id=0).eval()
    both, alone = ctc(**batch(waves)).logits, ctc(**batch(waves[:1])).logits
    n = alone.shape[1]
    assert torch.isfinite(both).all()
    def inner(clips: list) -> tuple:
        b = batch(clips)
        with torch.no_grad():
            return encoders.hidden_states(encoder, b.get("input_values"), b.get("input_features"),
                                          b.get("attention_mask"), b.get("padding_mask"))[0]

    # The encoder's own padding dependence (group-norm front ends, no attention mask) is all there may be.
    unaffected = all(torch.allclose(b[0, :n], a[0], atol=1e-5)
                     for b, a in zip(inner(waves), inner(waves[:1]), strict=True))
    assert unaffected or arch not in PADDING_FREE
    if unaffected:
        assert torch.allclose(both[0, :n], alone[0], atol=1e-4)
    assert (both[0, n:].argmax(-1) == 0).all()  # padded frames are blank
    # Saved as the Trainer saves a plain module (state dict) plus our files, it loads back to the same model.
    save_file(ctc.state_dict(), tmp_path / "model.safetensors")
    probe.save(ctc, tmp_path)
    reloaded = probe.load(str(tmp_path)).eval()
    assert type(reloaded.encoder) is type(ctc.encoder)
    assert torch.equal(reloaded(**batch(waves)).logits, both)
    cls = probe.ClassificationProbe(encoder, probe.ProbeSpec(), num_labels=3).train()
    loss = cls(**batch(waves), labels=torch.tensor([0, 2])).loss
    loss.backward()
    assert cls.layer_sum.weights.grad is not None and cls.classifier.weight.grad is not None
    assert all(p.grad is None for p in cls.encoder.parameters())


def test_the_lstm_downstream_masks_padding_and_learns_a_batch():
    """`--probe_downstream lstm` (SUPERB's ASR probe): a clip's outputs do not depend on its padding (packed
    sequences), and a few steps on one batch lower its CTC loss."""
    encoder = AutoModel.from_pretrained(TINY_MODEL)
    model = probe.CTCProbe(encoder, probe.ProbeSpec(downstream="lstm", hidden_size=32, num_layers=2), 9, blank_id=0)
    rng = np.random.default_rng(0)
    wave = torch.from_numpy(rng.standard_normal((2, 16000)).astype(np.float32)) * 0.1
    mask = torch.ones_like(wave, dtype=torch.long)
    mask[0, 8000:] = 0
    wave[0, 8000:] = 0
    model.eval()
    both = model(wave, attention_mask=mask).logits
    alone = model(wave[:1, :8000], attention_mask=mask[:1, :8000]).logits
    assert torch.allclose(both[0, : alone.shape[1]], alone[0], atol=1e-5)
    labels = torch.tensor([[1, 2, 3], [4, 5, -100]])
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    losses = []
    for _ in range(8):
        loss = model(wave, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_the_seq2seq_probe_sums_the_same_hidden_states_as_transformers(arch, tiny_encoders):
    """Inside a speech encoder-decoder the weighted sum is taken by hooks on the encoder's own layers: with all the
    weight on one hidden state, the encoder's output is exactly that hidden state as transformers returns it."""
    path = tiny_encoders[arch]
    reference = encoders.encoder_of(AutoModel.from_pretrained(path)).eval()
    converted = torch.nn.Module()
    converted.encoder = encoders.encoder_of(AutoModel.from_pretrained(path))
    probe.weighted_sum_encoder(converted, probe.ProbeSpec())
    converted.train()
    assert not converted.encoder.training
    fe = AutoFeatureExtractor.from_pretrained(path)
    inputs = dict(fe([np.random.default_rng(0).standard_normal(9000).astype(np.float32) * 0.1],
                     sampling_rate=16000, return_tensors="pt"))
    inputs.pop("attention_mask", None)
    with torch.no_grad():
        states = reference(**inputs, output_hidden_states=True).hidden_states
        layer_sum = layer_sum_of(converted)
        assert layer_sum.weights.numel() == len(states)
        for i in (0, len(states) // 2, len(states) - 1):
            layer_sum.weights.fill_(-1e4)
            layer_sum.weights[i] = 0
            out = converted.encoder(**inputs).last_hidden_state
            if out.shape == states[i].shape:  # SEW(-D) run their layers at a pooled rate and upsample the sum
                assert torch.allclose(out, states[i], atol=1e-5), (arch, i)
            else:
                assert arch in ("sew", "sew-d") and out.shape[1] > states[i].shape[1]


@pytest.mark.slow
def test_a_ctc_probe_learns_to_transcribe(tmp_path, hf_cache):
    """The demo's overfitting check with the encoder frozen: the 10 English training clips, scored before the first
    step and after 100 (measured: CER 1.49 -> 0.0 after 120 steps; the bar leaves room)."""
    results = run_cli(["--mini", "--dataset_config_name", "fleurs.en_us", "--protocol", "probe", "--do_train",
                       "--do_eval", "--eval_split_name", "train", "--eval_on_start", "True", "--eval_strategy", "steps",
                       "--eval_steps", "1000", "--max_steps", "100", "--learning_rate", "3e-3", "--warmup_steps", "10",
                       "--per_device_train_batch_size", "10", "--per_device_eval_batch_size", "10",
                       "--save_strategy", "no", "--seed", "0", "--logging_steps", "10"], tmp_path, hf_cache)
    state = json.loads((tmp_path / "trainer_state.json").read_text())
    start = next(e["eval_cer"] for e in state["log_history"] if "eval_cer" in e)
    end = results["splits"]["train"]["pooled"]["cer"]
    assert start > 0.9, start
    assert end < 0.3, (start, end)
    losses = [e["loss"] for e in state["log_history"] if "loss" in e]
    assert losses[-1] < 0.2 * losses[0], losses


def test_a_probe_run_resumes_from_its_checkpoint(tmp_path, hf_cache, caplog):
    """A probe stopped after its step-4 checkpoint resumes there and ends exactly where the straight run ends (the
    downstream dropout's random state included)."""
    flags = ["--mini", *TASKS["classification"], "--protocol", "probe", "--do_train", "--per_device_train_batch_size",
             "4", "--max_train_samples", "8", "--learning_rate", "1e-2", "--lr_scheduler_type", "constant",
             "--save_strategy", "steps", "--save_steps", "2", "--seed", "0"]
    run_cli([*flags, "--max_steps", "6"], tmp_path / "straight", hf_cache)
    out = tmp_path / "run"
    run_cli([*flags, "--max_steps", "4"], out, hf_cache)
    (out / "results.json").unlink()  # as if killed after the checkpoint: the same command resumes
    caplog.clear()
    run_cli([*flags, "--max_steps", "6"], out, hf_cache)
    assert any("Resuming from" in r.getMessage() and "checkpoint-4" in r.getMessage() for r in caplog.records)
    mine, theirs = load_file(out / "model.safetensors"), load_file(tmp_path / "straight" / "model.safetensors")
    assert set(mine) == set(theirs) and all(torch.equal(mine[k], theirs[k]) for k in mine)
