"""Command-line arguments: the reference runner's flags, on today's transformers.

Three shared dataclasses in the style of the Hugging Face examples, plus one per task family that has flags of
its own (declared by the family, listed by `families.family_arguments`), all parsed by one `HfArgumentParser`:
flag names stay flat (`--retrieval_layer`, `--decoder_name_or_path`), and `--help` shows one group per dataclass.
A YAML/JSON config file (first positional argument; then any `--config` files, each layered over the ones before:
encoder and protocol settings) supplies defaults that later command-line flags
override. Flags that transformers 5 renamed or removed are translated before parsing, so the seed README's command
lines run as written.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from transformers import HfArgumentParser, Seq2SeqTrainingArguments

from .argv import (
    HELP_HINT,
    expand_config_files,
    given,
    known_flag_names,
    mini_asked,
    translate_legacy_flags,
    with_suggestions,
)
from .errors import UsageError
from .sources import MINI_ROOT, mini_defaults

logger = logging.getLogger(__name__)


@dataclass
class ModelArguments:
    _argument_group_name = "Model (the pretrained speech encoder and its regularisation)"

    model_name_or_path: str = field(
        default="facebook/wav2vec2-xls-r-300m",
        metadata={"help": "Pretrained speech encoder (Hub id or local directory), e.g. facebook/wav2vec2-xls-r-300m."})
    cache_dir: str | None = field(default=None, metadata={"help": "Where Hub models and datasets are cached."})
    model_revision: str = field(default="main", metadata={"help": "Model revision (branch, tag or commit)."})
    freeze_feature_encoder: bool = field(
        default=True, metadata={"help": "Freeze the convolutional feature encoder (every XTREME-S reference run)."})
    attention_dropout: float = field(default=0.0, metadata={"help": "Dropout on attention probabilities."})
    activation_dropout: float = field(default=0.0, metadata={"help": "Dropout inside the feed-forward layers."})
    feat_proj_dropout: float = field(default=0.0, metadata={"help": "Dropout after the feature projection."})
    hidden_dropout: float = field(default=0.0, metadata={"help": "Dropout on hidden states and embeddings."})
    final_dropout: float = field(default=0.0, metadata={"help": "Dropout before the output head."})
    mask_time_prob: float = field(
        default=0.05, metadata={"help": "SpecAugment: share of time steps masked (reference runs: 0.3)."})
    mask_time_length: int = field(default=10, metadata={"help": "SpecAugment: length of each time mask."})
    mask_feature_prob: float = field(
        default=0.0, metadata={"help": "SpecAugment: share of feature channels masked (reference runs: 0.1)."})
    mask_feature_length: int = field(default=10, metadata={"help": "SpecAugment: length of each feature mask (64)."})
    layerdrop: float = field(default=0.0, metadata={"help": "Probability of dropping a whole transformer layer."})
    attn_implementation: str | None = field(
        default="sdpa", metadata={"help": "Attention kernel: 'sdpa' (default), 'eager' or 'flash_attention_2'."})


@dataclass
class DataArguments:
    _argument_group_name = "Data (task, languages, splits and text)"

    dataset_name: str = field(
        default="google/xtreme_s",
        metadata={"help": "Kept for the reference command lines; only 'google/xtreme_s' is meaningful: each task "
                          "reads its real source (FLEURS, MLS, VoxPopuli, ...) without the loading script."})
    dataset_config_name: str | None = field(
        default=None, metadata={"help": "XTREME-S config, e.g. mls.all, voxpopuli.pl, fleurs.all, covost2.fr.en, "
                                        "minds14.all, babel.sw. Alternative: --task with --language."})
    task: str | None = field(
        default=None, metadata={"help": "Task name (mls, voxpopuli, babel, fleurs-asr, fleurs-lang_id, "
                                        "fleurs-retrieval, covost2, minds14); picks the FLEURS task too."})
    language: str | None = field(default=None, metadata={"help": "With --task: a language code or 'all'."})
    language_group: str | None = field(
        default=None, metadata={"help": "FLEURS only: train/evaluate one language group, e.g. western_european_we."})
    target_column_name: str | None = field(
        default=None, metadata={"help": "Column to predict (default: the task's, e.g. transcription)."})
    mirror_root: str | None = field(
        default=None, metadata={"help": "Local folder that replaces hf://datasets/ (same repository layout); "
                                        "also $XTREME_S_MIRROR_ROOT. Runs the hub code path offline."})
    data_dir: str | None = field(
        default=None, metadata={"help": "Hand-downloaded data (CoVoST-2: Common Voice 4 + CoVoST tsv; BABEL: "
                                        "the LDC package) or a plain local folder with <split>.tsv / parquet."})
    dataset_revision: str | None = field(
        default=None, metadata={"help": "Override the pinned Hub revision of the task's source dataset (applies to "
                                        "the layout read: the parquet files, or the raw files with the fallback)."})
    source_layout: str = field(
        default="auto", metadata={"help": "Which files of a Hub source to read: 'auto' (the parquet files; for FLEURS "
                                          "and VoxPopuli the original tar shards + TSVs on main when the parquet "
                                          "export is gone), 'parquet' (never fall back) or 'raw' (FLEURS, VoxPopuli: "
                                          "always the original files, converted once into local parquet)."})
    mini: bool = field(
        default=False, metadata={"help": "Run on the bundled mini benchmark and tiny model (offline smoke test)."})
    train_split_name: str = field(default="train", metadata={"help": "Training split."})
    eval_split_name: str = field(default="validation", metadata={"help": "Split evaluated during/after training."})
    predict_split_name: str = field(default="test", metadata={"help": "Split scored and written by --do_predict."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Truncate the training set (debugging)."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Truncate the evaluation set."})
    max_predict_samples: int | None = field(default=None, metadata={"help": "Truncate the prediction set."})
    max_duration_in_seconds: float = field(
        default=30.0, metadata={"help": "Training clips longer than this are skipped (and counted)."})
    min_duration_in_seconds: float = field(
        default=0.0, metadata={"help": "Training clips shorter than this are skipped (and counted)."})
    allow_skipping_eval_items: bool = field(
        default=False, metadata={"help": "Skip evaluation/test items that cannot be scored (audio that cannot be "
                                         "decoded, a language outside the config) instead of stopping the run; "
                                         "they are counted under skipped.<split> in results.json."})
    preprocessing_only: bool = field(
        default=False, metadata={"help": "Load data, build vocabulary/labels and cache them, then stop (run once "
                                         "on one process before a multi-GPU job)."})
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for dataset maps."})
    text_normalization: str = field(
        default="xtreme_s", metadata={"help": "'xtreme_s': lowercase and delete the reference punctuation set "
                                              "(as the reference runner); 'none': keep text as is."})
    # argparse %-formats help strings: a literal percent sign is written %%.
    chars_to_ignore: list[str] | None = field(
        default=None, metadata={"help": "Characters deleted from transcripts (default: the reference set "
                                        ", ? . ! - ; : \" “ %% ‘ ” �)."})
    unicode_normalization: str | None = field(
        default=None, metadata={"help": "Optional Unicode normal form applied to transcripts (NFC, NFKC, ...)."})
    per_lang_metrics: bool = field(
        default=True, metadata={"help": "Report metrics per language plus their macro average (reference default)."})
    # MLS only.
    mls_english_train_ids: str | None = field(
        default=None, metadata={"help": "MLS English: a file of the 9-hour training ids (one per line, from MLS "
                                        "English train/limited_supervision/9hr). parler-tts/mls_eng serves English "
                                        "dev/test but no 9-hour split; without this file English is left out of "
                                        "training (mls.all then warns that 7 of 8 languages are used)."})


@dataclass
class XtremeSTrainingArguments(Seq2SeqTrainingArguments):
    _argument_group_name = "Training (transformers' Seq2SeqTrainingArguments, plus batching by duration)"

    overwrite_output_dir: bool = field(
        default=False, metadata={"help": "Start afresh in a non-empty --output_dir instead of resuming from its "
                                         "last checkpoint (transformers 5 removed this flag; we keep it)."})
    dataloader_num_workers: int | None = field(
        default=None, metadata={"help": "DataLoader worker processes; they decode and resample the audio. "
                                        "Default: min(4, CPU cores) with a GPU; without one 0 (decoding in the "
                                        "training process), as the training itself needs every core (workers made "
                                        "CPU training 1.3x slower in benchmarks/bench.py on 2 cores)."})
    max_batch_seconds: float | None = field(
        default=None, metadata={"help": "Batch training clips by duration instead of a fixed batch size: at most this "
                                        "many seconds of padded audio per batch and process (clips of similar "
                                        "length share a batch). Replaces --per_device_train_batch_size; e.g. 200."})
    num_duration_buckets: int = field(
        default=30, metadata={"help": "With --max_batch_seconds: duration buckets (more = less padding, less "
                                      "mixing of lengths within an epoch)."})
    shuffle_window_row_groups: int = field(
        default=8, metadata={"help": "Audio read from parquet row groups (hub sources): with --max_batch_seconds, "
                                     "each epoch shuffles the row groups, cuts them into windows of this many and "
                                     "batches and shuffles within each window, so each group is read about once per "
                                     "epoch (evaluation sorts by length within windows). More = better mixing and "
                                     "padding, more memory; 0 = shuffle over the whole split (reads thrash)."})
    row_group_cache_mb: float = field(
        default=1024, metadata={"help": "Memory per process (training process and each DataLoader worker) for parquet "
                                        "row groups read for their audio; should hold about two windows of "
                                        "--shuffle_window_row_groups (Hub exports: about 40 MB per group)."})
    pad_to_multiple_of_seconds: float | None = field(
        default=None, metadata={"help": "Pad every audio batch to a multiple of this many seconds, so "
                                        "--torch_compile sees few shapes (default 2 with --torch_compile, else off)."})

    prefer_bf16: bool = field(
        default=True, metadata={"help": "With --fp16 (the reference recipes' flag): train in bf16 instead wherever "
                                        "the hardware computes bf16 natively (Ampere or newer GPUs; CPUs with "
                                        "AVX512-BF16 or AMX): as fast or faster, and no loss scaling or fp16 "
                                        "overflow. On such CPUs this is also what gives --fp16 a meaning: "
                                        "elsewhere a CPU run trains in float32. False keeps fp16 as asked."})

    def __post_init__(self):
        import torch

        # Before the Trainer's own checks, which refuse --bf16 on a CPU unless --use_cpu is set.
        self.precision_note = resolve_precision(self)
        if self.dataloader_num_workers is None:
            on_gpu = torch.cuda.is_available() and not self.use_cpu
            self.dataloader_num_workers = min(4, os.cpu_count() or 1) if on_gpu else 0
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not self.use_cpu:
            if not torch.cuda.is_available():
                # Without this, accelerate leaves torchrun's CPU processes unaware of each other: each would train
                # the whole model alone and write the same output directory.
                self.use_cpu = True
        super().__post_init__()


def native_bf16() -> bool:
    """bf16 autocast pays off only where the hardware computes in bf16; elsewhere it is emulated and slower."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_precision(args: XtremeSTrainingArguments) -> str | None:
    """Turn --fp16/--bf16 into what this hardware runs well; returns what changed, to log (None if nothing).

    fp16 autocast exists only on accelerators (accelerate ignores it on a CPU), and bf16 is faster than fp16 or
    float32 wherever the hardware has it, so the reference recipes' --fp16 becomes bf16 there (--prefer_bf16)."""
    import torch

    if not (args.fp16 or args.bf16):
        return None
    cuda, native = torch.cuda.is_available(), native_bf16()
    note = None
    if args.fp16 and args.prefer_bf16 and native:
        args.fp16, args.bf16 = False, True
        note = (f"--fp16: training in bf16 instead, which this {'GPU' if cuda else 'CPU'} computes natively (faster "
                "or as fast, no loss scaling); --prefer_bf16 False keeps fp16.")
    elif not cuda and not (args.bf16 and native):
        asked = "fp16" if args.fp16 else "bf16"
        args.fp16 = args.bf16 = False
        alternative = " or a CPU with native bf16 (AVX512-BF16 or AMX)" if asked == "bf16" else ""
        return f"--{asked} needs a CUDA GPU{alternative} and none is here: this run trains in float32 instead."
    if args.bf16 and not cuda:
        args.use_cpu = True  # the Trainer accepts CPU bf16 autocast only when told it runs on the CPU
    return note


def argument_classes() -> tuple[type, ...]:
    """Every dataclass of flags, in parsing order: the shared ones, the protocol's, then each family's."""
    from .families import family_arguments
    from .protocols import ProtocolArguments
    from .readymade.base import ReadyMadeArguments

    return (ModelArguments, DataArguments, XtremeSTrainingArguments, ProtocolArguments, ReadyMadeArguments,
            *family_arguments().values())


def build_parser() -> HfArgumentParser:
    """The parser of every flag (`argument_classes`)."""
    parser = HfArgumentParser(argument_classes())

    def error(message: str) -> None:  # argparse would print its 200-line usage first; one line is enough
        raise UsageError(f"{message.rstrip('.')}. {HELP_HINT}")

    parser.error = error
    return parser


def parse_args(argv: list[str] | None = None) -> tuple[ModelArguments, DataArguments, XtremeSTrainingArguments,
                                                       dict[str, Any]]:
    """Parse (config file) + command line into the shared argument dataclasses and the families' own.

    Returns (model_args, data_args, training_args, family_args), family_args mapping each family name that has
    flags ("ctc", "seq2seq", "retrieval") to its parsed dataclass (the runner hands the task's to its family),
    "protocol" to the ProtocolArguments (what is trained: xtreme_s.protocols) and "ready_made" to the
    ReadyMadeArguments (models evaluated as they are: xtreme_s.readymade)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    full = translate_legacy_flags(expand_config_files(argv))
    if mini_asked(full) and not given(full, "output_dir"):
        full += ["--output_dir", "outputs/mini"]
    from .families import family_arguments

    try:
        *parsed, rest = build_parser().parse_args_into_dataclasses(args=full, return_remaining_strings=True)
    except UsageError:
        raise
    except ValueError as err:  # a dataclass's own check of the values (e.g. the Trainer's flag combinations)
        raise UsageError(f"invalid flags: {' '.join(str(err).split())}") from None
    unknown = [a.split("=", 1)[0].lstrip("-") for a in rest if a.startswith("-")]
    if rest:
        what = (f"unknown flag(s) {with_suggestions(unknown, known_flag_names())}" if unknown else
                f"unexpected argument(s) {' '.join(rest)}")
        raise UsageError(f"{what}. {HELP_HINT}")
    model_args, data_args, training_args, protocol_args, ready_made_args, *parsed = parsed
    family_args = {**dict(zip(family_arguments(), parsed, strict=True)), "protocol": protocol_args,
                   "ready_made": ready_made_args}
    if data_args.mini:
        apply_mini_defaults(model_args, data_args, family_args, argv)
    return model_args, data_args, training_args, family_args


def apply_mini_defaults(model_args: ModelArguments, data_args: DataArguments, family_args: dict[str, Any],
                        argv: list[str]) -> None:
    """`--mini`: read the bundled mirror and tiny model unless the command line points elsewhere.

    A config file's model (the real XLS-R) is replaced: `make mls MINI=1` runs the recipe on the tiny model."""
    if not MINI_ROOT.is_dir():
        raise UsageError(f"--mini needs the bundled mini benchmark at {MINI_ROOT} (run from a checkout, or "
                                "regenerate it with `make mini-benchmark`).")
    task_prefix = (data_args.dataset_config_name or data_args.task or "").split(".")[0]
    # The corpus's adapter says where the mini benchmark keeps it (the mirror; BABEL's hand-downloaded layout).
    for name, value in mini_defaults(task_prefix).items():
        if getattr(data_args, name) is None:
            setattr(data_args, name, value)
    if not given(argv, "model_name_or_path"):
        model_args.model_name_or_path = str(MINI_ROOT / "models" / "tiny-xls-r")
    if task_prefix == "covost2" and not given(argv, "decoder_name_or_path"):
        family_args["seq2seq"].decoder_name_or_path = str(MINI_ROOT / "models" / "tiny-decoder")
