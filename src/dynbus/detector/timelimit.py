"""A process's wall-time limit (a SLURM job's ``--time``): does one more epoch still fit?"""

from __future__ import annotations

import time

# Kept free at the end of the limit for job start-up and the last save.
RESERVE = 0.05
# An epoch may take this much longer than the longest one so far.
SAFETY = 1.2


class TimeLimit:
    """``minutes`` of wall time counted from ``started`` (``time.monotonic()``); None = no limit."""

    def __init__(self, minutes: float | None, started: float) -> None:
        self.seconds = None if minutes is None else minutes * 60.0
        self.started = started

    def fits(self, epoch_s: float) -> bool:
        """Whether an epoch like the longest one so far (``epoch_s``) ends inside the limit."""
        if self.seconds is None:
            return True
        elapsed = time.monotonic() - self.started
        return elapsed + SAFETY * epoch_s <= (1.0 - RESERVE) * self.seconds
