"""Scale-out checks: say plainly when a requested sharding backend is not what actually runs."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("xtreme_s")


def check_sharding(trainer: Any) -> str:
    """Log the distributed backend in use; warn where --fsdp/--deepspeed was asked for but is not in effect.

    accelerate runs FSDP only on accelerators: on CPU (`torchrun` without GPUs) an `--fsdp` run trains with plain
    DDP, every process holding the whole model. That is fine for a smoke test and wrong for a 2B model."""
    kind = str(getattr(trainer.accelerator.distributed_type, "value", trainer.accelerator.distributed_type))
    args = trainer.args
    if trainer.args.world_size > 1:
        logger.info("Distributed: %d processes, backend %s", args.world_size, kind)
    if args.fsdp and kind != "FSDP":
        logger.warning("--fsdp was given but accelerate runs %s (FSDP needs GPUs): the model is NOT sharded and "
                       "FSDP's activation checkpointing is not applied.", kind)
    if args.deepspeed and kind != "DEEPSPEED":
        logger.warning("--deepspeed was given but accelerate runs %s: ZeRO is not in effect.", kind)
    return kind
