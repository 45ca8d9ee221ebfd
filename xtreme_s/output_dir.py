"""Who owns an output directory: one run at a time holds it (a lock), and it says whose run it holds, so a resume
never continues someone else's run.

`xtreme_s_run.json` (task, config, model, target, language group) is written when a training run starts. A later
run in the same directory resumes from the last complete checkpoint only if it is the same run; a finished run
(results.json), a different run, or a folder with other files and no manifest is refused with a clear message,
never overwritten unless `--overwrite_output_dir`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from . import atomic
from .errors import UserError
from .results import RESULTS_FILE

logger = logging.getLogger("xtreme_s")

MANIFEST_FILE = "xtreme_s_run.json"
LOCK_FILE = "_xtreme_s.lock"  # "_*": left out of the Trainer's Hub uploads
_CHECKPOINT = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")
# Files a run of ours may leave behind before it writes its manifest (e.g. an interrupted start, or logs).
_HARMLESS = {".gitignore", ".DS_Store", "runs", LOCK_FILE}


class OutputDirError(UserError, FileExistsError):
    """--output_dir holds something this run must not resume or overwrite."""


def _check_usable(out: Path) -> None:
    """The output directory can be created and written (before anything long runs)."""
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"--output_dir {out} is a file, not a folder. Pass a folder path.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputDirError(f"--output_dir {out} cannot be created ({err.strerror}). Pass a folder you can "
                             "write to.") from err
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputDirError(f"--output_dir {out} is not writable. Pass a folder you can write to.")


@contextlib.contextmanager
def output_dir_lock(args: Any) -> Iterator[None]:
    """Hold `<output_dir>/_xtreme_s.lock` for the whole run, so two runs never write into one folder.

    `fcntl.flock` on an open file: the operating system releases it when the process ends, however it ends (a
    killed run leaves no stale lock; the file itself stays, harmlessly). A run that ends in Python (finished, a
    mistake, Ctrl-C) removes the file, so finished directories hold only the run's outputs. Under torchrun only
    the main process takes it: the other ranks are part of the same run."""
    out = Path(args.output_dir)
    if getattr(args, "process_index", 0) != 0:
        yield
        return
    _check_usable(out)
    try:
        handle = open(out / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 (held until the run ends)
    except OSError as err:
        raise OutputDirError(f"--output_dir {out} is not writable ({err.strerror}). Pass a folder you can "
                             "write to.") from err
    held = False
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise OutputDirError(f"--output_dir {out} is in use by another run ({holder}). Wait for it to finish, "
                                 "or use another --output_dir.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
        handle.flush()
        yield
    finally:
        if held:  # removed while still held: a run that opens it now fails to lock it, or locks a fresh file
            with contextlib.suppress(OSError):
                (out / LOCK_FILE).unlink()
        handle.close()  # releases the lock


def run_identity(task: Any, model_args: Any, data_args: Any) -> dict[str, Any]:
    return {"task": task.name, "config_name": task.config_name,
            "target_column": data_args.target_column_name or task.spec.target_column,
            "language_group": task.language_group, "model_name_or_path": model_args.model_name_or_path}


def last_complete_checkpoint(output_dir: Path) -> Path | None:
    """The newest `checkpoint-N` that was fully written (the Trainer writes trainer_state.json last): a run killed
    while saving leaves a partial folder, and resuming from it would fail or load half a state."""
    found = sorted(((int(m.group(1)), p) for p in output_dir.iterdir()
                    if p.is_dir() and (m := _CHECKPOINT.match(p.name))), reverse=True)
    for _step, path in found:
        try:  # a kill can also land while trainer_state.json itself is being written: it must parse
            json.loads((path / TRAINER_STATE_NAME).read_text(encoding="utf-8"))
            return path
        except (OSError, ValueError):
            logger.warning("%s is incomplete (no complete %s; killed while saving?): not resuming from it.", path,
                           TRAINER_STATE_NAME)
    return None


def _describe(identity: dict[str, Any]) -> str:
    return f"{identity.get('config_name')} ({identity.get('task')}) with model {identity.get('model_name_or_path')}"


def _differences(theirs: dict[str, Any], ours: dict[str, Any]) -> str:
    """What differs between the folder's run and this one, e.g. `protocol_settings.lora_r: 8 there, 16 here`."""
    out = []
    for key in sorted(set(theirs) | set(ours)):
        a, b = theirs.get(key), ours.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{key}.{k}: {a.get(k)!r} there, {b.get(k)!r} here" for k in sorted(set(a) | set(b))
                    if a.get(k) != b.get(k)]
        elif a != b:
            out.append(f"{key}: {a!r} there, {b!r} here")
    return "; ".join(out) or f"{_describe(theirs)}, this run {_describe(ours)}"


def resume_or_refuse(args: Any, identity: dict[str, Any]) -> str | None:
    """The checkpoint to resume from (None: start afresh); raise OutputDirError where the folder is not ours.

    Call on every process; under torchrun wrap it in `main_process_first` so the main process writes the manifest
    before the others look."""
    if args.resume_from_checkpoint:
        return args.resume_from_checkpoint
    out = Path(args.output_dir)
    if not args.do_train:
        # Evaluation only: nothing to resume; but never replace the results of a finished run.
        if (out / RESULTS_FILE).exists() and not args.overwrite_output_dir:
            raise OutputDirError(f"{out} already holds a finished run's {RESULTS_FILE}; this evaluation would "
                                 "replace it. Pass another --output_dir (e.g. " f"{out}/eval), or "
                                 "--overwrite_output_dir to replace it.")
        return None
    if args.overwrite_output_dir:
        if getattr(args, "should_save", True):
            move_previous_run_aside(out, identity)
        _write(args, out, identity)
        return None
    hint = "Use another --output_dir, or --overwrite_output_dir to start afresh in this one."
    if out.is_dir():
        manifest = out / MANIFEST_FILE
        if (out / RESULTS_FILE).exists():
            raise OutputDirError(f"{out} already holds a finished run ({RESULTS_FILE}). {hint}")
        if manifest.is_file():
            try:
                theirs = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise OutputDirError(f"{manifest} is unreadable or corrupt ({err}), so this folder's run cannot be "
                                     f"identified. {hint}") from err
            if theirs != identity:
                raise OutputDirError(f"{out} holds another run ({MANIFEST_FILE}): {_differences(theirs, identity)}. "
                                     f"{hint}")
        else:
            others = sorted(p.name for p in out.iterdir() if p.name not in _HARMLESS)
            if others:
                raise OutputDirError(f"{out} is not empty and holds no {MANIFEST_FILE}, so it is not a run of ours "
                                     f"to resume (found: {', '.join(others[:5])}{' ...' if len(others) > 5 else ''})."
                                     f" {hint} If it is this run (started by an older version), pass "
                                     "--resume_from_checkpoint <its checkpoint-N folder>.")
        last = last_complete_checkpoint(out)
        if last is not None:
            logger.info("Resuming from %s (pass --overwrite_output_dir to start afresh).", last)
            return str(last)
    _write(args, out, identity)
    return None


def move_previous_run_aside(out: Path, identity: dict[str, Any]) -> Path | None:
    """`--overwrite_output_dir` starts from a clean folder: whatever a previous run left (results, checkpoints,
    its manifest) moves to a sibling folder, said in one line, so nothing of it can be read as this run's (a kill
    mid-way would otherwise leave the old results beside the new checkpoints, and a rerun resume the old ones)."""
    if not out.is_dir():
        return None
    previous = [p for p in out.iterdir() if p.name != LOCK_FILE]
    if not previous:
        return None
    model = Path(str(identity.get("model_name_or_path", ""))).expanduser()
    if model.exists() and model.resolve().is_relative_to(out.resolve()):
        raise OutputDirError(f"--overwrite_output_dir would move away the model this run starts from "
                             f"(--model_name_or_path {model} is inside --output_dir {out}). Pass another "
                             "--output_dir.")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = out.parent / f"{out.name}.replaced-{stamp}"
    n = 1
    while aside.exists():
        n += 1
        aside = out.parent / f"{out.name}.replaced-{stamp}-{n}"
    aside.mkdir()
    for path in previous:
        path.rename(aside / path.name)
    logger.warning("--overwrite_output_dir: the previous run's %d file(s) in %s were moved to %s (delete it when "
                   "you no longer need them).", len(previous), out, aside)
    return aside


def _write(args: Any, out: Path, identity: dict[str, Any]) -> None:
    if not getattr(args, "should_save", True):
        return
    atomic.write_text(out / MANIFEST_FILE, json.dumps(identity, indent=2) + "\n")
