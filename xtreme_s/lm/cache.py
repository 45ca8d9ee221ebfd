"""The log-probabilities of an evaluated split, kept so that decoding with other LM settings costs decoding only.

`<output_dir>/lm_logits/<split>-<key>.npz` holds every utterance's T x V CTC log-probabilities with the utterance
ids, in float16 (half the size; `as_stored` rounds fresh ones the same way, so a cached split decodes exactly as it
did the first time). The key is a hash of everything the numbers depend on: the model's weights (a digest of its
parameters, so a retrained or other model never matches), the CTC vocabulary, the task config and precision flags,
the split name and its utterance ids in order (so --max_eval_samples or other data never match). A run looks in its
own --output_dir and in --model_name_or_path (an eval-only run of a trained output directory), so the encoder runs
once per model and split. Delete the folder to free the space.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

CACHE_DIR = "lm_logits"


def cache_key(model_digest: str, vocab: dict[str, int], config_name: str, split: str, ids: Sequence[str]) -> str:
    h = hashlib.sha256()
    for part in (model_digest, json.dumps(vocab, sort_keys=True, ensure_ascii=False), config_name, split,
                 "\n".join(map(str, ids))):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:20]


def cache_file(folder: Path, split: str, key: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in split)
    return Path(folder) / CACHE_DIR / f"{safe}-{key}.npz"


FLOOR = -1e4  # log-probabilities below this (a padded frame's "certainly not": -3e38) are this; float16 holds it


def as_stored(log_probs: np.ndarray) -> np.ndarray:
    """Log-probabilities as the cache keeps them (float16 values, as float32 for the decoder)."""
    return np.maximum(log_probs, FLOOR).astype(np.float16).astype(np.float32)


def save(folder: Path, split: str, key: str, ids: Sequence[str], log_probs: Sequence[np.ndarray]) -> Path:
    path = cache_file(folder, split, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(x) for x in log_probs], dtype=np.int64)
    frames = np.concatenate([np.asarray(x, dtype=np.float16) for x in log_probs]) if len(log_probs) else \
        np.zeros((0, 0), np.float16)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, frames=frames, lengths=lengths, ids=np.array(list(map(str, ids))), key=np.array(key))
    tmp.replace(path)
    return path


def read(path: Path) -> tuple[str, list[str], list[np.ndarray]]:
    """A cache file's key, utterance ids and log-probabilities (float32, one array per utterance)."""
    with np.load(path) as data:
        key, ids = str(data["key"]), list(data["ids"])
        frames, lengths = data["frames"].astype(np.float32), data["lengths"]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return key, ids, [frames[bounds[i]:bounds[i + 1]] for i in range(len(lengths))]


def load(folders: Iterable[Path], split: str, key: str, ids: Sequence[str]) -> tuple[list[np.ndarray], Path] | None:
    """The cached log-probabilities (float32, one array per utterance) and their file, or None."""
    for folder in folders:
        path = cache_file(folder, split, key)
        if not path.is_file():
            continue
        try:
            found_key, found_ids, rows = read(path)
        except (OSError, ValueError, KeyError) as err:
            logger.warning("Ignoring the unreadable logits cache %s (%s); the encoder runs again.", path, err)
            continue
        if found_key == key and found_ids == list(map(str, ids)):
            return rows, path
    return None
