"""CoVoST-2 speech translation: model assembly, special tokens, training, generation and BLEU on the mini benchmark."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import MINI, run_cli

from xtreme_s.args import parse_args
from xtreme_s.families import get_family
from xtreme_s.registry import resolve
from xtreme_s.sources.covost2 import Covost2Adapter

TINY_DECODER = MINI / "models" / "tiny-decoder"
QUICK = ["--mini", "--do_train", "--do_eval", "--do_predict", "--max_steps", "2", "--per_device_train_batch_size",
         "4", "--per_device_eval_batch_size", "6", "--eval_strategy", "no", "--save_strategy", "no",
         "--learning_rate", "1e-3", "--generation_max_length", "8"]


def _family(tmp_path, *extra: str):
    m, d, t, family_args = parse_args(["--mini", "--dataset_config_name", "covost2.fr.en", "--output_dir",
                                       str(tmp_path), "--do_train", "--report_to", "none", *extra])
    return get_family("seq2seq")(resolve("covost2.fr.en"), m, d, t, family_args["seq2seq"])


def test_mbart50_special_tokens_and_model_assembly(tmp_path):
    family = _family(tmp_path, "--num_adapter_layers", "2")
    assert family.family_args.decoder_name_or_path == str(TINY_DECODER)  # --mini picks the tiny decoder
    assert family.training_args.predict_with_generate and family.preprocess_logits_for_metrics is None
    family.processor = family._build_processor()
    tok = family.processor.tokenizer
    en_xx = tok.convert_tokens_to_ids("en_XX")
    # mBART-50: labels "en_XX <text> </s>", generation starts from </s> and is forced to emit en_XX first.
    [labels] = family.labels_for(["The river crosses a large forest."])
    assert labels[0] == en_xx and labels[-1] == tok.eos_token_id and labels.count(tok.eos_token_id) == 1
    assert family.decoder_start_token_id == tok.eos_token_id and family.forced_bos_token_id == en_xx
    model = family.build_model()
    gen = model.generation_config
    assert (gen.decoder_start_token_id, gen.forced_bos_token_id, gen.eos_token_id, gen.pad_token_id) == (
        tok.eos_token_id, en_xx, tok.eos_token_id, tok.pad_token_id)
    assert model.config.decoder_start_token_id == tok.eos_token_id  # used when forward() shifts the labels
    enc = model.encoder.config
    assert enc.add_adapter and enc.num_adapter_layers == 2 and enc.adapter_stride == 2
    assert model.config.decoder.add_cross_attention and model.config.decoder.is_decoder
    # The pretrained decoder's embeddings are used, not a random matrix (the checkpoint stores them only as the
    # shared embedding of the full mBART model).
    from safetensors.torch import load_file

    shared = load_file(TINY_DECODER / "model.safetensors")["model.shared.weight"]
    assert torch.equal(model.decoder.get_input_embeddings().weight.detach(), shared)
    # Teacher-forced loss on one clip-sized input works end to end.
    fe = family.feature_extractor
    batch = fe([torch.randn(32000).numpy()], sampling_rate=16000, return_tensors="pt", return_attention_mask=True)
    assert torch.isfinite(model(**batch, labels=torch.tensor([labels])).loss)


def test_reference_normalisation_is_opt_in(tmp_path):
    from datasets import Dataset

    data = {"test": Dataset.from_dict({"id": ["a"], "language": ["fr"], "audio": [None], "duration": [1.0],
                                        "target": ["He works as a Doctor, in Paris."]})}
    family = _family(tmp_path)
    family.prepare(None, data)
    assert family.tally.references["test"] == ["He works as a Doctor, in Paris."]
    family = _family(tmp_path, "--normalize_translations", "True")
    family.prepare(None, data)
    assert family.tally.references["test"] == ["he works as a doctor in paris"]


def test_translation_train_generate_bleu_and_reload(tmp_path, hf_cache, caplog):
    out = tmp_path / "run"
    results = run_cli(["--dataset_config_name", "covost2.all", *QUICK], out, hf_cache)
    assert results["family"] == "seq2seq" and results["primary_metric"] == "bleu"
    assert results["languages"] == ["fr", "de"] and len(results["languages_missing"]) == 19
    # --mini reads CoVoST-2 in its Hub layout (fixie-ai/covost2 at the pinned commit), not Common Voice 4
    assert results["data"]["layouts"]["fixie-ai/covost2"]["parquet"]["revision"] == Covost2Adapter.revision
    for split in ("validation", "test"):
        res = results["splits"][split]
        assert set(res["per_language"]) == {"fr", "de"} and res["num_examples"] == 6
        assert all(0 <= row["bleu"] <= 100 and row["num_examples"] == 3 for row in res["per_language"].values())
        assert set(res["macro"]) == set(res["pooled"]) == {"bleu"}
        assert res["groups"]["high"]["languages"] == ["fr", "de"] and set(res["groups"]) == {"high"}
    assert "UNCONFIRMED" in results["notes"]["resource_groups"]["caveat"]
    lines = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    tsv = (MINI / "local" / "covost2" / "covost_v2.fr_en.tsv").read_text()
    assert len(lines) == 6 and all(line["reference"] in tsv for line in lines if line["language"] == "fr")
    assert (out / "eval_predictions.jsonl").exists()
    # The output directory is a speech encoder-decoder checkpoint: it evaluates directly, with the same outputs.
    again = run_cli(["--mini", "--dataset_config_name", "covost2.all", "--model_name_or_path", str(out),
                     "--do_predict", "--per_device_eval_batch_size", "6", "--generation_max_length", "8"],
                    tmp_path / "eval_only", hf_cache)
    assert "train" not in again
    assert (tmp_path / "eval_only" / "predictions.jsonl").read_text() == (out / "predictions.jsonl").read_text()
    # ... and fine-tunes further as it is (no new decoder is stacked on it).
    assert any("Decoder embeddings copied" in r.getMessage() for r in caplog.records)  # the first run stacked one
    caplog.clear()
    further = run_cli(["--dataset_config_name", "covost2.fr.en", "--model_name_or_path", str(out), *QUICK],
                      tmp_path / "further", hf_cache)
    assert further["train"]["train_samples"] == 9 and set(further["splits"]["test"]["per_language"]) == {"fr"}
    assert further["notes"]["seq2seq"]["adapter"]["add_adapter"] is True
    assert not any("Decoder embeddings copied" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_tiny_model_learns_to_translate(tmp_path, hf_cache):
    """Overfit a handful of fr->en pairs: BLEU on them must rise far above its start (0 for random weights)."""
    out = tmp_path / "overfit"
    results = run_cli([
        "--mini", "--dataset_config_name", "covost2.fr.en", "--do_train", "--do_eval", "--eval_split_name", "train",
        "--max_train_samples", "6", "--max_eval_samples", "6", "--max_steps", "120", "--learning_rate", "3e-3",
        "--warmup_steps", "20", "--per_device_train_batch_size", "6", "--per_device_eval_batch_size", "6",
        "--eval_strategy", "steps", "--eval_steps", "1000", "--eval_on_start", "True", "--save_strategy", "no",
        "--mask_time_prob", "0", "--logging_steps", "40", "--seed", "0", "--generation_max_length", "32",
    ], out, hf_cache)
    state = json.loads((out / "trainer_state.json").read_text())
    start = [h for h in state["log_history"] if "eval_bleu" in h][0]["eval_bleu"]
    end = results["splits"]["train"]["per_language"]["fr"]["bleu"]
    print(f"fr->en BLEU on 6 training pairs: {start:.1f} at step 0, {end:.1f} after 120 steps")
    assert start < 5, start
    assert end > 50, (start, end)


def test_any_causal_lm_decoder_gpt2_style(tmp_path):
    """A decoder without mBART conventions (GPT-2: no pad, no decoder start, tokenizer adds no EOS) works too."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    words = sorted({w for s in ("He works as a doctor in Paris.", "The river crosses a large forest.")
                    for w in s.replace(".", " .").split()})
    vocab = {"<|endoftext|>": 0, "<unk>": 1, **{w: i + 2 for i, w in enumerate(words)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                  unk_token="<unk>")
    decoder_dir = tmp_path / "gpt2"
    tok.save_pretrained(decoder_dir)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(vocab), n_embd=32, n_layer=1, n_head=2, n_positions=64,
                               bos_token_id=0, eos_token_id=0)).save_pretrained(decoder_dir)
    family = _family(tmp_path / "out", "--decoder_name_or_path", str(decoder_dir))
    family.processor = family._build_processor()
    [labels] = family.labels_for(["He works as a doctor in Paris."])
    assert labels[-1] == 0 and labels.count(0) == 1 and len(labels) == 9  # 8 words + EOS appended
    assert family.decoder_start_token_id == 0 and family.forced_bos_token_id is None
    model = family.build_model()
    assert type(model.decoder).__name__ == "GPT2LMHeadModel" and model.config.decoder.add_cross_attention
    batch = family.feature_extractor([torch.randn(24000).numpy()], sampling_rate=16000, return_tensors="pt",
                                     return_attention_mask=True)
    assert torch.isfinite(model(**batch, labels=torch.tensor([labels])).loss)
    generated = model.generate(**batch, max_length=6)
    assert generated.shape[0] == 1 and generated[0, 0] == 0
    assert isinstance(family.decode(generated.numpy(), "test")[0], str)
