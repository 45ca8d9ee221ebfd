"""Task families: one small class per head type, looked up by the registry's `family` field."""

from __future__ import annotations

from .base import TaskFamily
from .classification import ClassificationFamily
from .ctc import CTCFamily
from .retrieval import RetrievalFamily
from .seq2seq import Seq2SeqFamily

FAMILIES: dict[str, type[TaskFamily]] = {"ctc": CTCFamily, "classification": ClassificationFamily,
                                          "seq2seq": Seq2SeqFamily, "retrieval": RetrievalFamily}


def get_family(name: str) -> type[TaskFamily]:
    if name not in FAMILIES:
        raise NotImplementedError(
            f"The '{name}' task family is not available in this release (available: {', '.join(FAMILIES)}).")
    return FAMILIES[name]


__all__ = ["FAMILIES", "TaskFamily", "get_family"]
