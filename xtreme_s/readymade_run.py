"""Evaluation-only runs of ready-made models (xtreme_s.readymade) through the same command line and results.json.

The data steps are the runner's (task resolution, loading, the evaluation pre-flight); what differs is that nothing
is trained and no Trainer runs: each scored split is cut into batches of one language and similar durations, each
batch is generated (or, for language ID, identified) by the model's own head, and the predictions are scored with
the benchmark's metrics, beside the Whisper paper's normalised variant. Languages the model does not cover get an
empty prediction (language ID: whatever the model says), so they count as errors in `macro`, never dropped; the
mean over the covered ones is `macro_covered`, and `coverage` lists both. Speed is RTFx as the Open ASR
Leaderboard defines it: audio seconds / wall seconds of feature extraction, generation and detokenisation.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from . import normalized_scoring, readymade
from . import robustness as rb
from .errors import UsageError
from .hub import ModelSource, check_model_source
from .metrics import SCORERS, group_means, per_language
from .output_dir import resume_or_refuse, run_identity
from .protocols import saved_protocol
from .readymade import AUTOMATIC, CLASSIFICATION_KINDS, KIND_WORDS, TASK_KINDS, ReadyMadeArguments, ReadyMadeModel
from .registry import COVOST2_RESOURCE_GROUPS, FLEURS_LOCALES, MINDS14_INTENTS, resolve
from .reports import results_md
from .results import PREDICTIONS_FILE, DataRecord, Results, RunTally, SplitResult, library_versions, write_predictions
from .runner import data_source, load_task_data, resolve_task, scored_limits, start_up
from .startup_checks import check_eval_split
from .text import TextNormalizer

logger = logging.getLogger("xtreme_s")


def selected(model_args: Any, data_args: Any, training_args: Any, args: ReadyMadeArguments) -> str | None:
    """The ready-made evaluator this run uses (None: the fine-tuning runner), decided once at start-up. Retrieval
    is never ready-made: it scores any encoder without training, through its family."""
    choice = args.ready_made
    names = list(readymade.evaluators())
    if choice not in ("auto", "off", *names):
        raise UsageError(f"--ready_made {choice!r}: choose auto, off or one of {', '.join(names)}.")
    if choice == "off":
        return None
    source = ModelSource.of(model_args)
    if choice != "auto" or args.eval_crops > 1:  # else a model that cannot be read is the runner's to report
        check_model_source(source, "--model_name_or_path")
    detected, arch = readymade.detect(source)
    made_by = saved_protocol(source)[0] if detected else None  # a probe's or LoRA's output directory
    if made_by:
        if choice != "auto" or args.eval_crops > 1:
            raise UsageError(f"{source.name} is a {made_by} output directory, which only the {made_by} protocol "
                             "loads: drop --ready_made/--eval_crops, or merge it into a full checkpoint first "
                             "(LoRA: --lora_merge).")
        return None
    if args.eval_crops < 1 or args.eval_crop_seconds <= 0:
        raise UsageError(f"--eval_crops {args.eval_crops} --eval_crop_seconds {args.eval_crop_seconds}: give at least "
                         "1 crop of a positive length (e.g. --eval_crops 10 --eval_crop_seconds 10).")
    if args.eval_crops > 1 and detected != "classifier":
        raise UsageError(f"--eval_crops applies to audio-classification models (language ID, intents); "
                         f"{model_args.model_name_or_path} is a {arch}. Fine-tune or probe a classifier first, then "
                         "evaluate its output directory with --eval_crops.")
    if choice == "auto":
        if task_kind(data_args) is None:  # retrieval: the runner evaluates the encoder itself
            return None
        if detected == "classifier" and args.eval_crops > 1 and not training_args.do_train:
            return detected
        if detected not in AUTOMATIC:
            return None
        if training_args.do_train:
            logger.info("%s is a ready-made %s model; --do_train fine-tunes it instead (--ready_made %s without "
                        "--do_train evaluates it as it is).", model_args.model_name_or_path, detected, detected)
            return None
        return detected
    if training_args.do_train:
        raise UsageError(f"--ready_made {choice} evaluates {model_args.model_name_or_path} as it is: drop --do_train "
                         "(or pass --ready_made off to fine-tune it).")
    if detected != choice:
        raise UsageError(f"--ready_made {choice}: {model_args.model_name_or_path} is a {arch}"
                         f"{f' ({detected})' if detected else ''}, not a ready-made {choice} model. Pass "
                         "--ready_made auto, or the matching model.")
    return choice


def task_kind(data_args: Any) -> str | None:
    """What a ready-made model must do for the run's task (readymade.TASK_KINDS); None for retrieval."""
    task = resolve(data_args.dataset_config_name, data_args.task, data_args.language, data_args.target_column_name,
                   data_args.language_group)
    return TASK_KINDS.get(task.name)


def _batches(order: list[int], durations: list[float], max_clips: int, max_seconds: float | None) -> list[list[int]]:
    """Consecutive runs of `order` (sorted longest first) with at most `max_clips` clips and, if set, at most
    `max_seconds` of padded audio (clips x the longest)."""
    out: list[list[int]] = []
    for i in order:
        if out:
            batch = out[-1]
            longest = max(durations[batch[0]], durations[i])
            if len(batch) < max_clips and (max_seconds is None or longest * (len(batch) + 1) <= max_seconds):
                batch.append(i)
                continue
        out.append([i])
    return out


def references_of(ds: Any, kind: str, norm: TextNormalizer) -> tuple[list, list]:
    """(references for the benchmark's metric, raw references for the normalised variant)."""
    raw = list(ds["target"])
    if kind in CLASSIFICATION_KINDS:  # indices into the 102 FLEURS locales / the 14 intents
        names = FLEURS_LOCALES if kind == "lang_id" else MINDS14_INTENTS
        raw = [names[int(i)] for i in raw]
        return raw, raw
    if kind == "asr":
        return [norm(t) for t in raw], raw
    return [(t or "").strip() for t in raw], raw


def predict_split(model: ReadyMadeModel, ds: Any, kind: str, codes: dict[str, str | None], batch_size: int,
                  max_seconds: float | None, allow_skipping: bool, tally: RunTally, split: str) -> tuple[list, dict]:
    """Predictions in dataset order ('' for a language the model does not cover, None for a skipped clip), and
    the timing."""
    languages, durations = list(ds["language"]), list(ds["duration"])
    cols = [c for c in ("audio", "segment_start", "segment_end") if c in ds.column_names]
    audio = ds.select_columns(cols)
    predictions: list = [""] * len(ds)
    groups: dict[str, list[int]] = {}
    classify = kind in CLASSIFICATION_KINDS
    for i, lang in enumerate(languages):  # language ID: one group, the language is what is asked
        groups.setdefault("*" if classify else lang, []).append(i)
    wall = audio_seconds = 0.0
    n_batches = largest = 0
    for group, idx in groups.items():
        code = None if classify else codes[group]
        if not classify and code is None:
            continue  # not covered: the empty prediction scores as all deletions
        order = sorted(idx, key=lambda i: -durations[i])
        for batch in _batches(order, durations, batch_size, max_seconds):
            waves, kept = [], []
            for i in batch:
                row = audio[i]
                wav, problem = rb.decode_checked(row["audio"], model.sampling_rate, row.get("segment_start"),
                                                 row.get("segment_end"))
                if problem is None:
                    waves.append(wav)
                    kept.append(i)
                elif allow_skipping:
                    tally.skip(split, problem)
                    predictions[i] = None
                else:
                    raise rb.BadAudioError(f"{split}: cannot use utterance {ds[i]['id']}: {problem}. Evaluation "
                                           "items are never dropped silently: fix or remove it, or pass "
                                           "--allow_skipping_eval_items.")
            if not waves:
                continue
            start = time.perf_counter()
            texts = model.classify(waves, kind) if classify else model.predict(waves, code, kind)
            wall += time.perf_counter() - start
            audio_seconds += sum(w.size for w in waves) / model.sampling_rate
            n_batches, largest = n_batches + 1, max(largest, len(waves))
            for i, text in zip(kept, texts, strict=True):
                predictions[i] = text
    speed = {"rtfx": audio_seconds / wall if wall > 0 else None, "audio_seconds": audio_seconds,
             "wall_seconds": wall, "batches": n_batches, "largest_batch": largest,
             "per_device_eval_batch_size": batch_size, "generation_batch_seconds": max_seconds,
             "timed": "feature extraction + generation + detokenisation (audio file decoding and resampling "
                      "excluded), as the Open ASR Leaderboard's RTFx"}
    return predictions, speed


def score_split(task: Any, kind: str, refs: list, raw_refs: list, predictions: list, languages: list[str],
                codes: dict[str, str | None], norm: TextNormalizer, normalized: bool) -> dict:
    """The benchmark's metrics (primary), `macro_covered`, CoVoST-2 groups and the normalised variant."""
    keep = [i for i, p in enumerate(predictions) if p is not None]  # None: skipped clip (counted in `skipped`)
    hyps = [norm(predictions[i]) if kind == "asr" else predictions[i] for i in keep]
    langs = [languages[i] for i in keep]
    scorer = SCORERS[task.spec.primary_metric]
    result = per_language([refs[i] for i in keep], hyps, langs, scorer)
    not_covered = sorted(lang for lang, code in codes.items() if code is None)
    for lang, row in result["per_language"].items():
        row["covered"] = lang not in not_covered
    covered = [lang for lang in result["per_language"] if lang not in not_covered]
    result["macro_covered"] = ({k: sum(result["per_language"][lang][k] for lang in covered) / len(covered)
                                for k in result["macro"]} if covered else {})
    result["coverage"] = {"covered": covered, "not_covered": not_covered,
                          "counted_in_macro_as": ("errors (the model cannot output these languages)"
                                                  if kind in CLASSIFICATION_KINDS else "empty predictions (all "
                                                  "deletions, BLEU 0)")}
    if task.spec.prefix == "covost2":
        result["groups"] = group_means(result["per_language"], COVOST2_RESOURCE_GROUPS)
    if kind == "asr" and normalized:
        result["normalized"] = normalized_scoring.normalized_scores(
            [raw_refs[i] for i in keep], [predictions[i] for i in keep], langs, exclude=not_covered)
    return result


def check_run(name: str, task: Any, data_args: Any, training_args: Any) -> tuple[str, dict[str, str]]:
    """(task kind, role -> split) of a ready-made run; refuses at start-up what it cannot do."""
    kind = TASK_KINDS.get(task.name)
    model_cls = readymade.evaluators()[name]
    if kind not in model_cls.tasks:
        can = ", ".join(KIND_WORDS[k] for k in sorted(model_cls.tasks))
        need = KIND_WORDS[kind] if kind else "a head trained for this task"
        raise UsageError(f"{task.name} ({task.config_name}) needs {need}, which the ready-made {name} model cannot "
                         f"do (it does {can}). Fine-tune an encoder for it instead (--do_train; --ready_made off to "
                         "use this model's encoder).")
    roles = {role: split for role, split, on in (("eval", data_args.eval_split_name, training_args.do_eval),
                                                 ("predict", data_args.predict_split_name, training_args.do_predict))
             if on}
    if not roles:
        raise UsageError("A ready-made model is only evaluated: pass --do_predict (test split) and/or --do_eval.")
    if training_args.world_size > 1:
        raise UsageError("A ready-made model is evaluated in one process: run it without torchrun/accelerate launch "
                         "(batches are grouped by language on one device).")
    return kind, roles


def scoring_notes(task: Any, kind: str, data_args: Any, args: ReadyMadeArguments) -> dict[str, str | None]:
    """Which normalisation produced which number, in words, for results.json."""
    metric = task.spec.primary_metric
    primary = {"asr": f"the benchmark's {metric} on references and predictions both normalised as the fine-tuned "
                      f"runs' references (--text_normalization {data_args.text_normalization})",
               "translate": f"the benchmark's {metric} on the text as generated"}.get(
        kind, f"the benchmark's {metric} over the task's labels")
    return {"primary": primary,
            "normalized": normalized_scoring.DESCRIPTION if kind == "asr" and args.normalized_scoring else None}


def run(name: str, model_args: Any, data_args: Any, training_args: Any, args: ReadyMadeArguments) -> dict | None:
    """One evaluation-only run of a ready-made model; returns results.json's content."""
    start_up(training_args)
    task = resolve_task(data_args)
    kind, roles = check_run(name, task, data_args, training_args)
    limits = scored_limits(roles, data_args)
    # Never replaces a finished run's results.json (unless --overwrite_output_dir), as any evaluation-only run.
    resume_or_refuse(training_args, run_identity(task, model_args, data_args))
    model = readymade.evaluators()[name](ModelSource.of(model_args), training_args, args)
    model.load()
    model.check_kind(kind)
    tally = RunTally()
    data, ctx, missing = load_task_data(task, data_args, model_args, training_args, roles, tally)
    norm = TextNormalizer(data_args.text_normalization, data_args.chars_to_ignore, data_args.unicode_normalization)
    out_dir = Path(training_args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = Results(task.name, task.config_name, task.spec.family, model_args.model_name_or_path,
                      [lang for lang in task.languages if lang not in missing], missing, task.language_group,
                      task.spec.primary_metric, task.spec.greater_is_better)
    codes_seen: dict[str, str | None] = {}
    for role, split in roles.items():
        ds = data[split]
        if limits.get(split) is not None:
            ds = ds.select(range(min(limits[split], len(ds))))
        ds = check_eval_split(ds, split, False, data_args.allow_skipping_eval_items, tally)
        codes = {lang: model.code_for(lang, kind) for lang in dict.fromkeys(ds["language"])}
        codes_seen.update(codes)
        refs, raw_refs = references_of(ds, kind, norm)
        predictions, speed = predict_split(model, ds, kind, codes, training_args.per_device_eval_batch_size,
                                           args.generation_batch_seconds, data_args.allow_skipping_eval_items,
                                           tally, split)
        scores = score_split(task, kind, refs, raw_refs, predictions, list(ds["language"]), codes, norm,
                             args.normalized_scoring)
        file = PREDICTIONS_FILE if role == "predict" else f"{role}_{PREDICTIONS_FILE}"
        results.splits[split] = SplitResult(len(ds), None, {**scores, "speed": speed}, file)
        logger.info("%s: %d utterances, RTFx %s", split, len(ds), f"{speed['rtfx']:.1f}" if speed["rtfx"] else "n/a")
        if scores["coverage"]["not_covered"]:
            logger.warning("%s: the model does not cover %s: counted as errors in `macro` (`macro_covered` leaves "
                           "them out).", split, " ".join(scores["coverage"]["not_covered"]))
        write_predictions(out_dir / file, ds["id"], ds["language"], ["" if p is None else p for p in predictions],
                          refs)
    results.skipped = tally.skipped_json()
    results.notes = {"ready_made": {"evaluator": name, "task_kind": kind, "language_codes": codes_seen,
                                    "generation": model.settings(),
                                    "scoring": scoring_notes(task, kind, data_args, args)}}
    results.protocol = {"name": "ready_made", "evaluator": name, "trainable_parameters": 0,
                        "total_parameters": model.parameters(), "trainable_fraction": 0.0}
    results.data = DataRecord.of(ctx.record)
    results.data.source = data_source(data_args, limits)  # the card and results.md say what data this was
    results.base_model = {"name": model_args.model_name_or_path, "revision": model_args.model_revision}
    results.hyperparameters = {"per_device_eval_batch_size": training_args.per_device_eval_batch_size,
                               "generation_batch_seconds": args.generation_batch_seconds,
                               "bf16": training_args.bf16, "fp16": training_args.fp16}
    results.versions = library_versions()
    path = results.write(out_dir)
    payload = results.to_json(clean=False)
    logger.info("\n%s", results_md.format_summary(payload))
    logger.info("Wrote %s and %s", path, results_md.write_report(out_dir, payload, roles))
    return payload


__all__ = ["ReadyMadeArguments", "run", "selected"]
