"""`xtreme-s` console entry point: `xtreme-s run ...` (or run flags directly), `xtreme-s tasks`, `xtreme-s sources`,
`xtreme-s score`, `xtreme-s embed` (pooled per-layer embeddings of a split to a file), `xtreme-s lm build` (n-gram LMs
for CTC decoding), `xtreme-s compare` (a leaderboard of runs with intervals), `xtreme-s help`.

Everything a command line can show by itself (a misspelt flag or command, an unknown config name, a missing file,
no `--output_dir`) is answered before torch and transformers are imported (`argv.check_command_line`): in well
under a second instead of 7-10."""

from __future__ import annotations

import difflib
import sys
import textwrap

from .errors import ScriptArgumentParser, UsageError
from .registry import TASKS, all_config_names

COMMANDS = {
    "run": "fine-tune and/or evaluate a model on one task (the default: `xtreme-s --flags` is `xtreme-s run --flags`)",
    "tasks": "list the tasks; `--configs [TASK]` lists every config name (all, or one task's)",
    "sources": "where each task's data is read from (Hub, mirror or local folder), with rows and hours per split",
    "score": "the overall XTREME-S score from the results.json of several runs",
    "compare": "a leaderboard of runs with confidence intervals",
    "embed": "pooled per-layer embeddings of a split, to a file",
    "lm": "`lm build`: n-gram language models for CTC decoding",
    "help": "this overview; `xtreme-s help COMMAND` is COMMAND's --help",
}
OVERVIEW = """\
usage: xtreme-s COMMAND [flags]      (`xtreme-s help COMMAND` or `xtreme-s COMMAND --help` for its flags)

Fine-tune and evaluate multilingual speech encoders on XTREME-S.

commands:
{commands}

examples:
  xtreme-s run --mini --dataset_config_name fleurs.en_us --do_train --do_eval --max_steps 20   (offline, a minute)
  xtreme-s run task_configs/mls.yaml --output_dir outputs/mls                                  (a recipe, full run)
  xtreme-s tasks --configs mls                  the config names of one task (--dataset_config_name)
  xtreme-s score outputs/mls outputs/voxpopuli ... --output_dir outputs/score

Docs: README.md; docs/flags.md (run flags), docs/tasks.md, docs/outputs.md, docs/robustness.md.
"""


def overview() -> str:
    width = max(map(len, COMMANDS))
    return OVERVIEW.format(commands="\n".join(f"  {name:{width}s}  {text}" for name, text in COMMANDS.items()))


def _tasks(argv: list[str]) -> None:
    parser = ScriptArgumentParser("tasks", prog="xtreme-s tasks",
                                  description="The XTREME-S tasks: family (head), target, metric, languages.")
    parser.add_argument("--configs", nargs="?", const="all", metavar="TASK",
                        help="list the config names (--dataset_config_name values): every task's, or one task's "
                             f"({', '.join(TASKS)}; or a prefix such as fleurs)")
    args = parser.parse_args(argv)
    if args.configs is None:
        for spec in TASKS.values():
            print(f"{spec.name:18s} {spec.family:15s} target={spec.target_column:14s} "
                  f"metric={spec.primary_metric:15s} {len(spec.languages):3d} languages  {spec.description}")
        print(f"\n{len(all_config_names())} config names, e.g. mls.all, voxpopuli.pl, fleurs.all, covost2.fr.en, "
              "minds14.all, babel.sw; `xtreme-s tasks --configs [TASK]` lists them.")
        return
    prefixes = {spec.prefix: [] for spec in TASKS.values()}
    for name in all_config_names():
        prefixes[name.split(".")[0]].append(name)
    wanted = args.configs
    if wanted != "all":
        by_task = {spec.name: spec.prefix for spec in TASKS.values()} | {p: p for p in prefixes}
        if wanted not in by_task:
            close = difflib.get_close_matches(wanted, list(by_task), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"tasks --configs: unknown task {wanted!r}{hint}; tasks: {', '.join(TASKS)}.")
        prefixes = {by_task[wanted]: prefixes[by_task[wanted]]}
    for prefix, names in prefixes.items():
        tasks = ", ".join(spec.name for spec in TASKS.values() if spec.prefix == prefix)
        print(f"{prefix} ({tasks}; {len(names)} config names):")
        print(textwrap.fill(" ".join(names), width=110, initial_indent="  ", subsequent_indent="  ",
                            break_on_hyphens=False))
    if wanted == "all":
        print(f"\n{len(all_config_names())} config names in all.")


def main(argv: list[str] | None = None) -> None:
    if argv is None:
        _main_for_users(sys.argv[1:])
    else:
        _main(list(argv))


def run_script_main() -> None:
    """`python run_xtreme_s.py ...`: the reference runner's script, i.e. `xtreme-s run ...`."""
    _main_for_users(["run", *sys.argv[1:]])


def _main_for_users(argv: list[str]) -> None:
    """The one error policy on the command line (xtreme_s.errors): a user mistake is one line and exit code 2,
    Ctrl-C one line saying how to resume and exit code 130; only our bugs keep their traceback."""
    from .errors import INTERRUPTED_EXIT_CODE, USER_ERROR_EXIT_CODE, UserError

    try:
        _main(argv)
    except UserError as err:
        print(f"xtreme-s: error: {one_line(err)}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
    except (OSError, RuntimeError) as err:  # a full disk is the machine's state, not a bug: one line
        from .argv import value_of
        from .atomic import disk_full_message

        message = disk_full_message(err, value_of(argv, "output_dir"))
        if message is None:
            raise
        print(f"xtreme-s: error: {message}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
    except KeyboardInterrupt:
        print("xtreme-s: interrupted. Rerun the same command to resume from the last checkpoint (checkpoints are "
              "saved every --save_steps); add --overwrite_output_dir to start afresh instead.", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT_CODE)


def one_line(err: BaseException) -> str:
    """The message on one line: a multi-line message (e.g. from a library) is joined, not cut."""
    return " ".join(str(err).split())


def _main(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(overview())
        return
    command = argv[0]
    if command == "help":
        if len(argv) > 1 and argv[1] not in ("help", "-h", "--help"):
            return _main([argv[1], "--help"])
        print(overview())
        return
    if command == "tasks":
        return _tasks(argv[1:])
    if command == "sources":
        from .sources.report import main as sources_main

        sys.exit(sources_main(argv[1:]))
    if command == "score":
        from .reports.score import main as score_main

        sys.exit(score_main(argv[1:]))
    if command == "embed":
        from .embed import main as embed_main

        sys.exit(embed_main(argv[1:]))
    if command == "lm":
        from .lm_build import main as lm_main

        sys.exit(lm_main(argv[1:]))
    if command == "compare":
        from .reports.compare import main as compare_main

        sys.exit(compare_main(argv[1:]))
    if command == "run":
        argv = argv[1:]
    elif not command.startswith("-") and not command.endswith((".yaml", ".yml", ".json")):
        close = difflib.get_close_matches(command, list(COMMANDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UsageError(f"unknown command {command!r}{hint}; commands: {', '.join(COMMANDS)} (`xtreme-s help`).")
    from .argv import check_command_line

    check_command_line(argv)  # the mistakes the command line shows by itself, before torch is imported
    from . import readymade_run
    from .args import parse_args
    from .output_dir import output_dir_lock
    from .runner import run

    model_args, data_args, training_args, family_args = parse_args(argv)
    # A model that already has its head (Whisper, MMS-1b-all, SeamlessM4T v2) is evaluated as it is.
    ready_made = readymade_run.selected(model_args, data_args, training_args, family_args["ready_made"])
    with output_dir_lock(training_args):  # one run per output directory; checks it is usable first
        if ready_made:
            readymade_run.run(ready_made, model_args, data_args, training_args, family_args["ready_made"])
        else:
            run(model_args, data_args, training_args, family_args)
    _leave_process_group()


def _leave_process_group() -> None:
    """Ranks wait for each other, then leave the process group: a rank that exits while rank 0 still writes the
    results can be aborted at teardown (seen once as SIGABRT of rank 1 in the two-process CPU test)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
