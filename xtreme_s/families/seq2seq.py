"""Speech translation (CoVoST-2 X->en) with a speech encoder-decoder: XLS-R encoder + pretrained text decoder.

As in the XLS-R paper, the model stacks a multilingual text decoder (mBART-50 by default) on the speech encoder,
with a convolutional adapter that shortens the speech sequence. An existing speech encoder-decoder checkpoint is
fine-tuned (or evaluated) as it is. Predictions are generated (`predict_with_generate`) and scored with sacreBLEU.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasets import Dataset
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    GenerationConfig,
    PreTrainedModel,
    ProcessorMixin,
    SpeechEncoderDecoderModel,
)

from .. import encoders
from ..collators import SpeechDataset
from ..hub import ModelSource
from ..layer_sum import load_layer_sum
from ..metrics import group_means
from ..registry import COVOST2_RESOURCE_GROUPS
from ..text import TextNormalizer, encode_text_target
from ..trainer import SpeechSeq2SeqTrainer
from .base import Prepared, TaskFamily
from .probe_heads import ProbeSetup, weighted_sum_encoder

logger = logging.getLogger(__name__)

MBART_TARGET_LANGUAGE = "en_XX"  # XTREME-S uses the X->en directions only
DEFAULT_GENERATION_MAX_LENGTH = 128  # tokens; CoVoST-2 translations are single sentences


is_speech_encoder_decoder = encoders.is_speech_encoder_decoder


@dataclass
class Seq2SeqArguments:
    """Flags of speech translation, parsed with the shared ones (`--help` lists them in their own group)."""

    _argument_group_name = "Speech translation (family seq2seq: covost2; text decoder, adapter, translations)"

    decoder_name_or_path: str = field(
        default="facebook/mbart-large-50",
        metadata={"help": "CoVoST-2: pretrained text decoder stacked on the speech encoder (its decoder is loaded "
                          "as a causal LM with cross-attention); mBART-50 as in the XLS-R paper. Ignored when "
                          "--model_name_or_path already is a speech encoder-decoder checkpoint."})
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "CoVoST-2: tokenizer of the decoder (default: the decoder's, or the "
                                        "checkpoint's when fine-tuning a speech encoder-decoder)."})
    add_adapter: bool = field(
        default=True, metadata={"help": "CoVoST-2: add a convolutional adapter on top of the encoder that shortens "
                                        "the speech sequence before cross-attention."})
    adapter_stride: int = field(default=2, metadata={"help": "CoVoST-2: stride of each adapter layer."})
    num_adapter_layers: int = field(
        default=3, metadata={"help": "CoVoST-2: adapter layers (each divides the sequence length by the stride)."})
    normalize_translations: bool = field(
        default=False, metadata={"help": "CoVoST-2: lowercase translations and delete --chars_to_ignore before "
                                         "training and scoring, as the reference runner did (default: BLEU on the "
                                         "translations as published)."})


class Seq2SeqFamily(TaskFamily):
    label_kind = "sequence"
    arguments_class = Seq2SeqArguments
    family_args: Seq2SeqArguments
    # The length-shortening adapter, the encoder-to-decoder projection and the decoder's cross-attention (mBART /
    # BART names, GPT-2 names) start untrained.
    head_modules = ("adapter", "enc_to_dec_proj", "encoder_attn", "encoder_attn_layer_norm", "crossattention",
                    "ln_cross_attn")
    trainer_class = SpeechSeq2SeqTrainer

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        t = self.training_args
        if not t.predict_with_generate:
            # A translation scored from teacher-forced argmax tokens is not a translation: always generate.
            logger.info("CoVoST-2 is scored on generated translations: setting --predict_with_generate.")
            t.predict_with_generate = True
        if t.generation_max_length is None:
            t.generation_max_length = DEFAULT_GENERATION_MAX_LENGTH
        # The Trainer must keep generated ids as they are (no argmax over logits).
        self.preprocess_logits_for_metrics = None  # type: ignore[assignment]
        self._model_config = self.from_pretrained(AutoConfig)
        self.forced_bos_token_id: int | None = None
        self.decoder_start_token_id: int | None = None

    # -- tokenizer and labels ----------------------------------------------------------------------------
    def _tokenizer_source(self) -> str:
        m, a = self.model_args, self.family_args
        if a.tokenizer_name:
            return a.tokenizer_name
        return m.model_name_or_path if is_speech_encoder_decoder(self._model_config) else a.decoder_name_or_path

    def _decoder_config(self) -> Any:
        if is_speech_encoder_decoder(self._model_config):
            return self._model_config.decoder
        return self.from_pretrained(AutoConfig, self.family_args.decoder_name_or_path)

    def _build_processor(self) -> ProcessorMixin:
        source = self._tokenizer_source()
        tokenizer = self.from_pretrained(AutoTokenizer, source)
        if hasattr(tokenizer, "lang_code_to_id"):
            # mBART-50: targets are "en_XX <text> </s>"; generation starts from </s> and must force en_XX first.
            tokenizer.src_lang = tokenizer.tgt_lang = MBART_TARGET_LANGUAGE
            self.forced_bos_token_id = tokenizer.convert_tokens_to_ids(MBART_TARGET_LANGUAGE)
        if tokenizer.pad_token is None:  # GPT-2-style decoders have none; padding is masked anyway
            tokenizer.pad_token = tokenizer.eos_token
        if tokenizer.eos_token_id is None:
            raise ValueError(f"The tokenizer of {source} has no end-of-sequence token; a decoder must be able to "
                             "stop. Pass --tokenizer_name with one that has.")
        start = getattr(self._decoder_config(), "decoder_start_token_id", None)
        if getattr(self._model_config, "decoder_start_token_id", None) is not None:  # a fine-tuned checkpoint's
            start = self._model_config.decoder_start_token_id
        if start is None:
            start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self.decoder_start_token_id = start
        fe = self.from_pretrained(AutoFeatureExtractor)
        processor = encoders.make_processor(self._model_config, fe, tokenizer)
        if self.training_args.should_save:
            processor.save_pretrained(self.training_args.output_dir)
        return processor

    def labels_for(self, texts: Sequence[str]) -> list[list[int]]:
        """Target ids as the decoder is trained on them: the tokenizer's own special tokens, minus a leading
        decoder-start token (the model prepends it when it shifts the labels), plus EOS if the tokenizer adds none
        (otherwise the model never learns to stop). A literal "</s>" or "<pad>" in a translation is text
        (text.encode_text_target), never the special id."""
        tok = self.processor.tokenizer
        out = []
        for ids in encode_text_target(tok, texts):
            if ids and ids[0] == self.decoder_start_token_id:
                ids = ids[1:]
            if not ids or ids[-1] != tok.eos_token_id:
                ids = [*ids, tok.eos_token_id]
            out.append(ids)
        return out

    def prepare(self, train: Dataset | None, evaluated: dict[str, Dataset]) -> Prepared:
        self.processor = self._build_processor()
        d = self.data_args
        norm = TextNormalizer("xtreme_s" if self.family_args.normalize_translations else "none", d.chars_to_ignore,
                              d.unicode_normalization)
        prepared_train = None
        if train is not None:
            max_len = getattr(self._decoder_config(), "max_position_embeddings", None)
            texts = [norm(t) for t in train["target"]]
            labels = self.labels_for(texts)
            reasons = [
                "empty translation" if not text else
                f"translation longer than the decoder's {max_len} positions"
                if max_len is not None and len(lab) + 1 > max_len else None
                for text, lab in zip(texts, labels, strict=True)]
            train, (labels,) = self.drop_training_rows(self.train_split, train, reasons, labels)
            prepared_train = SpeechDataset(train, labels)
        out: dict[str, SpeechDataset] = {}
        for split, ds in evaluated.items():
            texts = [norm(t) for t in ds["target"]]
            self.tally.references[split] = texts
            out[split] = SpeechDataset(ds, self.labels_for(texts))
        return Prepared(prepared_train, out)

    # -- model -------------------------------------------------------------------------------------------
    def _load_decoder(self, config: Any) -> PreTrainedModel:
        """The decoder as a causal LM with cross-attention.

        We build the config ourselves: transformers 5's `from_encoder_decoder_pretrained` reads
        `add_cross_attention`, which configs such as MBartConfig no longer define. When the checkpoint is a full
        encoder-decoder (mBART-50) saved with only the shared embedding, the causal-LM class finds no
        `decoder.embed_tokens` and would start from random embeddings; we copy them from the seq2seq model.
        """
        path = self.family_args.decoder_name_or_path
        was_seq2seq = getattr(config, "is_encoder_decoder", False)
        config.is_decoder, config.add_cross_attention, config.is_encoder_decoder = True, True, False
        decoder, info = self.from_pretrained(AutoModelForCausalLM, path, config=config, output_loading_info=True)
        missing = set(info.get("missing_keys", ()))
        embedding_missing = any("embed_tokens" in k for k in missing)
        if embedding_missing and was_seq2seq:
            source = self.from_pretrained(AutoModelForSeq2SeqLM, path)
            decoder.get_input_embeddings().weight.data.copy_(source.get_decoder().get_input_embeddings().weight.data)
            out_emb = decoder.get_output_embeddings()
            if out_emb is not None and out_emb.weight is not decoder.get_input_embeddings().weight:
                out_emb.weight.data.copy_(source.get_output_embeddings().weight.data)
            logger.info("Decoder embeddings copied from the shared embedding of %s.", path)
            missing = {k for k in missing if "embed_tokens" not in k and "lm_head" not in k}
        new = sorted(k for k in missing if "encoder_attn" not in k and "crossattention" not in k)
        if new:
            logger.warning("Decoder weights not in %s (randomly initialised): %s", path, ", ".join(new[:10]))
        return decoder

    def build_model(self) -> PreTrainedModel:
        m, a = self.model_args, self.family_args
        tok = self.processor.tokenizer
        if is_speech_encoder_decoder(self._model_config):
            config = self._model_config
            self.tally.notes["encoder"] = encoders.apply_encoder_flags(config.encoder, m)
            weights = self.weights_source  # LoRA: its base model
            model = encoders.load_speech_encoder_decoder(weights.name, config, **weights.kwargs())
            self.freeze_front_end(model)
        else:
            # The adapter flags only for encoders that have the adapter (wav2vec2, w2v-BERT, WavLM, data2vec);
            # Whisper's full encoder-decoder checkpoint contributes its encoder.
            adapter = encoders.adapter_flags(self._model_config, a)
            if a.add_adapter and not adapter:
                logger.info("--add_adapter: %s has no length-shortening adapter; the decoder cross-attends to "
                            "every encoder frame.", self._model_config.model_type)
            encoder = encoders.encoder_of(self.load_pretrained(AutoModel, {}, encoder_extra=adapter))
            decoder = self._load_decoder(self._decoder_config())
            model = SpeechEncoderDecoderModel(encoder=encoder, decoder=decoder)
        if model.decoder.get_input_embeddings().num_embeddings < len(tok):
            raise ValueError(f"The tokenizer has {len(tok)} tokens but the decoder only "
                             f"{model.decoder.get_input_embeddings().num_embeddings} embeddings; pass the decoder's "
                             "own tokenizer (--tokenizer_name).")
        ids = {"decoder_start_token_id": self.decoder_start_token_id, "pad_token_id": tok.pad_token_id,
               "eos_token_id": tok.eos_token_id}
        for key, value in ids.items():
            setattr(model.config, key, value)  # forward() shifts labels with these
        # transformers 5 reads generation parameters from generation_config only.
        t = self.training_args
        model.generation_config = GenerationConfig(
            **ids, forced_bos_token_id=self.forced_bos_token_id, max_length=t.generation_max_length,
            num_beams=t.generation_num_beams or 1)
        enc = model.encoder.config
        self.tally.notes["seq2seq"] = {
            "decoder": getattr(model.config.decoder, "_name_or_path", None) or a.decoder_name_or_path,
            "adapter": encoders.adapter_report(enc),  # None: this encoder has no adapter
            "generation": {"max_length": t.generation_max_length, "num_beams": t.generation_num_beams or 1,
                           "forced_bos_token_id": self.forced_bos_token_id},
        }
        return model

    def build_probe(self, setup: ProbeSetup) -> PreTrainedModel:
        """The encoder frozen, its output a learned weighted sum of its hidden states; the adapter and the decoder
        train (probe_heads.weighted_sum_encoder)."""
        model = weighted_sum_encoder(self.build_model(), setup.spec)
        model.xtreme_s_probe_spec = setup.spec
        if setup.saved is not None:
            load_layer_sum(model, self.source)
        return model

    # -- what a protocol may ask -------------------------------------------------------------------------
    def use_saved_settings(self, base: ModelSource, decoder: str | None = None) -> None:
        """A LoRA directory of speech translation: also the decoder training stacked (its tokenizer was saved in
        the directory), and the model built from the base encoder's config as training built it."""
        super().use_saved_settings(base, decoder)
        if decoder:
            self.family_args.decoder_name_or_path = decoder
            self.family_args.tokenizer_name = self.source.name  # the run's tokenizer, saved beside LoRA
        self._model_config = self.from_base(AutoConfig)

    def stacked_decoder(self) -> str | None:
        """The decoder stacked on the encoder, unless the model already is a speech encoder-decoder."""
        return None if is_speech_encoder_decoder(self._model_config) else self.family_args.decoder_name_or_path

    # -- decoding and scoring ----------------------------------------------------------------------------
    def decode(self, predictions: np.ndarray, split: str) -> list[str]:
        tok = self.processor.tokenizer
        if isinstance(predictions, tuple):
            predictions = predictions[0]
        ids = np.where(predictions < 0, tok.pad_token_id, predictions)
        return [text.strip() for text in tok.batch_decode(ids, skip_special_tokens=True)]

    def score(self, references: Sequence, predictions: Sequence, languages: Sequence[str], split: str) -> dict:
        result = super().score(references, predictions, languages, split)
        # Resource groups of the XLS-R paper; UNCONFIRMED membership (registry.COVOST2_RESOURCE_GROUPS).
        result["groups"] = group_means(result["per_language"], COVOST2_RESOURCE_GROUPS)
        self.tally.notes["resource_groups"] = {
            "definition": {k: list(v) for k, v in COVOST2_RESOURCE_GROUPS.items()},
            "caveat": "UNCONFIRMED grouping recalled from the XLS-R paper (docs/spec.md section 1); group "
                      "scores are unweighted means of the per-direction BLEU of the languages that were scored.",
        }
        self.tally.notes["translation_normalization"] = ("xtreme_s (lowercase, chars_to_ignore deleted)"
                                                   if self.family_args.normalize_translations else "none")
        return result
