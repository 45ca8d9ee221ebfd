"""Utterance classification (MInDS-14 intents, FLEURS language identification) with a mean-pooling head.

`AutoModelForAudioClassification` on the XLS-R encoder (Wav2Vec2ForSequenceClassification: projector, mean-pool
over the unpadded frames, linear classifier). The label space is always the source's full class list (14 intents;
102 FLEURS locales even when a run covers a subset), saved as `id2label`/`label2id` in the model config, so a
checkpoint's ids mean the same thing on every subset.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from datasets import ClassLabel, Dataset
from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification, PreTrainedModel

from .. import atomic
from ..collators import SpeechDataset
from ..errors import UsageError
from ..plots import plot_confusion
from ..registry import FLEURS_LOCALES, MINDS14_INTENTS
from .base import Prepared, TaskFamily
from .probe_heads import ClassificationProbe, ProbeSetup, load_saved

logger = logging.getLogger(__name__)

# Used only when the data carries plain integers instead of a ClassLabel feature (e.g. a local TSV folder).
# The order is the sources' own ClassLabel order (FLEURS `lang_id`, MInDS-14 `intent_class`).
FALLBACK_LABELS: dict[str, tuple[str, ...]] = {"fleurs-lang_id": FLEURS_LOCALES, "minds14": MINDS14_INTENTS}

CONFUSION_FILE = "confusion_matrix_{split}.json"


def label_names_of(splits: Iterable[Dataset], task_name: str) -> list[str]:
    """The class names, from the source's ClassLabel feature (the registry's table when the data has none)."""
    for ds in splits:
        feature = ds.features.get("target")
        if isinstance(feature, ClassLabel):
            return list(feature.names)
    if task_name in FALLBACK_LABELS:
        return list(FALLBACK_LABELS[task_name])
    raise UsageError(f"{task_name}: the target column is not a ClassLabel and no label list is known for this "
                     "task; cannot map targets to class ids.")


def init_bias_to_log_prior(model: PreTrainedModel, label_ids: Sequence[int], num_labels: int,
                           floor: float = 1e-6) -> None:
    """Start a new head's bias at the log class frequencies of the training set ("init well": RetinaNet's prior
    initialisation).

    Why: the label space is the source's full list (102 FLEURS locales) even when a run trains on a subset. From a
    zero bias, a 102-way head trained on 6 languages first spends its updates pushing the 96 absent classes down,
    and on small data the pooled representation collapses while doing so: measured on the mini benchmark, the loss
    then stays at ln 6 and accuracy at chance, whereas the same run started from the prior learns. With every class
    present and balanced (fleurs.all, MInDS-14) the prior is uniform and this changes nothing. Absent classes start
    at log(`floor`), i.e. about as unlikely as a class seen once in a million clips.
    """
    counts = np.bincount(np.asarray(label_ids, dtype=np.int64), minlength=num_labels).astype(np.float64)
    prior = np.maximum(counts / max(1.0, counts.sum()), floor)
    classifier = getattr(model, "classifier", None)
    if classifier is None or getattr(classifier, "bias", None) is None or classifier.bias.shape[0] != num_labels:
        logger.warning("Not initialising the classifier bias to the class prior: %s has no linear `classifier` with "
                       "%d outputs.", type(model).__name__, num_labels)
        return
    import torch

    with torch.no_grad():
        classifier.bias.copy_(torch.as_tensor(np.log(prior), dtype=classifier.bias.dtype))
    logger.info("Classifier bias initialised to the log class prior of the training set (%d of %d classes present).",
                int((counts > 0).sum()), num_labels)


class ClassificationFamily(TaskFamily):
    label_kind = "class"
    head_modules = ("projector", "classifier")
    train_label_ids: list[int] | None = None

    def _checkpoint_labels(self, config: Any) -> list[str] | None:
        """The fine-tuned checkpoint's class names in id order, or None for an encoder without a trained head."""
        architectures = getattr(config, "architectures", None) or []
        if not any(a.endswith("ForSequenceClassification") for a in architectures):
            return None
        id2label = {int(k): v for k, v in config.id2label.items()}
        return [id2label[i] for i in range(len(id2label))]

    def _labels(self, splits: Iterable[Dataset]) -> list[str]:
        names = label_names_of(splits, self.task.name)
        if self.training_args.do_train:
            return names
        m = self.model_args
        config = self.from_pretrained(AutoConfig)
        saved = self._checkpoint_labels(config)
        if saved is None:
            raise UsageError(f"Evaluating without --do_train needs a fine-tuned audio-classification checkpoint "
                             f"(a *ForSequenceClassification config with id2label); {m.model_name_or_path} has no "
                             "trained classification head. Add --do_train, or point --model_name_or_path at the "
                             "output directory of a finished run.")
        if saved != names:
            diff = [f"{i}: {a!r} vs {b!r}" for i, (a, b) in enumerate(zip(saved, names, strict=False)) if a != b]
            raise UsageError(f"{m.model_name_or_path} was trained on other labels than {self.task.config_name} "
                             f"uses: checkpoint has {len(saved)} classes, the data {len(names)}"
                             + (f"; first differences (id: checkpoint vs data): {', '.join(diff[:5])}" if diff
                                else "") + ". Its predictions would be meaningless on this task.")
        return saved

    def _to_ids(self, values: Sequence[Any], split: str) -> list[int]:
        """Targets as class ids; strings (plain local folders) are looked up by name."""
        out = []
        folded: dict[str, list[int]] = {}
        for name, i in self.label2id.items():
            folded.setdefault(name.casefold(), []).append(i)
        for v in values:
            if isinstance(v, str):
                # A class name (exactly, or case-insensitively where only one name matches), or an id as text.
                name = v.strip()
                if name in self.label2id:
                    out.append(self.label2id[name])
                elif len(folded.get(name.casefold(), ())) == 1:
                    out.append(folded[name.casefold()][0])
                elif name.isdigit():
                    out.append(int(name))
                else:
                    import difflib

                    close = difflib.get_close_matches(name, list(self.label2id), n=3)
                    raise UsageError(f"{split}: unknown class {v!r} in the target column"
                                     f"{f' (did you mean {close}?)' if close else ''}; give class names of "
                                     f"{self.task.config_name} or their ids 0-{len(self.label2id) - 1}.")
            else:
                out.append(-1 if v is None else int(v))
        return out

    def prepare(self, train: Dataset | None, evaluated: dict[str, Dataset]) -> Prepared:
        names = self._labels([ds for ds in (train, *evaluated.values()) if ds is not None])
        self.id2label = dict(enumerate(names))
        self.label2id = {n: i for i, n in self.id2label.items()}
        self.processor = self.from_pretrained(AutoFeatureExtractor)
        if self.training_args.should_save:
            self.processor.save_pretrained(self.training_args.output_dir)
        present: dict[str, list[str]] = {}  # split name -> classes present
        prepared_train = None
        if train is not None:
            ids = self._to_ids(train["target"], self.train_split)
            reasons = [None if 0 <= y < len(names) else "no class label" for y in ids]
            train, (ids,) = self.drop_training_rows(self.train_split, train, reasons, ids)
            self.train_label_ids = ids
            present[self.train_split] = [names[y] for y in sorted(set(ids))]
            prepared_train = SpeechDataset(train, ids)
        out: dict[str, SpeechDataset] = {}
        for split, ds in evaluated.items():
            ids = self._to_ids(ds["target"], split)
            bad = [i for i, y in enumerate(ids) if not 0 <= y < len(names)]
            if bad:
                raise UsageError(f"{split}: {len(bad)} utterance(s) have no valid class label "
                                 f"({', '.join(ds.select(bad[:5])['id'])}...); evaluation items are never dropped.")
            self.tally.references[split] = [names[y] for y in ids]
            present[split] = [names[y] for y in sorted(set(ids))]
            out[split] = SpeechDataset(ds, ids)
        self.tally.notes["label_space"] = {"num_labels": len(names), "classes_present": present}
        return Prepared(prepared_train, out)

    def build_model(self) -> PreTrainedModel:
        model = self.load_pretrained(AutoModelForAudioClassification, {
            "num_labels": len(self.id2label), "id2label": self.id2label, "label2id": self.label2id,
        })
        saved = self._checkpoint_labels(model.config)  # `architectures` is still the checkpoint's here
        new_head = saved is None or len(saved) != len(self.id2label)
        if self.training_args.do_train and self.train_label_ids and new_head:
            init_bias_to_log_prior(model, self.train_label_ids, len(self.id2label))
        return model

    def build_probe(self, setup: ProbeSetup) -> Any:
        saved = load_saved(setup, self.source)
        if saved is not None:  # its labels were checked against the data in `_labels`
            return saved
        encoder = self.load_encoder({"num_labels": len(self.id2label), "id2label": self.id2label,
                                     "label2id": self.label2id})
        model = ClassificationProbe(encoder, setup.spec, len(self.id2label))
        if self.training_args.do_train and self.train_label_ids:
            init_bias_to_log_prior(model, self.train_label_ids, len(self.id2label))
        return model

    def decode(self, predictions: np.ndarray, split: str) -> list[str]:
        return [self.id2label[int(i)] for i in np.asarray(predictions).reshape(-1)]

    def write_artifacts(self, output_dir: Path, split: str, predictions: Sequence, dataset: SpeechDataset) -> None:
        """Confusion matrix over the classes present (reference or predicted): JSON and a PNG heatmap."""
        from sklearn.metrics import confusion_matrix

        refs = [self.id2label[y] for y in dataset.labels[: len(predictions)]]
        present = [n for n in self.id2label.values() if n in set(refs) | set(predictions)]
        matrix = confusion_matrix(refs, list(predictions), labels=present)
        path = Path(output_dir) / CONFUSION_FILE.format(split=split)
        atomic.write_text(path, json.dumps({"split": split, "rows": "reference", "columns": "prediction",
                                            "labels": present, "matrix": matrix.tolist()}, indent=1) + "\n")
        plot_confusion(matrix, present, path.with_suffix(".png"), f"{self.task.config_name} {split}")

