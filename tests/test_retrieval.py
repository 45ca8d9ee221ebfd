"""FLEURS bi-speech retrieval: the scoring on controlled embeddings, and the real CLI path end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

from xtreme_s.families.retrieval import margin_scores, precision_at_1, retrieve


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_parallel_embeddings_are_found_and_shuffled_keys_fall_to_chance():
    rng = np.random.default_rng(0)
    n_keys, n_queries = 50, 500
    keys = _unit(rng.normal(size=(n_keys, 32)))
    truth = rng.integers(0, n_keys, n_queries)
    queries = _unit(keys[truth] + 0.2 * rng.normal(size=(n_queries, 32)))
    key_ids = [str(i) for i in range(n_keys)]
    refs = [str(t) for t in truth]
    for similarity in ("cosine", "margin"):
        best = retrieve(queries, keys, similarity)
        assert precision_at_1(refs, [key_ids[b] for b in best])["precision_at_1"] >= 0.98
    best = retrieve(queries, keys)
    # A permutation of the key ids: P@1 is the share of queries whose key kept its id, 1/n_keys on average.
    runs = []
    for _ in range(40):
        shuffled = list(rng.permutation(key_ids))
        runs.append(precision_at_1(refs, [shuffled[b] for b in best])["precision_at_1"])
    assert abs(np.mean(runs) - 1 / n_keys) < 0.01, np.mean(runs)  # chance is 0.02


def test_margin_scoring_discounts_a_hub_key():
    """A key close to every query (a hub) wins under cosine; the ratio margin picks the parallel keys."""
    n = 20
    eye = np.eye(n + 1)
    hub_dir = eye[n]
    keys = np.vstack([eye[:n], hub_dir])  # key i = e_i, plus the hub
    queries = _unit(0.9 * eye[:n] + hub_dir)
    assert (retrieve(queries, keys, "cosine") == n).all()
    assert (retrieve(queries, keys, "margin", k=4) == np.arange(n)).all()
    sim = queries @ keys.T
    assert margin_scores(sim, 4).shape == sim.shape


def _tone_folder(root, seed=0):
    """A FLEURS-like local folder where every sentence id has its own tone in every language (plus noise per
    utterance): a stand-in for a model that separates sentences, fed through the real data path."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.5 * 16_000)) / 16_000
    layout = {"test": {"de_de": range(6), "fr_fr": range(6), "en_us": range(6)},
              "train": {"en_us": range(10, 20)}, "validation": {"en_us": range(20, 24)}}
    for split, langs in layout.items():
        rows = ["path\tlanguage\tid\tsentence_id\ttranscription"]
        for lang, sids in langs.items():
            for sid in sids:
                f0 = 150.0 * 1.19 ** sid
                wave = 0.3 * np.sin(2 * np.pi * f0 * t) + 0.15 * np.sin(2 * np.pi * 2.7 * f0 * t)
                wave += 0.01 * rng.normal(size=t.shape)
                name = f"{split}_{lang}_{sid}.wav"
                sf.write(root / name, wave.astype(np.float32), 16_000)
                rows.append(f"{name}\t{lang}\t{name}\t{sid}\tx")
        (root / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return root


PREDICT = ["--task", "fleurs-retrieval", "--do_predict", "--per_device_eval_batch_size", "8"]


def test_retrieval_end_to_end_separating_data_and_shuffled_control(tmp_path, hf_cache):
    (tmp_path / "data").mkdir()
    data = _tone_folder(tmp_path / "data")
    args = ["--mini", "--data_dir", str(data), *PREDICT]
    res = run_cli(args, tmp_path / "run", hf_cache)
    test = res["splits"]["test"]
    note = res["notes"]["retrieval"]["test"]
    assert (note["queries"], note["keys"], note["distractors"]) == (12, 6, 14)
    assert note["chance_precision_at_1"] == pytest.approx(1 / 20)
    assert set(test["per_language"]) == {"de_de", "fr_fr"}
    assert test["macro"]["precision_at_1"] == 1.0  # far above chance (0.05)
    lines = [json.loads(x) for x in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    queries = [x for x in lines if x["prediction"] is not None]
    assert len(queries) == 12 and all(x["prediction"] == x["reference"] for x in queries)
    assert {x["language"] for x in lines if x["prediction"] is None} == {"en_us:key", "en_us:distractor"}

    shuffled = run_cli([*args, "--retrieval_shuffle_keys", "True"], tmp_path / "shuffled", hf_cache)
    assert shuffled["splits"]["test"]["macro"]["precision_at_1"] <= 0.25  # chance 0.05, from 1.0


def test_retrieval_on_mini_fleurs_with_margin_layer_and_pooling(tmp_path, hf_cache):
    """The tiny random model on the espeak FLEURS mirror: the run works; its P@1 is whatever it is (about chance:
    random weights do not map German speech to English speech)."""
    res = run_cli(["--mini", *PREDICT, "--retrieval_similarity", "margin", "--retrieval_layer", "1",
                   "--retrieval_pooling", "max", "--retrieval_query_languages", "de_de", "fr_fr"],
                  tmp_path / "run", hf_cache)
    note = res["notes"]["retrieval"]["test"]
    assert note["query_languages"] == ["de_de", "fr_fr"] and note["similarity"] == "margin"
    assert (note["layer"], note["pooling"], note["keys"], note["distractors"]) == (1, "max", 4, 12)
    p1 = res["splits"]["test"]["per_language"]
    assert set(p1) == {"de_de", "fr_fr"} and all(row["num_examples"] == 4 for row in p1.values())
    assert 0.0 <= res["splits"]["test"]["macro"]["precision_at_1"] <= 1.0


def test_retrieval_refuses_training(tmp_path, hf_cache):
    with pytest.raises(ValueError, match="no training step"):
        run_cli(["--mini", "--task", "fleurs-retrieval", "--do_train", "--max_steps", "1"], tmp_path / "r", hf_cache)


def test_retrieval_runs_on_a_fine_tuned_ctc_checkpoint(tmp_path, hf_cache):
    """A CTC checkpoint (encoder + head, as a fine-tuning run saves it): the encoder is embedded, the head unused."""
    from conftest import TINY_MODEL
    from transformers import AutoFeatureExtractor, AutoModelForCTC

    ckpt = tmp_path / "ctc"
    AutoModelForCTC.from_pretrained(TINY_MODEL, vocab_size=12).save_pretrained(ckpt)
    AutoFeatureExtractor.from_pretrained(TINY_MODEL).save_pretrained(ckpt)
    res = run_cli(["--mini", *PREDICT, "--model_name_or_path", str(ckpt), "--retrieval_query_languages", "de_de"],
                  tmp_path / "run", hf_cache)
    assert res["model"] == str(ckpt) and set(res["splits"]["test"]["per_language"]) == {"de_de"}
