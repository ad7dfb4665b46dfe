"""Read and check the evaluation inputs; build one ``SequenceData`` per evaluated sequence."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from dynbus.errors import InputFileError
from dynbus.io.csv_input import read_csv_checked
from dynbus.protocol.boxes import paired_iou
from dynbus.protocol.single_frame import draw_frame
from dynbus.protocol.sweep import SequenceData

MANIFEST_COLUMNS = ["sequence_id", "patient_id", "split", "n_frames", "n_lesions"]
ANNOTATION_COLUMNS = ["sequence_id", "frame", "lesion_id", "x1", "y1", "x2", "y2"]
DETECTION_COLUMNS = ["sequence_id", "frame", "x1", "y1", "x2", "y2", "score"]
BOX = ["x1", "y1", "x2", "y2"]


def read_table(path: str | Path, columns: list[str], numeric: list[str]) -> pd.DataFrame:
    """Read a CSV, keep ``columns`` (ids as strings), check the numeric ones are finite numbers."""
    table = read_csv_checked(path, columns, dtype=str, keep_default_na=False)[columns].copy()
    for column in numeric:
        values = pd.to_numeric(table[column], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            line = int(np.flatnonzero(bad)[0]) + 2
            raise InputFileError(path, f"line {line}: {column} is not a number")
        table[column] = values
    return table


def load_sequences(
    detections: str | Path,
    annotations: str | Path,
    manifest: str | Path,
    split: str | None,
    pick: str,
    seed: int,
) -> list[SequenceData]:
    """The evaluated sequences (the manifest's, filtered on ``split``), sorted by id.

    Each sequence's detections are sorted by descending score, then frame, then box
    (``x1, y1, x2, y2``): the order in which equal scores are matched. Its lesions are indexed
    in ``lesion_id`` string order: the order in which equal IoUs are taken.
    """
    seqs = read_table(manifest, MANIFEST_COLUMNS, ["n_frames", "n_lesions"])
    if seqs["sequence_id"].duplicated().any():
        raise InputFileError(manifest, "a sequence_id is listed twice")
    known = set(seqs["sequence_id"])
    if split is not None:
        seqs = seqs[seqs["split"] == split]
    if seqs.empty:
        raise InputFileError(manifest, f"no sequence in split {split!r}")
    seqs = seqs.sort_values("sequence_id", kind="stable").reset_index(drop=True)
    ann = read_table(annotations, ANNOTATION_COLUMNS, ["frame", *BOX])
    ann = ann[ann["sequence_id"].isin(seqs["sequence_id"])]
    det = read_table(detections, DETECTION_COLUMNS, ["frame", *BOX, "score"])
    unknown = sorted(set(det["sequence_id"]) - known)
    if unknown:
        raise InputFileError(detections, f"sequence {unknown[0]} is not in {manifest}")
    det = det[det["sequence_id"].isin(seqs["sequence_id"])]
    _check_lesion_counts(seqs, ann, manifest, annotations)
    if ann.empty:
        raise InputFileError(
            annotations,
            f"no annotated lesion in split {split!r} of {manifest}: sensitivity "
            "is undefined (check the split fractions and the annotations)",
        )
    return _build(seqs, ann, det, pick, seed)


def _check_lesion_counts(
    seqs: pd.DataFrame, ann: pd.DataFrame, manifest: str | Path, annotations: str | Path
) -> None:
    counted = ann.groupby("sequence_id")["lesion_id"].nunique()
    expected = seqs.set_index("sequence_id")["n_lesions"]
    found = counted.reindex(expected.index, fill_value=0)
    wrong = found[found != expected]
    if len(wrong):
        seq = wrong.index[0]
        raise InputFileError(
            manifest,
            f"{seq}: n_lesions is {int(expected[seq])} but {annotations} has {int(wrong.iloc[0])}",
        )


def in_evaluation_order(detections: pd.DataFrame, *first: str) -> pd.DataFrame:
    """``detections`` by the ``first`` columns, then descending score, frame and box (the
    package's tie-break order, see :mod:`dynbus.protocol`)."""
    return (
        detections.assign(neg=-detections["score"])
        .sort_values([*first, "neg", "frame", *BOX], kind="stable")
        .drop(columns="neg")
    )


def _build(
    seqs: pd.DataFrame, ann: pd.DataFrame, det: pd.DataFrame, pick: str, seed: int
) -> list[SequenceData]:
    det = in_evaluation_order(det, "sequence_id").reset_index(drop=True)
    ann = ann.sort_values(["sequence_id", "lesion_id", "frame"], kind="stable")
    ann = ann.assign(
        lesion=ann.groupby("sequence_id")["lesion_id"]
        .transform(lambda ids: pd.factorize(ids, sort=True)[0])
        .astype(np.int64)
    )
    pairs = det.reset_index().merge(ann, on=["sequence_id", "frame"], suffixes=("", "_gt"))
    ious = paired_iou(pairs[BOX].to_numpy(float), pairs[[f"{c}_gt" for c in BOX]].to_numpy(float))
    n_lesions_max = int(ann["lesion"].max()) + 1 if len(ann) else 0
    overlap = np.zeros((len(det), n_lesions_max))
    np.maximum.at(overlap, (pairs["index"].to_numpy(), pairs["lesion"].to_numpy()), ious)
    det_rows = det.groupby("sequence_id", sort=False).indices
    ann_by_seq = dict(tuple(ann.groupby("sequence_id", sort=False)))
    result = []
    for row in seqs.itertuples(index=False):
        rows = det_rows.get(row.sequence_id, np.zeros(0, dtype=np.int64))
        lesions = ann_by_seq.get(row.sequence_id)
        lesion_ids = [] if lesions is None else sorted(set(lesions["lesion_id"]))
        annotated = set() if lesions is None else set(lesions["frame"].astype(int))
        part = det.iloc[rows]
        result.append(
            SequenceData(
                sequence_id=row.sequence_id,
                patient_id=row.patient_id,
                boxes=part[BOX].to_numpy(float),
                frames=part["frame"].to_numpy(np.int64),
                scores=part["score"].to_numpy(float),
                overlap=overlap[rows][:, : len(lesion_ids)],
                lesion_ids=lesion_ids,
                drawn_frame=draw_frame(row.sequence_id, int(row.n_frames), annotated, pick, seed),
            )
        )
    return result


def add_operating_point_arguments(parser: argparse.ArgumentParser) -> None:
    """``--counts``, ``--iou`` and ``--fp-rate``: the operating point whose threshold is shown."""
    parser.add_argument("--counts", required=True, help="counts.csv of dynbus evaluate")
    parser.add_argument("--iou", type=float, default=0.2, help="hit IoU of the operating point")
    parser.add_argument("--fp-rate", type=float, default=0.2, help="FP per sequence of the point")


def operating_threshold(counts: str | Path, iou: float, fp_rate: float, method: str) -> float:
    """The score threshold of ``method`` at (``iou``, ``fp_rate``) in ``counts.csv``."""
    if not Path(counts).is_file():
        raise InputFileError(counts, "file not found (run dynbus evaluate first)")
    table = read_csv_checked(counts, ["iou", "fp_rate", "method", "threshold"])
    point = table[
        ((table["iou"] - iou).abs() < 1e-9)
        & ((table["fp_rate"] - fp_rate).abs() < 1e-9)
        & (table["method"] == method)
    ]
    if point.empty:
        raise InputFileError(counts, f"no {method} row at IoU {iou:g}, FP rate {fp_rate:g}")
    return float(point["threshold"].iloc[0])
