"""`xtreme-s` console entry point: `xtreme-s run ...` (or flags directly), `xtreme-s tasks`, `xtreme-s score`,
`xtreme-s sources`, `xtreme-s embed` (pooled per-layer embeddings of a split to a file),
`xtreme-s lm build` (n-gram LMs for CTC decoding), `xtreme-s compare` (a leaderboard of runs with intervals)."""

from __future__ import annotations

import sys

from .registry import TASKS, all_config_names


def _print_tasks() -> None:
    for spec in TASKS.values():
        print(f"{spec.name:18s} {spec.family:15s} target={spec.target_column:14s} metric={spec.primary_metric:15s}"
              f" {len(spec.languages):3d} languages  {spec.description}")
    print(f"\n{len(all_config_names())} config names, e.g. mls.all, voxpopuli.pl, fleurs.all, covost2.fr.en, "
          "minds14.all, babel.sw")


def main(argv: list[str] | None = None) -> None:
    if argv is None:
        _main_for_users(sys.argv[1:])
    else:
        _main(list(argv))


def _main_for_users(argv: list[str]) -> None:
    """The one error policy on the command line (xtreme_s.errors): a user mistake is one line and exit code 2,
    Ctrl-C one line saying how to resume and exit code 130; only our bugs keep their traceback."""
    from .errors import INTERRUPTED_EXIT_CODE, USER_ERROR_EXIT_CODE, UserError

    try:
        _main(argv)
    except UserError as err:
        print(f"xtreme-s: error: {one_line(err)}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
    except KeyboardInterrupt:
        print("xtreme-s: interrupted. Rerun the same command to resume from the last checkpoint (checkpoints are "
              "saved every --save_steps); add --overwrite_output_dir to start afresh instead.", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT_CODE)


def one_line(err: BaseException) -> str:
    """The message on one line: a multi-line message (e.g. from a library) is joined, not cut."""
    return " ".join(str(err).split())


def _main(argv: list[str]) -> None:
    if argv[:1] == ["tasks"]:
        _print_tasks()
        return
    if argv[:1] == ["sources"]:
        from .sources.report import main as sources_main

        sys.exit(sources_main(argv[1:]))
    if argv[:1] == ["embed"]:
        from .embed import main as embed_main

        sys.exit(embed_main(argv[1:]))
    if argv[:1] == ["score"]:
        from .reports.score import main as score_main

        sys.exit(score_main(argv[1:]))
    if argv[:1] == ["lm"]:
        from .lm_build import main as lm_main

        sys.exit(lm_main(argv[1:]))
    if argv[:1] == ["compare"]:
        from .reports.compare import main as compare_main

        sys.exit(compare_main(argv[1:]))
    if argv[:1] == ["run"]:
        argv = argv[1:]
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
