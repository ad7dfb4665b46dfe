"""What every reader returns: sequences, raw box rows and the bad inputs it met."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from dynbus.errors import InputFileError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


@dataclass(frozen=True)
class SourceSequence:
    """One sequence found in the raw folder (kept private: names may carry PHI).

    ``frames`` says how to decode it, with paths relative to the raw folder:
    ``{"kind": "images", "paths": [...]}`` (one image per frame, in order) or
    ``{"kind": "video", "path": ..., "indices": [...] | None}`` (decoded frame indices to keep,
    None = all).
    """

    file: str
    sequence_key: str
    patient_key: str
    n_frames: int
    rows: int
    columns: int
    frames: dict[str, Any]
    frame_time_ms: float | None = None


@dataclass
class Problems:
    """Bad inputs: raised at once with ``on_bad_input: error``, else collected for the report.

    ``problem`` texts must not contain raw names: they go to the public skip report, while
    ``file`` stays in the private one.
    """

    mode: str
    rows: list[dict[str, str]] = field(default_factory=list)

    def add(self, file: str, problem: str, detail: str = "") -> None:
        """Report that raw file ``file`` (relative to the raw folder) is unusable; ``detail``
        (which may name raw files, e.g. the JSON that lists ``file``) stays private."""
        if self.mode == "error":
            told = f"{problem} ({detail})" if detail else problem
            raise InputFileError(file, told + "; fix it or set on_bad_input: skip")
        self.rows.append({"file": file, "problem": problem, "detail": detail})


@dataclass
class Scan:
    """A reader's result: sequences, raw box rows (``file`` = a sequence's file), problems."""

    sequences: list[SourceSequence]
    boxes: list[dict[str, Any]]
    problems: Problems


def patient_key(file: str, mode: str) -> str:
    """The raw key a patient pseudonym is made from: with ``source.patient: folder`` the
    top-level folder of ``file`` under the raw folder, else (or at top level) the sequence."""
    parts = PurePosixPath(file).parts
    return f"folder:{parts[0]}" if mode == "folder" and len(parts) > 1 else f"sequence:{file}"


def box_row(
    file: str, frame: object, lesion_id: object, xyxy: list[Any], source: str, locator: str
) -> dict[str, Any]:
    """One raw annotation row in the layout ``dynbus annotations`` reads, with where the user
    wrote it: ``source`` (their file) and ``locator`` (ids or line in it, no raw names)."""
    x1, y1, x2, y2 = xyxy
    return {
        "file": file,
        "frame": frame,
        "lesion_id": str(lesion_id),
        "x1": x1,
        "y1": y1,
        "x2": x2,
        "y2": y2,
        "source": source,
        "locator": locator,
    }
