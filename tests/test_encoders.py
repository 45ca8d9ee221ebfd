"""Every speech-encoder architecture through every task family, end to end on the mini benchmark.

Tiny random checkpoints of each architecture (scripts/make_tiny_encoders.py, built once per session) go through
the real entry point: train where the family trains, evaluate, predict. Plus the pieces of xtreme_s.encoders a
user relies on: the start-up refusal (Whisper has no CTC head), output lengths equal to the model's real frames,
the collator following the feature extractor, flags landing in each architecture's own config fields.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, run_cli

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


@pytest.mark.parametrize("family", list(FAMILY_RUNS))
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_architecture_runs_every_family(arch, family, tiny_encoders, tmp_path, hf_cache):
    out = tmp_path / "run"
    args = ["--mini", "--model_name_or_path", str(tiny_encoders[arch]), *FAMILY_RUNS[family]]
    if family == "ctc" and arch in NO_CTC:
        with pytest.raises(encoders.EncoderError, match="no CTC head for Whisper"):
            run_cli(args, out, hf_cache)
        assert not (out / "results.json").exists()
        return
    results = run_cli(args, out, hf_cache)
    assert results["family"] == family
    for split in ("validation", "test"):
        scored = results["splits"][split]
        assert scored["num_examples"] > 0
        assert np.isfinite(scored["pooled"][METRIC[family]])
    note = results["notes"]["encoder"]
    assert note["model_type"] == json.loads((tiny_encoders[arch] / "config.json").read_text())["model_type"]
    assert set(note["applied"]) & {"mask_time_prob", "attention_dropout"}
    if family != "retrieval":
        assert np.isfinite(results["train"]["train_loss"])
        assert (out / "model.safetensors").exists()
    if family in ("ctc", "seq2seq"):
        saved = json.loads((out / "processor_config.json").read_text())
        assert saved["processor_class"] == PROCESSOR.get(arch, "Wav2Vec2Processor")
    if family == "seq2seq":
        adapter = results["notes"]["seq2seq"]["adapter"]
        assert (adapter is None) == (not hasattr(encoders.encoder_config(_config(tiny_encoders[arch])),
                                                 "add_adapter"))


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


def test_whisper_ctc_is_refused_at_start_up_in_one_line(tiny_encoders, tmp_path):
    """Before any data loads: one `xtreme-s: error:` line and exit code 2 (here with no data at all)."""
    proc = subprocess.run([sys.executable, str(ROOT / "run_xtreme_s.py"), "--mini", "--dataset_config_name", "mls.pl",
                           "--model_name_or_path", str(tiny_encoders["whisper"]), "--do_train",
                           "--mirror_root", str(tmp_path / "nothing-here"), "--output_dir", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("xtreme-s: error: --model_name_or_path")
    assert "Traceback" not in proc.stderr


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
    run_cli(["--mini", "--model_name_or_path", str(tiny_encoders["whisper"]), *FAMILY_RUNS["seq2seq"]], out, hf_cache)
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
