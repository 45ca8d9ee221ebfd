"""The run's command line before it is parsed: config files, flags that were renamed, and the mistakes that can be
answered before torch and transformers are imported.

Parsing the flags needs transformers' `TrainingArguments`, whose import takes torch, peft and scikit-learn with it
(7-10 s before the first line of output). A misspelt flag, an unknown config name, a missing file or a missing
`--output_dir` is known from the command line alone, so `check_command_line` answers those first, in well under
a second; everything else is left to the full parser (`args.parse_args`). The flag names are read from the
source of the argument dataclasses (ours and transformers'), never imported; a test checks they match the parser.
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib.util
import json
import logging
import os
import re
from pathlib import Path

import yaml

from .errors import ConfigFileError, UsageError

logger = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE.parent
HELP_HINT = "`xtreme-s run --help` lists the flags."

# Flags whose value is optional and whose "True" string is an error (`fsdp: true` must become a bare `--fsdp`).
BARE_TRUE_FLAGS = {"fsdp"}

# transformers 4 -> 5 renames; value-less flags map onto their present-day equivalent.
RENAMED_FLAGS = {"--evaluation_strategy": "--eval_strategy", "--evaluation-strategy": "--eval_strategy",
                 "--no_cuda": "--use_cpu", "--push_to_hub_token": "--hub_token",
                 # transformers 5.24 deprecates these (a FutureWarning per run); same meaning under the new name.
                 "--gradient_checkpointing": "--activation_checkpointing",
                 "--gradient-checkpointing": "--activation_checkpointing",
                 "--gradient_checkpointing_kwargs": "--activation_checkpointing_kwargs",
                 "--gradient-checkpointing-kwargs": "--activation_checkpointing_kwargs"}
EXPANDED_FLAGS = {"--group_by_length": ["--train_sampling_strategy", "group_by_length"],
                  "--group-by-length": ["--train_sampling_strategy", "group_by_length"]}
# The reference runner's `--use_auth_token` (bare or a boolean: use the token saved by `huggingface-cli login`).
# Today that token is used without being asked for; a token given as its value becomes `--hub_token`.
AUTH_TOKEN_FLAGS = {"--use_auth_token", "--use-auth-token"}
UNICODE_FORMS = ("NFC", "NFD", "NFKC", "NFKD")


def string_to_bool(value: str) -> bool:
    """transformers.hf_argparser.string_to_bool's spellings, without importing transformers."""
    if value.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if value.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise ValueError(f"Truthy value expected: got {value}")


def is_bool(value: str) -> bool:
    try:
        string_to_bool(value)
    except ValueError:
        return False
    return True


def to_argv(config: dict) -> list[str]:
    """A config file's mapping as command-line flags."""
    argv: list[str] = []
    for key, value in config.items():
        if value is None:
            continue
        if value is True and key in BARE_TRUE_FLAGS:
            argv.append(f"--{key}")
        elif isinstance(value, (list, tuple)):
            argv += [f"--{key}", *map(str, value)]
        else:
            argv += [f"--{key}", str(value)]
    return argv


def with_suggestions(unknown: list[str], known: set[str]) -> str:
    """'name' (did you mean 'closest'?), ... for flags the parser does not know."""
    return ", ".join(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(
        k, known, n=1)) else "") for k in unknown)


def load_config_file(path: str | Path) -> dict:
    """A YAML/JSON mapping of flag names to values; every mistake in it is one ConfigFileError naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"config file {path} does not exist. Check the path (recipes are in "
                              f"{REPO_ROOT / 'task_configs'}).") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigFileError(f"config file {path} cannot be read: {err}.") from None
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigFileError(f"config file {path} is not valid {'JSON' if str(path).endswith('.json') else 'YAML'}"
                              f"{line}: {' '.join(str(getattr(err, 'problem', None) or err).split())}.") from None
    if not isinstance(data, dict):
        raise ConfigFileError(f"config file {path} must hold a mapping of flag names to values (`flag: value` "
                              "lines).")
    known = known_flag_names()
    unknown = [str(k) for k in data if str(k) not in known]
    if unknown:
        raise ConfigFileError(f"config file {path}: unknown flag(s) {with_suggestions(unknown, known)}. "
                              + HELP_HINT)
    return data


def expand_config_files(argv: list[str]) -> list[str]:
    """The recipe (first positional argument) and each `--config` file, layered in order, as flags before the
    command line's own (which override them)."""
    argv = list(argv)
    config: dict = {}
    if argv and argv[0].endswith((".yaml", ".yml", ".json")) and not argv[0].startswith("-"):
        config = load_config_file(argv.pop(0))
    i = 0
    while i < len(argv):  # each --config layers over the recipe and the ones before it (encoder, protocol)
        arg = argv[i]
        if arg == "--config" or arg.startswith("--config="):
            if "=" not in arg and i + 1 >= len(argv):
                raise UsageError("--config needs a file name (a YAML or JSON recipe).")
            path = arg.partition("=")[2] if "=" in arg else argv[i + 1]
            config = {**config, **load_config_file(path)}
            del argv[i:i + (1 if "=" in arg else 2)]
        else:
            i += 1
    return to_argv(config) + argv


def translate_legacy_flags(argv: list[str]) -> list[str]:
    """Rewrite the flags transformers 5 renamed or removed (reference command lines keep working)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        following = argv[i + 1] if i + 1 < len(argv) else None
        if name in RENAMED_FLAGS:
            out.append(RENAMED_FLAGS[name] + (eq + value if eq else ""))
        elif name in EXPANDED_FLAGS:
            # `--group_by_length` may be followed by an explicit boolean (the spellings transformers accepts).
            explicit = value if eq else (following if following is not None and is_bool(following) else None)
            if explicit is not None and not eq:
                i += 1
            if explicit is not None and not is_bool(explicit):
                raise UsageError(f"{name} takes a boolean, not {explicit!r}")
            if explicit is None or string_to_bool(explicit):
                out += EXPANDED_FLAGS[name]
        elif name in AUTH_TOKEN_FLAGS:
            explicit = value if eq else (following if following is not None and not following.startswith("-")
                                         else None)
            if explicit is not None and not eq:
                i += 1
            if explicit is not None and not is_bool(explicit):
                out += ["--hub_token", explicit]  # the reference also took the token itself
            else:
                logger.info("%s: the token saved by `hf auth login` is used without this flag (today's flag for "
                            "passing one is --hub_token).", name)
        else:
            out.append(arg)
        i += 1
    return out


def given(argv: list[str], name: str) -> bool:
    """Whether `--name` (or `--name=...`, or its dashed alias) is on the command line."""
    flags = {f"--{name}", f"--{name.replace('_', '-')}"}
    return any(a.split("=", 1)[0] in flags for a in argv)


def value_of(argv: list[str], name: str) -> str | None:
    """The last value given to `--name` (`--name v` or `--name=v`), or None."""
    flags = {f"--{name}", f"--{name.replace('_', '-')}"}
    found = None
    for i, arg in enumerate(argv):
        flag, eq, value = arg.partition("=")
        if flag in flags:
            found = value if eq else (argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--")
                                      else None)
    return found


def mini_asked(argv: list[str]) -> bool:
    """Whether `--mini` is on (bare, or with a true boolean): such a run may leave out --output_dir."""
    value = value_of(argv, "mini")
    return given(argv, "mini") and (value is None or not is_bool(value) or string_to_bool(value))


def _dataclass_fields(path: Path, class_suffix: str) -> set[str]:
    """The field names of the dataclasses in a source file whose class name ends with `class_suffix`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.name.endswith(class_suffix):
            names |= {item.target.id for item in node.body if isinstance(item, ast.AnnAssign)
                      and isinstance(item.target, ast.Name) and not item.target.id.startswith("_")}
    return names


@functools.cache
def known_flag_names() -> set[str]:
    """Every flag of the run parser, from the source of its dataclasses: ours (`*Arguments` classes anywhere in the
    package) and transformers' (TrainingArguments, Seq2SeqTrainingArguments), plus the aliases we translate.

    Read, not imported: importing them costs torch. tests/test_newcomer.py checks the parser has no flag outside it."""
    names = {"config"}
    for path in PACKAGE.rglob("*.py"):
        if "Arguments" in path.read_text(encoding="utf-8"):
            names |= _dataclass_fields(path, "Arguments")
    spec = importlib.util.find_spec("transformers")  # finds the package without importing it
    if spec is not None and spec.origin:
        root = Path(spec.origin).parent
        for name in ("training_args.py", "training_args_seq2seq.py"):
            if (root / name).is_file():
                names |= _dataclass_fields(root / name, "TrainingArguments")
    return names | {k.lstrip("-") for k in (*RENAMED_FLAGS, *EXPANDED_FLAGS, *AUTH_TOKEN_FLAGS)}


def unknown_flags(argv: list[str], known: set[str]) -> list[str]:
    """Flags that argparse would not accept: not a flag, its dashed alias, `--no_<flag>`, nor a prefix of one
    (argparse accepts unambiguous abbreviations). Tokens after a flag that look like negative numbers are values."""
    out = []
    for arg in argv:
        if not arg.startswith("--") or arg == "--":
            continue
        name = arg[2:].split("=", 1)[0].replace("-", "_")
        bare = name[3:] if name.startswith("no_") else name
        if not any(flag.startswith(name) or flag == bare for flag in known):
            out.append(name)
    return out


def check_command_line(argv: list[str]) -> list[str]:
    """The mistakes a run's command line shows by itself, before the heavy imports: config files, flag names,
    config name, files and folders named, values with a fixed set of choices. Returns the full argv (config files
    expanded, legacy flags translated) for the parser; raises UsageError for the first mistake."""
    full = translate_legacy_flags(expand_config_files(argv))
    if any(a in ("-h", "--help") for a in full):
        return full
    known = known_flag_names()
    unknown = unknown_flags(full, known)
    if unknown:
        raise UsageError(f"unknown flag(s) {with_suggestions(unknown, known)}. {HELP_HINT}")
    if not given(full, "output_dir") and not mini_asked(full):
        raise UsageError("--output_dir is required: the folder this run writes its model, checkpoints and "
                         "results.json into (e.g. --output_dir outputs/mls; outputs/ is git-ignored).")
    _check_task(full)
    _check_paths(full)
    _check_values(full)
    return full


def _check_task(argv: list[str]) -> None:
    from .registry import resolve  # light: the registry imports nothing heavy

    resolve(value_of(argv, "dataset_config_name"), value_of(argv, "task"), value_of(argv, "language"),
            value_of(argv, "target_column_name"), value_of(argv, "language_group"))


def _looks_local(value: str) -> bool:
    """A path, not a Hub id: absolute, relative with ./ or ../, home-relative, or with more than one slash."""
    return value.startswith(("/", "./", "../", "~")) or value.count("/") > 1 or "\\" in value


def _check_paths(argv: list[str]) -> None:
    # (--data_dir is left to the sources, whose message says what to download and where to put it.)
    for name, what in (("mls_english_train_ids", "file"), ("resume_from_checkpoint", "folder")):
        value = value_of(argv, name)
        if value and not Path(value).expanduser().exists():
            raise UsageError(f"--{name} {value}: no such {what}.")
    model = value_of(argv, "model_name_or_path")
    if model and _looks_local(model) and not Path(model).expanduser().exists():
        raise UsageError(f"--model_name_or_path {model}: no such folder (a local model folder, or a Hub id such "
                         "as facebook/wav2vec2-xls-r-300m).")
    output = value_of(argv, "output_dir")
    if output and Path(output).expanduser().is_file():
        raise UsageError(f"--output_dir {output} is a file, not a folder; pass a folder (it is created if "
                         "missing).")


def _check_values(argv: list[str]) -> None:
    form = value_of(argv, "unicode_normalization")
    if form is not None and form not in UNICODE_FORMS:
        raise UsageError(f"--unicode_normalization {form!r}: use one of {', '.join(UNICODE_FORMS)} (or leave it "
                         "out).")
    for name in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
        value = value_of(argv, name)
        if value is not None and re.fullmatch(r"-?\d+", value) and int(value) < 1:
            raise UsageError(f"--{name} {value}: must be at least 1.")
    revision = value_of(argv, "dataset_revision")
    mirror = value_of(argv, "mirror_root") or os.environ.get("XTREME_S_MIRROR_ROOT") or (
        "of the bundled mini benchmark (--mini)" if given(argv, "mini") else None)
    if revision and mirror:
        raise UsageError(f"--dataset_revision {revision}: the mirror {mirror} holds one snapshot of each repository, "
                         "not its revisions, so it cannot read that revision (and results.json would record a "
                         "revision never read). Drop --dataset_revision, or read the Hub without --mirror_root.")
    language = value_of(argv, "adapter_language")
    if language is not None and (not re.fullmatch(r"[A-Za-z0-9_.-]+", language) or language in (".", "..")):
        raise UsageError(f"--adapter_language {language!r}: a language code names the adapter file "
                         "(adapter.<code>.safetensors), so it may hold only letters, digits, '_', '-' and '.'.")
