"""``dynbus subgroups``: which masses are missed? Sensitivity by lesion size, scanner, frame rate.

Each test lesion gets its size (largest extent over its annotated frames: the longer side of its
box, in mm through the spacing of the ultrasound region holding the box centre, ``spacing_mm`` of
``meta.json``; in pixels where a sequence has no calibration, e.g. imported video, and
``size_unit`` says so), its scanner (``manufacturer`` + ``model`` of the de-identified header) and
frame rate (1000 / ``frame_time_ms``). Lesions are grouped into size bins and frame-rate bands
(``subgroups.size_bins_mm``, ``subgroups.frame_rate_bins_fps``; empty bins are kept as rows) and
by scanner, where scanners with fewer than ``subgroups.min_count`` lesions are pooled into
"other" (``pooled`` names them). Each user column of the annotations named in
``subgroups.columns`` (constant per lesion, checked by ``dynbus annotations``) is one more
grouping, one subgroup per value ("unknown" where empty).

The hits are those of ``lesion_hits.csv``: at the whole test split's operating points (a subgroup
gets no threshold of its own), or, with k folds, each fold's (``dynbus pool``'s concatenation).
Per subgroup and operating point: both sensitivities with Wilson 95 % CIs, the multi-frame gain
with Newcombe's paired CI, exact McNemar P. Per grouping: does the gain differ between subgroups?

That test is the score (Pearson χ²) test of the subgroup x method interaction in a conditional
logistic model of the paired per-lesion outcomes. Conditioning on the lesion, only discordant
lesions inform the method effect (as in McNemar's test), so the model reduces to "multi-only
among the discordant lesions ~ subgroup", and its score test is the χ² of homogeneity on the
K x 2 table of (single-only, multi-only) counts (statsmodels ``Table``). A score test needs no
fitted interaction, so it exists when a subgroup's discordant lesions all go one way (no miss
by multi-frame, say), where the Wald and likelihood-ratio tests of a fitted GEE or logistic model
diverge (separation). Breslow–Day on the per-subgroup 2 x 2 tables ``[[both, single-only],
[multi-only, neither]]`` would test the odds ratio of agreement between the methods, not the gain,
so it is not used. Lesions of one patient are treated as independent, as in the paper's tests.

Writes into ``--out``: ``lesions.csv`` (one row per lesion), ``subgroups.csv`` (one row per
grouping x subgroup x IoU x FP rate) and ``heterogeneity.csv`` (one row per grouping x IoU x FP
rate).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dynbus import config as study_config
from dynbus.errors import DynbusError, InputFileError
from dynbus.io.atomic import write_csv
from dynbus.io.csv_input import read_csv_checked
from dynbus.protocol import stats
from dynbus.protocol.sweep import METHODS

ANNOTATION_COLUMNS = ["sequence_id", "frame", "lesion_id", "x1", "y1", "x2", "y2"]
HIT_COLUMNS = ["iou", "fp_rate", "sequence_id", "lesion_id", *METHODS]
ID_TYPES = {"sequence_id": str, "patient_id": str, "lesion_id": str}
GROUPINGS = {"size": "size_bin", "scanner": "scanner_group", "frame rate": "frame_rate_band"}
LESION_COLUMNS = ["sequence_id", "lesion_id", "size", "size_unit", "scanner", "frame_rate_fps"]
UNCALIBRATED = "uncalibrated (px)"
UNKNOWN = "unknown"
OTHER = "other"
HETEROGENEITY_TEST = "Pearson chi2 of homogeneity on discordant lesions (score test)"


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus subgroups``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", required=True, help="lesion_hits.csv of dynbus evaluate / pool")
    parser.add_argument("--annotations", required=True, help="results/annotations.csv")
    parser.add_argument("--frames", required=True, help="frames folder ({seq}/meta.json)")
    parser.add_argument("--out", required=True, help="output directory (each file atomic)")
    study_config.add_config_argument(parser)
    return parser


def read_meta(frames: Path, sequence_id: str) -> dict[str, Any]:
    """``{frames}/{sequence_id}/meta.json``, or an error naming it."""
    path = frames / sequence_id / "meta.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise InputFileError(path, "file not found (run the data stage first)") from error
    except (OSError, json.JSONDecodeError) as error:
        raise InputFileError(path, f"not readable JSON ({error})") from error


def _mm_per_px(meta: dict[str, Any], cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """``(n, 2)`` mm per pixel of the calibrated region holding each centre; NaN outside all."""
    spacing = np.full((len(cx), 2), np.nan)
    for region in reversed(meta.get("spacing_mm", [])):  # the first listed region wins
        x0, y0, x1, y1 = region["box"]
        inside = (cx >= x0) & (cx <= x1 + 1) & (cy >= y0) & (cy <= y1 + 1)
        spacing[inside] = region["mm_per_px"]
    return spacing


def lesion_sizes(boxes: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """Per lesion of one sequence's annotated ``boxes``: ``size`` (largest box side over its
    frames) and ``size_unit``: mm when every box lies in a calibrated region, else px."""
    width = (boxes["x2"] - boxes["x1"]).to_numpy(float)
    height = (boxes["y2"] - boxes["y1"]).to_numpy(float)
    spacing = _mm_per_px(
        meta,
        (boxes["x1"] + boxes["x2"]).to_numpy(float) / 2,
        (boxes["y1"] + boxes["y2"]).to_numpy(float) / 2,
    )
    sides = pd.DataFrame(
        {
            "lesion_id": boxes["lesion_id"].to_numpy(),
            "mm": np.maximum(width * spacing[:, 0], height * spacing[:, 1]),
            "px": np.maximum(width, height),
        }
    )
    grouped = sides.groupby("lesion_id", sort=True)
    size = grouped.agg(mm=("mm", "max"), px=("px", "max"), calibrated=("mm", "count"))
    in_mm = size["calibrated"] == grouped.size()
    return pd.DataFrame(
        {
            "size": size["mm"].where(in_mm, size["px"]),
            "size_unit": np.where(in_mm, "mm", "px"),
        }
    ).reset_index()


def lesion_table(
    annotations: pd.DataFrame, frames: Path, extra: list[str] | None = None
) -> pd.DataFrame:
    """One row per annotated lesion: size, unit, scanner and frame rate from ``meta.json``, and
    the ``extra`` user columns (the lesion's first value; "unknown" where empty)."""
    extra = extra or []
    parts = []
    for sequence_id, boxes in annotations.groupby("sequence_id", sort=True):
        meta = read_meta(frames, str(sequence_id))
        part = lesion_sizes(boxes, meta)
        scanner = " ".join(
            str(meta.get(key) or "").strip() for key in ("manufacturer", "model")
        ).strip()
        frame_time = meta.get("frame_time_ms")
        part.insert(0, "sequence_id", sequence_id)
        part["scanner"] = scanner or UNKNOWN
        part["frame_rate_fps"] = 1000.0 / frame_time if frame_time else np.nan
        values = boxes.groupby("lesion_id", sort=True)[extra].first().fillna(UNKNOWN)
        parts.append(part.merge(values.reset_index(), on="lesion_id", validate="one_to_one"))
    columns = [*LESION_COLUMNS, *extra]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def bin_labels(edges: list[float], unit: str) -> list[str]:
    """Labels of the bins cut at ``edges``: ``<a``, ``a–b``, …, ``≥z`` (left-closed)."""
    if not edges:
        return [f"all {unit}"]
    middle = [f"{low:g}–{high:g} {unit}" for low, high in zip(edges, edges[1:], strict=False)]
    return [f"<{edges[0]:g} {unit}", *middle, f"≥{edges[-1]:g} {unit}"]


def binned(values: pd.Series, edges: list[float], unit: str) -> pd.Series:
    """``values`` cut into the left-closed bins at ``edges`` (labels of :func:`bin_labels`)."""
    cuts = [-np.inf, *edges, np.inf]
    return pd.cut(values, cuts, right=False, labels=bin_labels(edges, unit)).astype(object)


def pool_small(labels: pd.Series, min_count: int) -> tuple[pd.Series, str]:
    """Labels seen fewer than ``min_count`` times replaced by "other"; and which were pooled
    (``name (n)``; empty when none)."""
    counts = labels.value_counts()
    small = counts[counts < min_count]
    if small.empty:
        return labels, ""
    pooled = "; ".join(f"{name} ({count})" for name, count in sorted(small.items()))
    return labels.where(~labels.isin(small.index), OTHER), pooled


def assign_groups(lesions: pd.DataFrame, settings: dict[str, Any]) -> tuple[pd.DataFrame, dict]:
    """``lesions`` with ``size_bin``, ``frame_rate_band`` and ``scanner_group``; and each
    grouping's subgroups in display order with what "other" pooled."""
    sizes = binned(
        lesions["size"].where(lesions["size_unit"] == "mm"), settings["size_bins_mm"], "mm"
    )
    fps = binned(lesions["frame_rate_fps"], settings["frame_rate_bins_fps"], "fps")
    scanner, pooled = pool_small(lesions["scanner"], settings["min_count"])
    out = lesions.assign(
        size_bin=sizes.where(lesions["size_unit"] == "mm", UNCALIBRATED),
        frame_rate_band=fps.fillna(UNKNOWN),
        scanner_group=scanner,
    )
    seen = scanner.value_counts()
    named = sorted((s for s in seen.index if s != OTHER), key=lambda s: (-seen[s], s))
    order = {
        "size": bin_labels(settings["size_bins_mm"], "mm")
        + _if_seen(out["size_bin"], UNCALIBRATED),
        "scanner": named + _if_seen(scanner, OTHER),
        "frame rate": bin_labels(settings["frame_rate_bins_fps"], "fps")
        + _if_seen(out["frame_rate_band"], UNKNOWN),
    }
    for column in settings["columns"]:
        values = sorted(str(value) for value in out[column].unique() if value != UNKNOWN)
        order[column] = values + _if_seen(out[column], UNKNOWN)
    return out, {"order": order, "pooled": {"scanner": pooled}}


def groupings(settings: dict[str, Any]) -> dict[str, str]:
    """Grouping name -> lesion-table column: size, scanner, frame rate and the user columns."""
    taken = sorted(set(settings["columns"]) & {*GROUPINGS, *GROUPINGS.values(), *LESION_COLUMNS})
    if taken:
        raise DynbusError(
            f"invalid configuration at subgroups/columns: {', '.join(taken)} "
            "is a column or grouping of dynbus subgroups itself"
        )
    return {**GROUPINGS, **{column: column for column in settings["columns"]}}


def _if_seen(labels: pd.Series, label: str) -> list[str]:
    return [label] if (labels == label).any() else []


def subgroup_row(single: np.ndarray, multi: np.ndarray) -> dict[str, Any]:
    """Counts, sensitivities with Wilson CIs, the gain with Newcombe's CI and exact McNemar P of
    one subgroup's paired hits (NaN where it has no lesion)."""
    single, multi = np.asarray(single, bool), np.asarray(multi, bool)
    n = len(single)
    both = int(np.count_nonzero(single & multi))
    single_only = int(np.count_nonzero(single & ~multi))
    multi_only = int(np.count_nonzero(~single & multi))
    row: dict[str, Any] = {"n_lesions": n}
    for name, hit in (("single", single), ("multi", multi)):
        found = int(np.count_nonzero(hit))
        row[f"{name}_tp"] = found
        row[f"{name}_sensitivity"] = found / n if n else np.nan
        row[f"{name}_wilson_low"], row[f"{name}_wilson_high"] = stats.wilson(found, n)
    row["difference"] = row["multi_sensitivity"] - row["single_sensitivity"]
    row["difference_low"], row["difference_high"] = stats.paired_difference_ci(
        both, single_only, multi_only, n - both - single_only - multi_only
    )
    row["single_only"], row["multi_only"] = single_only, multi_only
    row["mcnemar_p"] = stats.mcnemar_exact(single, multi)[0] if n else np.nan
    return row


def subgroup_tables(
    hits: pd.DataFrame, lesions: pd.DataFrame, settings: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """``lesions`` (with their subgroups), ``subgroups`` and ``heterogeneity`` tables of the
    paired ``hits`` (every hit's lesion must be in ``lesions``)."""
    grouped, groups = assign_groups(lesions, settings)
    joined = hits.merge(grouped, on=["sequence_id", "lesion_id"], validate="many_to_one")
    rows, tests = [], []
    for (iou, rate), point in joined.groupby(["iou", "fp_rate"], sort=True):
        for grouping, column in groupings(settings).items():
            parts = []
            for label in groups["order"][grouping]:
                part = point[point[column] == label]
                row = subgroup_row(part["single"].to_numpy(), part["multi"].to_numpy())
                pooled = groups["pooled"].get(grouping, "") if label == OTHER else ""
                rows.append(
                    {"grouping": grouping, "subgroup": label, "pooled": pooled, "iou": iou,
                     "fp_rate": rate, **row}
                )  # fmt: skip
                parts.append(row)
            chi2, df, p = stats.gain_heterogeneity(
                np.array([r["single_only"] for r in parts]),
                np.array([r["multi_only"] for r in parts]),
            )
            tests.append(
                {"grouping": grouping, "iou": iou, "fp_rate": rate,
                 "n_subgroups": sum(r["n_lesions"] > 0 for r in parts),
                 "n_informative": sum(r["single_only"] + r["multi_only"] > 0 for r in parts),
                 "chi2": chi2, "df": df, "p": p, "test": HETEROGENEITY_TEST}
            )  # fmt: skip
    return {
        "lesions": grouped,
        "subgroups": pd.DataFrame(rows),
        "heterogeneity": pd.DataFrame(tests),
    }


def check_annotated(hits: pd.DataFrame, lesions: pd.DataFrame, path: str) -> None:
    """Stop, naming ``path``, when a hit's lesion has no annotation."""
    keys = ["sequence_id", "lesion_id"]
    known = pd.MultiIndex.from_frame(lesions[keys])
    missing = hits[~pd.MultiIndex.from_frame(hits[keys]).isin(known)]
    if len(missing):
        first = missing.iloc[0]
        raise InputFileError(
            path,
            f"{len(missing)} rows of lesions not in the annotations (first: sequence "
            f"{first['sequence_id']}, lesion {first['lesion_id']})",
        )


def main(args: argparse.Namespace) -> None:
    """Write ``lesions.csv``, ``subgroups.csv`` and ``heterogeneity.csv`` into ``args.out``."""
    settings = study_config.load(args.config)["subgroups"]
    extra = settings["columns"]
    groupings(settings)  # a bad column name stops before any reading
    hits = read_csv_checked(args.hits, HIT_COLUMNS, dtype=ID_TYPES)
    annotations = read_csv_checked(
        args.annotations,
        ANNOTATION_COLUMNS + extra,
        dtype={**ID_TYPES, **dict.fromkeys(extra, str)},
    )
    tested = annotations[annotations["sequence_id"].isin(hits["sequence_id"])]
    lesions = lesion_table(tested, Path(args.frames), extra)
    check_annotated(hits, lesions, args.hits)
    tables = subgroup_tables(hits, lesions, settings)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for stem, table in tables.items():
        write_csv(out / f"{stem}.csv", table)
