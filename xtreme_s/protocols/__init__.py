"""Training protocols: what a run trains (full fine-tuning, frozen-encoder probe, LoRA, MMS adapters).

The interface and the table are in `base.py`; each protocol is one module that registers itself on import, so
importing this package fills `PROTOCOLS`. Submodules import from `base`, never from this package.
"""

from __future__ import annotations

from . import lora, mms_adapters, probe
from .base import (
    PROTOCOLS,
    Protocol,
    ProtocolArguments,
    count_parameters,
    register,
    resolve,
    saved_protocol,
    settings,
)

__all__ = ["PROTOCOLS", "Protocol", "ProtocolArguments", "count_parameters", "lora", "mms_adapters", "probe",
           "register", "resolve", "saved_protocol", "settings"]
