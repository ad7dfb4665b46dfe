"""Run a ``dynbus`` stage in the test's own process, as a subprocess would report it.

For tests of what a stage writes and says (exit code, stdout, stderr), not of a fresh interpreter
or of the installed script: those start ``dynbus`` as a subprocess. An exception other than the
stage's clear errors (``dynbus.errors``) propagates and fails the test, as its traceback would.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from dynbus import cli
from dynbus.batch import THREAD_VARIABLES


def dynbus(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``dynbus *args`` through ``cli.main`` (in ``cwd`` if given); the thread caps a stage sets
    in ``os.environ`` are undone afterwards."""
    argv = [str(arg) for arg in args]
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with (
            contextlib.chdir(cwd or Path.cwd()),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            try:
                code = cli.main(argv)
            except SystemExit as exit:  # argparse: --help, or a usage error (2)
                if exit.code is None or isinstance(exit.code, int):
                    code = exit.code or 0
                else:
                    print(exit.code, file=sys.stderr)
                    code = 1
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return subprocess.CompletedProcess(
        ["dynbus", *argv], code, stdout.getvalue(), stderr.getvalue()
    )
