"""Batching by audio duration (fairseq's `max_tokens`, lhotse's bucketing), and evaluation sorted by length.

Why hand-written: the Trainer offers only fixed-size batches (random or `group_by_length`), lhotse's samplers
need its own cut manifests, and torch has no duration-budget sampler. This one is small and composable:

* clips are put in `num_buckets` duration buckets (quantiles, so every bucket holds a similar number of clips);
* each bucket has a fixed batch size, ``max(1, floor(max_batch_seconds / longest clip of the bucket))``, so
  ``batch size x longest clip`` (the padded audio the model sees) never exceeds the budget, and the number of
  batches per epoch is a pure function of the durations: the Trainer's steps-per-epoch stay exact every epoch;
* every epoch the clips are shuffled inside their bucket and the batches are shuffled across buckets, from a
  generator seeded by ``(seed, epoch)`` only, so a resumed run replays the same order;
* with several processes every rank gets the same number of batches: the shuffled batch list is padded by
  repeating its first batches (or cut, with `drop_last`) to a multiple of the world size, and rank r takes every
  world-size-th batch from r. accelerate must not shard it again (see `xtreme_s.trainer.unshard`).

A clip longer than the budget gets a batch of its own (the runner's `--max_duration_in_seconds` is the cap).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from . import parquet_audio

logger = logging.getLogger(__name__)

MIN_BATCHES_PER_BUCKET = 2


def padding_ratio(durations: Sequence[float], batches: Sequence[Sequence[int]]) -> float:
    """Padded audio / real audio over `batches` (1.0 = no padding): each batch is padded to its longest clip."""
    d = np.asarray(durations, dtype=np.float64)
    padded = sum(len(b) * float(d[list(b)].max()) for b in batches if len(b))
    real = sum(float(d[list(b)].sum()) for b in batches if len(b))
    return padded / real if real > 0 else 1.0


def bucket_boundaries(durations: Sequence[float], num_buckets: int) -> np.ndarray:
    """Upper edges of `num_buckets` duration buckets holding similar numbers of clips (last edge = longest)."""
    d = np.asarray(durations, dtype=np.float64)
    qs = np.quantile(d, np.linspace(0, 1, num_buckets + 1)[1:])
    return np.unique(qs)


class DurationBatchSampler(torch.utils.data.Sampler):
    """Yields lists of dataset indices whose padded duration fits `max_batch_seconds`; see the module docstring."""

    def __init__(self, durations: Sequence[float], max_batch_seconds: float, num_buckets: int = 30,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False, num_replicas: int = 1, rank: int = 0,
                 max_batch_size: int | None = None, groups: Sequence[int] | None = None, window: int = 0):
        if max_batch_seconds <= 0:
            raise ValueError(f"max_batch_seconds must be positive, got {max_batch_seconds}")
        if num_buckets < 1:
            raise ValueError(f"num_buckets must be at least 1, got {num_buckets}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        self.durations = np.asarray(durations, dtype=np.float64)
        if len(self.durations) == 0:
            raise ValueError("DurationBatchSampler needs at least one clip")
        self.max_batch_seconds = float(max_batch_seconds)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.epoch = 0
        if groups is not None and len(groups) != len(self.durations):
            raise ValueError(f"{len(groups)} row-group keys for {len(self.durations)} clips")
        # Row-group locality (see `_windowed_batches`): dense group ids 0..G-1, or None.
        self.groups = None if groups is None or window <= 0 else np.unique(np.asarray(groups), return_inverse=True)[1]
        self.window = int(window)
        self.num_windows = 1 if self.groups is None else math.ceil((int(self.groups.max()) + 1) / self.window)
        edges = bucket_boundaries(self.durations, num_buckets)
        which = np.searchsorted(edges, self.durations, side="left")
        order = np.argsort(self.durations, kind="stable")
        # Buckets in ascending duration; members in ascending duration (the unshuffled order).
        self.buckets: list[np.ndarray] = [order[which[order] == b] for b in range(len(edges))]
        self.buckets = self._merge_small([b for b in self.buckets if len(b)])
        self.batch_sizes = []
        for members in self.buckets:
            longest = float(self.durations[members].max())
            size = max(1, math.floor(self.max_batch_seconds / longest)) if longest > 0 else len(members)
            self.batch_sizes.append(min(size, max_batch_size) if max_batch_size else size)
        self.num_batches = sum(math.ceil(len(m) / s) for m, s in zip(self.buckets, self.batch_sizes, strict=True))
        per_rank = self.num_batches / self.num_replicas
        self._len = math.floor(per_rank) if drop_last else math.ceil(per_rank)
        if self._len == 0:
            raise ValueError(f"{self.num_batches} batch(es) cannot be shared by {self.num_replicas} processes with "
                             "drop_last; lower --max_batch_seconds or use fewer processes.")

    def _merge_small(self, buckets: list[np.ndarray]) -> list[np.ndarray]:
        """Join neighbouring buckets until each fills `MIN_BATCHES_PER_BUCKET` batches (small datasets, many
        buckets): every bucket ends in one part-filled batch, which would otherwise be a large share of them."""
        merged: list[np.ndarray] = []
        group: list[np.ndarray] = []
        # With row-group windows, a bucket needs about one batch per window, or its batches would span windows.
        min_batches = max(MIN_BATCHES_PER_BUCKET, self.num_windows)
        for members in buckets:
            group.append(members)
            joined = np.concatenate(group)
            longest = max(float(self.durations[joined].max()), 1e-9)
            if len(joined) >= min_batches * math.floor(self.max_batch_seconds / longest):
                merged.append(joined)
                group = []
        if group:
            merged.append(np.concatenate(group))
        return merged

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order to yield (the Trainer calls this before every epoch)."""
        self.epoch = int(epoch)

    def global_batches(self, epoch: int | None = None) -> list[list[int]]:
        """All batches of an epoch in yield order, before they are dealt to ranks (pure in seed and epoch)."""
        epoch = self.epoch if epoch is None else epoch
        rng = np.random.default_rng([self.seed, epoch])
        if self.groups is not None and self.shuffle:
            return self._windowed_batches(rng, self.window_of_groups(rng))
        batches: list[list[int]] = []
        for members, size in zip(self.buckets, self.batch_sizes, strict=True):
            members = rng.permutation(members) if self.shuffle else members
            batches += [members[i:i + size].tolist() for i in range(0, len(members), size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def window_of_groups(self, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """The window of each row group in an epoch (an epoch number, or the epoch's generator)."""
        assert self.groups is not None
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng([self.seed, self.epoch if rng is None else rng])
        num_groups = int(self.groups.max()) + 1
        window_of_group = np.empty(num_groups, dtype=np.int64)
        window_of_group[rng.permutation(num_groups)] = np.arange(num_groups) // self.window
        return window_of_group

    def _windowed_batches(self, rng: np.random.Generator, window_of_group: np.ndarray) -> list[list[int]]:
        """Row-group-aware order: the epoch's shuffled row groups are cut into windows of `window` groups, and the
        batches of a window hold its clips and are yielded together (shuffled inside the window), so a reader that
        keeps about two windows' groups in memory reads each group about once per epoch.

        The number of batches stays a pure function of the durations (the Trainer's steps per epoch stay exact):
        each bucket's clips are shuffled, ordered by window and cut into the bucket's fixed-size batches. A batch
        that a window boundary cuts through goes right after the window of its first clip. Buckets are merged until
        each fills about one batch per window (`_merge_small`), so such batches are few; the price is a few fewer
        buckets, i.e. slightly more padding with small windows.
        """
        assert self.groups is not None
        window = window_of_group[self.groups]
        num_windows = int(window_of_group.max()) + 1
        inside: list[list[list[int]]] = [[] for _ in range(num_windows)]
        across: list[list[list[int]]] = [[] for _ in range(num_windows)]
        for members, size in zip(self.buckets, self.batch_sizes, strict=True):
            members = rng.permutation(members)
            members = members[np.argsort(window[members], kind="stable")]
            for i in range(0, len(members), size):
                batch = members[i:i + size]
                first, last = window[batch[0]], window[batch[-1]]
                (inside if first == last else across)[first].append(batch.tolist())
        batches: list[list[int]] = []
        for w in range(num_windows):
            batches += [inside[w][i] for i in rng.permutation(len(inside[w]))]
            batches += [across[w][i] for i in rng.permutation(len(across[w]))]
        return batches

    def rank_batches(self, epoch: int | None = None) -> list[list[int]]:
        batches = self.global_batches(epoch)
        total = self._len * self.num_replicas
        if total > len(batches):  # repeat the first batches so every rank gets the same number
            batches = batches + [batches[i % len(batches)] for i in range(total - len(batches))]
        return batches[:total][self.rank::self.num_replicas]

    def padding_ratio(self, epoch: int | None = None) -> float:
        """Padded / real audio of an epoch's batches (cached: the Trainer logs it every `logging_steps`)."""
        epoch = self.epoch if epoch is None else epoch
        if getattr(self, "_ratio", (None,))[0] != epoch:
            self._ratio = (epoch, padding_ratio(self.durations, self.global_batches(epoch)))
        return self._ratio[1]

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.rank_batches()

    def __len__(self) -> int:
        return self._len


class OrderedSampler(torch.utils.data.Sampler):
    """Yields a fixed permutation; `order` lets the evaluation loop put predictions back in dataset order."""

    def __init__(self, order: Sequence[int]):
        self.order = [int(i) for i in order]

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


def longest_first(durations: Sequence[float], groups: Sequence[int] | None = None, window: int = 0) -> list[int]:
    """Evaluation order: longest clips first (similar lengths share a batch; an out-of-memory shows at once).

    With row-group keys (`groups`) and a `window`, the sort is within windows of `window` consecutive row groups
    (each group then read about once), the window holding the longest clips first.
    """
    d = np.asarray(durations, dtype=np.float64)
    if groups is None or window <= 0 or len(d) == 0:
        return np.argsort(-d, kind="stable").tolist()
    window_of = np.unique(np.asarray(groups), return_inverse=True)[1] // window
    longest = np.full(int(window_of.max()) + 1, -np.inf)
    np.maximum.at(longest, window_of, d)
    rank = np.empty_like(longest, dtype=np.int64)
    rank[np.argsort(-longest, kind="stable")] = np.arange(len(longest))
    return np.lexsort((np.arange(len(d)), -d, rank[window_of])).tolist()


def restore_order(values, order: Sequence[int]):
    """Undo `order` on the first axis of every array in `values` (nested tuples/lists/dicts allowed)."""
    if values is None:
        return None
    if isinstance(values, (tuple, list)):
        return type(values)(restore_order(v, order) for v in values)
    if isinstance(values, dict):
        return {k: restore_order(v, order) for k, v in values.items()}
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.ndim == 0 or arr.shape[0] != len(order):
        return values
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    return arr[inverse]


def row_groups(dataset: Any, args: Any) -> tuple[np.ndarray | None, int]:
    """The row-group key of every clip (None when its audio is not read from parquet, or windows are off) and the
    window size (`--shuffle_window_row_groups`)."""
    window = getattr(args, "shuffle_window_row_groups", 0) or 0
    return (parquet_audio.dataset_row_group_keys(dataset) if window > 0 else None), window


def eval_order(dataset: Any, args: Any) -> list[int]:
    """`longest_first` for an evaluation dataset, row-group aware when its audio is read from parquet files."""
    return longest_first(dataset.durations, *row_groups(dataset, args))


def hint_without_duration_batching(dataset: Any, args: Any) -> None:
    """Random or length-grouped batches read parquet audio in random order: say once what is faster.

    Looks at the first clip only: the hint must not cost a pass over the dataset at start-up."""
    data = getattr(dataset, "audio", None)
    if not getattr(args, "shuffle_window_row_groups", 0) or data is None or "audio" not in data.column_names \
            or len(data) == 0:
        return
    if parquet_audio.parse_ref((data[0]["audio"] or {}).get("path")) is not None:
        logger.info("Training audio is read from parquet row groups in random order (slower); --max_batch_seconds "
                    "reads it in row-group-aware order.")
