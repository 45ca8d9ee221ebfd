"""Speech recognition with a CTC head (MLS, VoxPopuli, FLEURS-ASR, BABEL)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModelForCTC,
    PreTrainedModel,
    ProcessorMixin,
    Wav2Vec2CTCTokenizer,
)

from .. import encoders
from ..collators import SpeechDataset
from ..errors import UsageError
from ..text import (
    PAD_TOKEN,
    UNK_TOKEN,
    WORD_DELIMITER,
    TextNormalizer,
    build_vocab,
    encode_characters,
    oov_characters,
    save_vocab,
)
from . import ctc_lm
from .base import Prepared, TaskFamily
from .probe_heads import CTCProbe, ProbeSetup, blank_past_end, load_saved

logger = logging.getLogger(__name__)


@dataclass
class CTCArguments:
    """Flags of the CTC head, parsed with the shared ones (`--help` lists them in their own group)."""

    _argument_group_name = "CTC speech recognition (family ctc: mls, voxpopuli, babel, fleurs-asr)"

    ctc_loss_reduction: str = field(
        default="mean", metadata={"help": "CTC loss reduction: 'mean' (per-utterance, length-normalised) or 'sum'."})
    ctc_zero_infinity: bool = field(
        default=True,
        metadata={"help": "Zero infinite CTC losses (targets longer than the audio allows) instead of NaN-ing."})
    # n-gram LM decoding (xtreme_s.lm, docs/lm.md): greedy stays the main figures; the LM's come beside them.
    lm_path: str | None = field(
        default=None, metadata={"help": "Also decode the scored splits by beam search with an n-gram LM: an ARPA "
                                        "file (every language), or a folder of <language>.arpa files, one per "
                                        "language of the task (`xtreme-s lm build` writes them)."})
    lm_decoding: str = field(
        default="lexicon", metadata={"help": "'lexicon': a word LM, words spelled from the LM's vocabulary "
                                             "(default); 'lexicon_free': a character LM (`lm build --unit char`), "
                                             "any spelling."})
    lm_weight: float = field(default=2.0, metadata={"help": "Weight of the LM score in the beam search."})
    word_score: float = field(default=0.0, metadata={"help": "Score added per word (lexicon decoding)."})
    beam_width: int = field(default=500, metadata={"help": "Hypotheses kept per frame (MMS decodes with 500)."})
    beam_threshold: float = field(
        default=50.0, metadata={"help": "Hypotheses scoring this much below the best are pruned."})
    lm_tune: bool = field(
        default=False, metadata={"help": "Search --lm_weight and --word_score on the validation split (needs "
                                         "--do_eval), then decode every later split (test) once with the best."})
    lm_num_workers: int | None = field(
        default=None, metadata={"help": "Processes decoding with the LM (default: every CPU core; 0: in the run's "
                                        "own process). Each loads the LMs it needs."})


class BlankPaddedFrames:
    """In evaluation, the CTC logits of the frames past a clip's end predict blank.

    Why: greedy decoding reads every frame of a padded batch, and what a model emits on padding is its own business
    (the tiny demo model wrote an "o" there after every transcript), so a clip's transcript, and the WER, depended on
    the clips it was batched with. The frames a clip has are counted by the model's own
    `_get_feat_extract_output_lengths`, as its CTC loss counts them. Hooks, not a subclass: the same for every
    architecture's CTC head, under LoRA or adapters too. The collator's `padding_mask` (encoders run without an
    attention mask) is taken off the model's inputs here.
    """

    def __init__(self, model: torch.nn.Module, blank_id: int):
        self.blank_id = blank_id
        self.mask: torch.Tensor | None = None
        model.register_forward_pre_hook(self._take_mask, with_kwargs=True)
        model.register_forward_hook(self._blank_padding, with_kwargs=True)

    def _take_mask(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        padding = kwargs.pop("padding_mask", None)
        self.mask = kwargs.get("attention_mask") if kwargs.get("attention_mask") is not None else padding
        return args, kwargs

    def _blank_padding(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
        mask, self.mask = self.mask, None
        if module.training or mask is None:
            return output
        logits = output.logits
        lengths = torch.as_tensor(encoders.frames_from_input(module, mask.sum(-1).long()), device=logits.device)
        keep = torch.arange(logits.shape[1], device=logits.device)[None, :] < lengths[:, None]
        output["logits"] = blank_past_end(logits, keep, self.blank_id)
        return output


class CTCFamily(TaskFamily):
    label_kind = "sequence"
    needs_padding_mask = True  # which frames are padding, also for encoders run without an attention mask
    arguments_class = CTCArguments
    head_modules = ("lm_head",)
    family_args: CTCArguments
    lm: ctc_lm.LMDecoding | None = None

    @classmethod
    def check_start(cls, task: Any, family_args: Any, training_args: Any) -> None:
        if family_args is not None:
            ctc_lm.check_flags(family_args, task.languages, training_args)

    def _normalizer(self) -> TextNormalizer:
        d = self.data_args
        return TextNormalizer(d.text_normalization, d.chars_to_ignore, d.unicode_normalization)

    def _load_or_build_processor(self, train_texts: list[str] | None, config: Any) -> ProcessorMixin:
        out = Path(self.training_args.output_dir)
        fe = self.from_pretrained(AutoFeatureExtractor)
        if train_texts is not None:
            vocab = build_vocab(train_texts)
            vocab_file = save_vocab(vocab, out)
            tokenizer = Wav2Vec2CTCTokenizer(str(vocab_file), unk_token=UNK_TOKEN, pad_token=PAD_TOKEN,
                                             word_delimiter_token=WORD_DELIMITER, bos_token=None, eos_token=None)
        else:
            try:
                tokenizer = self.from_pretrained(Wav2Vec2CTCTokenizer)
            except (OSError, TypeError, ValueError) as err:
                raise UsageError(f"Evaluating without --do_train needs a fine-tuned CTC checkpoint with its "
                                 f"tokenizer (vocab.json); {self.model_args.model_name_or_path} has none.") from err
        processor = encoders.make_processor(config, fe, tokenizer)  # e.g. Wav2Vec2BertProcessor
        if self.training_args.should_save:
            processor.save_pretrained(out)
        return processor

    def prepare(self, train: Dataset | None, evaluated: dict[str, Dataset]) -> Prepared:
        norm = self._normalizer()
        train_texts = [norm(t) for t in train["target"]] if train is not None else None
        cfg = self.from_pretrained(AutoConfig)
        self.processor = self._load_or_build_processor(train_texts, cfg)
        tok = self.processor.tokenizer
        prepared_train = None
        if train is not None:
            sr = self.feature_extractor.sampling_rate
            labels = [encode_characters(tok, t) for t in train_texts]
            # The model's own length computation (conv stack, fbank stride, adapter): xtreme_s.encoders.
            frames = encoders.output_frames(cfg, self.feature_extractor, [int(d * sr) for d in train["duration"]])
            reasons = [
                "empty transcript" if not text else
                "transcript longer than the model's output frames" if len(lab) > n else None
                for text, lab, n in zip(train_texts, labels, frames, strict=True)]
            train, (labels,) = self.drop_training_rows(self.train_split, train, reasons, labels)
            prepared_train = SpeechDataset(train, labels)
        vocab = tok.get_vocab()
        out: dict[str, SpeechDataset] = {}
        for split, ds in evaluated.items():
            texts = [norm(t) for t in ds["target"]]
            missing, total = oov_characters(texts, vocab)
            if missing:
                logger.warning("%s: %d of %d characters are not in the vocabulary and become %s: %s", split,
                               sum(missing.values()), total, UNK_TOKEN, "".join(sorted(missing)))
            self.tally.notes.setdefault("oov_char_rate", {})[split] = sum(missing.values()) / max(total, 1)
            self.tally.references[split] = texts
            labels = [encode_characters(tok, t) for t in texts]
            frames = encoders.output_frames(cfg, self.feature_extractor,
                                            [int(d * self.feature_extractor.sampling_rate) for d in ds["duration"]])
            infeasible = sum(len(lab) > n for lab, n in zip(labels, frames, strict=True))
            if infeasible:  # scored as usual; only the loss cannot be trusted
                self.tally.notes.setdefault("loss_not_reported", {})[split] = (
                    f"{infeasible} of {len(ds)} transcripts are longer than the model's output frames: their CTC "
                    "loss is infinite (zeroed by --ctc_zero_infinity), so a mean loss would understate it")
            out[split] = SpeechDataset(ds, labels)
        if self.family_args.lm_path is not None:  # the LMs against this vocabulary, before training or decoding
            a = self.training_args  # the precision the encoder computes in is part of what the cache holds
            context = f"{self.task.config_name} fp16={a.fp16} bf16={a.bf16} fp16_full_eval={a.fp16_full_eval} " \
                      f"bf16_full_eval={a.bf16_full_eval}"
            self.lm = ctc_lm.LMDecoding(self.family_args, context, self.training_args.output_dir,
                                        self.model_args.model_name_or_path)
            self.lm.prepare(tok, self.task.languages)
        return Prepared(prepared_train, out)

    def build_model(self) -> PreTrainedModel:
        tok = self.processor.tokenizer
        model = self.load_pretrained(AutoModelForCTC, {
            "ctc_loss_reduction": self.family_args.ctc_loss_reduction,
            "ctc_zero_infinity": self.family_args.ctc_zero_infinity,
            "pad_token_id": tok.pad_token_id, "vocab_size": len(tok),
        })
        model.xtreme_s_blank_padding = BlankPaddedFrames(model, tok.pad_token_id)
        return model

    def build_probe(self, setup: ProbeSetup) -> torch.nn.Module:
        tok = self.processor.tokenizer
        saved = load_saved(setup, self.source)
        if saved is not None:
            if saved.vocab_size != len(tok) or saved.blank_id != tok.pad_token_id:
                raise UsageError(f"{self.model_args.model_name_or_path}: the probe's CTC head has {saved.vocab_size} "
                                 f"outputs (blank {saved.blank_id}) but its tokenizer {len(tok)} (pad "
                                 f"{tok.pad_token_id}); the directory is inconsistent.")
            return saved
        a = self.family_args
        encoder = self.load_encoder({"pad_token_id": tok.pad_token_id, "vocab_size": len(tok)})
        return CTCProbe(encoder, setup.spec, len(tok), tok.pad_token_id, a.ctc_loss_reduction, a.ctc_zero_infinity)

    def preprocess_logits_for_metrics(self, logits: Any, labels: torch.Tensor) -> torch.Tensor:
        """With an LM, keep every frame's log-probabilities (the beam search needs them); else the argmax ids."""
        if self.lm is None:
            return super().preprocess_logits_for_metrics(logits, labels)
        logits = logits[0] if isinstance(logits, tuple) else logits
        return torch.log_softmax(logits.float(), dim=-1)

    def decode(self, predictions: np.ndarray, split: str) -> list[str]:
        """Greedy: the best token per frame, repeats merged, blanks dropped (the tokenizer's CTC decoding)."""
        if predictions.ndim == 3:  # log-probabilities kept for the LM; frames the Trainer padded stay padding
            pad = np.all(predictions == ctc_lm.PAD_VALUE, axis=-1)
            predictions = np.where(pad, ctc_lm.PAD_VALUE, predictions.argmax(-1))
        ids = np.where(predictions < 0, self.processor.tokenizer.pad_token_id, predictions)
        return self.processor.tokenizer.batch_decode(ids)

    def cached_predictions(self, split: str, dataset: SpeechDataset, model: torch.nn.Module) -> np.ndarray | None:
        return None if self.lm is None else self.lm.cached(split, dataset.ids, model)

    def after_scoring(self, split: str, predictions: Any, dataset: SpeechDataset, model: torch.nn.Module) -> dict:
        """The split decoded with the LM (tuned first on the --eval_split_name split with --lm_tune): its `lm`
        block, and `lm_predictions_<split>.jsonl` beside the greedy predictions."""
        if self.lm is None:
            return {}
        refs = self.tally.references[split]
        langs = dataset.languages
        tune_here = self.family_args.lm_tune and split == self.data_args.eval_split_name and self.lm.tuning is None
        block, texts = self.lm.evaluate(
            split, predictions, dataset.ids, langs, dataset.durations, model, tune_here,
            lambda texts: self.score(refs[: len(texts)], texts, langs[: len(texts)], split),
            self.task.spec.primary_metric)
        ctc_lm.write_predictions(Path(self.training_args.output_dir) / f"lm_predictions_{split}.jsonl", dataset.ids,
                                 langs, texts, refs)
        return {"lm": block}
