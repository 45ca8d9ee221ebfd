"""Start-up checks: what can be known before the long part of a run, so a mistake costs seconds, not a data pass
or a day of training.

Before any data loads: every model the run will read can be reached (`check_models`; the shortest clip the
encoder accepts is `xtreme_s.encoders.input_limits`), and the Hub takes an upload where one is asked for. Once the
scored splits are loaded, before training: every evaluation clip can be scored (`check_eval_split`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import datasets

from .errors import EnvironmentProblem
from .hub import ModelSource, check_model_source, offline
from .robustness import EMPTY_AUDIO, UNREADABLE_HEADER, BadAudioError, decode_checked, native_rate

logger = logging.getLogger("xtreme_s")


def check_push_to_hub(training_args: Any) -> None:
    """`--push_to_hub` needs the Hub at the end of the run: find out at start-up, not after training."""
    if not getattr(training_args, "push_to_hub", False):
        return
    if offline():
        raise EnvironmentProblem("--push_to_hub needs the Hub, but it is offline (HF_HUB_OFFLINE). Unset "
                                 "HF_HUB_OFFLINE, or drop --push_to_hub (push the output directory later with "
                                 "`hf upload`).")
    from huggingface_hub import HfApi

    try:
        HfApi().whoami()  # the token is in HF_TOKEN (hub.protect_token)
    except Exception as err:
        raise EnvironmentProblem(f"--push_to_hub: cannot log in to the Hub ({type(err).__name__}: {err}). Log in "
                                 "with `hf auth login` or pass --hub_token, or drop --push_to_hub.") from None


def check_models(source: ModelSource, training_args: Any, family: str, family_args: Any = None) -> None:
    """Every model the run will load, before any data is read (`source`: --model_name_or_path; `family_args`: the
    family's own flags)."""
    check_model_source(source, "--model_name_or_path", speech=True)
    if family == "seq2seq" and training_args.do_train and not _is_encoder_decoder(source):
        if family_args is None:
            from .families.seq2seq import Seq2SeqArguments

            family_args = Seq2SeqArguments()
        check_model_source(source.at(family_args.decoder_name_or_path), "--decoder_name_or_path")
    check_push_to_hub(training_args)


def _is_encoder_decoder(source: ModelSource) -> bool:
    path = source.file("config.json")
    config = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    return bool(config.get("is_encoder_decoder")) or config.get("model_type") == "speech-encoder-decoder"


# -- the scored splits, once loaded ---------------------------------------------------------------------------
def _problems(batch: dict[str, list]) -> dict[str, list]:
    n = len(batch["audio"])
    starts = batch.get("segment_start") or [None] * n
    ends = batch.get("segment_end") or [None] * n
    out = []
    for audio, duration, start, end in zip(batch["audio"], batch["duration"], starts, ends, strict=True):
        if duration is None or duration < 0:
            out.append(UNREADABLE_HEADER)
            continue
        # The native rate: this only checks that the clip decodes; resampling is the collator's job.
        out.append(decode_checked(audio, native_rate(audio), start, end)[1] or "")
    return {"problem": out}


def check_eval_split(ds: datasets.Dataset, split: str, full_decode: bool, allow_skipping: bool,
                     tally: Any, num_proc: int | None = None, unscored: list[str] | None = None
                     ) -> datasets.Dataset:
    """Stop on (or, when allowed, skip and count in `tally`, the run's `results.RunTally`) evaluation items that
    cannot be scored.

    With `unscored` (evaluation-only runs) they are skipped and counted, and a line naming them is added to it:
    the run scores the rest, writes it, then fails with that line. Without `full_decode` only headers are checked
    (they were read at load time, so this is free)."""
    cols = [c for c in ("audio", "duration", "segment_start", "segment_end") if c in ds.column_names]
    if full_decode:
        logger.info("%s: checking that all %d clips decode (once, before training)", split, len(ds))
        problems = ds.select_columns(cols).map(_problems, batched=True, batch_size=64, remove_columns=cols,
                                               desc=f"Decoding {split} audio", num_proc=num_proc)["problem"]
    else:
        problems = [UNREADABLE_HEADER if d is None or d < 0 else EMPTY_AUDIO if d == 0 else ""
                    for d in ds["duration"]]
    bad = [i for i, p in enumerate(problems) if p]
    if not bad:
        return ds
    ids, paths = ds.select(bad)["id"], [a.get("path") for a in ds.select(bad)["audio"]]
    listing = "; ".join(f"{i} ({p}): {problems[k]}" for i, p, k in list(zip(ids, paths, bad, strict=True))[:5])
    if unscored is not None and not allow_skipping:
        unscored.append(f"{split}: {len(bad)} of {len(ds)} utterance(s) could not be scored: {listing}"
                        f"{' ...' if len(bad) > 5 else ''}")
    elif not allow_skipping:
        raise BadAudioError(f"{split}: {len(bad)} of {len(ds)} utterance(s) cannot be scored: {listing}"
                            f"{' ...' if len(bad) > 5 else ''}. Evaluation items are never dropped silently: fix or "
                            "remove them, or pass --allow_skipping_eval_items to skip them (they are then counted "
                            "in results.json and excluded from the metrics).")
    for k in bad:
        tally.skip(split, problems[k])
    logger.warning("%s: SKIPPING %d of %d utterance(s) that cannot be scored%s; metrics cover the rest: %s", split,
                   len(bad), len(ds), " (--allow_skipping_eval_items)" if allow_skipping else
                   "; the run will end with exit code 2 naming them", listing)
    bad_set = set(bad)
    return ds.select([i for i in range(len(ds)) if i not in bad_set])


DUPLICATE_ID = "duplicate utterance id (a second copy of a row, e.g. a shard listed twice)"


def drop_duplicate_ids(ds: datasets.Dataset, split: str, tally: Any, evaluated: bool,
                       allow_skipping: bool) -> datasets.Dataset:
    """Rows whose (language, id) an earlier row of the split already has: a duplicated shard or manifest line
    would otherwise be trained on twice, or scored twice. In a scored split they stop the run at start-up unless
    `--allow_skipping_eval_items`; otherwise (and in training) the later copies are left out and counted."""
    if "id" not in ds.column_names or len(ds) == 0:
        return ds
    seen: set[tuple[str, str]] = set()
    keep, repeated = [], []
    languages = ds["language"] if "language" in ds.column_names else [""] * len(ds)
    for i, key in enumerate(zip(languages, ds["id"], strict=True)):
        if key in seen:
            repeated.append(key[1])
        else:
            seen.add(key)
            keep.append(i)
    if not repeated:
        return ds
    shown = ", ".join(sorted(set(repeated))[:5]) + (" ..." if len(set(repeated)) > 5 else "")
    if evaluated and not allow_skipping:
        raise BadAudioError(f"{split}: {len(repeated)} row(s) repeat an utterance id of an earlier row ({shown}): "
                            "scoring them would count those utterances twice. Remove the duplicates (a shard or "
                            "manifest listed twice?), or pass --allow_skipping_eval_items to score each id once (the "
                            "copies are counted in results.json).")
    tally.skip(split, DUPLICATE_ID, len(repeated))
    logger.warning("%s: left out %d row(s) repeating an utterance id (%s); counted under skipped.%s.", split,
                   len(repeated), shown, split)
    return ds.select(keep)
