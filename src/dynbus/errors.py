"""Errors a user can act on: the CLI prints them as one line and exits with their status (2)."""

from __future__ import annotations

from pathlib import Path


class DynbusError(Exception):
    """A problem with the user's input or configuration, reported without a traceback."""

    kind = "error"
    exit_code = 2


class InputFileError(DynbusError):
    """A named input file is unusable; the message says which file and what is wrong."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class NothingUsable(DynbusError):
    """Every raw input was left out (``on_bad_input: skip``); says how many, the first reason
    (by the input's handle, never its path) and where the private list is."""

    def __init__(
        self, what: str, left_out: str, first: tuple[str, str] | None, report: Path
    ) -> None:
        example = f" ({first[0]}: {first[1]})" if first is not None else ""
        super().__init__(f"no usable {what} in the raw folder: all {left_out}{example}; "
                         f"the list is in {report}")  # fmt: skip


class ResumableStop(DynbusError):
    """A stage stopped early on purpose with its state saved; the same command continues it."""

    kind = "stopped"
    exit_code = 75  # EX_TEMPFAIL: try again later
