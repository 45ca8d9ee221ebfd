"""`xtreme-s` console entry point: `xtreme-s run ...` (or flags directly), `xtreme-s tasks`, `xtreme-s score`."""

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
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["tasks"]:
        _print_tasks()
        return
    if argv[:1] == ["score"]:
        from .score import main as score_main

        sys.exit(score_main(argv[1:]))
    if argv[:1] == ["run"]:
        argv = argv[1:]
    from .args import parse_args
    from .runner import run

    run(*parse_args(argv))


if __name__ == "__main__":
    main()
