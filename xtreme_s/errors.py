"""The one error policy: a mistake the user can fix is a `UserError`; everything else is a bug of ours.

The command line (`xtreme_s.cli`) turns every `UserError` into one line, `xtreme-s: error: <message>`, and exit
code 2; any other exception keeps its traceback. Messages say what is wrong, where (flag, file and line, split)
and what to do. Raise them as early as the mistake can be known: before data loading, before training.
Domain errors subclass both `UserError` and the built-in type callers used to catch (ValueError, ...), so code
that caught those keeps working.
"""

from __future__ import annotations

import argparse


class UserError(Exception):
    """A mistake in the data, flags, config files, environment or network that the user can fix."""


class UsageError(UserError, ValueError):
    """Flags or config files that cannot work together (or at all)."""


class ConfigFileError(UsageError):
    """A config file (YAML/JSON) that is missing, not parseable, or names unknown flags."""


class EnvironmentProblem(UserError, RuntimeError):
    """The machine cannot do what the run needs: offline without a cached model, an unwritable folder, ..."""


INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, as shells report Ctrl-C
USER_ERROR_EXIT_CODE = 2  # as argparse exits on a bad flag


class ScriptArgumentParser(argparse.ArgumentParser):
    """argparse for our scripts (benchmarks): a flag mistake is one line, `xtreme-s: error: <script>: <what>`, and
    exit code 2, like the runner's; argparse would print its usage first."""

    def __init__(self, script: str, **kwargs):
        super().__init__(**kwargs)
        self.script = script

    def error(self, message: str):
        self.exit(USER_ERROR_EXIT_CODE, f"xtreme-s: error: {self.script}: {message}\n")

