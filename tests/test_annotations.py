"""Annotations: re-keyed to pseudonyms with sequence frame numbers; every bad row is reported."""

import json

import pandas as pd
import pytest

from dynbus.ingest.annotations import rekey_annotations
from tests import in_process

PRIVATE = pd.DataFrame(
    {
        "file": ["A/cine.dcm", "B/img0.dcm", "B/img1.dcm"],
        "sequence_id": ["S1", "S2", "S2"],
        "patient_id": ["P1", "P2", "P2"],
        "position": [0, 0, 1],
        "frame_offset": [0, 0, 1],
        "n_frames": [10, 1, 1],
    }
)
PUBLIC = pd.DataFrame(
    {
        "sequence_id": ["S1", "S2"],
        "patient_id": ["P1", "P2"],
        "n_frames": [10, 2],
        "rows": [48, 48],
        "columns": [64, 64],
        "n_files": [1, 2],
    }
)
HEADER = "file,frame,lesion_id,x1,y1,x2,y2\n"
GOOD = "A/cine.dcm,3,L1,10,10,20,20\nB/img1.dcm,0,L1,1.5,2,30,40\n"


def raw_rows(text: str) -> pd.DataFrame:
    from io import StringIO

    from dynbus.ingest.annotations import RAW_COLUMNS

    frame = pd.read_csv(StringIO(HEADER + text), dtype=str, keep_default_na=False)[RAW_COLUMNS]
    frame.insert(0, "line", range(2, len(frame) + 2))
    return frame


def test_rows_are_rekeyed_with_sequence_frame_numbers():
    good, bad = rekey_annotations(raw_rows(GOOD), PRIVATE, PUBLIC)
    assert bad.empty
    assert list(good["sequence_id"]) == ["S1", "S2"]
    assert list(good["frame"]) == [3, 1]
    assert good.loc[1, ["x1", "y1", "x2", "y2"]].tolist() == [1.5, 2.0, 30.0, 40.0]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("C/unknown.dcm,0,L1,1,1,5,5", "not a usable sequence"),
        ("A/cine.dcm,10,L1,1,1,5,5", "frame 10 out of range (file has 10 frames)"),
        ("A/cine.dcm,-1,L1,1,1,5,5", "not a non-negative integer"),
        ("A/cine.dcm,1,L1,1,1,65,5", "box outside the frame (64x48)"),
        ("A/cine.dcm,1,L1,5,1,5,9", "degenerate box"),
        ("A/cine.dcm,1,L1,a,1,5,9", "not a number"),
        ("A/cine.dcm,3,L1,1,1,5,5", "same lesion annotated twice"),
    ],
)
def test_each_bad_row_is_reported_with_its_line(row, problem):
    good, bad = rekey_annotations(raw_rows(GOOD + row + "\n"), PRIVATE, PUBLIC)
    assert len(good) == 2
    assert list(bad["line"]) == [4]
    assert problem in bad["problem"].iloc[0]


def test_cli_error_names_the_line_and_skip_mode_reports(tmp_path):
    PRIVATE.to_csv(tmp_path / "private.csv", index=False)
    PUBLIC.to_csv(tmp_path / "manifest.csv", index=False)
    (tmp_path / "raw.csv").write_text(HEADER + GOOD + "A/cine.dcm,99,L2,1,1,5,5\n")
    command = [
        "annotations",
        str(tmp_path / "raw.csv"),
        "--private-manifest",
        str(tmp_path / "private.csv"),
        "--manifest",
        str(tmp_path / "manifest.csv"),
        "--out",
        str(tmp_path / "out.csv"),
        "--report",
        str(tmp_path / "bad.csv"),
    ]
    failed = in_process.dynbus(*command)
    assert failed.returncode == 2
    assert "raw.csv line 4: frame 99 out of range" in failed.stderr
    assert not (tmp_path / "out.csv").exists()
    skipped = in_process.dynbus(*command, "--config", '{"on_bad_annotation": "skip"}')
    assert skipped.returncode == 0, skipped.stderr
    assert len(pd.read_csv(tmp_path / "out.csv")) == 2
    report = pd.read_csv(tmp_path / "bad.csv")
    assert report.to_dict("records") == [
        {"line": 4, "sequence_id": "S1", "problem": "frame 99 out of range (file has 10 frames)"}
    ]


def annotations_command(tmp_path, raw_text: str, columns: list[str]) -> list[str]:
    """``dynbus annotations`` on ``raw_text`` with ``subgroups.columns: columns``."""
    PRIVATE.to_csv(tmp_path / "private.csv", index=False)
    PUBLIC.to_csv(tmp_path / "manifest.csv", index=False)
    (tmp_path / "raw.csv").write_text(raw_text)
    config = json.dumps({"subgroups": {"columns": columns}})
    return [
        "annotations", str(tmp_path / "raw.csv"),
        "--private-manifest", str(tmp_path / "private.csv"),
        "--manifest", str(tmp_path / "manifest.csv"), "--out", str(tmp_path / "out.csv"),
        "--report", str(tmp_path / "bad.csv"), "--config", config,
    ]  # fmt: skip


USER_HEADER = "file,frame,lesion_id,x1,y1,x2,y2,birads,pathology,patient_name\n"
USER_ROWS = (
    "A/cine.dcm,3,L1,10,10,20,20, 4a ,malignant,Doe^Jane\n"
    "A/cine.dcm,4,L1,11,10,21,20,4a,malignant,Doe^Jane\n"
    "B/img1.dcm,0,L1,1.5,2,30,40,2,,Roe^Rita\n"
)


def test_only_the_configured_user_columns_pass_through(tmp_path):
    command = annotations_command(tmp_path, USER_HEADER + USER_ROWS, ["birads", "pathology"])
    assert in_process.dynbus(*command).returncode == 0
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(out.columns) == [
        "sequence_id", "frame", "lesion_id", "x1", "y1", "x2", "y2", "birads", "pathology",
    ]  # fmt: skip
    assert out[["birads", "pathology"]].values.tolist() == [
        ["4a", "malignant"], ["4a", "malignant"], ["2", ""],
    ]  # fmt: skip
    assert "Doe" not in (tmp_path / "out.csv").read_text()  # an unnamed column never passes
    assert in_process.dynbus(*command[:-2]).returncode == 0  # default: no user column
    assert "birads" not in (tmp_path / "out.csv").read_text()


def test_a_user_column_changing_within_a_lesion_names_the_line(tmp_path):
    rows = USER_ROWS.replace("4,L1,11,10,21,20,4a", "4,L1,11,10,21,20,4b")
    command = annotations_command(tmp_path, USER_HEADER + rows, ["birads"])
    failed = in_process.dynbus(*command)
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1
    assert "raw.csv line 3: birads differs from an earlier row of the same lesion" in failed.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        (["birads", "grade"], "raw.csv: missing columns grade"),
        (["frame"], "subgroups/columns: frame is a column dynbus itself reads or writes"),
        (["bad name"], "subgroups/columns/0"),
    ],
)
def test_a_bad_user_column_is_one_clear_error(tmp_path, columns, problem):
    failed = in_process.dynbus(*annotations_command(tmp_path, USER_HEADER + USER_ROWS, columns))
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1
    assert problem in failed.stderr
