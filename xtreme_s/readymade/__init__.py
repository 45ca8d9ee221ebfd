"""Ready-made models evaluated as they are (docs/ready-made-models.md): the interface and detection table live in
`readymade.base`, one evaluator per model kind in its own module; this package imports them all and names them."""

from __future__ import annotations

from .base import (
    ARCHITECTURES,
    AUTOMATIC,
    CLASSIFICATION_KINDS,
    KIND_WORDS,
    TASK_KINDS,
    ReadyMadeArguments,
    ReadyMadeModel,
    detect,
)
from .classifier import AudioClassifierModel
from .mms import MMSModel
from .seamless import SeamlessModel
from .whisper import WhisperModel

EVALUATORS: dict[str, type[ReadyMadeModel]] = {
    cls.name: cls for cls in (WhisperModel, MMSModel, SeamlessModel, AudioClassifierModel)}


def evaluators() -> dict[str, type[ReadyMadeModel]]:
    """Evaluator name -> class."""
    return EVALUATORS


__all__ = ["ARCHITECTURES", "AUTOMATIC", "CLASSIFICATION_KINDS", "EVALUATORS", "KIND_WORDS", "TASK_KINDS",
           "ReadyMadeArguments", "ReadyMadeModel", "detect", "evaluators"]
