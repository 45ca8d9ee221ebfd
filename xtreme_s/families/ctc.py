"""Speech recognition with a CTC head (MLS, VoxPopuli, FLEURS-ASR, BABEL)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from datasets import Dataset
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModelForCTC,
    PreTrainedModel,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2Processor,
)

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
from .base import TaskFamily

logger = logging.getLogger(__name__)


def output_frames(num_samples: int, conv_kernel: tuple[int, ...], conv_stride: tuple[int, ...]) -> int:
    """Frames the convolutional encoder emits for a clip (same formula as the model)."""
    length = num_samples
    for k, s in zip(conv_kernel, conv_stride, strict=True):
        length = (length - k) // s + 1
        if length <= 0:
            return 0
    return length


class CTCFamily(TaskFamily):
    label_kind = "sequence"

    def _normalizer(self) -> TextNormalizer:
        d = self.data_args
        return TextNormalizer(d.text_normalization, d.chars_to_ignore, d.unicode_normalization)

    def _load_or_build_processor(self, train_texts: list[str] | None) -> Wav2Vec2Processor:
        out = Path(self.training_args.output_dir)
        fe = AutoFeatureExtractor.from_pretrained(self.model_args.model_name_or_path,
                                                  cache_dir=self.model_args.cache_dir,
                                                  revision=self.model_args.model_revision,
                                                  token=self.training_args.hub_token)
        if train_texts is not None:
            vocab = build_vocab(train_texts)
            vocab_file = save_vocab(vocab, out)
            tokenizer = Wav2Vec2CTCTokenizer(str(vocab_file), unk_token=UNK_TOKEN, pad_token=PAD_TOKEN,
                                             word_delimiter_token=WORD_DELIMITER, bos_token=None, eos_token=None)
        else:
            try:
                tokenizer = Wav2Vec2CTCTokenizer.from_pretrained(self.model_args.model_name_or_path,
                                                                 cache_dir=self.model_args.cache_dir,
                                                                 token=self.training_args.hub_token)
            except (OSError, TypeError, ValueError) as err:
                raise UsageError(f"Evaluating without --do_train needs a fine-tuned CTC checkpoint with its "
                                 f"tokenizer (vocab.json); {self.model_args.model_name_or_path} has none.") from err
        processor = Wav2Vec2Processor(feature_extractor=fe, tokenizer=tokenizer)
        if self.training_args.should_save:
            processor.save_pretrained(out)
        return processor

    def prepare(self, splits: dict[str, Dataset]) -> dict[str, SpeechDataset]:
        norm = self._normalizer()
        texts = {split: [norm(t) for t in ds["target"]] for split, ds in splits.items()}
        train = "train" if "train" in splits and self.training_args.do_train else None
        self.processor = self._load_or_build_processor(texts[train] if train else None)
        tok = self.processor.tokenizer
        vocab = tok.get_vocab()
        cfg = AutoConfig.from_pretrained(self.model_args.model_name_or_path, cache_dir=self.model_args.cache_dir,
                                         token=self.training_args.hub_token)
        sr = self.feature_extractor.sampling_rate
        out: dict[str, SpeechDataset] = {}
        for split, ds in splits.items():
            split_texts = texts[split]
            labels = [encode_characters(tok, t) for t in split_texts]
            if split == train:
                reasons = [
                    "empty transcript" if not text else
                    "transcript longer than the model's output frames"
                    if len(lab) > output_frames(int(dur * sr), cfg.conv_kernel, cfg.conv_stride) else None
                    for text, lab, dur in zip(split_texts, labels, ds["duration"], strict=True)]
                ds, (labels, split_texts) = self.drop_training_rows(split, ds, reasons, labels, split_texts)
            else:
                missing, total = oov_characters(split_texts, vocab)
                if missing:
                    logger.warning("%s: %d of %d characters are not in the vocabulary and become %s: %s", split,
                                   sum(missing.values()), total, UNK_TOKEN, "".join(sorted(missing)))
                self.notes.setdefault("oov_char_rate", {})[split] = sum(missing.values()) / max(total, 1)
            self.references[split] = split_texts
            out[split] = SpeechDataset(ds, labels)
        return out

    def build_model(self) -> PreTrainedModel:
        tok = self.processor.tokenizer
        return self.load_pretrained(AutoModelForCTC, {
            "ctc_loss_reduction": self.model_args.ctc_loss_reduction,
            "ctc_zero_infinity": self.model_args.ctc_zero_infinity,
            "pad_token_id": tok.pad_token_id, "vocab_size": len(tok),
        })

    def decode(self, predictions: np.ndarray) -> list[str]:
        ids = np.where(predictions < 0, self.processor.tokenizer.pad_token_id, predictions)
        return self.processor.tokenizer.batch_decode(ids)
