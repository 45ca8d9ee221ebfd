"""The small interface every task family implements (in the spirit of s3prl's downstream tasks).

The runner owns the shared steps (loading, filtering, the Trainer, reports); a family only says how targets
become labels, which model head to build, how predictions decode and how they are scored. As s3prl passes `mode`
into every call, each call here names the split it is for (`train`, `validation`, `test`, or whatever
--*_split_name says): results.json, `skipped` and `notes` are keyed by those names, never by the runner's roles.
A family owns its flags: `arguments_class` is a dataclass parsed with the shared ones (its own `--help` group),
and the family receives the parsed object as `family_args`.

A family is not the run's record: what it learns about the data (skipped rows, notes, references, each split's
scores) goes to the run's `results.RunTally`, which the runner owns and reads. Protocols tell a family what they
need only through its methods (`set_encoder_overrides`, `use_saved_settings`, `mask_padding`, `build_probe`,
`stacked_decoder`); every model is read through one `hub.ModelSource`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch
from datasets import Dataset
from transformers import AutoConfig, AutoModel, PreTrainedModel

from .. import encoders
from ..collators import SpeechCollator, SpeechDataset, padding_multiple
from ..errors import UsageError
from ..hub import ModelSource
from ..metrics import SCORERS, per_language
from ..registry import ResolvedTask
from ..results import RunTally
from ..trainer import SpeechTrainer
from .probe_heads import ProbeSetup

logger = logging.getLogger(__name__)


class Prepared(NamedTuple):
    """What `prepare` returns. The training split is apart from the scored ones because it is filtered by the
    training rules while every scored row counts, and a run may score the split it trains on (an overfitting
    check: `--eval_split_name train`)."""

    train: Any  # the training dataset (SpeechDataset), or None when the run does not train
    evaluated: dict[str, Any]  # split name -> dataset of every row to score, in the order given


class Scored(NamedTuple):
    """A split's decoded predictions and their scores (`TaskFamily.evaluate`)."""

    predictions: list
    report: dict


class TaskFamily:
    """Base class: shared plumbing; subclasses fill in `prepare`, `build_model` and `decode`."""

    label_kind = "sequence"  # see SpeechCollator
    # Modules the family adds to the encoder (untrained at the start): trained in full by LoRA and adapters.
    head_modules: ClassVar[tuple[str, ...]] = ()
    trainer_class: type = SpeechTrainer  # SpeechSeq2SeqTrainer for generation
    arguments_class: ClassVar[type | None] = None  # the family's own flags (a dataclass), if it has any

    def __init__(self, task: ResolvedTask, model_args: Any, data_args: Any, training_args: Any,
                 family_args: Any = None, tally: RunTally | None = None, source: ModelSource | None = None):
        self.task = task
        self.model_args = model_args
        self.data_args = data_args
        self.training_args = training_args
        if family_args is None and self.arguments_class is not None:
            family_args = self.arguments_class()  # programmatic use: the flags' defaults
        self.family_args = family_args
        self.tally = tally if tally is not None else RunTally()  # the run's record (the runner reads it)
        self.source = source or ModelSource.of(model_args)  # --model_name_or_path, its revision and cache
        self.train_split: str = data_args.train_split_name
        self.processor: Any = None
        # Config fields a protocol sets on the encoder before loading (e.g. MMS adapters' adapter_attn_dim).
        self._encoder_overrides: dict[str, Any] = {}
        # Where the pretrained weights are when --model_name_or_path holds only adapters (LoRA): its base model.
        self._base: ModelSource | None = None
        self._mask_padding = False  # a protocol's model masks padded frames itself (the probe)

    # -- what a protocol may ask of a family -------------------------------------------------------------
    def set_encoder_overrides(self, **config_fields: Any) -> None:
        """Config fields set on the encoder before its weights load (MMS adapters: `adapter_attn_dim`)."""
        self._encoder_overrides.update(config_fields)

    def mask_padding(self) -> None:
        """The model needs to know which frames are padding even for encoders run without an attention mask."""
        self._mask_padding = True

    def use_saved_settings(self, base: ModelSource, decoder: str | None = None) -> None:
        """Evaluate (or continue) an output directory that holds only adapters (LoRA): the weights come from
        `base`, the architecture is the directory's own, so this family's flags that are fields of the saved
        (encoder) config take the saved value (e.g. the speech-translation adapter's layers, the CTC loss
        reduction). `decoder`: the text decoder training stacked on the encoder (speech translation)."""
        self._base = base
        own = self.family_args
        if not is_dataclass(own):
            return
        encoder = encoders.encoder_config(self.from_pretrained(AutoConfig))  # the directory's config.json
        for f in fields(own):
            if hasattr(encoder, f.name) and getattr(own, f.name) != getattr(encoder, f.name):
                logger.info("%s: --%s %s as saved (not %s).", self.source.name, f.name, getattr(encoder, f.name),
                            getattr(own, f.name))
                setattr(own, f.name, getattr(encoder, f.name))

    def stacked_decoder(self) -> str | None:
        """The text decoder this family stacks on the encoder (speech translation); None for the others."""
        return None

    # -- to implement ------------------------------------------------------------------------------------
    def prepare(self, train: Dataset | None, evaluated: dict[str, Dataset]) -> Prepared:
        """Build labels (and the processor) from the training split (`self.train_split`, None when the run does
        not train) and the scored splits (split name -> rows); return their SpeechDatasets."""
        raise NotImplementedError

    def build_model(self) -> PreTrainedModel:
        raise NotImplementedError

    def build_probe(self, setup: ProbeSetup) -> torch.nn.Module:
        """The frozen-encoder probe of this family (families/probe_heads.py): the saved one when
        --model_name_or_path is a probe's output directory (`setup.saved`), else a new head on the pretrained
        encoder."""
        raise UsageError(f"--protocol probe is not available for the {self.task.spec.family} family.")

    def decode(self, predictions: np.ndarray, split: str) -> list:
        """Turn what `preprocess_logits_for_metrics` kept for `split` into predictions comparable with its
        references."""
        raise NotImplementedError

    # -- optional hooks ----------------------------------------------------------------------------------
    @classmethod
    def check_start(cls, task: ResolvedTask, family_args: Any, training_args: Any) -> None:
        """Check the family's own flags against the task at start-up, before any data is read."""

    def cached_predictions(self, split: str, dataset: SpeechDataset, model: torch.nn.Module) -> Any:
        """What `trainer.predict` would return for `split`, if the family kept it from an earlier run (the CTC
        family's logits cache, xtreme_s.lm.cache); None: run the model."""
        return None

    def after_scoring(self, split: str, predictions: Any, dataset: SpeechDataset, model: torch.nn.Module) -> dict:
        """Entries the family adds to the split's results (e.g. the CTC family's LM-decoded scores)."""
        return {}

    # -- shared ------------------------------------------------------------------------------------------
    needs_padding_mask = False  # retrieval pools over the real frames even when the model gets no mask

    def from_pretrained(self, cls: Any, source: str | None = None, **kwargs: Any) -> Any:
        """`cls.from_pretrained` through the run's one ModelSource, for every part of a model (config, feature
        extractor, tokenizer, weights), so they cannot come from different revisions of one repository.

        `source` defaults to --model_name_or_path; any source is read at --model_revision when it is that model,
        else at its default revision (the CoVoST-2 decoder has no revision flag)."""
        return self.source.at(source or self.source.name).from_pretrained(cls, **kwargs)

    def from_base(self, cls: Any, **kwargs: Any) -> Any:
        """`from_pretrained` from where the pretrained weights are: --model_name_or_path, or the base model of a
        LoRA output directory at its recorded revision."""
        return self.weights_source.from_pretrained(cls, **kwargs)

    @property
    def weights_source(self) -> ModelSource:
        """Where the pretrained weights are read from (the base model of a LoRA output directory)."""
        return self._base or self.source

    def load_pretrained(self, auto_cls: Any, head_config: dict[str, Any],
                        encoder_extra: dict[str, Any] | None = None) -> PreTrainedModel:
        """Load `model_name_or_path` into `auto_cls` with our encoder flags plus the head's config.

        The encoder flags land where this architecture keeps them (xtreme_s.encoders); what was applied and what
        ignored goes to results.json. Falls back to eager attention when the requested kernel is unavailable (e.g.
        a peer architecture without SDPA, or flash-attn not installed): a speed default must never block a run.
        """
        m = self.model_args
        config = self.from_base(AutoConfig)
        self.tally.notes["encoder"] = encoders.apply_encoder_flags(config, m, {**self._encoder_overrides,
                                                                         **(encoder_extra or {})})
        config.update(head_config)
        load = dict(config=config, ignore_mismatched_sizes=True)
        try:
            model = self.from_base(auto_cls, attn_implementation=m.attn_implementation, **load)
        except (ValueError, ImportError) as err:
            if m.attn_implementation in (None, "eager"):
                raise
            logger.warning("attn_implementation=%s is not available for this model (%s); using eager attention.",
                           m.attn_implementation, err)
            model = self.from_base(auto_cls, attn_implementation="eager", **load)
        self.freeze_front_end(model)
        return model

    def load_encoder(self, head_config: dict[str, Any] | None = None) -> torch.nn.Module:
        """The pretrained speech encoder alone (the encoder of an encoder-decoder such as Whisper), loaded with our
        flags; `head_config` lands in its config (e.g. labels a probe's config.json must carry)."""
        return encoders.encoder_of(self.load_pretrained(AutoModel, head_config or {}))

    def freeze_front_end(self, model: torch.nn.Module) -> None:
        frozen = bool(self.model_args.freeze_feature_encoder) and encoders.freeze_front_end(model)
        self.tally.notes.setdefault("encoder", {})["front_end_frozen"] = frozen

    @property
    def feature_extractor(self) -> Any:
        return getattr(self.processor, "feature_extractor", self.processor)

    def collator(self) -> SpeechCollator:
        fe = self.feature_extractor
        return SpeechCollator(fe, label_kind=self.label_kind,
                              pad_to_multiple_of=padding_multiple(self.training_args, fe.sampling_rate),
                              inputs=encoders.InputSpec.of(fe),
                              padding_mask=self.needs_padding_mask or self._mask_padding)

    def preprocess_logits_for_metrics(self, logits: Any, labels: torch.Tensor) -> torch.Tensor:
        """Keep argmax ids, not B x T x V logits: the Trainer would otherwise hold all logits of the split."""
        if isinstance(logits, tuple):
            logits = logits[0]
        return logits.argmax(dim=-1)

    def score(self, references: Sequence, predictions: Sequence, languages: Sequence[str], split: str) -> dict:
        """Scores of one split: per language, their macro mean and the pooled figure (metrics.per_language)."""
        scorer = SCORERS[self.task.spec.primary_metric]
        return per_language(references, predictions, languages, scorer)

    def evaluate(self, split: str, raw_predictions: Any, dataset: SpeechDataset) -> Scored:
        """Decode and score one split, once: kept in the tally's `scored[split]`, so the runner reuses what the
        Trainer's `compute_metrics` already computed instead of decoding (for CoVoST-2: detokenising) and scoring
        again."""
        predictions = self.decode(raw_predictions, split)
        report = self.score(self.tally.references[split][: len(predictions)], predictions,
                            dataset.languages[: len(predictions)], split)
        self.tally.scored[split] = Scored(predictions, report)
        return self.tally.scored[split]

    def compute_metrics_for(self, split: str, dataset: SpeechDataset) -> Callable:
        """A Trainer `compute_metrics` bound to one split, so per-language scores know each row's language."""

        def compute(pred: Any) -> dict[str, float]:
            result = self.evaluate(split, pred.predictions, dataset).report
            headline = result["macro"] if self.data_args.per_lang_metrics else result["pooled"]
            out = dict(headline)
            out.update({f"pooled_{k}": v for k, v in result["pooled"].items()})
            return out

        return compute

    def write_artifacts(self, output_dir: Path, split: str, predictions: Sequence, dataset: SpeechDataset) -> None:
        """Family-specific files beside results.json (e.g. a confusion matrix); main process only."""

    def drop_training_rows(self, split: str, ds: Dataset, reasons: Sequence[str | None],
                           *columns: list) -> tuple[Dataset, list[list]]:
        """Skip and count the rows that have a reason (None = keep); returns the kept rows and columns."""
        for reason in reasons:
            if reason is not None:
                self.tally.skip(split, reason)
        keep = [i for i, reason in enumerate(reasons) if reason is None]
        if len(keep) == len(ds):
            return ds, list(columns)
        logger.warning("Skipped %d training items: %s", len(ds) - len(keep), dict(self.tally.skipped[split]))
        return ds.select(keep), [[col[i] for i in keep] for col in columns]
