"""FLEURS bi-speech retrieval: fixed-size utterance embeddings, query -> English key, precision@1.

No training: the encoder (pretrained or fine-tuned) embeds every utterance through `Trainer.predict` (ordered,
gathered across processes like any prediction), and `score` ranks keys per query.

Protocol (spec section 5; the FLEURS paper's details are UNCONFIRMED, so these are our documented choices, each
a flag): queries are the utterances of the scored split in every non-English language of the config
(`--retrieval_query_languages` narrows them); keys are the English (`--retrieval_key_language`) utterances of
the same split, so a query's correct keys are the English recordings of its FLEURS sentence `id`; English
utterances of `--retrieval_distractor_splits` (default train + validation: FLEURS splits hold disjoint sentences)
are added as distractors. Embeddings: mean-pool (`--retrieval_pooling`) one layer (`--retrieval_layer`, default
the last) over the non-padded frames, L2-normalise. Similarity: cosine, or the ratio margin of Artetxe & Schwenk
(2019) with k neighbours (`--retrieval_similarity margin`). A query counts as correct when its best key has the
query's sentence id; P@1 per language and their unweighted mean.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

from .. import encoders
from ..collators import SpeechDataset
from ..errors import UsageError
from ..layer_sum import LayerSum, load_layer_sum, num_hidden_states
from ..metrics import per_language, precision_at_1
from ..registry import resolve
from ..sources import LoadContext, load_splits
from .base import Prepared, TaskFamily
from .probe_heads import SEQ2SEQ, ProbeSetup, load_saved

logger = logging.getLogger(__name__)

KEY, DISTRACTOR = "key", "distractor"


class PooledEncoder(torch.nn.Module):
    """An encoder that returns one embedding per utterance: `pooling` over the frames of hidden layer `layer`, or
    of a probe's learned weighted sum of all layers (`layer_sum`, xtreme_s.layer_sum)."""

    def __init__(self, encoder: torch.nn.Module, layer: int = -1, pooling: str = "mean",
                 layer_sum: torch.nn.Module | None = None):
        super().__init__()
        if pooling not in ("mean", "max"):
            raise UsageError(f"--retrieval_pooling {pooling!r}: choose mean or max")
        self.encoder, self.layer, self.pooling, self.layer_sum = encoder, layer, pooling, layer_sum

    @property
    def config(self) -> Any:
        """The encoder's config, for the Trainer's model card and its inference-time key filtering."""
        return self.encoder.config

    def forward(self, input_values: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                input_features: torch.Tensor | None = None,
                padding_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        layers, mask = encoders.hidden_states(self.encoder, input_values, input_features, attention_mask,
                                              padding_mask)
        if self.layer_sum is not None:
            hidden = self.layer_sum(layers)
        elif -len(layers) <= self.layer < len(layers):
            hidden = layers[self.layer]
        else:
            raise UsageError(f"--retrieval_layer {self.layer}: the model has hidden states 0..{len(layers) - 1} "
                             "(0 = feature projection, -1 = last layer)")
        input_mask = attention_mask if attention_mask is not None else padding_mask
        if hidden.shape[1] != mask.shape[1] and input_mask is not None:  # SEW's inner layers: a pooled frame rate
            mask = encoders.frame_mask(self.encoder, input_mask, hidden.shape[1])
        m = mask.unsqueeze(-1)
        if self.pooling == "mean":
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1)
        else:
            pooled = hidden.masked_fill(~m, float("-inf")).max(1).values
        return {"embeddings": torch.nn.functional.normalize(pooled.float(), dim=-1)}


def margin_scores(sim: np.ndarray, k: int) -> np.ndarray:
    """Ratio margin (Artetxe & Schwenk 2019): cos(x, y) / (mean_k cos(x, NN_k(x)) / 2 + mean_k cos(y, NN_k(y)) / 2).

    `sim` is queries x keys (cosines). Hand-written: no maintained library ships this scoring on its own.
    """
    kq = max(1, min(k, sim.shape[1]))
    kk = max(1, min(k, sim.shape[0]))
    q_nn = np.sort(sim, axis=1)[:, -kq:].mean(1)  # each query's k nearest keys
    k_nn = np.sort(sim, axis=0)[-kk:, :].mean(0)  # each key's k nearest queries
    return sim / (q_nn[:, None] / 2 + k_nn[None, :] / 2)


def retrieve(queries: np.ndarray, keys: np.ndarray, similarity: str = "cosine", k: int = 4) -> np.ndarray:
    """Index of the best key for each query (embeddings L2-normalised, so dot product = cosine)."""
    sim = queries @ keys.T
    if similarity == "margin":
        sim = margin_scores(sim, k)
    elif similarity != "cosine":
        raise UsageError(f"--retrieval_similarity {similarity!r}: choose cosine or margin")
    return sim.argmax(1)


class RetrievalDataset(torch.utils.data.Dataset):
    """Queries, then keys, then distractors, as one ordered dataset; `roles` says which row is which."""

    def __init__(self, parts: list[tuple[str, Dataset]], sentence_ids: list[list[str]]):
        self.parts = [SpeechDataset(ds) for _, ds in parts]
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])
        self.roles = [role for (role, _), p in zip(parts, self.parts, strict=True) for _ in range(len(p))]
        self.sentence_ids = [s for ids in sentence_ids for s in ids]
        self.ids = [i for p in self.parts for i in p.ids]
        self.durations = [d for p in self.parts for d in p.durations]
        # Keys and distractors are English; their role is part of the language tag so predictions.jsonl says it.
        self.languages = [lang if role == "query" else f"{lang}:{role}"
                          for role, lang in zip(self.roles, (la for p in self.parts for la in p.languages),
                                                strict=True)]

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, i: int) -> dict[str, Any]:
        part = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return self.parts[part][int(i) - int(self.offsets[part])]


@dataclass
class RetrievalArguments:
    """The retrieval protocol's flags (our documented choices, spec section 5), parsed with the shared ones."""

    _argument_group_name = "Speech-to-English retrieval (family retrieval: fleurs-retrieval; the protocol)"

    retrieval_layer: int = field(
        default=-1, metadata={"help": "Retrieval: hidden layer to pool (-1 = last, 0 = feature projection)."})
    retrieval_pooling: str = field(default="mean", metadata={"help": "Retrieval: pooling over frames, mean or max."})
    retrieval_similarity: str = field(
        default="cosine", metadata={"help": "Retrieval: 'cosine', or 'margin' (ratio margin, Artetxe & Schwenk 2019)."})
    retrieval_margin_k: int = field(default=4, metadata={"help": "Retrieval: neighbours k of the margin score."})
    retrieval_key_language: str = field(
        default="en_us", metadata={"help": "Retrieval: FLEURS locale of the keys (English)."})
    retrieval_query_languages: list[str] | None = field(
        default=None, metadata={"help": "Retrieval: query locales (default: every non-key language of the config)."})
    retrieval_distractor_splits: list[str] = field(
        default_factory=lambda: ["train", "validation"],
        metadata={"help": "Retrieval: splits whose key-language utterances are added as distractors (the scored "
                          "split itself is never one)."})
    retrieval_shuffle_keys: bool = field(
        default=False, metadata={"help": "Retrieval control run: permute key sentence ids (P@1 must fall to chance)."})


class RetrievalFamily(TaskFamily):
    label_kind = "none"
    arguments_class = RetrievalArguments
    family_args: RetrievalArguments
    needs_padding_mask = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.training_args.do_train:
            raise UsageError("fleurs-retrieval has no training step: it scores a pretrained or fine-tuned encoder "
                             "as it is. Drop --do_train and pass --do_predict (test split) and/or --do_eval.")
        self.datasets: dict[str, RetrievalDataset] = {}

    def _sentence_ids(self, ds: Dataset) -> list[str]:
        column = "sentence_id" if "sentence_id" in ds.column_names else "target"
        return [str(s) for s in ds[column]]

    def _load_english(self, splits: list[str]) -> dict[str, Dataset]:
        d, m, a = self.data_args, self.model_args, self.family_args
        # No token: huggingface_hub reads HF_TOKEN, where hub.protect_token put --hub_token.
        ctx = LoadContext(mirror_root=d.mirror_root, data_dir=d.data_dir, revision=d.dataset_revision,
                          cache_dir=m.cache_dir, num_proc=d.preprocessing_num_workers, source_layout=d.source_layout,
                          select_languages=True)
        key_task = resolve(f"fleurs.{a.retrieval_key_language}", task="fleurs-retrieval")
        loaded, _ = load_splits(key_task, sorted(set(splits)), ctx, d.target_column_name)
        return loaded

    def prepare(self, train: Dataset | None, evaluated: dict[str, Dataset]) -> Prepared:
        a = self.family_args
        key_lang = a.retrieval_key_language
        self.processor = self.from_pretrained(AutoFeatureExtractor)
        distractor_splits = list(a.retrieval_distractor_splits or [])
        english = self._load_english(list(evaluated) + distractor_splits)
        out: dict[str, RetrievalDataset] = {}
        for split, ds in evaluated.items():
            wanted = set(a.retrieval_query_languages or []) or (set(ds.unique("language")) - {key_lang})
            unknown = wanted - set(ds.unique("language"))
            if unknown:
                raise UsageError(f"--retrieval_query_languages: {', '.join(sorted(unknown))} not in the {split} "
                                 f"data of {self.task.config_name}")
            queries = ds.select([i for i, lang in enumerate(ds["language"]) if lang in wanted and lang != key_lang])
            if len(queries) == 0:
                raise UsageError(f"fleurs-retrieval: no non-English query in {self.task.config_name} {split}.")
            keys = english[split]
            parts = [("query", queries), (KEY, keys)]
            parts += [(DISTRACTOR, english[s]) for s in distractor_splits if s != split]
            ids = [self._sentence_ids(p) for _, p in parts]
            if a.retrieval_shuffle_keys:
                # Control run: key ids permuted, so any P@1 above chance would reveal a leak in the pipeline.
                pool = [s for part in ids[1:] for s in part]
                random.Random(self.training_args.seed).shuffle(pool)
                n = len(ids[1])
                ids = [ids[0], pool[:n], pool[n:]]
            dataset = RetrievalDataset(parts, ids)
            n_query = len(queries)
            pool_ids = [s for part in ids[1:] for s in part]
            key_set = set(ids[1])
            no_key = sum(s not in key_set for s in ids[0])
            if no_key:
                self.tally.skip(split, "query sentence has no English key (still scored: it cannot be right)", no_key)
                logger.warning("%s: %d of %d queries have no English recording of their sentence in the key set.",
                               split, no_key, n_query)
            counts = Counter(pool_ids)
            chance = float(np.mean([counts.get(s, 0) / len(pool_ids) for s in ids[0]]))
            self.tally.notes.setdefault("retrieval", {})[split] = {
                "queries": n_query, "keys": len(keys), "distractors": len(pool_ids) - len(keys),
                "key_language": key_lang, "query_languages": sorted(set(queries["language"])),
                "distractor_splits": [s for s in distractor_splits if s != split], "layer": a.retrieval_layer,
                "pooling": a.retrieval_pooling, "similarity": a.retrieval_similarity,
                "margin_k": a.retrieval_margin_k if a.retrieval_similarity == "margin" else None,
                "shuffled_keys": a.retrieval_shuffle_keys, "chance_precision_at_1": chance}
            logger.info("Retrieval %s: %d queries (%s) against %d English keys + %d distractors; chance P@1 %.3f",
                        split, n_query, " ".join(sorted(set(queries["language"]))), len(keys),
                        len(pool_ids) - len(keys), chance)
            self.tally.references[split] = dataset.sentence_ids
            self.datasets[split] = dataset
            out[split] = dataset
        return Prepared(None, out)

    def build_probe(self, setup: ProbeSetup) -> torch.nn.Module:
        """Embeddings pooled from a probe's learned weighted sum of layers (its output directory, any family); from
        a plain encoder, the untrained probe's sum: every hidden state weighted equally."""
        a = self.family_args
        saved = load_saved(setup, self.source)
        if saved is not None:
            return PooledEncoder(saved.encoder, pooling=a.retrieval_pooling,
                                 layer_sum=saved.layer_sum).requires_grad_(False)
        pooled = self.build_model()  # the encoder (of a speech encoder-decoder checkpoint too)
        pooled.layer_sum = LayerSum(num_hidden_states(pooled.encoder.config), setup.spec.layer_norm)
        pooled.layer_sum.requires_grad_(False)
        if setup.saved_head == SEQ2SEQ:  # a speech-translation probe: its weights, pooled before the adapter
            load_layer_sum(pooled, self.source)
        return pooled

    def build_model(self) -> torch.nn.Module:
        config = self.from_pretrained(AutoConfig)
        if encoders.is_speech_encoder_decoder(config):  # a fine-tuned CoVoST-2 model: embed with its encoder
            model = encoders.load_speech_encoder_decoder(self.source.name, config, **self.source.kwargs())
        else:
            model = self.load_pretrained(AutoModel, {})
        # The encoder of an encoder-decoder checkpoint (Whisper, a fine-tuned speech encoder-decoder).
        encoder = encoders.encoder_of(model).requires_grad_(False)  # nothing trains: results.json says 0 trainable
        return PooledEncoder(encoder, self.family_args.retrieval_layer, self.family_args.retrieval_pooling)

    def preprocess_logits_for_metrics(self, logits: Any, labels: torch.Tensor) -> torch.Tensor:
        return logits[0] if isinstance(logits, tuple) else logits

    def decode(self, predictions: np.ndarray, split: str) -> list[str | None]:
        """Embeddings -> for each query row the sentence id of its best key; None for key/distractor rows."""
        ds = self.datasets[split]
        emb = predictions[0] if isinstance(predictions, tuple) else predictions
        emb = np.asarray(emb, dtype=np.float32)[: len(ds)]
        roles = np.array(ds.roles[: len(emb)])
        is_query = roles == "query"
        ids = np.array(ds.sentence_ids[: len(emb)], dtype=object)
        out: list[str | None] = [None] * len(emb)
        languages = np.array(ds.languages[: len(emb)], dtype=object)
        keys = emb[~is_query]
        key_ids = ids[~is_query]
        if len(keys) == 0:
            return out
        # Per query language: the margin's key neighbourhoods are taken within one language pair, as in bitext mining.
        for lang in sorted(set(languages[is_query])):
            rows = np.flatnonzero(is_query & (languages == lang))
            best = retrieve(emb[rows], keys, self.family_args.retrieval_similarity, self.family_args.retrieval_margin_k)
            for r, b in zip(rows, best, strict=True):
                out[r] = str(key_ids[b])
        return out

    def score(self, references: Sequence, predictions: Sequence, languages: Sequence[str], split: str) -> dict:
        rows = [i for i, p in enumerate(predictions) if p is not None]
        return per_language([references[i] for i in rows], [predictions[i] for i in rows],
                            [languages[i] for i in rows], precision_at_1)
