"""Bad-input corpus: every bad input gets one clear outcome, never a traceback or silence.

Raw-folder cases put one bad input beside a good cine and run the manifest (in-process) in both
``on_bad_input`` modes. Outcomes: ``ERROR`` (one line naming the file by handle and pointing to
the private problem record, whose row holds the path; ``skip`` lists it and goes on),
``IGNORED`` (CD-export / system files: listed, never an error) and ``READ`` (read correctly).
Annotation, evaluation, configuration and standalone-stage cases assert their one-line error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
import simplejpeg
import yaml
from pydicom.encaps import encapsulate
from pydicom.uid import DeflatedExplicitVRLittleEndian, RLELossless, generate_uid

from dynbus import cli
from dynbus import config as study_config
from dynbus.deid.pseudonyms import file_pseudonym, load_or_create_key
from dynbus.errors import DynbusError
from dynbus.ingest.manifest import BadInputs, build_manifest
from dynbus.io.dicom_io import read_dicom
from dynbus.model.package import model_yaml, write_package
from tests.conftest import copy_tree, run_workflow, tiny_config
from tests.dicom_factory import (
    make_us,
    pattern,
    save,
    set_invalid,
    to_big_endian,
    to_jpeg_baseline,
)
from tests.source_exporters import write_video

ERROR, IGNORED, READ = "error", "ignored", "read"
BAD = "SMITH^ANNA"  # folder of the bad inputs: a patient name that must not reach a message
GOOD = "DOE^JOHN/good.dcm"
LATIN1_FOLDER = b"M\xdcLLER^J\xd6RG"  # MÜLLER^JÖRG written by an old Windows PC (Latin-1)
GB18030_FILE = b"\xd5\xc5\xc8\xfd.dcm"  # 张三.dcm from a Chinese CD burner (GB18030)


def cine(frames: int = 3, seed: int = 1, **options):  # noqa: ANN201 - a pydicom Dataset
    """A native 8-bit 48 x 64 cine."""
    return make_us(pattern(frames, 48, 64, 1, 255, seed), patient_id="SMITH-ANNA-9", **options)


def jpeg_cine(frames: int = 3, offset_table: bool = True):  # noqa: ANN201
    """A JPEG Baseline YBR_FULL_422 48 x 64 cine."""
    ds = make_us(pattern(frames, 48, 64, 3, 255, 2), "RGB", patient_id="SMITH-ANNA-9")
    return to_jpeg_baseline(ds, offset_table=offset_table)


def put(raw: Path, ds, name: str = "bad.dcm") -> list[str]:  # noqa: ANN001
    """Save ``ds`` among the bad inputs; return its relative path (expected in the report)."""
    save(ds, raw / BAD / name)
    return [f"{BAD}/{name}"]


def put_bytes(raw: Path, data: bytes, name: str = "bad.dcm") -> list[str]:
    (raw / BAD).mkdir(parents=True, exist_ok=True)
    (raw / BAD / name).write_bytes(data)
    return [f"{BAD}/{name}"]


def encoded_bytes(ds) -> bytes:  # noqa: ANN001
    """The bytes of ``ds`` saved as a DICOM file."""
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def with_frames(ds, frames: int):  # noqa: ANN001, ANN201
    ds.NumberOfFrames = frames
    return ds


def jpeg_with_bad_frame(corrupt: Callable[[bytes], bytes], index: int = 1):  # noqa: ANN201
    """A JPEG cine whose frame ``index`` is replaced by ``corrupt(frame)``."""
    ds = jpeg_cine()
    rgb = make_us(pattern(3, 48, 64, 3, 255, 2), "RGB").pixel_array
    frames = [simplejpeg.encode_jpeg(np.ascontiguousarray(f), 95, "RGB", "422") for f in rgb]
    frames[index] = corrupt(frames[index])
    ds.PixelData = encapsulate(frames)
    return ds


def corrupt_rle():  # noqa: ANN201
    ds = cine()
    ds.compress(RLELossless)
    frames = [b"\x63" + b"\x00" * 63 + b"\x01\x02"] * 3  # an RLE header announcing 99 segments
    ds.PixelData = encapsulate(frames)
    return ds


def without(keyword: str):  # noqa: ANN201
    ds = cine()
    delattr(ds, keyword)
    return ds


def not_ultrasound():  # noqa: ANN201
    ds = cine()
    ds.Modality = "CT"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    return ds


def mpeg2():  # noqa: ANN201
    ds = jpeg_cine()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"
    return ds


def cut(data: bytes, at: int | bytes, after: int = 0) -> bytes:
    """``data`` up to offset ``at`` (or to where the bytes ``at`` occur, plus ``after``)."""
    end = at if isinstance(at, int) else data.index(at) + after
    return data[:end]


def series(raw: Path, sizes: list[tuple[int, int]], patients: list[str]) -> list[str]:
    """Single-frame files of one series."""
    uid, names = generate_uid(), []
    for number, ((rows, columns), patient) in enumerate(zip(sizes, patients, strict=True), 1):
        ds = make_us(
            pattern(1, rows, columns, 1, 255, number)[0],
            patient_id=patient,
            series_uid=uid,
            multiframe=False,
            regions=[(0, 0, 20, 20)],
        )
        ds.InstanceNumber = number
        names += put(raw, ds, f"img{number}.dcm")
    return names


def duplicate_single_frame(raw: Path) -> list[str]:
    series(raw, [(48, 64)] * 3, ["SMITH-ANNA-9"] * 3)
    shutil.copy(raw / BAD / "img2.dcm", raw / BAD / "img9.dcm")
    return [f"{BAD}/img9.dcm"]


def duplicate_export(raw: Path) -> list[str]:
    put(raw, cine(), "cine.dcm")
    (raw / BAD / "export2").mkdir()
    shutil.copy(raw / BAD / "cine.dcm", raw / BAD / "export2" / "cine.dcm")
    return [f"{BAD}/export2/cine.dcm"]


def big_endian_16_bit():  # noqa: ANN201
    """A 16-bit cine in Explicit VR Big Endian (retired; old archives still hold it)."""
    pixels = pattern(3, 48, 64, 1, 4000, 4).astype(np.uint16)
    return to_big_endian(make_us(pixels, patient_id="SMITH-ANNA-9"))


def pixels_32_bit():  # noqa: ANN201
    ds = cine()
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.PixelData = np.arange(3 * 48 * 64, dtype="<u4").tobytes()
    return ds


def conflicting_export(raw: Path) -> list[str]:
    """Two files sharing a SOPInstanceUID whose pixels differ: a conflict, not a duplicate."""
    first = cine()
    put(raw, first, "a.dcm")
    second = cine(seed=2)
    second.SOPInstanceUID = second.file_meta.MediaStorageSOPInstanceUID = first.SOPInstanceUID
    return put(raw, second, "b.dcm")


def single_frame_series_without_instance_number(raw: Path) -> list[str]:
    """A single-frame series of three files, the second without InstanceNumber."""
    series(raw, [(48, 64)] * 3, ["SMITH-ANNA-9"] * 3)
    return put(raw, without_instance_number(read_dicom(raw / BAD / "img2.dcm")), "img2.dcm")


def without_instance_number(ds):  # noqa: ANN001, ANN201
    del ds.InstanceNumber
    return ds


def deflated():  # noqa: ANN201
    ds = make_us(pattern(4, 128, 160, 1, 255, 3), patient_id="SMITH-ANNA-9")  # > 64 KB deferred
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    return ds


def implicit_without_meta(raw: Path) -> list[str]:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = cine()
    del ds.file_meta
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    write_dataset(buffer, ds)
    return put_bytes(raw, buffer.getvalue())


RawCase = tuple[Callable[[Path], list[str]], str, str]
RAW_CASES: dict[str, RawCase] = {
    # NumberOfFrames against the pixel data
    "jpeg_frames_more_than_fragments": (
        lambda raw: put(raw, with_frames(jpeg_cine(), 5)),
        ERROR,
        "NumberOfFrames 5 but 3 encoded frames in the pixel data",
    ),
    "jpeg_frames_more_than_fragments_no_offset_table": (
        lambda raw: put(raw, with_frames(jpeg_cine(offset_table=False), 5)),
        ERROR,
        "NumberOfFrames 5 but 3 encoded frames in the pixel data",
    ),
    "jpeg_frames_fewer_than_fragments": (
        lambda raw: put(raw, with_frames(jpeg_cine(offset_table=False), 2)),
        ERROR,
        "NumberOfFrames 2 but 3 encoded frames in the pixel data",
    ),
    "native_frames_fewer_than_data": (
        lambda raw: put(raw, with_frames(cine(), 2)),
        ERROR,
        "NumberOfFrames 2 but the pixel data holds 3 frames",
    ),
    "native_frames_more_than_data": (
        lambda raw: put(raw, with_frames(cine(), 5)),
        ERROR,
        r"truncated pixel data \(9216 of 15360 bytes for NumberOfFrames 5\)",
    ),
    # frames that do not decode
    "corrupt_jpeg_entropy_data": (
        lambda raw: put(raw, jpeg_with_bad_frame(lambda j: j[: len(j) // 2] + j[-2:])),
        ERROR,
        "frame 1: corrupt JPEG data",
    ),
    "jpeg_frame_of_noise": (
        lambda raw: put(raw, jpeg_with_bad_frame(lambda j: bytes(reversed(j)), 2)),
        ERROR,
        "frame 2: corrupt JPEG data",
    ),
    "jpeg_frame_of_another_size": (
        lambda raw: put(
            raw,
            jpeg_with_bad_frame(
                lambda j: simplejpeg.encode_jpeg(np.zeros((40, 64, 1), np.uint8), 90, "GRAY"), 0
            ),
        ),
        ERROR,
        "frame 0 is 40x64, not 48x64",
    ),
    "corrupt_rle": (lambda raw: put(raw, corrupt_rle()), ERROR, "undecodable pixel data"),
    "undecodable_transfer_syntax": (
        lambda raw: put(raw, mpeg2()),
        ERROR,
        r"cannot decode transfer syntax 1\.2\.840\.10008",
    ),
    # header values
    "number_of_frames_not_a_number": (
        lambda raw: put(raw, set_invalid(cine(), "NumberOfFrames", "abc")),
        ERROR,
        "NumberOfFrames 'abc' is not an integer",
    ),
    "number_of_frames_fractional": (
        lambda raw: put(raw, set_invalid(cine(), "NumberOfFrames", "2.5")),
        ERROR,
        "NumberOfFrames '2.5' is not an integer",
    ),
    "number_of_frames_zero": (
        lambda raw: put(raw, set_invalid(cine(), "NumberOfFrames", "0")),
        ERROR,
        "NumberOfFrames 0 is not a positive integer",
    ),
    "instance_number_not_a_number": (
        lambda raw: put(raw, set_invalid(cine(), "InstanceNumber", "x1")),
        ERROR,
        "InstanceNumber 'x1' is not an integer",
    ),
    "no_patient_id": (lambda raw: put(raw, without("PatientID")), ERROR, "no PatientID"),
    "no_sop_instance_uid": (
        lambda raw: put(raw, without("SOPInstanceUID")),
        ERROR,
        "no SOPInstanceUID",
    ),
    "no_rows": (lambda raw: put(raw, without("Rows")), ERROR, "no Rows"),
    "pixel_data_32_bit": (
        lambda raw: put(raw, pixels_32_bit()),
        ERROR,
        "BitsAllocated 32: only 8- or 16-bit pixel data is supported",
    ),
    "no_pixel_data": (lambda raw: put(raw, without("PixelData")), ERROR, "no Pixel Data"),
    "not_ultrasound": (lambda raw: put(raw, not_ultrasound()), ERROR, "not an ultrasound image"),
    "no_ultrasound_region": (
        lambda raw: put(raw, cine(regions=None)),
        ERROR,
        "no SequenceOfUltrasoundRegions inside the frame and no deid.fallback_box",
    ),
    # truncated or not DICOM
    "truncated_in_file_meta": (
        lambda raw: put_bytes(raw, cut(encoded_bytes(cine()), 150)),
        ERROR,
        r"truncated DICOM file \(ends in the file meta information\)",
    ),
    "truncated_mid_header": (
        lambda raw: put_bytes(raw, cut(encoded_bytes(cine()), b"Doe^Jane", 3)),
        ERROR,
        r"truncated DICOM file \(ends inside element \(0010,0010\)\)",
    ),
    "truncated_before_pixel_data": (
        lambda raw: put_bytes(raw, cut(encoded_bytes(cine()), b"\xe0\x7f\x10\x00")),
        ERROR,
        "no Pixel Data: the file ends after element",
    ),
    "truncated_native_pixel_data": (
        lambda raw: put_bytes(raw, encoded_bytes(cine())[:-1000]),
        ERROR,
        "truncated pixel data",
    ),
    "truncated_jpeg_pixel_data": (
        lambda raw: put_bytes(raw, encoded_bytes(jpeg_cine())[:-200]),
        ERROR,
        r"truncated DICOM file \(ends inside the pixel data\)",
    ),
    "empty_file": (lambda raw: put_bytes(raw, b""), ERROR, r"empty file \(0 bytes\)"),
    "text_file": (
        lambda raw: put_bytes(raw, b"PatientName=Smith^Anna\n" * 20),
        ERROR,
        "not a DICOM file",
    ),
    # between files
    "duplicate_sop_instance_uid_in_single_frame_series": (
        duplicate_single_frame,
        ERROR,
        r"duplicate export: same SOPInstanceUID as raw file \d+/",
    ),
    "duplicate_multi_frame_export": (
        duplicate_export,
        ERROR,
        r"duplicate export: same SOPInstanceUID as raw file \d+/",
    ),
    "different_files_sharing_a_sop_instance_uid": (
        conflicting_export,
        ERROR,
        r"conflict: same SOPInstanceUID as raw file \d+/\d+ but different contents; "
        r"raw file \d+/\d+ was kept",
    ),
    "single_frame_series_file_without_instance_number": (
        single_frame_series_without_instance_number,
        ERROR,
        "no InstanceNumber in a single-frame series of 3 files: its place in the frame order",
    ),
    "series_mixing_patient_ids": (
        lambda raw: series(raw, [(48, 64)] * 2, ["SMITH-ANNA-9", "JONES-BOB-3"]),
        ERROR,
        "its series mixes 2 PatientIDs across 2 files",
    ),
    "single_frame_series_mixing_sizes": (
        lambda raw: series(raw, [(48, 64), (40, 64)], ["SMITH-ANNA-9"] * 2),
        ERROR,
        "its single-frame series mixes frame sizes",
    ),
    # CD-export and system files
    "dicomdir": (
        lambda raw: put_bytes(raw, b"\0" * 128 + b"DICM", "DICOMDIR"),
        IGNORED,
        r"ignored: CD-export or system file \(dicomdir\)",
    ),
    "autorun_inf": (
        lambda raw: put_bytes(raw, b"[autorun]\nopen=viewer.exe\n", "AUTORUN.INF"),
        IGNORED,
        r"ignored: CD-export or system file \(\.inf\)",
    ),
    "viewer_exe": (
        lambda raw: put_bytes(raw, b"MZ\x90\x00" * 40, "viewer.exe"),
        IGNORED,
        r"ignored: CD-export or system file \(\.exe\)",
    ),
    "codec_dll": (
        lambda raw: put_bytes(raw, b"MZ\x90\x00" * 40, "codec.dll"),
        IGNORED,
        r"ignored: CD-export or system file \(\.dll\)",
    ),
    "thumbs_db": (
        lambda raw: put_bytes(raw, b"\xd0\xcf\x11\xe0" * 40, "Thumbs.db"),
        IGNORED,
        r"ignored: CD-export or system file \(\.db\)",
    ),
    "ds_store": (
        lambda raw: put_bytes(raw, b"\0\0\0\1Bud1" * 20, ".DS_Store"),
        IGNORED,
        r"ignored: CD-export or system file \(\.ds_store\)",
    ),
    "readme_txt": (
        lambda raw: put_bytes(raw, b"Exported by PACS\n", "README.txt"),
        IGNORED,
        r"ignored: \.txt document, not DICOM",
    ),
    # valid files that must be read
    "deflated_explicit_vr": (lambda raw: put(raw, deflated()), READ, ""),
    "explicit_vr_big_endian": (lambda raw: put(raw, big_endian_16_bit()), READ, ""),
    "no_preamble": (lambda raw: put_bytes(raw, encoded_bytes(cine())[132:]), READ, ""),
    "no_preamble_no_file_meta": (implicit_without_meta, READ, ""),
}


def raw_folder(root: Path, build: Callable[[Path], list[str]]) -> tuple[Path, list[str]]:
    raw = root / "raw"
    save(make_us(pattern(3, 48, 64, 1, 255, 0), patient_id="DOE-JOHN-1"), raw / GOOD)
    return raw, build(raw)


@pytest.mark.parametrize("case", RAW_CASES)
def test_raw_input(case: str, tmp_path: Path) -> None:
    build, outcome, problem = RAW_CASES[case]
    raw, reported = raw_folder(tmp_path, build)
    key = load_or_create_key(tmp_path / "key.hex")
    record = tmp_path / "linkage" / "problems.csv"
    if outcome == ERROR:
        with pytest.raises(BadInputs) as error:
            build_manifest(raw, key, "error", record=record)
        message = str(error.value)
        assert re.match(rf"raw file \d+/\d+ \(see {re.escape(str(record))}\): {problem}", message)
        assert "\n" not in message and "SMITH" not in message and "bad.dcm" not in message
        assert record.stat().st_mode & 0o777 == 0o600
        assert set(pd.read_csv(record)["file"]) >= set(reported)
    private, public, skipped = build_manifest(raw, key, "skip" if outcome == ERROR else "error")
    listed = skipped[skipped["file"].str.startswith(BAD)]
    assert sorted(listed["file"]) == sorted(reported if outcome != READ else [])
    assert listed["problem"].str.contains(problem).all()
    assert GOOD in set(private["file"])  # the run goes on
    everything = {p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file()}
    assert set(private["file"]) | set(skipped["file"]) == everything  # nothing silently dropped
    assert public["n_frames"].sum() == private["n_frames"].sum()
    if outcome == READ:
        (name,) = reported
        written = {"deflated_explicit_vr": deflated, "explicit_vr_big_endian": big_endian_16_bit}
        expected = written.get(case, cine)().pixel_array
        np.testing.assert_array_equal(read_dicom(raw / name).pixel_array, expected)
        assert private.set_index("file").loc[name, "n_frames"] == len(expected)


def test_messy_export_in_skip_mode_lists_every_bad_file(tmp_path: Path) -> None:
    """Every raw case at once: the skip report lists exactly the bad files; good ones go on."""
    raw = tmp_path / "raw"
    save(make_us(pattern(3, 48, 64, 1, 255, 0), patient_id="DOE-JOHN-1"), raw / GOOD)
    expected, readable = {}, []
    for index, (build, outcome, problem) in enumerate(RAW_CASES.values()):
        folder = raw / f"case{index:02d}"
        for name in build(folder):
            relative = (folder / name).relative_to(raw).as_posix()
            if outcome == READ:
                readable.append(relative)
            else:
                expected[relative] = problem
    key = load_or_create_key(tmp_path / "key.hex")
    private, _, skipped = build_manifest(raw, key, "skip")
    assert sorted(skipped["file"]) == sorted(expected)
    for row in skipped.itertuples():
        assert re.search(expected[row.file], row.problem), (row.file, row.problem)
    everything = {p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file()}
    assert set(private["file"]) == everything - set(expected)
    assert {GOOD, *readable} <= set(private["file"])


# --- annotations, evaluation, configuration, standalone stages (through the CLI, in-process) ---

MANIFEST_PRIVATE = (
    "file,sequence_id,patient_id,position,frame_offset,n_frames\nA/cine.dcm,S1,P1,0,0,10\n"
)
MANIFEST_PUBLIC = "sequence_id,patient_id,n_frames,rows,columns,n_files\nS1,P1,10,48,64,1\n"
HEADER = "file,frame,lesion_id,x1,y1,x2,y2\n"


def one_error_line(capsys: pytest.CaptureFixture[str], stage: str, *args: str) -> str:
    """Run ``dynbus STAGE ARGS`` in-process: exit status 2 and exactly one stderr line."""
    status = cli.main([stage, *args])
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


ANNOTATION_CASES = {
    "zero_byte_file": ("", r"annotations.csv: empty file \(expected a header line"),
    "blank_lines_keep_real_line_numbers": (
        HEADER + "\nA/cine.dcm,3,L1,1,1,5,5\n\n\nA/cine.dcm,99,L2,1,1,5,5\n",
        r"annotations.csv line 6: frame 99 out of range \(file has 10 frames\)",
    ),
    "missing_columns": ("file,frame,x1\nA/cine.dcm,1,1\n", "missing columns lesion_id, y1"),
    "first_row_with_extra_fields": (
        HEADER + "A/cine.dcm,1,L1,1,1,5,5,9\n",
        r"not a readable CSV \(a row has more fields",
    ),
    "later_row_with_extra_fields": (
        HEADER + "A/cine.dcm,1,L1,1,1,5,5\n\nA/cine.dcm,2,L1,1,1,5,5,9\n",
        "Expected 7 fields in line 4, saw 8",
    ),
    "header_only_line_then_bad_row_after_blank": (
        HEADER + "\n\nA/cine.dcm,x,L1,1,1,5,5\n",
        "annotations.csv line 4: frame or box coordinate is not a number",
    ),
}


@pytest.mark.parametrize("case", ANNOTATION_CASES)
def test_annotation_input(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, problem = ANNOTATION_CASES[case]
    (tmp_path / "annotations.csv").write_text(text)
    (tmp_path / "private.csv").write_text(MANIFEST_PRIVATE)
    (tmp_path / "manifest.csv").write_text(MANIFEST_PUBLIC)
    args = [
        str(tmp_path / "annotations.csv"),
        "--private-manifest",
        str(tmp_path / "private.csv"),
        "--manifest",
        str(tmp_path / "manifest.csv"),
        "--out",
        str(tmp_path / "out.csv"),
        "--report",
        str(tmp_path / "report.csv"),
    ]
    assert re.search(problem, one_error_line(capsys, "annotations", *args))
    assert not (tmp_path / "out.csv").exists()


def test_annotation_skip_report_has_the_real_line(tmp_path: Path) -> None:
    (tmp_path / "annotations.csv").write_text(
        ANNOTATION_CASES["blank_lines_keep_real_line_numbers"][0]
    )
    (tmp_path / "private.csv").write_text(MANIFEST_PRIVATE)
    (tmp_path / "manifest.csv").write_text(MANIFEST_PUBLIC)
    status = cli.main(
        [
            "annotations",
            str(tmp_path / "annotations.csv"),
            "--private-manifest",
            str(tmp_path / "private.csv"),
            "--manifest",
            str(tmp_path / "manifest.csv"),
            "--out",
            str(tmp_path / "out.csv"),
            "--report",
            str(tmp_path / "bad.csv"),
            "--config",
            '{"on_bad_annotation": "skip"}',
        ]
    )
    assert status == 0
    assert pd.read_csv(tmp_path / "bad.csv")["line"].tolist() == [6]
    assert pd.read_csv(tmp_path / "out.csv")["frame"].tolist() == [3]


SPLITS = "sequence_id,patient_id,split,n_frames,n_lesions\nS1,P1,test,4,0\nS2,P2,val,4,1\n"
EVALUATION_CASES = {
    "split_without_annotated_lesion": (
        "sequence_id,frame,lesion_id,x1,y1,x2,y2\nS2,1,L1,1,1,20,20\n",
        "sequence_id,frame,x1,y1,x2,y2,score\nS1,0,1,1,10,10,0.5\n",
        r"annotations.csv: no annotated lesion in split 'test'",
    ),
    "detection_score_not_a_number": (
        "sequence_id,frame,lesion_id,x1,y1,x2,y2\nS2,1,L1,1,1,20,20\n",
        "sequence_id,frame,x1,y1,x2,y2,score\nS1,0,1,1,10,10,0.5\nS1,1,1,1,10,10,high\n",
        r"detections.csv: line 3: score is not a number",
    ),
}


@pytest.mark.parametrize("case", EVALUATION_CASES)
def test_evaluation_input(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    annotations, detections, problem = EVALUATION_CASES[case]
    (tmp_path / "annotations.csv").write_text(annotations)
    (tmp_path / "detections.csv").write_text(detections)
    (tmp_path / "splits.csv").write_text(SPLITS)
    line = one_error_line(
        capsys,
        "evaluate",
        "--detections",
        str(tmp_path / "detections.csv"),
        "--annotations",
        str(tmp_path / "annotations.csv"),
        "--manifest",
        str(tmp_path / "splits.csv"),
        "--split",
        "test",
        "--out",
        str(tmp_path / "out"),
    )
    assert re.search(problem, line)
    assert not (tmp_path / "out").exists()


CONFIG_CASES = {
    "split_fractions_sum_to_1_1": (
        {"split": {"fractions": {"train": 0.8, "val": 0.2, "test": 0.1}}},
        r"^invalid configuration at split/fractions: train \+ val \+ test = 1.1, not 1$",
    ),
    "unknown_key": ({"simulate": {"patiens": 3}}, r"^invalid configuration at simulate: "),
    "wrong_type": (
        {"train": {"lr": "fast"}},
        r'^invalid configuration at train/lr: "fast" is not of type number$',
    ),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_configuration_input(case: str) -> None:
    config, problem = CONFIG_CASES[case]
    with pytest.raises(DynbusError) as error:
        study_config.load(json.dumps(config))
    assert re.search(problem, str(error.value)) and "\n" not in str(error.value)


def stage_file(root: Path, ds) -> Path:  # noqa: ANN001
    return save(ds, root / BAD / "cine.dcm")


def series_with_bad_instance_number(root: Path) -> Path:
    series(root, [(48, 64)] * 2, ["SMITH-ANNA-9"] * 2)
    save(
        set_invalid(read_dicom(root / BAD / "img2.dcm"), "InstanceNumber", "x1"),
        root / BAD / "img2.dcm",
    )
    return root / BAD


STAGE_CASES = {
    "frames_jpeg_frames_more_than_fragments": (
        "frames",
        lambda root: stage_file(root, with_frames(jpeg_cine(), 5)),
        "NumberOfFrames 5 but 3 encoded frames",
    ),
    "frames_corrupt_jpeg": (
        "frames",
        lambda root: stage_file(root, jpeg_with_bad_frame(lambda j: j[: len(j) // 2] + j[-2:])),
        "frame 1: corrupt JPEG data",
    ),
    "frames_series_instance_number_not_a_number": (
        "frames",
        series_with_bad_instance_number,
        "InstanceNumber 'x1' is not an integer",
    ),
    "deidentify_corrupt_jpeg": (
        "deidentify",
        lambda root: stage_file(root, jpeg_with_bad_frame(lambda j: j[: len(j) // 2] + j[-2:])),
        "frame 1: corrupt JPEG data",
    ),
    "deidentify_frames_fewer_than_data": (
        "deidentify",
        lambda root: stage_file(root, with_frames(cine(), 2)),
        "NumberOfFrames 2 but the pixel data holds 3 frames",
    ),
}


@pytest.mark.parametrize("case", STAGE_CASES)
def test_standalone_stage_input(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stage run by hand on one raw input names its path (allowed outside the workflow)."""
    stage, build, problem = STAGE_CASES[case]
    source = build(tmp_path / "raw")
    out = tmp_path / "out"
    extra = ["--key", str(tmp_path / "key.hex")] if stage == "deidentify" else []
    line = one_error_line(capsys, stage, str(source), str(out), *extra)
    assert line.startswith(f"dynbus {stage}: error: {tmp_path / 'raw' / BAD}")
    assert problem in line
    assert not out.exists()


@pytest.fixture(scope="module")
def unread_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model package whose weights are never read: predict checks its inputs before loading."""
    root = tmp_path_factory.mktemp("package")
    weights = root / "model.pt"
    weights.write_bytes(b"never loaded")
    content = model_yaml(study_config.validate({}), [], {})
    write_package(root / "package", weights, content, {})
    return root / "package"


@pytest.mark.parametrize("case", STAGE_CASES)
def test_predict_input(
    case: str, unread_package: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """``dynbus predict`` on the same bad inputs: its last line names the file and the problem,
    no output folder, no traceback (its progress bars may print before)."""
    _, build, problem = STAGE_CASES[case]
    source = build(tmp_path / "raw")
    out = tmp_path / "out"
    assert cli.main(["predict", str(unread_package), str(source), "--out", str(out)]) == 2
    lines = capfd.readouterr().err.strip().splitlines()
    assert lines[-1].startswith(f"dynbus predict: error: {tmp_path / 'raw' / BAD}"), lines
    assert problem in lines[-1]
    assert "Traceback" not in "".join(lines)
    assert not out.exists()


def test_conflict_names_the_file_kept(tmp_path: Path) -> None:
    """Of two different files sharing a SOPInstanceUID the first (sorted) is kept and named."""
    raw = tmp_path / "raw"
    conflicting_export(raw)
    private, _, skipped = build_manifest(raw, load_or_create_key(tmp_path / "key.hex"), "skip")
    assert private["file"].tolist() == [f"{BAD}/a.dcm"]
    assert skipped[["handle", "file"]].values.tolist() == [["2/2", f"{BAD}/b.dcm"]]
    assert skipped["problem"][0] == (
        "conflict: same SOPInstanceUID as raw file 1/2 but different contents; "
        "raw file 1/2 was kept"
    )


def test_configured_annotations_in_the_raw_folder_are_not_a_raw_input(tmp_path: Path) -> None:
    raw, _ = raw_folder(tmp_path, lambda raw: [])
    (raw / "annotations.csv").write_text(HEADER)
    (raw / "notes.csv").write_text(HEADER)
    key = load_or_create_key(tmp_path / "key.hex")
    _, _, skipped = build_manifest(raw, key, "error", annotations=raw / "annotations.csv")
    assert skipped["file"].tolist() == ["notes.csv"]  # another document is still listed


def test_names_that_are_not_utf8_are_listed_as_their_bytes(tmp_path: Path) -> None:
    """A cine under a Latin-1 folder name is read; a bad file with a GB18030 name is listed by
    handle and file pseudonym, its bytes kept in the private record."""
    raw, _ = raw_folder(tmp_path, lambda raw: [])
    save(cine(), Path(os.fsdecode(os.path.join(os.fsencode(raw), LATIN1_FOLDER, b"cine.dcm"))))
    (raw / os.fsdecode(GB18030_FILE)).write_bytes(b"not DICOM")
    key = load_or_create_key(tmp_path / "key.hex")
    record = tmp_path / "linkage" / "problems.csv"
    private, _, skipped = build_manifest(raw, key, "skip", record=record)
    assert len(private) == 2 and skipped["handle"].tolist() == ["3/3"]
    assert skipped["file_id"][0] == file_pseudonym(key, os.fsdecode(GB18030_FILE))
    assert GB18030_FILE in record.read_bytes()
    assert set(private["file"]) == {GOOD, os.fsdecode(LATIN1_FOLDER + b"/cine.dcm")}


# --- videos: a truncated MP4, nothing usable in skip mode (dynbus import, in-process) ---


def truncated_mp4(path: Path, frames: int = 9) -> None:
    """An H.264 MP4 of ``frames`` frames, its index first (faststart), cut in the middle."""
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width, stream.pix_fmt = 64, 64, "yuv420p"
        stream.options = {"qp": "0", "preset": "ultrafast"}
        for _ in range(frames):
            pixels = rng.integers(0, 256, (64, 64), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="gray")))
        container.mux(stream.encode())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def import_videos(raw: Path, out: Path, mode: str, annotations: Path, *extra: str) -> int:
    """``dynbus import`` of the video folder ``raw`` with ``annotations.csv``."""
    config = {"source": {"format": "video"}, "deid": {"fallback_box": [0, 0, 9999, 9999]}}
    return cli.main(
        ["import", str(raw), "--key", str(out / "key.hex"),
         "--private", str(out / "linkage" / "manifest.csv"), "--out", str(out / "manifest.csv"),
         "--skipped", str(out / "skipped.csv"), "--boxes", str(out / "linkage" / "boxes.csv"),
         "--specs", str(out / "linkage" / "sources"), "--annotations", str(annotations),
         "--config", json.dumps({**config, "on_bad_input": mode}), *extra]
    )  # fmt: skip


def test_truncated_mp4_is_named_with_its_decodable_frames(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The frame count comes from decoded frames: the video is blamed, not its annotations."""
    raw = tmp_path / "raw"
    truncated_mp4(raw / BAD / "clip.mp4")
    annotations = tmp_path / "annotations.csv"
    annotations.write_text(HEADER + f"{BAD}/clip.mp4,8,L1,1,1,20,20\n")
    assert import_videos(raw, tmp_path / "error", "error", annotations) == 2
    line = capsys.readouterr().err.strip()
    assert re.fullmatch(
        rf"dynbus import: error: {re.escape(BAD)}/clip.mp4: truncated video: [1-8] decodable "
        r"frames of the 9 it lists; fix it or set on_bad_input: skip",
        line,
    ), line
    assert import_videos(raw, tmp_path / "skip", "skip", annotations) == 2
    line = capsys.readouterr().err.strip()
    report = tmp_path / "skip" / "linkage" / "skipped_inputs.csv"
    assert re.fullmatch(
        r"dynbus import: error: no usable sequence in the raw folder: all 1 inputs were "
        rf"skipped \(F[0-9a-f]{{10}}: truncated video: [1-8] decodable frames of the 9 it lists\)"
        rf"; the list is in {re.escape(str(report))}",
        line,
    ), line
    assert pd.read_csv(report)["file"].tolist() == [f"{BAD}/clip.mp4"]
    public = pd.read_csv(tmp_path / "skip" / "skipped.csv")
    assert list(public.columns) == ["file_id", "problem"] and len(public) == 1
    assert not (tmp_path / "skip" / "manifest.csv").exists()


def test_video_named_in_gb18030_is_imported_with_its_boxes(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    name = os.fsdecode(LATIN1_FOLDER + b"/" + GB18030_FILE.replace(b".dcm", b".mkv"))
    write_video(raw / name, [np.full((8, 10), 9 * index, np.uint8) for index in range(3)])
    annotations = tmp_path / "annotations.csv"
    annotations.write_bytes(HEADER.encode() + os.fsencode(name) + b",2,L1,1,1,5,5\n")
    out = tmp_path / "out"
    assert import_videos(raw, out, "error", annotations, "--frames", str(out / "frames")) == 0
    assert os.fsencode(name) in (out / "linkage" / "boxes.csv").read_bytes()
    (sequence,) = pd.read_csv(out / "manifest.csv")["sequence_id"]
    assert len(list((out / "frames" / sequence).glob("*.png"))) == 3


# --- through the real workflow (Snakemake CLI) ---


def own_data(workdir: Path, **settings: object) -> Path:
    """A tiny config for the user's raw folder ``workdir/mydata`` (annotations inside it)."""
    config = {**tiny_config(), "raw_dir": "mydata", "annotations": "mydata/annotations.csv"}
    config["simulate"] = {**config["simulate"], "enabled": False}
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump({**config, **settings}))
    return path


def files_holding(workdir: Path, private: set[str], needles: list[bytes]) -> list[str]:
    """Paths under ``workdir`` (bar its top-level folders ``private``) whose name, content or
    link target holds one of ``needles``."""
    found = []
    for root, folders, files in os.walk(os.fsencode(workdir)):
        if root == os.fsencode(workdir):
            folders[:] = [name for name in folders if os.fsdecode(name) not in private]
        for name in [*folders, *files]:
            path = os.path.join(root, name)
            text = path + (os.readlink(path) if os.path.islink(path) else b"")
            if os.path.isfile(path) and not os.path.islink(path):
                text += Path(os.fsdecode(path)).read_bytes()
            found += [os.fsdecode(path) for needle in needles if needle in text]
    return found


def test_file_names_that_are_not_utf8_run_through_the_workflow(
    small_raw: Path, tmp_path: Path
) -> None:
    """A Latin-1 folder name and a GB18030 file name: imported, annotated, never printed."""
    raw = copy_tree(small_raw, tmp_path / "mydata")
    first, second = sorted(path for path in raw.iterdir() if path.is_dir())
    renamed = {f"{first.name}/": os.fsdecode(LATIN1_FOLDER) + "/"}
    os.rename(first, os.path.join(os.fsencode(raw), LATIN1_FOLDER))
    moved = sorted(second.glob("*.dcm"))[0]
    os.rename(moved, os.path.join(os.fsencode(second), GB18030_FILE))
    renamed[f"{second.name}/{moved.name}"] = f"{second.name}/{os.fsdecode(GB18030_FILE)}"
    annotations = pd.read_csv(raw / "annotations.csv", dtype=str, keep_default_na=False)
    for old, new in renamed.items():
        annotations["file"] = annotations["file"].str.replace(old, new, regex=False)
    assert annotations["file"].str.contains("\udcd5|\udcdc").sum() > 1  # both renamed names
    annotations.to_csv(raw / "annotations.csv", index=False, errors="surrogateescape")
    config = own_data(tmp_path)
    result = run_workflow(tmp_path, "results/annotations.csv", configfile=config)
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-3000:]
    assert "Traceback" not in console
    manifest = pd.read_csv(tmp_path / "results" / "manifest.csv")
    assert manifest["n_files"].sum() == len(list(raw.rglob("*.dcm")))
    assert len(pd.read_csv(tmp_path / "results" / "annotations.csv")) == len(annotations)
    assert pd.read_csv(tmp_path / "results" / "reports" / "bad_annotations.csv").empty
    skipped = pd.read_csv(tmp_path / "results" / "reports" / "skipped_inputs.csv")
    assert skipped.empty  # the configured annotations.csv in the raw folder is not listed
    private = (tmp_path / "linkage" / "manifest.csv").read_bytes()
    assert LATIN1_FOLDER in private and GB18030_FILE in private  # kept as bytes, privately
    needles = [b"LLER^J", GB18030_FILE[:4], b"\\xd5\\xc5", b"\\udcd5"]
    assert files_holding(tmp_path, {"mydata", "linkage"}, needles) == []
    assert not any(needle.decode("latin-1") in console for needle in needles)
    again = run_workflow(tmp_path, "-n", "results/annotations.csv", configfile=config)
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (
            "error",
            r"raw file 1/2 \(see linkage/problems\.csv\): empty file \(0 bytes\); 1 more unusable",
        ),
        (
            "skip",
            r"no usable DICOM file in the raw folder: all 2 files were left out \(raw file 1/2: "
            r".*\); the list is in linkage/problems\.csv",
        ),
    ],
)
def test_manifest_reason_reaches_the_console(mode: str, tmp_path: Path, reason: str) -> None:
    """The manifest's one-line reason (files by handle) is on the console, not only in its log;
    in skip mode with nothing usable the private list is written first and named."""
    raw = tmp_path / "mydata"
    put_bytes(raw, b"", "empty.dcm")
    put_bytes(raw, encoded_bytes(cine())[:-1000], "truncated.dcm")
    (raw / "annotations.csv").write_text(HEADER)
    result = run_workflow(
        tmp_path, "results/manifest.csv", configfile=own_data(tmp_path, on_bad_input=mode)
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("dynbus manifest:")]
    assert len(lines) == 1 and re.fullmatch(rf"dynbus manifest: error: {reason}.*", lines[0]), (
        result.stderr[-3000:]
    )
    assert "SMITH" not in result.stdout + result.stderr and "Traceback" not in result.stderr
    problems = pd.read_csv(tmp_path / "linkage" / "problems.csv")
    assert problems["file"].tolist() == [f"{BAD}/empty.dcm", f"{BAD}/truncated.dcm"]
