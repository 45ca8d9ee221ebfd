"""n-gram LM decoding of CTC tasks through the real entry point: `xtreme-s lm build`, --lm_path, tuning, the logits
cache, and the mistakes that must stop a run before any decoding.

The model is `tests/data/partly_trained_ctc_en`: the tiny mini-benchmark model trained 180 steps on the 10 English
FLEURS training clips (scripts/make_partly_trained_ctc.py); greedy decoding still misspells most words (WER 0.82,
CER 0.33 on those clips), which is where an LM of the training text earns its keep.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, run_cli, run_user_cli

PARTLY_TRAINED = ROOT / "tests" / "data" / "partly_trained_ctc_en"
EVAL_TRAIN_CLIPS = ["--mini", "--dataset_config_name", "fleurs.en_us", "--model_name_or_path", str(PARTLY_TRAINED),
                    "--do_eval", "--eval_split_name", "train", "--per_device_eval_batch_size", "10"]
UNRELATED = ["the old man sold his small farm by the river", "she reads books about dragons",
             "our team won the final game of the season", "prices of bread rose again"]


def _lm_build(args: list[str], capsys) -> tuple[int, str]:
    """`xtreme-s lm build ...` as a user meets it: exit code and stderr."""
    import sys
    from unittest import mock

    from xtreme_s.cli import main

    capsys.readouterr()
    with mock.patch.object(sys, "argv", ["xtreme-s", "lm", "build", *args]):
        try:
            main()
        except SystemExit as exit_:
            return exit_.code, capsys.readouterr().err
    return 0, capsys.readouterr().err


def _lm(args: list[str], capsys) -> None:
    code, err = _lm_build(args, capsys)
    assert code == 0, err


def test_lm_decoding_beats_greedy_and_unrelated_text_does_not(tmp_path, hf_cache, capsys, monkeypatch):
    import xtreme_s.lm_build
    from xtreme_s.registry import resolve
    from xtreme_s.sources import LoadContext, load_splits
    from xtreme_s.text import TextNormalizer

    # lm build reads the training split only, normalised as the CTC labels are.
    read: list[list[str]] = []
    real_load = xtreme_s.lm_build.load_splits
    monkeypatch.setattr(xtreme_s.lm_build, "load_splits",
                        lambda task, splits, *a, **k: read.append(list(splits)) or real_load(task, splits, *a, **k))
    lms = tmp_path / "lms"
    _lm(["fleurs.en_us", "--mini", "--order", "3", "--output_dir", str(lms)], capsys)
    assert read == [["train"]]
    built = json.loads((lms / "lm_build.json").read_text())
    assert built["split"] == "train" and built["order"] == 3 and built["languages"]["en_us"]["sentences"] == 10
    splits, _ = load_splits(resolve("fleurs.en_us"), ["train", "validation", "test"],
                            LoadContext(mirror_root=str(ROOT / "mini_benchmark" / "hub"), cache_dir=str(hf_cache)))
    norm = TextNormalizer()
    words = {split: {w for t in ds["transcription"] for w in norm(t).split()} for split, ds in splits.items()}
    from xtreme_s.lm.arpa import read_arpa

    lm_words = set(read_arpa(lms / "en_us.arpa").words)
    assert lm_words == words["train"]
    assert (words["validation"] | words["test"]) - words["train"]  # there were evaluation-only words to leak
    # An evaluation split as the "training" text is refused.
    code, err = _lm_build(["fleurs.en_us", "--mini", "--train_split_name", "test", "--output_dir",
                           str(tmp_path / "no")], capsys)
    assert code == 2 and "evaluation split" in err and not (tmp_path / "no").exists()

    # The partly trained model on its training clips: greedy and LM-decoded side by side; weights tuned there.
    out = tmp_path / "run"
    results = run_cli([*EVAL_TRAIN_CLIPS, "--lm_path", str(lms), "--lm_tune", "--beam_width", "50",
                       "--lm_num_workers", "2"], out, hf_cache)
    res = results["splits"]["train"]
    greedy, lm = res["macro"]["wer"], res["lm"]["macro"]["wer"]
    print(f"greedy WER {greedy:.3f}, LM WER {lm:.3f}, CER {res['macro']['cer']:.3f} -> {res['lm']['macro']['cer']:.3f}")
    assert greedy > 0.5 and lm < greedy - 0.3, (greedy, lm)
    assert set(res["lm"]["per_language"]) == {"en_us"}
    import jsonschema

    jsonschema.validate(results, json.loads((ROOT / "docs" / "results.schema.json").read_text()))
    assert res["lm"]["tuned_on"] == "train" and res["lm"]["decoder"]["beam_width"] == 50
    assert res["lm"]["lm_files"]["en_us"]["sha256"] == built["languages"]["en_us"]["sha256"]
    tuning = json.loads((out / "lm_tuning.json").read_text())
    assert tuning["chosen"] == {k: res["lm"]["decoder"][k] for k in tuning["chosen"]} and tuning["points"] >= 42
    lines = [json.loads(x) for x in (out / "lm_predictions_train.jsonl").read_text().splitlines()]
    assert len(lines) == 10 and set(lines[0]) == {"id", "language", "prediction", "reference"}
    report = (out / "results.md").read_text()
    assert "n-gram LM" in report and f"{lm:.4f}" in report
    assert "n-gram LM" in (out / "README.md").read_text()

    # Re-evaluated from the cache (the encoder does not run): the chosen settings give the same figures again ...
    from xtreme_s.trainer import SpeechTrainer

    monkeypatch.setattr(SpeechTrainer, "predict", lambda *a, **k: pytest.fail("the encoder ran: cache not used"))
    chosen = res["lm"]["decoder"]
    same = run_cli([*EVAL_TRAIN_CLIPS, "--lm_path", str(lms), "--beam_width", "50", "--lm_weight",
                    str(chosen["lm_weight"]), "--word_score", str(chosen["word_score"]), "--lm_num_workers", "0",
                    "--overwrite_output_dir"], out, hf_cache)["splits"]["train"]
    assert same["lm"]["per_language"] == res["lm"]["per_language"] and same["lm"]["tuned_on"] is None
    # ... and an LM of unrelated text does not help.
    other = tmp_path / "other.txt"
    other.write_text("\n".join(UNRELATED) + "\n", encoding="utf-8")
    _lm(["fleurs.en_us", "--mini", "--text", str(other), "--output_dir", str(tmp_path / "unrelated")], capsys)
    again = run_cli([*EVAL_TRAIN_CLIPS, "--lm_path", str(tmp_path / "unrelated" / "en_us.arpa"), "--beam_width", "50",
                     "--lm_weight", "2", "--lm_num_workers", "0", "--overwrite_output_dir"], out, hf_cache)
    res2 = again["splits"]["train"]
    assert res2["macro"] == res["macro"]  # greedy from the cached log-probabilities: the same figures
    assert res2["lm"]["macro"]["wer"] >= greedy and res2["lm"]["macro"]["cer"] > res["macro"]["cer"]


def test_lexicon_free_character_lm(tmp_path, hf_cache, capsys):
    lms = tmp_path / "chars"
    _lm(["fleurs.en_us", "--mini", "--unit", "char", "--output_dir", str(lms)], capsys)
    results = run_cli([*EVAL_TRAIN_CLIPS, "--lm_path", str(lms), "--lm_decoding", "lexicon_free", "--beam_width", "50",
                       "--lm_weight", "3", "--lm_num_workers", "0"], tmp_path / "run", hf_cache)
    res = results["splits"]["train"]
    assert res["lm"]["decoder"]["mode"] == "lexicon_free" and "word_score" not in res["lm"]["decoder"]
    assert res["lm"]["macro"]["cer"] < res["macro"]["cer"]


def _arpa(path: Path, words: list[str], order: int = 2) -> Path:
    lines = ["\\data\\", f"ngram 1={len(words) + 2}"] + [f"ngram {n}=0" for n in range(2, order + 1)]
    lines += ["", "\\1-grams:", "-1.0\t<s>", "-1.0\t</s>"] + [f"-1.0\t{w}" for w in words] + ["", "\\end\\"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("case, expected", [
    ("missing", "does not exist"),
    ("corrupt", "not an ARPA file"),
    ("truncated", "truncated"),
    ("binary", "KenLM binary"),
    ("order7", "reads 2- to 6-grams"),
    ("folder_without_language", "no LM for language(s) en_us"),
    ("other_alphabet", "does not match the model's CTC vocabulary"),
    ("char_lm_as_words", "looks like a character LM"),
])
def test_lm_mistakes_are_one_line_before_decoding(case, expected, tmp_path, capsys):
    path = tmp_path / "en_us.arpa"
    if case == "corrupt":
        path.write_text("garbage\n")
    elif case == "truncated":
        path.write_text("\\data\\\nngram 1=5\n\n\\1-grams:\n-1.0\t<s>\n")
    elif case == "binary":
        path.write_bytes(b"mmap lm http://kheafield.com/code format version 5\n\0" + bytes(64))
    elif case == "order7":
        _arpa(path, ["the"], order=7)
    elif case == "folder_without_language":
        (tmp_path / "lms").mkdir()
        _arpa(tmp_path / "lms" / "pl.arpa", ["dom"])
        path = tmp_path / "lms"
    elif case == "other_alphabet":
        _arpa(path, ["привет", "мир", "the"])
    elif case == "char_lm_as_words":
        _arpa(path, ["|", "t", "h", "e"])
    code, err = run_user_cli([*EVAL_TRAIN_CLIPS, "--lm_path", str(path)], capsys, tmp_path / "run")
    lines = [line for line in err.splitlines() if line.startswith("xtreme-s: error:")]
    assert code == 2 and len(lines) == 1 and expected in lines[0], err
    assert not (tmp_path / "run" / "results.json").exists()
    assert not list((tmp_path / "run").glob("lm_*"))  # nothing decoded, nothing cached


def test_lm_flags_on_a_task_without_ctc_are_refused(tmp_path, capsys):
    code, err = run_user_cli(["--mini", "--dataset_config_name", "minds14.fr-FR", "--do_eval", "--lm_path",
                              str(tmp_path)], capsys, tmp_path / "run")
    assert code == 2 and "for the CTC speech recognition tasks" in err, err


def test_recipes_take_the_lm_flags():
    """`make fleurs-asr ARGS='--lm_path DIR --lm_tune'` runs run_xtreme_s.py task_configs/fleurs-asr.yaml <ARGS>."""
    from xtreme_s.args import parse_args

    *_, family_args = parse_args([str(ROOT / "task_configs" / "fleurs-asr.yaml"), "--output_dir", "/tmp/x",
                                  "--lm_path", "lms", "--lm_tune", "--beam_width", "50", "--lm_decoding",
                                  "lexicon_free", "--lm_weight", "1.5", "--word_score", "-1", "--beam_threshold", "25"])
    ctc = family_args["ctc"]
    assert (ctc.lm_path, ctc.lm_tune, ctc.beam_width, ctc.lm_decoding) == ("lms", True, 50, "lexicon_free")
    assert (ctc.lm_weight, ctc.word_score, ctc.beam_threshold) == (1.5, -1.0, 25.0)


def test_each_utterance_is_decoded_with_its_languages_lm(tmp_path):
    """A folder of LMs: the same ambiguous frames ("the c?t sat", a and u equally likely) come out as each
    utterance's language's LM spells them."""
    import numpy as np

    from xtreme_s.lm.arpa import build_arpa
    from xtreme_s.lm.decoder import DecoderSettings, DecoderSpec, beam_decode

    build_arpa(["the cat sat", "a cat"], 2, tmp_path / "aa.arpa")
    build_arpa(["the cut sat", "a cut"], 2, tmp_path / "bb.arpa")
    tokens = ("|", *"acehstu", "[UNK]", "[PAD]")
    blank = len(tokens) - 1
    frames = []
    for ch in "the|c?t|sat":
        row = np.full(len(tokens), -8.0, dtype=np.float32)
        for c in ("au" if ch == "?" else ch):
            row[tokens.index(c)] = np.log(0.5 if ch == "?" else 0.9)
        frames += [row, np.where(np.arange(len(tokens)) == blank, 0.0, -8.0).astype(np.float32)]
    emissions = np.stack(frames)
    words = {str(tmp_path / f"{lang}.arpa"): ("the", "cat", "cut", "sat", "a") for lang in ("aa", "bb")}
    spec = DecoderSpec(tokens, blank, {lang: str(tmp_path / f"{lang}.arpa") for lang in ("aa", "bb")}, words)
    texts = beam_decode(spec, [("aa", emissions), ("bb", emissions), ("aa", emissions[:0])],
                        [DecoderSettings(beam_width=20, lm_weight=2.0)], workers=0)[0]
    assert texts == ["the cat sat", "the cut sat", ""]


def test_lm_decode_benchmark_measures_greedy_and_beams(tmp_path):
    from conftest import load_script

    result = load_script("lm_decode").main(["--out", str(tmp_path), "--repeat", "1", "--beams", "4", "16",
                                            "--workers", "1"])
    assert set(result["rtfx"]) == {"greedy", "beam 4, 1 process", "beam 16, 1 process"}
    assert all(v > 0 for v in result["rtfx"].values()) and result["audio_seconds"] > 10
    assert "| beam 16, 1 process |" in (tmp_path / "lm_decode.md").read_text()
