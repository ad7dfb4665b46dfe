"""``dynbus compare RUN_A RUN_B``: where two runs first differ, and by how much downstream.

A run is a results folder (fingerprinted now) or a fingerprint JSON written by ``dynbus
fingerprint``. Stages are compared by their content fingerprints in pipeline order. When both
runs are folders, the detections are compared box by box (boxes of the same frame matched at
IoU >= 0.99, score deltas) and the tables cell by cell.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dynbus.io.csv_input import read_csv_checked
from dynbus.protocol.boxes import iou_matrix
from dynbus.provenance import fingerprint

MATCH_IOU = 0.99
DETECTION_COLUMNS = ["sequence_id", "frame", "x1", "y1", "x2", "y2", "score"]


@dataclass(frozen=True)
class DetectionDelta:
    """Box-level difference of two detection tables."""

    boxes_a: int
    boxes_b: int
    matched: int
    max_score_delta: float
    mean_score_delta: float


@dataclass(frozen=True)
class CellDelta:
    """One table cell that differs between two runs (``delta`` is NaN for text cells)."""

    row: str
    column: str
    a: str
    b: str
    delta: float


def get_args_parser() -> argparse.ArgumentParser:
    """Options of ``dynbus compare``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", help="results folder or fingerprint JSON of the first run")
    parser.add_argument("run_b", help="results folder or fingerprint JSON of the second run")
    return parser


def _fingerprints(run: Path) -> dict[str, Any]:
    return fingerprint.fingerprint(run) if run.is_dir() else fingerprint.read(run)


def stage_differences(
    a: dict[str, Any], b: dict[str, Any], files: tuple[bool, bool] = (False, False)
) -> dict[str, str]:
    """Per stage (pipeline order): ``same``, ``differs (...)``, ``only in run A/B``, or ``not in
    the reference (run A/B)`` when that run is a fingerprint file (``files``), e.g. one written
    before the stage was fingerprinted."""
    result = {}
    for name in fingerprint.stage_names():
        stage_a, stage_b = a["stages"].get(name), b["stages"].get(name)
        if stage_a is None and stage_b is None:
            continue
        if stage_a is None or stage_b is None:
            missing = 0 if stage_a is None else 1
            if files[missing]:
                result[name] = f"not in the reference (run {'AB'[missing]})"
            else:
                result[name] = f"only in run {'BA'[missing]}"
        elif stage_a["digest"] == stage_b["digest"]:
            result[name] = "same"
        else:
            files_a, files_b = stage_a["files"], stage_b["files"]
            changed = sorted(f for f in files_a.keys() & files_b.keys() if files_a[f] != files_b[f])
            detail = [f"{len(changed)} of {len(files_a)} files changed"]
            if files_a.keys() - files_b.keys():
                detail.append(f"{len(files_a.keys() - files_b.keys())} only in A")
            if files_b.keys() - files_a.keys():
                detail.append(f"{len(files_b.keys() - files_a.keys())} only in B")
            example = f", e.g. {changed[0]}" if changed else ""
            result[name] = f"differs ({', '.join(detail)}{example})"
    return result


def _greedy_pairs(iou: np.ndarray) -> list[tuple[int, int]]:
    rows, cols = np.nonzero(iou >= MATCH_IOU)
    pairs, used_a, used_b = [], set(), set()
    for k in np.argsort(-iou[rows, cols], kind="stable"):
        i, j = int(rows[k]), int(cols[k])
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return pairs


def detection_delta(path_a: str | Path, path_b: str | Path) -> DetectionDelta:
    """Match the boxes of each frame at IoU >= 0.99 (highest IoU first); compare their scores."""
    tables = [read_csv_checked(p, DETECTION_COLUMNS) for p in (path_a, path_b)]
    groups_b = dict(iter(tables[1].groupby(["sequence_id", "frame"])))
    deltas: list[float] = []
    for key, boxes_a in tables[0].groupby(["sequence_id", "frame"]):
        boxes_b = groups_b.get(key)
        if boxes_b is None:
            continue
        coords = ["x1", "y1", "x2", "y2"]
        iou = iou_matrix(boxes_a[coords].to_numpy(float), boxes_b[coords].to_numpy(float))
        scores_a, scores_b = boxes_a["score"].to_numpy(float), boxes_b["score"].to_numpy(float)
        deltas += [abs(scores_a[i] - scores_b[j]) for i, j in _greedy_pairs(iou)]
    return DetectionDelta(
        boxes_a=len(tables[0]),
        boxes_b=len(tables[1]),
        matched=len(deltas),
        max_score_delta=max(deltas, default=0.0),
        mean_score_delta=float(np.mean(deltas)) if deltas else 0.0,
    )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def table_delta(path_a: str | Path, path_b: str | Path) -> list[CellDelta]:
    """The cells of two tables (first column = row label) whose text differs, with deltas."""
    a, b = (
        read_csv_checked(p, [], dtype=str, keep_default_na=False).pipe(
            lambda t: t.set_index(t.columns[0])
        )
        for p in (path_a, path_b)
    )
    cells = []
    for row in a.index.union(b.index, sort=False):
        for column in a.columns.union(b.columns, sort=False):
            text_a = a.at[row, column] if row in a.index and column in a.columns else ""
            text_b = b.at[row, column] if row in b.index and column in b.columns else ""
            if text_a != text_b:
                num_a, num_b = _number(text_a), _number(text_b)
                delta = num_b - num_a if num_a is not None and num_b is not None else math.nan
                cells.append(CellDelta(str(row), str(column), text_a, text_b, delta))
    return cells


def report(run_a: str | Path, run_b: str | Path) -> list[str]:
    """The comparison as text lines."""
    root_a, root_b = Path(run_a), Path(run_b)
    stages = stage_differences(
        _fingerprints(root_a), _fingerprints(root_b), (root_a.is_file(), root_b.is_file())
    )
    first = next(
        (name for name, state in stages.items() if state.startswith(("differs", "only in"))), None
    )
    lines = [f"A: {root_a}", f"B: {root_b}", ""]
    lines += [f"{name:<12} {state}" for name, state in stages.items()]
    unknown = [name for name, state in stages.items() if state.startswith("not in")]
    note = f" (not in the reference: {', '.join(unknown)})" if unknown else ""
    lines += ["", f"first stage that differs: {first}" if first else f"all stages identical{note}"]
    if first is None or not (root_a.is_dir() and root_b.is_dir()):
        return lines
    for csv_a in sorted((root_a / "detections").glob("*.csv")):
        csv_b = root_b / "detections" / csv_a.name
        if csv_b.is_file():
            d = detection_delta(csv_a, csv_b)
            lines.append(
                f"detections/{csv_a.name}: {d.boxes_a} vs {d.boxes_b} boxes, {d.matched} matched "
                f"at IoU >= {MATCH_IOU}; score delta max {d.max_score_delta:.5f}, "
                f"mean {d.mean_score_delta:.5f}"
            )
    for csv_a in sorted((root_a / "tables").glob("*.csv")):
        csv_b = root_b / "tables" / csv_a.name
        if csv_b.is_file():
            cells = table_delta(csv_a, csv_b)
            lines.append(f"tables/{csv_a.name}: {len(cells)} cells differ")
            lines += [
                f"  {c.row} | {c.column}: {c.a or '-'} -> {c.b or '-'}"
                + ("" if math.isnan(c.delta) else f" ({c.delta:+.4g})")
                for c in cells
            ]
    return lines


def main(args: argparse.Namespace) -> None:
    """Print the stage-by-stage comparison of two runs."""
    print("\n".join(report(args.run_a, args.run_b)))
