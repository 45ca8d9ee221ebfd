"""One XTREME-S run: resolve the task, check what can be checked, load its data, prepare, train, evaluate,
predict, report.

`run` is the list of named steps; each step is a function below. The steps are shared by every task family; a
family (xtreme_s.families) supplies only what differs, a protocol (xtreme_s.protocols) what is trained. What the
run learns on the way goes to one `RunTally` and ends in one `Results` record (xtreme_s.results).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import datasets
import torch
import transformers
from transformers import set_seed

from . import encoders, output_dir, parquet_audio, protocols, stats
from .args import MINI_ROOT, DataArguments, ModelArguments, XtremeSTrainingArguments
from .distributed import check_sharding
from .errors import UsageError
from .families import Prepared, TaskFamily, get_family
from .hub import ModelSource, protect_token
from .registry import ResolvedTask, resolve
from .reports import model_card, results_md
from .results import (
    PREDICTIONS_FILE,
    RESULTS_FILE,
    DataRecord,
    Results,
    RunTally,
    SplitResult,
    library_versions,
    write_predictions,
)
from .robustness import BadAudioError
from .sources import LoadContext, load_splits
from .startup_checks import check_eval_split, check_models, drop_duplicate_ids

logger = logging.getLogger("xtreme_s")


def run(model_args: ModelArguments, data_args: DataArguments, training_args: XtremeSTrainingArguments,
        family_args: dict[str, Any] | None = None) -> dict | None:
    """One run. `family_args` maps a family name to its parsed flags, and "protocol" to the ProtocolArguments
    (args.parse_args); a family or protocol missing from it gets its flags' defaults. Returns results.json's
    content on the main process (None elsewhere, and after --preprocessing_only)."""
    family_args = family_args or {}
    start_up(training_args)
    task = resolve_task(data_args)
    source = ModelSource.of(model_args)  # after start_up: the token is in HF_TOKEN, not threaded
    family_cls = get_family(task.spec.family)  # fail before loading any data if the head is not available
    family_cls.check_start(task, family_args.get(task.spec.family), training_args)  # e.g. the CTC family's LMs
    if task.spec.family != "ctc" and getattr(family_args.get("ctc"), "lm_path", None):
        raise UsageError(f"--lm_path: n-gram LM decoding is for the CTC speech recognition tasks (mls, voxpopuli, "
                         f"babel, fleurs-asr), not {task.name} ({task.spec.family}). Drop the flag.")
    protocol = check_before_data(task, source, model_args, training_args, family_args)
    limits = encoders.input_limits(model_args)
    # Where the model came from, read once (for a Hub id, a look-up in the cache): the run's identity and results.
    model_source = encoders.model_provenance(model_args.model_name_or_path, model_args.model_revision,
                                             model_args.cache_dir)
    checkpoint = claim_output_dir(task, protocol, model_source, model_args, data_args, training_args)
    set_seed(training_args.seed)
    roles = split_roles(data_args, training_args)
    tally = RunTally()
    data, ctx, missing = load_task_data(task, data_args, model_args, training_args, roles, tally)
    family = family_cls(task, model_args, data_args, training_args, family_args.get(task.spec.family), tally, source)
    protocol.attach(family)
    train, evaluated = select_rows(data, roles, data_args, training_args, limits, tally)
    prepared = prepare(family, train, evaluated, training_args)
    if data_args.preprocessing_only:
        logger.info("Preprocessing done (labels and vocabulary cached in %s); stopping as asked.",
                    training_args.output_dir)
        return None
    model, parameters = build_model(protocol, family)
    trainer = make_trainer(family, model, prepared, roles, training_args, limits)
    results = Results(task.name, task.config_name, task.spec.family, model_args.model_name_or_path,
                      [lang for lang in task.languages if lang not in missing], missing, task.language_group,
                      task.spec.primary_metric, task.spec.greater_is_better, model_source=model_source)
    if prepared.train is not None:
        results.train = train_model(trainer, protocol, model, prepared, tally, family.train_split, checkpoint)
    score_splits(trainer, family, prepared, roles, results)
    if not trainer.is_world_process_zero():
        return None
    complete_results(results, tally, protocol.report(model) | parameters, ctx, model_args, training_args)
    # Where the pretrained weights came from (a LoRA directory's base model) and the kind of data read: the model
    # card says "fine-tuned from" / "probed on" it and labels a mini-benchmark run a smoke test.
    results.base_model = {"name": family.weights_source.name, "revision": family.weights_source.revision}
    results.data.source = data_source(data_args, scored_limits(roles, data_args))
    payload = write_outputs(results, trainer, roles, training_args)
    if tally.unscored:  # evaluation-only: the rest was scored and written; the run still fails, naming the clips
        raise BadAudioError(f"{'; '.join(tally.unscored)}. The other utterances were scored and written to "
                            f"{Path(training_args.output_dir) / RESULTS_FILE} (these are counted under "
                            "skipped.<split>); fix or remove these clips, or pass --allow_skipping_eval_items to "
                            "accept the run without them.")
    return payload


# -- before any data ------------------------------------------------------------------------------------------
def setup_logging(args: XtremeSTrainingArguments) -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        handlers=[logging.StreamHandler(sys.stdout)])
    level = args.get_process_log_level()
    # Our own progress messages are worth seeing on the main process unless the user chose a level.
    own = logging.INFO if args.log_level == "passive" and args.should_log else level
    logging.getLogger("xtreme_s").setLevel(own)
    datasets.utils.logging.set_verbosity(level)
    transformers.utils.logging.set_verbosity(level)


def check_precision(args: XtremeSTrainingArguments) -> None:
    """Say which precision the run trains in when it is not the one asked for (args.resolve_precision)."""
    if args.precision_note:
        (logger.info if args.bf16 else logger.warning)(args.precision_note)
    if not torch.cuda.is_available():
        args.dataloader_pin_memory = False  # pinning needs an accelerator; avoids a warning per DataLoader


def start_up(training_args: XtremeSTrainingArguments) -> None:
    """Logging, precision, the audio cache, and the Hub token out of everything the run writes."""
    setup_logging(training_args)
    check_precision(training_args)
    parquet_audio.configure(training_args.row_group_cache_mb)  # before any audio is read, workers included
    protect_token(training_args)  # --hub_token never reaches training_args.bin, logs or cards
    training_args.remove_unused_columns = False  # our dataset yields encoded audio the collator decodes


def resolve_task(data_args: DataArguments) -> ResolvedTask:
    if data_args.dataset_name not in ("google/xtreme_s", "xtreme_s"):
        raise UsageError(f"--dataset_name {data_args.dataset_name!r}: this runner reads the XTREME-S sources itself "
                         "(select a task with --dataset_config_name). For your own data use --data_dir (a local "
                         "folder) or --mirror_root (a local copy of the Hub repositories).")
    task = resolve(data_args.dataset_config_name, data_args.task, data_args.language, data_args.target_column_name,
                   data_args.language_group)
    logger.info("Versions: %s", ", ".join(f"{k} {v}" for k, v in library_versions().items()))
    logger.info("Task %s (%s): %d language(s), family %s", task.name, task.config_name, len(task.languages),
                task.spec.family)
    return task


def check_before_data(task: ResolvedTask, source: ModelSource, model_args: ModelArguments,
                      training_args: XtremeSTrainingArguments, family_args: dict[str, Any]) -> protocols.Protocol:
    """Every model reachable (offline, typo, push: seconds), transformers has a head (or encoder) of this
    architecture for the family (xtreme_s.encoders), and what is trained: full fine-tuning, a frozen-encoder
    probe, LoRA or MMS adapters (xtreme_s.protocols), checked against both."""
    family = task.spec.family
    check_models(source, training_args, family, family_args.get(family))
    config = encoders.check_model(source.name, family, **source.kwargs())
    protocol = protocols.resolve(family_args.get("protocol"), source)
    protocol.check(family, config, model_args, training_args)
    protocol.adjust(model_args, training_args)
    return protocol


def claim_output_dir(task: ResolvedTask, protocol: protocols.Protocol, model_source: dict[str, Any],
                     model_args: ModelArguments, data_args: DataArguments,
                     training_args: XtremeSTrainingArguments) -> str | None:
    """Resume a killed run from its last complete checkpoint; refuse a finished or foreign run (output_dir).
    `model_source`: encoders.model_provenance of --model_name_or_path."""
    identity = output_dir.run_identity(task, model_args, data_args)
    # What made the run, portable: the model by absolute path or Hub id (+ revision) and its config's checksum.
    identity["model_name_or_path"] = encoders.absolute_model_name(model_args.model_name_or_path)
    identity["model_config_sha256"] = model_source["config_sha256"]
    if protocol.name != "finetune":  # resuming a probe's folder as a fine-tuning run (or the reverse) is refused
        identity["protocol"] = protocol.name
        # ... and so is resuming it with other protocol settings (rank, hidden size): its checkpoints would not load
        identity["protocol_settings"] = protocols.settings(protocol.args)
    with training_args.main_process_first(desc="checking output_dir"):
        return output_dir.resume_or_refuse(training_args, identity)


def split_roles(data_args: DataArguments, training_args: XtremeSTrainingArguments) -> dict[str, str]:
    """Role (train, eval, predict) -> the split name it reads."""
    roles: dict[str, str] = {}
    if training_args.do_train:
        roles["train"] = data_args.train_split_name
    if training_args.do_eval or (training_args.do_train and training_args.eval_strategy != "no"):
        roles["eval"] = data_args.eval_split_name
    if training_args.do_predict:
        roles["predict"] = data_args.predict_split_name
    if not roles:
        raise UsageError("Nothing to do: pass --do_train, --do_eval and/or --do_predict.")
    scored_limits(roles, data_args)  # conflicting limits are refused before any data loads
    return roles


def scored_limits(roles: dict[str, str], data_args: DataArguments) -> dict[str, int | None]:
    """Split name -> its --max_eval_samples / --max_predict_samples; one split named by both roles is one set of
    rows, so the two limits must agree."""
    limits: dict[str, int | None] = {}
    for role, limit in (("eval", data_args.max_eval_samples), ("predict", data_args.max_predict_samples)):
        if role not in roles:
            continue
        split = roles[role]
        if split in limits and limits[split] != limit:
            raise UsageError(f"--eval_split_name and --predict_split_name both name '{split}', but "
                             f"--max_eval_samples ({data_args.max_eval_samples}) and --max_predict_samples "
                             f"({data_args.max_predict_samples}) differ: give both the same limit.")
        limits[split] = limit
    return limits


# -- the data -------------------------------------------------------------------------------------------------
def load_task_data(task: ResolvedTask, data_args: DataArguments, model_args: ModelArguments,
                   training_args: XtremeSTrainingArguments, roles: dict[str, str],
                   tally: RunTally) -> tuple[dict, LoadContext, list]:
    """The splits `roles` names (split name -> rows), the load context (revisions read) and missing languages;
    rows the sources left out (e.g. a language not in the task) are counted in `tally`."""
    # No token: huggingface_hub reads HF_TOKEN, where hub.protect_token put --hub_token.
    ctx = LoadContext(mirror_root=data_args.mirror_root, data_dir=data_args.data_dir,
                      revision=data_args.dataset_revision, cache_dir=model_args.cache_dir,
                      num_proc=data_args.preprocessing_num_workers, source_layout=data_args.source_layout,
                      mls_english_train_ids=data_args.mls_english_train_ids,
                      allow_skipping=data_args.allow_skipping_eval_items, train_split=roles.get("train"))
    with training_args.main_process_first(desc="loading data"):
        splits, missing = load_splits(task, sorted(set(roles.values())), ctx, data_args.target_column_name)
    for split, counts in ctx.skipped.items():
        for reason, n in counts.items():
            tally.skip(split, reason, n)
    return splits, ctx, missing


def _filter_train(ds: datasets.Dataset, data_args: DataArguments, tally: RunTally,
                  limits: encoders.InputLimits | None = None) -> datasets.Dataset:
    durations = ds["duration"]
    lo, hi = data_args.min_duration_in_seconds, data_args.max_duration_in_seconds
    shortest = limits.min_seconds if limits else 0.0
    split = data_args.train_split_name
    keep = []
    for i, d in enumerate(durations):
        if d is None or d < 0:
            tally.skip(split, "unreadable audio header")
        elif d <= 0:
            tally.skip(split, "zero-length audio")
        elif d > hi:
            tally.skip(split, f"longer than max_duration_in_seconds={hi}")
        elif d < lo:
            tally.skip(split, f"shorter than min_duration_in_seconds={lo}")
        elif d < shortest:  # the encoder would emit no frame (xtreme_s.encoders.input_limits)
            tally.skip(split, f"shorter than the encoder's receptive field ({limits.describe()})")
        else:
            keep.append(i)
    if len(keep) < len(ds):
        logger.warning("Training set: kept %d of %d utterances (%s).", len(keep), len(ds),
                       dict(tally.skipped.get(split, {})))
        ds = ds.select(keep)
    return ds


def _limit(ds: datasets.Dataset, n: int | None) -> datasets.Dataset:
    return ds.select(range(min(n, len(ds)))) if n is not None else ds


def select_rows(data: dict, roles: dict[str, str], data_args: DataArguments,
                training_args: XtremeSTrainingArguments, limits: encoders.InputLimits,
                tally: RunTally) -> tuple[datasets.Dataset | None, dict[str, datasets.Dataset]]:
    """The training rows (filtered by the training rules, --max_train_samples) and the scored splits (every row
    scored, up to --max_eval/predict_samples; checked that they can be scored)."""
    train = None
    if "train" in roles:
        train = drop_duplicate_ids(data[roles["train"]], roles["train"], tally, False, True)
        train = _limit(_filter_train(train, data_args, tally, limits), data_args.max_train_samples)
        logger.info("train split '%s': %d utterances, %.1f s of audio", roles["train"], len(train),
                    sum(train["duration"]))
    evaluated: dict[str, datasets.Dataset] = {}
    for split, limit in scored_limits(roles, data_args).items():
        ds = drop_duplicate_ids(data[split], split, tally, True, data_args.allow_skipping_eval_items)
        ds = _limit(ds, limit)
        if len(ds) == 0:
            role = next(r for r in ("eval", "predict") if roles.get(r) == split)
            flag = f"--max_{role}_samples"
            raise UsageError(f"The {role} split '{split}' has no utterance to score"
                             f"{f' ({flag} {limit})' if limit is not None else ''}. Check the data, "
                             f"--{role}_split_name and {flag}, or drop --do_{role}.")
        # Every clip decoded once up front: a training run stops at start-up on a bad test clip, not after a day
        # of training; an evaluation-only run scores the rest, writes them and stops naming the clips at its end.
        with training_args.main_process_first(desc=f"checking {split} audio"):
            ds = check_eval_split(ds, split, True, data_args.allow_skipping_eval_items, tally,
                                  data_args.preprocessing_num_workers,
                                  unscored=None if training_args.do_train else tally.unscored)
        short = sum(1 for d in ds["duration"] if 0 <= d < limits.min_seconds)
        if short:  # scored, padded with silence up to what the encoder needs (SpeechCollator.min_samples)
            tally.notes.setdefault("padded_to_encoder_minimum", {})[split] = short
            logger.warning("%s: %d clip(s) shorter than the encoder's receptive field (%s) are padded with "
                           "silence to that length and scored.", split, short, limits.describe())
        evaluated[split] = ds
        logger.info("scored split '%s': %d utterances, %.1f s of audio", split, len(ds), sum(ds["duration"]))
    return train, evaluated


def prepare(family: TaskFamily, train: datasets.Dataset | None, evaluated: dict[str, datasets.Dataset],
            training_args: XtremeSTrainingArguments) -> Prepared:
    """The family's labels (and processor) for the rows; a training set with no usable row is refused."""
    with training_args.main_process_first(desc="preparing labels"):
        prepared = family.prepare(train, evaluated)
    if prepared.train is not None:
        if len(prepared.train) == 0:
            raise UsageError(f"No training utterance is usable; skipped: "
                             f"{dict(family.tally.skipped.get(family.train_split, {}))}. "
                             "Check the data and --max/min_duration_in_seconds.")
        prepared.train.skip_bad_audio = True  # the collator drops undecodable training clips and counts them
    return prepared


# -- the model and the Trainer --------------------------------------------------------------------------------
def build_model(protocol: protocols.Protocol, family: TaskFamily) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The protocol's model of the family, and its parameter counts (taken now: merging LoRA after training
    removes its tensors). Seeded again first: loading and checking the data draws from the RNG differently with
    other flags (which splits are prepared), and the new head's initial weights must depend on --seed alone."""
    set_seed(family.training_args.seed)
    model = protocol.build(family)
    parameters = protocols.count_parameters(model)
    logger.info("Protocol %s: %d of %d parameters trainable (%.2f%%).", protocol.name,
                parameters["trainable_parameters"], parameters["total_parameters"],
                100 * parameters["trainable_fraction"])
    # Our heads (CTC, audio classification, speech encoder-decoder) average their loss themselves and ignore
    # `num_items_in_batch`, but their forward takes **kwargs, so the Trainer would assume they normalise by it: it
    # would then skip dividing by gradient_accumulation_steps and multiply the loss by the number of processes.
    model.accepts_loss_kwargs = False
    return model, parameters


def make_trainer(family: TaskFamily, model: torch.nn.Module, prepared: Prepared, roles: dict[str, str],
                 training_args: XtremeSTrainingArguments, limits: encoders.InputLimits) -> Any:
    eval_split = roles.get("eval")
    eval_dataset = prepared.evaluated[eval_split] if eval_split else None
    trainer = family.trainer_class(
        model=model,
        args=training_args,
        train_dataset=prepared.train,
        eval_dataset=eval_dataset,
        data_collator=family.collator().with_min_samples(limits.min_samples),
        processing_class=family.processor,
        compute_metrics=family.compute_metrics_for(eval_split, eval_dataset) if eval_split else None,
        preprocess_logits_for_metrics=family.preprocess_logits_for_metrics,
    )
    check_sharding(trainer)
    return trainer


# -- training, evaluation, prediction -------------------------------------------------------------------------
def train_model(trainer: Any, protocol: protocols.Protocol, model: torch.nn.Module, prepared: Prepared,
                tally: RunTally, train_split: str, checkpoint: str | None) -> dict[str, Any]:
    """Train (resuming from `checkpoint`), save, let the protocol complete the output directory; the training
    metrics for results.json."""
    result = trainer.train(resume_from_checkpoint=checkpoint)
    for reason, n in trainer.skipped_during_training().items():
        tally.skip(train_split, reason, n)
    trainer.save_model()
    args = trainer.args
    protocol.finish(model, Path(args.output_dir), args.should_save)
    metrics = {**result.metrics, "train_samples": len(prepared.train)}
    trainer.log_metrics("train", metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()
    return metrics


def score_splits(trainer: Any, family: TaskFamily, prepared: Prepared, roles: dict[str, str],
                 results: Results) -> None:
    """Evaluate and predict: each scored split's result, predictions beside references, family files."""
    out_dir = Path(trainer.args.output_dir)
    tally = family.tally
    for role in ("eval", "predict"):
        if role not in roles:
            continue
        split = roles[role]
        ds = prepared.evaluated[split]
        trainer.compute_metrics = family.compute_metrics_for(split, ds)
        tally.scored.pop(split, None)  # what an evaluation during training left is not this prediction's
        # A family may hold this model's outputs for the split from an earlier run (the CTC family's logits cache;
        # one process only: under torchrun every rank must take part in predict).
        raw = family.cached_predictions(split, ds, trainer.model) if trainer.args.world_size == 1 else None
        metrics: dict[str, Any] = {}
        if raw is None:
            output = trainer.predict(ds, metric_key_prefix=role)
            raw, metrics = output.predictions, output.metrics
            trainer.log_metrics(role, metrics)
            trainer.save_metrics(role, metrics)
        if not trainer.is_world_process_zero():
            continue
        # Decoded and scored once, by compute_metrics inside predict; a family whose model takes no labels
        # (retrieval), or outputs read from a cache, get no compute_metrics call, so they are scored here.
        predictions, report = tally.scored.get(split) or family.evaluate(split, raw, ds)
        extra = family.after_scoring(split, raw, ds, trainer.model)  # e.g. the CTC family's LM-decoded scores
        # A loss the run cannot stand behind (e.g. CTC transcripts longer than the model's output) is not a number.
        loss = None if split in tally.notes.get("loss_not_reported", {}) else metrics.get(f"{role}_loss")
        name = PREDICTIONS_FILE if role == "predict" else f"{role}_{PREDICTIONS_FILE}"
        results.splits[split] = SplitResult(len(ds), loss, {**report, **extra}, name,
                                            metric_intervals(results.task, report, predictions,
                                                             tally.references[split], ds))
        write_predictions(out_dir / name, ds.ids, ds.languages, predictions, tally.references[split],
                          getattr(ds, "blocks", None))
        family.write_artifacts(out_dir, split, predictions, ds)


def metric_intervals(task: str, report: dict, predictions: list, references: list, ds: Any) -> dict:
    """95 % bootstrap intervals of every metric the split reports, per language and macro (xtreme_s.stats; the
    draws `xtreme-s compare` makes for this task). Rows without a prediction (retrieval keys) are not scored."""
    rows = [i for i, p in enumerate(predictions) if p is not None]
    names = [m for m in report.get("macro", {}) if m in stats.METRICS]
    blocks = {k: [v[i] for i in rows] for k, v in (getattr(ds, "blocks", None) or {}).items()}
    return stats.split_intervals(names, [references[i] for i in rows], [predictions[i] for i in rows],
                                 [ds.languages[i] for i in rows], stats.Resampling(), task, blocks)


def data_source(data_args: DataArguments, limits: dict[str, int | None] | None = None) -> dict[str, Any]:
    """The kind of data a run read (results.json `data.source`): `mini` (the bundled synthetic benchmark), `local`
    (--data_dir), `mirror` (--mirror_root) or `hub`, with the folder's name (not its path), and the scored splits
    cut by --max_eval_samples / --max_predict_samples (`limited`: split -> limit; such a split is not the
    benchmark's whole test set)."""
    folder = data_args.data_dir or data_args.mirror_root
    if folder and Path(folder).resolve().is_relative_to(MINI_ROOT.resolve()):
        out: dict[str, Any] = {"kind": "mini", "name": MINI_ROOT.name}
    elif data_args.data_dir:
        out = {"kind": "local", "name": Path(data_args.data_dir).name}
    elif data_args.mirror_root:
        out = {"kind": "mirror", "name": Path(data_args.mirror_root).name}
    else:
        out = {"kind": "hub"}
    limited = {split: n for split, n in (limits or {}).items() if n is not None}
    if limited:
        out["limited"] = limited
    return out


# -- what the run leaves behind -------------------------------------------------------------------------------
def complete_results(results: Results, tally: RunTally, protocol: dict[str, Any], ctx: LoadContext,
                     model_args: ModelArguments, training_args: XtremeSTrainingArguments) -> None:
    """What the run learned on the way (skipped, notes), what was trained (with trainable and total parameters,
    and a probe's learned layer weights), the data read, hyperparameters and versions."""
    results.skipped = tally.skipped_json()
    results.notes = tally.notes
    results.protocol = protocol
    results.data = DataRecord.of(ctx.record)
    results.hyperparameters = {k: getattr(training_args, k) for k in (
        "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
        "gradient_accumulation_steps", "warmup_steps", "seed", "fp16", "bf16", "max_batch_seconds")} | {
        k: getattr(model_args, k) for k in ("mask_time_prob", "mask_time_length", "mask_feature_prob",
                                            "mask_feature_length", "layerdrop", "freeze_feature_encoder")}
    results.versions = library_versions()


def write_outputs(results: Results, trainer: Any, roles: dict[str, str],
                  training_args: XtremeSTrainingArguments) -> dict[str, Any]:
    """results.json, the log summary, results.md and charts, the model card, and the Hub upload if asked."""
    out_dir = Path(training_args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = results.write(out_dir)
    payload = results.to_json(clean=False)  # as written, NaN kept for the tables
    if payload["splits"] or payload["skipped"]:
        logger.info("\n%s", results_md.format_summary(payload))
    logger.info("Wrote %s", path)
    logger.info("Summary: %s (chart per split: results_<split>.png); model card: %s",
                results_md.write_report(out_dir, payload, roles), model_card.write_model_card(trainer, payload))
    if training_args.push_to_hub:
        # The Trainer's own hub support: model, processor, the card with our section, results.json/results.md.
        model_card.push_to_hub(trainer, payload)
    return payload
