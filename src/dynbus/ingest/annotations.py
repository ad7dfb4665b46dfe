"""``dynbus annotations``: re-key the raw box annotations to pseudonyms and validate them.

Raw rows are ``file, frame, lesion_id, x1, y1, x2, y2`` (file relative to the raw folder, frame
0-based within that file). Output rows are ``sequence_id, frame, lesion_id, x1, y1, x2, y2`` with
frames counted along the whole sequence. A bad row (unknown file, frame out of range, box outside
the frame or degenerate, non-numeric) stops the run with an error naming its line, or with
``on_bad_annotation: skip`` is listed in the bad-annotation report; no row is dropped silently.
Rows imported by ``dynbus import`` carry ``source, locator`` (the user's file and where in it,
e.g. ``annotation id 7 (image id 3, frame_id 5)``): errors name those instead of the generated
file's line, the public report gives the locator, and a private report beside the private
manifest (``bad_annotations.csv``) also names the source file.

Columns the user adds (e.g. BI-RADS category, pathology) pass through only when
``subgroups.columns`` names them (every other column is dropped, so nothing else of the user's
file reaches ``results/``); each must be constant per lesion, else the run stops naming the
first line that disagrees. ``dynbus subgroups`` reports them as extra groupings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from dynbus import config as study_config
from dynbus.errors import DynbusError
from dynbus.io.atomic import write_csv
from dynbus.io.csv_input import read_csv_checked

RAW_COLUMNS = ["file", "frame", "lesion_id", "x1", "y1", "x2", "y2"]
SOURCE_COLUMNS = ["source", "locator"]  # imported rows: the user's file and where in it
OUTPUT_COLUMNS = ["sequence_id", "frame", "lesion_id", "x1", "y1", "x2", "y2"]
REPORT_COLUMNS = ["line", "sequence_id", "problem"]
NUMERIC = ["frame", "x1", "y1", "x2", "y2"]


def read_raw_annotations(path: Path, extra: list[str] | None = None) -> pd.DataFrame:
    """Read the raw annotation CSV as strings, with each row's line number in the file, keeping
    the ``extra`` user columns (stripped) and no other.

    Blank lines are kept while reading so that ``line`` is the real file line, then dropped.
    """
    extra = extra or []
    reserved = sorted(set(extra) & {*RAW_COLUMNS, *SOURCE_COLUMNS, *OUTPUT_COLUMNS, "line"})
    if reserved:
        raise DynbusError(
            f"invalid configuration at subgroups/columns: {', '.join(reserved)} "
            "is a column dynbus itself reads or writes"
        )
    raw = read_csv_checked(
        path,
        RAW_COLUMNS + extra,
        dtype=str,
        keep_default_na=False,
        skipinitialspace=True,
        skip_blank_lines=False,
        encoding_errors="surrogateescape",  # file names are bytes (dynbus.ingest.manifest)
    )
    sourced = all(column in raw.columns for column in SOURCE_COLUMNS)
    raw = raw[RAW_COLUMNS + extra + (SOURCE_COLUMNS if sourced else [])].copy()
    raw[extra] = raw[extra].apply(lambda column: column.str.strip())
    raw.insert(0, "line", np.arange(len(raw)) + 2)
    blank = (raw[RAW_COLUMNS].apply(lambda column: column.str.strip()) == "").all(axis=1)
    return raw.loc[~blank].reset_index(drop=True)


def find_problems(rows: pd.DataFrame) -> pd.Series:
    """One problem text per row ('' when the row is valid); rows already joined to the manifest."""
    problems = pd.Series("", index=rows.index, dtype=object)

    def flag(mask: pd.Series, text: pd.Series | str) -> None:
        fresh = mask & (problems == "")
        problems[fresh] = text if isinstance(text, str) else text[fresh]

    flag(rows["sequence_id"].isna(), "file is not a usable sequence of the raw folder")
    flag(rows["lesion_id"].str.strip() == "", "empty lesion_id")
    numbers = rows[NUMERIC].apply(pd.to_numeric, errors="coerce")
    flag(numbers.isna().any(axis=1), "frame or box coordinate is not a number")
    frame = numbers["frame"]
    flag((frame != np.floor(frame)) | (frame < 0), "frame is not a non-negative integer")
    flag(
        frame >= rows["n_frames"],
        "frame "
        + rows["frame"]
        + " out of range (file has "
        + rows["n_frames"].astype("Int64").astype(str)
        + " frames)",
    )
    x1, y1, x2, y2 = (numbers[c] for c in ["x1", "y1", "x2", "y2"])
    flag((x2 <= x1) | (y2 <= y1), "degenerate box (x2 <= x1 or y2 <= y1)")
    outside = (x1 < 0) | (y1 < 0) | (x2 > rows["columns"]) | (y2 > rows["rows"])
    size = (
        rows["columns"].astype("Int64").astype(str) + "x" + rows["rows"].astype("Int64").astype(str)
    )
    flag(outside, "box outside the frame (" + size + ")")
    return problems


def inconsistent_rows(good: pd.DataFrame, extra: list[str]) -> pd.Series:
    """Per row, which ``extra`` user column differs from the lesion's first row ('' if none)."""
    problems = pd.Series("", index=good.index, dtype=object)
    lesions = good.groupby(["sequence_id", "lesion_id"], sort=False)
    for column in extra:
        differs = (good[column] != lesions[column].transform("first")) & (problems == "")
        problems[differs] = (
            f"{column} differs from an earlier row of the same lesion "
            "(subgroups.columns must be constant per lesion)"
        )
    return problems


def rekey_annotations(
    raw: pd.DataFrame,
    private: pd.DataFrame,
    public: pd.DataFrame,
    extra: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join raw rows to the manifests and validate; return (valid rows re-keyed with the
    ``extra`` user columns, bad rows)."""
    files = private[["file", "sequence_id", "frame_offset", "n_frames"]].merge(
        public[["sequence_id", "rows", "columns"]], on="sequence_id"
    )
    rows = raw.merge(files, on="file", how="left", validate="many_to_one")
    rows["problem"] = find_problems(rows)
    report = REPORT_COLUMNS + [column for column in SOURCE_COLUMNS if column in raw.columns]
    bad = rows.loc[rows["problem"] != "", report]
    good = rows.loc[rows["problem"] == ""].copy()
    good[NUMERIC] = good[NUMERIC].astype(float)
    good["frame"] = (good["frame"] + good["frame_offset"]).astype(int)
    good["lesion_id"] = good["lesion_id"].str.strip()
    duplicated = good.duplicated(["sequence_id", "frame", "lesion_id"], keep="first")
    if duplicated.any():
        repeats = good.loc[duplicated, [c for c in report if c != "problem"]].assign(
            problem="same lesion annotated twice in one frame"
        )
        bad = pd.concat([bad, repeats], ignore_index=True)
        good = good.loc[~duplicated]
    good = good.assign(problem=inconsistent_rows(good, extra or []))
    bad = pd.concat([bad, good.loc[good["problem"] != "", report]], ignore_index=True)
    good = good.loc[good["problem"] == ""]
    good = good.sort_values(["sequence_id", "frame", "lesion_id"])[OUTPUT_COLUMNS + (extra or [])]
    return good.reset_index(drop=True), bad.sort_values("line").reset_index(drop=True)


def get_args_parser() -> argparse.ArgumentParser:
    """Arguments of ``dynbus annotations``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw_annotations", type=Path, help="raw annotations.csv")
    parser.add_argument("--private-manifest", required=True, type=Path, help="from dynbus manifest")
    parser.add_argument("--manifest", required=True, type=Path, help="public manifest CSV")
    parser.add_argument("--out", required=True, type=Path, help="re-keyed annotations CSV")
    parser.add_argument("--report", required=True, type=Path, help="bad-annotation report CSV")
    study_config.add_config_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    """Re-key, validate and write the annotations and the bad-annotation report."""
    cfg = study_config.load(args.config)
    extra = cfg["subgroups"]["columns"]
    raw = read_raw_annotations(args.raw_annotations, extra)
    private_columns = ["file", "sequence_id", "frame_offset", "n_frames"]
    private = read_csv_checked(
        args.private_manifest,
        private_columns,
        dtype={"file": str},
        encoding_errors="surrogateescape",
    )
    public = read_csv_checked(args.manifest, ["sequence_id", "rows", "columns"])
    good, bad = rekey_annotations(raw, private, public, extra)
    imported = "source" in bad.columns
    if len(bad) and cfg["on_bad_annotation"] == "error":
        first = bad.iloc[0]
        where = (
            f"{first['source']} {first['locator']}"
            if imported
            else f"{args.raw_annotations} line {first['line']}"
        )
        more = f" (and {len(bad) - 1} more bad rows)" if len(bad) > 1 else ""
        raise DynbusError(
            f"{where}: {first['problem']}{more}; fix the file or set on_bad_annotation: skip"
        )
    if imported:
        named = bad[["source", "locator", "sequence_id", "problem"]]
        write_csv(args.private_manifest.with_name("bad_annotations.csv"), named)
        bad = named.drop(columns="source")
    write_csv(args.report, bad)
    write_csv(args.out, good)
    print(
        f"{len(good)} boxes of {good['sequence_id'].nunique()} sequences; {len(bad)} rows skipped"
    )
