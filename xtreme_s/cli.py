"""`xtreme-s` console entry point: `xtreme-s run ...` (or flags directly), `xtreme-s tasks`, `xtreme-s score`,
`xtreme-s sources`."""

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
    """On the command line, set-up mistakes (task name, data location, output directory) are one clear line and
    exit code 2, not a traceback; everything else keeps its traceback."""
    from .registry import UnknownTaskError
    from .run_manifest import OutputDirError
    from .sources import SourceError

    try:
        _main(argv)
    except (UnknownTaskError, SourceError, OutputDirError) as err:
        print(f"xtreme-s: error: {err}", file=sys.stderr)
        sys.exit(2)


def _main(argv: list[str]) -> None:
    if argv[:1] == ["tasks"]:
        _print_tasks()
        return
    if argv[:1] == ["sources"]:
        from .sources_report import main as sources_main

        sys.exit(sources_main(argv[1:]))
    if argv[:1] == ["score"]:
        from .score import main as score_main

        sys.exit(score_main(argv[1:]))
    if argv[:1] == ["run"]:
        argv = argv[1:]
    from .args import parse_args
    from .runner import run

    run(*parse_args(argv))
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
