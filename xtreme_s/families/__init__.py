"""Task families: one small class per head type, looked up by the registry's `family` field."""

from __future__ import annotations

from .base import Prepared, Scored, TaskFamily
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


def family_arguments() -> dict[str, type]:
    """Family name -> the dataclass of its own flags, for the families that have any (parsed by args.parse_args,
    one `--help` group each)."""
    return {name: cls.arguments_class for name, cls in FAMILIES.items() if cls.arguments_class is not None}


__all__ = ["FAMILIES", "Prepared", "Scored", "TaskFamily", "family_arguments", "get_family"]
