"""Every speech-encoder architecture through every task family, on the mini benchmark.

Tiny random checkpoints of each architecture (scripts/make_tiny_encoders.py, built once per session): every
(architecture, family) pair is built by its family, takes a training step and is scored on the evaluation split
(direct calls, about a second each); one full run per family goes through the real entry point (Trainer, saving,
results.json). Plus the pieces of xtreme_s.encoders a
user relies on: the start-up refusal (Whisper has no CTC head), output lengths equal to the model's real frames,
the collator following the feature extractor, flags landing in each architecture's own config fields.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, run_cli, run_user_cli

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

sys.path.insert(0, str(ROOT / "scripts"))
from make_tiny_encoders import ARCHITECTURES  # noqa: E402

from xtreme_s import encoders  # noqa: E402
from xtreme_s.collators import SpeechCollator  # noqa: E402

FEW = ["--max_train_samples", "2", "--max_eval_samples", "2", "--max_predict_samples", "3",
       "--per_device_train_batch_size", "2", "--per_device_eval_batch_size", "4", "--eval_strategy", "no",
       "--save_strategy", "no", "--learning_rate", "1e-3", "--max_steps", "1"]
FAMILY_RUNS = {
    "ctc": ["--dataset_config_name", "mls.pl", "--do_train", "--do_eval", "--do_predict", *FEW],
    "classification": ["--dataset_config_name", "minds14.fr-FR", "--do_train", "--do_eval", "--do_predict", *FEW],
    "retrieval": ["--task", "fleurs-retrieval", "--language", "all", "--do_eval", "--do_predict",
                  "--max_eval_samples", "4", "--max_predict_samples", "4", "--per_device_eval_batch_size", "8",
                  "--retrieval_distractor_splits", "train"],
    "seq2seq": ["--dataset_config_name", "covost2.fr.en", "--do_train", "--do_eval", "--do_predict",
                "--generation_max_length", "4", *FEW],
}
METRIC = {"ctc": "wer", "classification": "accuracy", "retrieval": "precision_at_1", "seq2seq": "bleu"}
PROCESSOR = {"wav2vec2-bert": "Wav2Vec2BertProcessor"}
NO_CTC = {"whisper"}


# One full run per family through the real entry point (Trainer, saving, results.json, plots), each on an
# architecture that takes another input path; every other (architecture, family) pair is built and stepped directly
# below (test_every_architecture_trains_and_scores_in_every_family). Seq2seq's full run is Whisper's
# (test_whisper_translation_model_reloads_with_its_trained_encoder).
END_TO_END = {"ctc": "wav2vec2-bert", "classification": "hubert", "retrieval": "sew-d"}


def check_results(results: dict, out, arch: str, family: str, path) -> None:
    """What one full run of `arch` in `family` must leave behind."""
    assert results["family"] == family
    for split in ("validation", "test"):
        scored = results["splits"][split]
        assert scored["num_examples"] > 0
        assert np.isfinite(scored["pooled"][METRIC[family]])
    note = results["notes"]["encoder"]
    assert note["model_type"] == json.loads((path / "config.json").read_text())["model_type"]
    assert set(note["applied"]) & {"mask_time_prob", "attention_dropout"}
    if family != "retrieval":
        assert np.isfinite(results["train"]["train_loss"])
        assert (out / "model.safetensors").exists()
    if family in ("ctc", "seq2seq"):
        saved = json.loads((out / "processor_config.json").read_text())
        assert saved["processor_class"] == PROCESSOR.get(arch, "Wav2Vec2Processor")
    if family == "seq2seq":
        adapter = results["notes"]["seq2seq"]["adapter"]
        assert (adapter is None) == (not hasattr(encoders.encoder_config(_config(path)), "add_adapter"))


@pytest.mark.parametrize("family", list(END_TO_END))
def test_one_full_run_per_family(family, tiny_encoders, tmp_path, hf_cache):
    arch = END_TO_END[family]
    out = tmp_path / "run"
    results = run_cli(["--mini", "--model_name_or_path", str(tiny_encoders[arch]), *FAMILY_RUNS[family]], out,
                      hf_cache)
    check_results(results, out, arch, family, tiny_encoders[arch])


_SPLITS: dict[str, tuple] = {}


def _family(arch: str, family: str, path, cache, out):
    """The family object a run of `arch` builds, prepared on the rows the run would read (the splits are loaded
    once per family: they do not depend on the architecture)."""
    from xtreme_s.args import parse_args
    from xtreme_s.families import get_family
    from xtreme_s.hub import ModelSource
    from xtreme_s.protocols import resolve as resolve_protocol
    from xtreme_s.registry import resolve
    from xtreme_s.sources import LoadContext, load_splits

    m, d, t, own = parse_args(["--mini", "--model_name_or_path", str(path), *FAMILY_RUNS[family],
                               "--output_dir", str(out), "--cache_dir", str(cache), "--report_to", "none"])
    task = resolve(d.dataset_config_name, d.task, d.language, d.target_column_name, d.language_group)
    if family not in _SPLITS:
        wanted = ([d.train_split_name] if t.do_train else []) + [d.eval_split_name, d.predict_split_name]
        _SPLITS[family] = load_splits(task, sorted(set(wanted)), LoadContext(mirror_root=d.mirror_root,
                                                                             cache_dir=str(cache)))[0]
    splits = _SPLITS[family]
    source = ModelSource.of(m)
    built = get_family(task.spec.family)(task, m, d, t, own.get(task.spec.family), source=source)
    resolve_protocol(own["protocol"], source).attach(built)
    train = splits[d.train_split_name].select(range(d.max_train_samples)) if t.do_train else None
    evaluated = {d.eval_split_name: splits[d.eval_split_name].select(range(d.max_eval_samples))}
    return built, built.prepare(train, evaluated), encoders.input_limits(m), d.eval_split_name


@pytest.mark.parametrize(("arch", "family"), [(a, f) for a in ARCHITECTURES for f in FAMILY_RUNS
                                               if not (f == "ctc" and a in NO_CTC)])  # refused at start-up (below)
def test_every_architecture_trains_and_scores_in_every_family(arch, family, tiny_encoders, tmp_path, hf_cache):
    """Each (architecture, family) as a run does it, minus the Trainer: the family builds the model from the tiny
    checkpoint, its collator batches the prepared rows, one training step's loss is finite and its gradient reaches
    the encoder and the head, and the evaluation split is predicted, decoded and scored to a finite metric. The
    Trainer, saving and reports do not depend on the architecture: one full run per family covers them."""
    path = tiny_encoders[arch]
    torch.manual_seed(0)
    built, prepared, limits, split = _family(arch, family, path, hf_cache, tmp_path)
    model = built.build_model()
    collate = built.collator().with_min_samples(limits.min_samples)
    note = built.tally.notes["encoder"]
    assert note["model_type"] == json.loads((path / "config.json").read_text())["model_type"]
    assert set(note["applied"]) & {"mask_time_prob", "attention_dropout"}
    if family in ("ctc", "seq2seq"):
        assert type(built.processor).__name__ == PROCESSOR.get(arch, "Wav2Vec2Processor")
    if family == "seq2seq":
        adapter = built.tally.notes["seq2seq"]["adapter"]
        assert (adapter is None) == (not hasattr(encoders.encoder_config(_config(path)), "add_adapter"))
    if prepared.train is not None:  # one training step
        model.train()
        batch = collate([prepared.train[i] for i in range(len(prepared.train))])
        loss = model(**batch).loss
        assert torch.isfinite(loss)
        loss.backward()
        grads = {name.split(".")[0]: p.grad for name, p in model.named_parameters() if p.grad is not None}
        assert grads and all(torch.isfinite(g).all() for g in grads.values())
        assert len(grads) >= 2, sorted(grads)  # the encoder and the head
        model.zero_grad()
    model.eval()
    rows = prepared.evaluated[split]
    batch = collate([rows[i] for i in range(len(rows))])
    labels = batch.pop("labels", None)
    with torch.no_grad():
        if family == "seq2seq":
            raw = model.generate(**batch, max_length=4).numpy()
        else:
            output = model(**batch)
            logits = output["embeddings"] if family == "retrieval" else output.logits
            raw = built.preprocess_logits_for_metrics(logits, labels).numpy()
    _, report = built.evaluate(split, raw, rows)
    assert np.isfinite(report["pooled"][METRIC[family]])


def _wav(n: int) -> dict:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.random.default_rng(n).uniform(-0.5, 0.5, n).astype(np.float32), 16_000, format="WAV",
             subtype="FLOAT")
    return {"bytes": buf.getvalue(), "path": None}


def _config(path):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path)


def test_whisper_ctc_is_refused_at_start_up_in_one_line(tiny_encoders, tmp_path, capsys):
    """Before any data loads: one `xtreme-s: error:` line and exit code 2 (here with no data at all)."""
    code, err = run_user_cli(["--mini", "--dataset_config_name", "mls.pl", "--model_name_or_path",
                              str(tiny_encoders["whisper"]), "--do_train", "--mirror_root", str(tmp_path / "nothing"),
                              "--output_dir", str(tmp_path / "o")], capsys)
    assert code == 2, err[-2000:]
    line = err.strip().splitlines()[-1]
    assert line.startswith("xtreme-s: error: --model_name_or_path") and "no CTC head for Whisper" in line
    assert "Traceback" not in err and not (tmp_path / "o" / "results.json").exists()


@pytest.mark.parametrize("arch", ["wav2vec2", "wav2vec2-bert", "hubert", "sew-d", "whisper"])
def test_output_frames_match_the_model_and_collator_follows_the_extractor(arch, tiny_encoders):
    from transformers import AutoFeatureExtractor, AutoModel

    path = tiny_encoders[arch]
    fe = AutoFeatureExtractor.from_pretrained(path)
    config = _config(path)
    if arch == "wav2vec2-bert":  # the adapter shortens the sequence: the filter must count it
        config.add_adapter = True
    model = encoders.encoder_of(AutoModel.from_config(config)).eval()
    lengths = [12_345, 16_000, 40_000]
    collate = SpeechCollator(fe, label_kind="none")
    items = [{"audio": _wav(n)} for n in lengths]
    batch = collate(items)
    spec = encoders.InputSpec.of(fe)
    assert set(batch) == {spec.input_name} | ({"attention_mask"} if spec.attention_mask else set())
    assert ("attention_mask" in batch) == (arch not in ("hubert", "sew-d", "whisper"))
    for n, expected in zip(lengths, encoders.output_frames(config, fe, lengths), strict=True):
        one = fe(np.zeros(n, dtype=np.float32), sampling_rate=16_000, return_tensors="pt",
                 padding=spec.padding)
        with torch.no_grad():
            frames = model(one[spec.input_name]).last_hidden_state.shape[1]
        assert frames == expected, (arch, n)
    if arch == "whisper":
        assert batch["input_features"].shape[-1] == fe.nb_max_frames  # 30 s, whatever the clip length


def test_flags_land_in_each_architectures_own_fields(tiny_encoders):
    from types import SimpleNamespace

    args = SimpleNamespace(feat_proj_dropout=0.1, attention_dropout=0.1, hidden_dropout=0.2, final_dropout=0.1,
                           activation_dropout=0.1, mask_time_prob=0.3, mask_time_length=10, mask_feature_prob=0.0,
                           mask_feature_length=10, layerdrop=0.05)
    whisper = _config(tiny_encoders["whisper"])
    report = encoders.apply_encoder_flags(whisper, args)
    assert (whisper.dropout, whisper.encoder_layerdrop, whisper.apply_spec_augment) == (0.2, 0.05, True)
    assert set(report["ignored"]) == {"feat_proj_dropout", "final_dropout"}
    sew_d = _config(tiny_encoders["sew-d"])
    assert "layerdrop" in encoders.apply_encoder_flags(sew_d, args)["ignored"]
    hubert = _config(tiny_encoders["hubert"])
    assert encoders.adapter_flags(hubert, SimpleNamespace(add_adapter=True)) == {}


def test_whisper_translation_model_reloads_with_its_trained_encoder(tiny_encoders, tmp_path, hf_cache):
    """transformers would rebuild a saved Whisper-encoder SpeechEncoderDecoderModel around a whole WhisperModel and
    drop the trained encoder weights; ours reloads them and the output directory evaluates on its own."""
    from safetensors.torch import load_file
    from transformers import AutoConfig

    out = tmp_path / "run"
    results = run_cli(["--mini", "--model_name_or_path", str(tiny_encoders["whisper"]), *FAMILY_RUNS["seq2seq"]], out,
                      hf_cache)
    check_results(results, out, "whisper", "seq2seq", tiny_encoders["whisper"])  # seq2seq's one full run
    model = encoders.load_speech_encoder_decoder(str(out), AutoConfig.from_pretrained(out))
    assert type(model.encoder).__name__ == "WhisperEncoder"
    saved = load_file(out / "model.safetensors")
    state = model.state_dict()
    assert any(k.startswith("encoder.layers.") for k in saved)
    assert all(torch.equal(state[k], v) for k, v in saved.items())
    again = run_cli(["--mini", "--model_name_or_path", str(out), "--dataset_config_name", "covost2.fr.en",
                     "--do_predict", "--max_predict_samples", "2", "--generation_max_length", "4"],
                    tmp_path / "again", hf_cache)
    assert again["splits"]["test"]["num_examples"] == 2


@pytest.mark.parametrize("settings", sorted((ROOT / "task_configs" / "encoders").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_encoder_settings_layer_over_every_task_recipe(settings, recwarn):
    """`make <task> MODEL=...` = recipe, then the encoder's settings (`--config`), then the command line."""
    import yaml

    from xtreme_s.args import parse_args

    wanted = yaml.safe_load(settings.read_text())
    for recipe in sorted((ROOT / "task_configs").glob("*.yaml")):
        m, d, t, _ = parse_args([str(recipe), "--config", str(settings), "--output_dir", "unused"])
        for key, value in wanted.items():
            assert getattr(m, key, getattr(d, key, getattr(t, key, None))) == value, (recipe.name, key)
        assert t.activation_checkpointing == bool(yaml.safe_load(recipe.read_text()).get("activation_checkpointing"))
    _, _, legacy, _ = parse_args(["--gradient_checkpointing", "True", "--output_dir", "unused"])
    assert legacy.activation_checkpointing is True
    assert not [w for w in recwarn if "gradient_checkpointing" in str(w.message)]


def test_shortest_usable_clip_comes_from_the_model_and_its_extractor(tiny_encoders):
    """One 25 ms fbank window for w2v-BERT (no conv_kernel in its config), Whisper pads any clip to 30 s."""
    assert encoders.min_input_samples(str(tiny_encoders["wav2vec2-bert"])) == 400
    assert encoders.min_input_samples(str(tiny_encoders["whisper"])) == 1
