"""`xtreme-s lm build CONFIG --order N --output_dir DIR`: per-language n-gram LMs from a task's training text.

CONFIG is a config name (fleurs.all, mls.pl, ...) or a recipe file (task_configs/fleurs-asr.yaml), whose data
flags (sources, split names, text normalisation) apply; the data flags of the runner can follow on the command line.
Only the split --train_split_name names is read, and a name the runner evaluates on (validation, test, dev) is
refused: evaluation transcripts never reach an LM. Each transcript is normalised by the CTC family's own
normaliser (xtreme_s.text.TextNormalizer with the run's --text_normalization, --chars_to_ignore,
--unicode_normalization), so the LM's words are spelled as the CTC labels are. `--text FILE` builds from a user's
corpus instead (one sentence per line, normalised the same way). Writes `<language>.arpa` per language and
`lm_build.json` (what was built from what, checksums): the folder is what --lm_path takes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

from transformers import HfArgumentParser

from .args import DataArguments, apply_mini_defaults
from .argv import load_config_file
from .errors import UsageError
from .lm.arpa import UNITS, build_arpa
from .lm.files import sha256
from .registry import resolve
from .sources import LoadContext, load_splits
from .text import TextNormalizer

BUILD_FILE = "lm_build.json"
EVALUATION_SPLITS = ("validation", "test", "dev", "eval")
# Word 4-grams, as wav2vec 2.0 decodes LibriSpeech with; characters need a longer context to model spelling: the
# longest the decoder's KenLM reads (6, xtreme_s.lm.arpa.MAX_ORDER).
DEFAULT_ORDER = {"word": 4, "char": 6}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"lm build: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="xtreme-s lm build", description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="config name (e.g. fleurs.all, mls.pl) or a recipe file (task_configs/*.yaml)")
    p.add_argument("--output_dir", required=True, help="folder for <language>.arpa and lm_build.json")
    p.add_argument("--order", type=int, default=None, help="n-gram order, 2-6 (default 4 for words, 6 for characters)")
    p.add_argument("--unit", choices=UNITS, default="word",
                   help="'word' (lexicon decoding, default) or 'char' (--lm_decoding lexicon_free)")
    p.add_argument("--text", default=None, help="build from this text file (one sentence per line) instead of "
                                                 "the training transcripts")
    p.add_argument("--language", default=None, help="with --text: the language the LM is for (its file name); "
                                                     "default: the config's only language")
    p.add_argument("--mini", action="store_true", help="read the bundled mini benchmark")
    return p


def _data_args(config: str, rest: list[str], mini: bool) -> DataArguments:
    """The runner's data flags: the recipe's values, then the command line's."""
    names = {f.name for f in fields(DataArguments)}
    argv: list[str] = []
    if config.endswith((".yaml", ".yml", ".json")):
        for key, value in load_config_file(config).items():
            if key in names and value is not None:
                argv += [f"--{key}", *map(str, value if isinstance(value, list) else [value])]
    else:
        argv = ["--dataset_config_name", config]
    parser = HfArgumentParser((DataArguments,))
    try:
        data_args, unknown = parser.parse_args_into_dataclasses(argv + rest, return_remaining_strings=True)
    except SystemExit as err:  # argparse's own message was printed
        raise UsageError("lm build: a data flag's value is invalid (see above).") from err
    if unknown:
        raise UsageError(f"lm build: unknown flag(s) {' '.join(unknown)}. The runner's data flags apply "
                         "(--mirror_root, --data_dir, --train_split_name, --text_normalization, ...).")
    if mini:
        apply_mini_defaults(SimpleNamespace(model_name_or_path=None), data_args, {}, ["--model_name_or_path"])
    return data_args


def _read_text(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UsageError(f"lm build: --text {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"lm build: --text {path} cannot be read as UTF-8 text ({err}).") from None


def build(argv: list[str]) -> dict:
    args, rest = _parser().parse_known_args(argv)
    data_args = _data_args(args.config, rest, args.mini)
    task = resolve(data_args.dataset_config_name, data_args.task, data_args.language, data_args.target_column_name,
                   data_args.language_group)
    if task.spec.family != "ctc":
        raise UsageError(f"lm build: {task.config_name} is a {task.spec.family} task; n-gram LMs are for the CTC "
                         "speech recognition tasks (mls, voxpopuli, babel, fleurs-asr).")
    order = args.order or DEFAULT_ORDER[args.unit]
    norm = TextNormalizer(data_args.text_normalization, data_args.chars_to_ignore, data_args.unicode_normalization)
    out = Path(args.output_dir)
    sentences: dict[str, list[str]] = {}
    if args.text is not None:
        language = args.language or (task.languages[0] if len(task.languages) == 1 else None)
        if language is None:
            raise UsageError(f"lm build: --text builds one LM; name its language with --language (one of "
                             f"{', '.join(task.languages)}).")
        sentences[language] = [norm(line) for line in _read_text(args.text)]
        source = {"text_file": str(Path(args.text).resolve())}
    else:
        split = data_args.train_split_name
        if split.lower() in EVALUATION_SPLITS:
            raise UsageError(f"lm build: --train_split_name {split} is an evaluation split; LMs are built from "
                             "training transcripts only (or --text FILE).")
        ctx = LoadContext(mirror_root=data_args.mirror_root, data_dir=data_args.data_dir,
                          revision=data_args.dataset_revision, source_layout=data_args.source_layout,
                          mls_english_train_ids=data_args.mls_english_train_ids, train_split=split)
        splits, missing = load_splits(task, [split], ctx, data_args.target_column_name)
        for lang, text in zip(splits[split]["language"], splits[split]["target"], strict=True):
            sentences.setdefault(lang, []).append(norm(text))
        if missing:
            print(f"xtreme-s lm build: no training data for {', '.join(missing)}: no LM built for them.",
                  file=sys.stderr)
        source = {"split": split, "revisions": ctx.record.get("revisions", {})}
    record = {"config_name": task.config_name, "unit": args.unit, "order": order, "builder": "kaldingram "
              "(back-off Kneser-Ney, unmodified)", "normalization": {
                  "text_normalization": data_args.text_normalization, "chars_to_ignore": data_args.chars_to_ignore,
                  "unicode_normalization": data_args.unicode_normalization}, **source, "languages": {}}
    for lang, texts in sorted(sentences.items()):
        start = time.perf_counter()
        path = out / f"{lang}.arpa"
        used = build_arpa(texts, order, path, args.unit)
        record["languages"][lang] = {"file": path.name, "sentences": used, "sha256": sha256(path),
                                     "seconds": round(time.perf_counter() - start, 2)}
        print(f"{path}: {used} sentences, order {order} ({args.unit})")
    (out / BUILD_FILE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Wrote {out / BUILD_FILE}. Decode with: --lm_path {out}"
          + (" --lm_decoding lexicon_free" if args.unit == "char" else ""))
    return record


def main(argv: list[str]) -> int:
    if argv[:1] != ["build"]:
        raise UsageError("usage: xtreme-s lm build CONFIG --output_dir DIR [--order N] [--unit word|char] "
                         "[--text FILE] [--mini]")
    build(argv[1:])
    return 0
