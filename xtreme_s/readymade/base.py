"""The interface and the table of ready-made models (models that already have their head: Whisper, MMS-1b-all,
SeamlessM4T v2, any saved audio classifier), scored on the benchmark's test sets beside fine-tuned runs.

Which evaluator a model gets is decided in one place, `detect`, from the table `ARCHITECTURES` (the architecture
in config.json, plus a check of the files where one architecture serves both ready-made and fine-tunable
checkpoints: MMS-1b-all is a `Wav2Vec2ForCTC` with per-language adapters and a nested per-language vocabulary).
Each evaluator (`ReadyMadeModel`) says which task kinds it can do, maps a benchmark language to its own code
(None: not covered, from the model's own tables) and predicts one batch of one language (`predict`), or
classifies clips (`classify`: language ID, intents). xtreme_s/readymade_run.py runs them over the benchmark's
splits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from transformers import AutoConfig

from .. import langcodes
from ..errors import UsageError
from ..hub import ModelSource

# Task name -> what a ready-made model must do for it; None: nothing a ready-made model's own head does.
TASK_KINDS: dict[str, str | None] = {"fleurs-asr": "asr", "mls": "asr", "voxpopuli": "asr", "babel": "asr",
                                     "covost2": "translate", "fleurs-lang_id": "lang_id", "minds14": "intent",
                                     "fleurs-retrieval": None}
KIND_WORDS = {"asr": "speech recognition", "translate": "speech translation X->en", "lang_id": "language ID",
              "intent": "intent classification"}
CLASSIFICATION_KINDS = ("lang_id", "intent")


@dataclass
class ReadyMadeArguments:
    """Flags of ready-made evaluation, parsed with the shared ones (one `--help` group)."""

    _argument_group_name = "Ready-made models (Whisper, MMS-1b-all, SeamlessM4T v2 evaluated as they are)"

    ready_made: str = field(
        default="auto",
        metadata={"help": "Evaluate --model_name_or_path as it is, with its own head and generation: 'auto' (default: "
                          "when its architecture is in the ready-made table and the run does not train), 'whisper', "
                          "'mms' or 'seamless' (insist on that evaluator), or 'off' (never; the model is treated "
                          "as an encoder to fine-tune or probe). See docs/ready-made-models.md."})
    max_new_tokens: int = field(
        default=225, metadata={"help": "Ready-made generation: most new tokens per utterance (default 225, the "
                                       "Whisper fine-tuning recipes' generation_max_length). Beams: "
                                       "--generation_num_beams (default 1, greedy, as the Open ASR Leaderboard)."})
    generation_batch_seconds: float | None = field(
        default=None, metadata={"help": "Ready-made evaluation: batches of clips of similar length (sorted by "
                                        "duration within each language), at most --per_device_eval_batch_size clips "
                                        "and, if set, at most this many seconds of padded audio per batch."})
    model_language_codes: list[str] | None = field(
        default=None, metadata={"help": "Override the language-code tables: BENCHMARK_CODE=MODEL_CODE pairs, e.g. "
                                        "ar_eg=ara (the model's own tables still decide what is covered)."})
    eval_crops: int = field(
        default=1, metadata={"help": "Classification (language ID, intents): score each clip on up to this many "
                                     "crops of --eval_crop_seconds, evenly spaced, and average their logits (the "
                                     "XLS-R recipe's --infer-xtimes 10 --merge mean_logit). Above 1, any saved "
                                     "audio-classification model (a fine-tuned output directory, mms-lid) is "
                                     "evaluated as it is. Default 1: the whole clip once."})
    eval_crop_seconds: float = field(
        default=10.0, metadata={"help": "Length of each crop of --eval_crops (default 10 s, as the XLS-R recipe); "
                                        "shorter clips are scored whole, once."})
    normalized_scoring: bool = field(
        default=True, metadata={"help": "Ready-made ASR: also report the Whisper paper's normalised error rates "
                                        "(basic normaliser, combining marks kept; CER for zh/ja/th/lo/my) beside the "
                                        "benchmark's metrics, under `normalized` in results.json."})


class ReadyMadeModel:
    """One ready-made evaluator. Subclasses set `name`, `tasks`, and implement `load`, `own_code`, `predict`
    (and `classify` when they do language ID or intents)."""

    name: ClassVar[str] = ""
    tasks: ClassVar[frozenset[str]] = frozenset()
    sampling_rate = 16_000

    def __init__(self, source: ModelSource, training_args: Any, args: ReadyMadeArguments):
        self.source = source  # every part of the model is read through it (one revision, cache, token)
        self.path = source.name
        self.args = args
        self.num_beams = training_args.generation_num_beams or 1
        self.device = torch.device("cuda" if torch.cuda.is_available() and not training_args.use_cpu else "cpu")
        self.dtype = (torch.bfloat16 if training_args.bf16 else torch.float16 if training_args.fp16
                      else torch.float32) if self.device.type == "cuda" else torch.float32
        self.overrides = langcodes.parse_overrides(args.model_language_codes)
        self.model: Any = None

    # -- to implement ------------------------------------------------------------------------------------
    def load(self) -> None:
        raise NotImplementedError

    def own_code(self, language: str, kind: str) -> str | None:
        """The model's code for a benchmark language (`language`: FLEURS locale, MLS code, ...), None when the
        model's own tables lack it."""
        raise NotImplementedError

    def predict(self, waves: list[np.ndarray], code: str, kind: str) -> list[str]:
        """Texts for one batch of one language: transcripts (`asr`) or English translations (`translate`)."""
        raise NotImplementedError

    def classify(self, waves: list[np.ndarray], kind: str) -> list[str]:
        """Language ID (a FLEURS locale per clip, or `<model>:<code>` for a language FLEURS does not have) or
        intent classification (an intent name per clip)."""
        raise UsageError(f"{self.name} does not do {KIND_WORDS[kind]}.")

    # -- shared ------------------------------------------------------------------------------------------
    def check_kind(self, kind: str) -> None:
        """Refuse, once the model is loaded, a task kind this checkpoint cannot do (e.g. an English-only Whisper)."""

    def code_for(self, language: str, kind: str) -> str | None:
        return self.own_code(language, kind)

    def settings(self) -> dict[str, Any]:
        """What generation ran with, for results.json."""
        return {"num_beams": self.num_beams, "max_new_tokens": self.args.max_new_tokens,
                "device": str(self.device), "dtype": str(self.dtype).replace("torch.", ""),
                "language_code_overrides": self.overrides}

    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def _nested_vocab(source: ModelSource) -> bool:
    """Whether the tokenizer's vocab.json maps languages to vocabularies (MMS-1b-all), not tokens to ids."""
    file = source.file("vocab.json")
    if not file:
        return False
    with open(file, encoding="utf-8") as f:
        vocab = json.load(f)
    return bool(vocab) and all(isinstance(v, dict) for v in vocab.values())


def _mms(config: Any, source: ModelSource) -> bool:
    return getattr(config, "adapter_attn_dim", None) is not None and _nested_vocab(source)


# config.json `architectures[0]` -> (evaluator name, extra check of the checkpoint or None). Architectures are
# matched exactly, then by suffix (any audio classifier).
ARCHITECTURES: dict[str, tuple[str, Any]] = {
    "WhisperForConditionalGeneration": ("whisper", None),
    "Wav2Vec2ForCTC": ("mms", _mms),
    "SeamlessM4Tv2ForSpeechToText": ("seamless", None),
    "SeamlessM4Tv2Model": ("seamless", None),
    "ForSequenceClassification": ("classifier", None),
    "ForAudioClassification": ("classifier", None),
}
# Chosen by --ready_made auto without further flags; a classifier only with --eval_crops above 1 (without, the
# fine-tuning runner evaluates it through its family, as before).
AUTOMATIC = ("whisper", "mms", "seamless")


def detect(source: ModelSource) -> tuple[str | None, str]:
    """(evaluator name or None, the architecture read) of a checkpoint; (None, "unknown") when it has no config
    transformers can read (e.g. a LoRA output directory: the runner deals with those)."""
    try:
        config = source.from_pretrained(AutoConfig)
    except (OSError, ValueError, KeyError):
        return None, "unknown"
    arch = (getattr(config, "architectures", None) or [type(config).__name__])[0]
    name, check = ARCHITECTURES.get(arch) or next(
        (entry for suffix, entry in ARCHITECTURES.items() if arch.endswith(suffix)), (None, None))
    if name is not None and check is not None and not check(config, source):
        name = None
    return name, arch
