"""dynbus deidentify: Table E.1-1 in full, private tags, burned-in pixels, keyed consistency."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.datadict import dictionary_has_tag, dictionary_VR, repeater_has_tag
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array

from dynbus.deid.ocr import engine, require_ocr
from dynbus.deid.pixels import mask_spans, region_mask, ultrasound_regions
from dynbus.deid.profile import table
from dynbus.deid.pseudonyms import date_shift_days, load_or_create_key, patient_pseudonym
from dynbus.io.dicom_io import decode_frames
from tests import in_process
from tests.dicom_factory import REGION, burn_text, make_us, pattern, save, to_big_endian

SHORT_VRS = {"AS", "US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT"}
DATE_SPACING_DAYS = 800  # > 2 x max_date_shift_days: a shifted date never equals another plant


def deidentify(*args: object) -> subprocess.CompletedProcess[str]:
    return in_process.dynbus("deidentify", *args)


def _value(vr: str, index: int) -> object:
    day = dt.date(1700, 1, 1) + dt.timedelta(days=DATE_SPACING_DAYS * index)
    if vr == "DA":
        return day.strftime("%Y%m%d")
    if vr == "DT":
        return day.strftime("%Y%m%d") + f"{index % 24:02d}1530.{index:06d}"
    if vr == "TM":
        return f"{index % 24:02d}{index % 60:02d}07.{index:06d}"
    if vr == "UI":
        return f"1.2.826.0.1.3680043.10.999.{index}"
    if vr in ("DS", "IS"):
        return str(7_310_000 + index)
    if vr == "AS":
        return f"{index % 1000:03d}Y"
    if vr in ("US", "SS", "UL", "SL", "SV", "UV"):
        return 7000 + index
    if vr in ("FL", "FD"):
        return 7000.5 + index
    if vr in ("OB", "OW", "UN"):
        return f"PHIBYTES{index:06d}".encode()
    if vr == "UR":
        return f"http://phi{index}.example.org"
    if vr == "PN":
        return f"PHI^NAME{index:05d}"
    return f"PHI{vr}{index:05d}"


def plant_table(ds: Dataset) -> list[tuple[int, str, object]]:
    """Put a distinct value in every Table E.1-1 attribute; return what was put. Attributes newer
    than pydicom's dictionary (25 of the 2026c table, all to be removed) go in by tag number as
    UN, as a file from a newer writer reaches pydicom."""
    exact, masked = table()
    tags = sorted(tag for tag in exact if tag >> 16 not in (0x0000, 0x0002))
    tags += [0x50003000, 0x60004000, 0x60003000]  # curve data, overlay comments, overlay data
    assert all(
        any(t >> 16 & m[2] == m[0] and t & m[3] == m[1] & m[3] for m in masked) for t in tags[-3:]
    )
    planted: list[tuple[int, str, object]] = []
    for index, tag in enumerate(tags, start=1):
        try:
            vr = dictionary_VR(tag).split(" or ")[0]
        except KeyError:  # newer than pydicom's dictionary
            vr = "UN"
        if vr == "SQ":
            item = Dataset()
            item.PersonName = _value("PN", index)
            item.ReferencedSOPInstanceUID = _value("UI", index)
            ds.add_new(tag, vr, [item])
            planted += [(tag, "PN", item.PersonName), (tag, "UI", item.ReferencedSOPInstanceUID)]
        else:
            value = _value(vr, index)
            ds.add_new(tag, vr, value)
            planted.append((tag, vr, value))
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return planted


def plant_private(ds: Dataset) -> list[str]:
    """Private tags at top level and inside a kept sequence item."""
    block = ds.private_block(0x0011, "PHI VENDOR CREATOR", create=True)
    block.add_new(0x10, "LO", "PHIPRIVATELO0001")
    block.add_new(0x11, "OB", b"PHIPRIVATEOB0002")
    item = ds.SequenceOfUltrasoundRegions[0]
    item.private_block(0x0013, "PHI NESTED CREATOR", create=True).add_new(
        0x10, "LO", "PHINESTED0003"
    )
    return [
        "PHI VENDOR CREATOR",
        "PHIPRIVATELO0001",
        "PHIPRIVATEOB0002",
        "PHI NESTED CREATOR",
        "PHINESTED0003",
    ]


def searchable(planted: list[tuple[int, str, object]]) -> list[bytes]:
    values = []
    for _, vr, value in planted:
        if vr not in SHORT_VRS:
            values.append(value if isinstance(value, bytes) else str(value).encode())
    return values


def assert_nothing_leaks(values: list[bytes], out_root: Path) -> None:
    files = [p for p in out_root.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        name = str(path.relative_to(out_root)).encode()
        leaked = [v for v in values if v in data or v in name]
        assert not leaked, f"{path.name} carries {leaked[:5]}"


def assert_short_values_gone(planted: list[tuple[int, str, object]], out: Dataset) -> None:
    for tag, vr, value in planted:
        if vr in SHORT_VRS and tag in out:
            assert out[tag].value != value, f"{tag:08X} kept its value"


def burn_codes(pixels: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` as raw gray values into row 2 (outside REGION) of every frame."""
    codes = np.frombuffer(text.encode(), dtype=np.uint8)
    pixels[:, 2, 1 : 1 + codes.size] = codes
    return pixels


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return tmp_path / "linkage" / "key.hex"


def test_generated_file_leaks_nothing(tmp_path: Path, key: Path) -> None:
    burned = "PHIBURNEDNAME^JANE 0001"
    pixels = burn_codes(pattern(3, 48, 64, 1, 255, seed=1), burned)
    ds = make_us(pixels)
    planted = plant_table(ds)
    private = plant_private(ds)
    raw = save(ds, tmp_path / "raw" / "Doe_Jane" / "scan.dcm")
    assert burned.encode() in raw.read_bytes()  # the burned text is there to find
    out = tmp_path / "results"
    run = deidentify(raw, out / "deid" / "seq", "--key", key, "--audit", out / "audit" / "seq.json")
    assert run.returncode == 0, run.stderr

    values = searchable(planted) + [v.encode() for v in private] + [burned.encode(), b"Doe"]
    assert all(value in raw.read_bytes() + bytes(raw) for value in values)  # all planted
    assert_nothing_leaks(values, out)
    deid = pydicom.dcmread(out / "deid" / "seq" / "000000.dcm")
    assert_short_values_gone(planted, deid)
    unknown = [tag for tag, _, _ in planted if not dictionary_has_tag(tag) | repeater_has_tag(tag)]
    assert len(unknown) == 25 and not [tag for tag in unknown if tag in deid]
    assert not any(elem.tag.is_private for elem in deid.iterall())
    inside = region_mask([REGION], 48, 64)
    np.testing.assert_array_equal(deid.pixel_array[:, inside], pixels[:, inside])
    assert not deid.pixel_array[:, ~inside].any()

    raw_id = next(value for tag, _, value in planted if tag == 0x00100020)
    patient = patient_pseudonym(load_or_create_key(key), str(raw_id))
    assert str(deid.PatientID) == str(deid.PatientName) == patient
    assert deid.PatientIdentityRemoved == "YES" and deid.BurnedInAnnotation == "NO"
    codes = [item.CodeValue for item in deid.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113101", "113107"]
    assert deid.file_meta.MediaStorageSOPInstanceUID == deid.SOPInstanceUID
    assert deid.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian

    audit = json.loads((out / "audit" / "seq.json").read_text())
    [record] = audit["files"]
    actions = {entry["tag"]: entry["action"] for entry in record["actions"]}
    assert actions["(0010,0020)"] == "pseudonymised"
    assert actions["(0011,1010)"] == "removed"
    assert actions["(0020,000D)"] == "UID-replaced"
    assert actions["(0008,0020)"] == "date-shifted"
    assert record["pixels"]["regions"] == [list(REGION)]


def test_real_ultrasound_cine_leaks_nothing(tmp_path: Path, key: Path) -> None:
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("examples_ybr_color.dcm"))
    original_uids = [ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID]
    planted = plant_table(ds)
    private = plant_private(ds)
    raw = save(ds, tmp_path / "raw" / "in.dcm")
    out = tmp_path / "results"
    run = deidentify(raw, out / "seq.dcm", "--key", key, "--audit", out / "seq.json")
    assert run.returncode == 0, run.stderr

    values = searchable(planted) + [v.encode() for v in private]
    assert all(value in raw.read_bytes() for value in values)  # all planted
    assert_nothing_leaks(values + [uid.encode() for uid in original_uids], out)
    deid = pydicom.dcmread(out / "seq.dcm")
    assert_short_values_gone(planted, deid)
    assert deid.PhotometricInterpretation == "RGB" and deid.NumberOfFrames == 30
    before = decode_frames(pydicom.dcmread(raw), raw)  # YBR_FULL_422 JPEG decoded to RGB
    # libjpeg-turbo against pydicom's default plugin (libjpeg 9): lossy data, two valid decoders
    assert np.abs(before.astype(int) - pixel_array(raw)).max() <= 3
    inside = region_mask([(84, 31, 319, 239)], 240, 320)  # the file's region, clipped
    assert not deid.pixel_array[:, ~inside].any()
    # The scanner burned text inside its own region: "TIS 0.7" at the right, a menu bar below.
    for x0, y0, x1, y1 in [(300, 83, 317, 96), (90, 228, 270, 238)]:
        assert before[:, y0 : y1 + 1, x0 : x1 + 1].max() > 60
        assert not deid.pixel_array[:, y0 : y1 + 1, x0 : x1 + 1].any()
    blanked = region_mask(json.loads((out / "seq.json").read_text())["files"][0]["pixels"]
                          ["burned_in_text"]["blanked"], 240, 320)  # fmt: skip
    assert blanked.sum() < 0.1 * inside.sum()  # the tissue stays
    kept = inside & ~blanked
    np.testing.assert_array_equal(deid.pixel_array[:, kept], before[:, kept])


def test_simulated_files_leak_nothing(tmp_path: Path, key: Path) -> None:
    """Every file of a small `dynbus simulate` study, with the table and private tags planted."""
    raw_dir = tmp_path / "raw"
    simulate = [sys.executable, "-m", "dynbus", "simulate", "--out", str(raw_dir), "--seed", "5",
                "--patients", "2", "--config",
                '{"simulate": {"frames": [4, 5], "rows": 128, "columns": 160}}']  # fmt: skip
    subprocess.run(simulate, check=True, capture_output=True)
    files = sorted(raw_dir.rglob("*.dcm"))
    assert len(files) >= 2
    for index, path in enumerate(files):
        ds = pydicom.dcmread(path)
        banner = (str(ds.PatientName).replace("^", " "), str(ds.PatientID))
        planted = plant_table(ds)
        private = plant_private(ds)
        raw = save(ds, tmp_path / "planted" / ds.PatientName.family_name / path.name)
        out = tmp_path / "results" / f"seq{index}"
        run = deidentify(raw, out / "deid.dcm", "--key", key, "--audit", out / "audit.json")
        assert run.returncode == 0, run.stderr

        values = searchable(planted) + [v.encode() for v in private]
        values += [ds.PatientName.family_name.encode(), path.stem.encode()]
        assert_nothing_leaks(values, out)
        deid = pydicom.dcmread(out / "deid.dcm")
        assert_short_values_gone(planted, deid)
        before = decode_frames(pydicom.dcmread(raw), raw)
        inside = region_mask(ultrasound_regions(ds), ds.Rows, ds.Columns)
        np.testing.assert_array_equal(deid.pixel_array[:, inside], before[:, inside])
        assert not deid.pixel_array[:, ~inside].any(), f"banner of {banner} not blanked"
        assert before[:, ~inside].any(), "the simulated banner is outside the regions"
        if index == 0:  # the same file with a region over the whole frame: the banner is found
            region = ds.SequenceOfUltrasoundRegions[0]
            top = int(region.RegionLocationMinY0)
            region.RegionLocationMinX0 = region.RegionLocationMinY0 = 0
            region.RegionLocationMaxX1, region.RegionLocationMaxY1 = ds.Columns - 1, ds.Rows - 1
            whole = save(ds, tmp_path / "whole" / "seq.dcm")
            run = deidentify(whole, out / "whole.dcm", "--key", key)
            assert run.returncode == 0, run.stderr
            banner = (slice(None), slice(0, top - 2))
            assert pixel_array(whole)[banner].max() > 150  # name, id, date (JPEG: faint noise)
            assert pydicom.dcmread(out / "whole.dcm").pixel_array[banner].max() < 40


def _study_files(tmp_path: Path) -> tuple[Path, Path]:
    study = pydicom.uid.generate_uid()
    first = make_us(pattern(2, 48, 64, 1, 255, seed=3), study_uid=study)
    second = make_us(pattern(2, 48, 64, 1, 255, seed=4), study_uid=study)
    second.StudyDate = "20210310"
    reference = Dataset()
    reference.ReferencedSOPClassUID = first.SOPClassUID
    reference.ReferencedSOPInstanceUID = first.SOPInstanceUID
    second.ReferencedImageSequence = [reference]
    return save(first, tmp_path / "a.dcm"), save(second, tmp_path / "b.dcm")


def test_uids_and_dates_consistent_across_files_and_runs(tmp_path: Path, key: Path) -> None:
    first, second = _study_files(tmp_path)
    assert deidentify(first, tmp_path / "a_out.dcm", "--key", key).returncode == 0
    assert deidentify(second, tmp_path / "b_out.dcm", "--key", key).returncode == 0
    a, b = (pydicom.dcmread(tmp_path / name) for name in ("a_out.dcm", "b_out.dcm"))
    assert a.StudyInstanceUID == b.StudyInstanceUID != pydicom.dcmread(first).StudyInstanceUID
    assert b.ReferencedImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    assert b.ReferencedImageSequence[0].ReferencedSOPClassUID == a.SOPClassUID  # well-known
    shift = date_shift_days(load_or_create_key(key), "PAT-0001", 365)
    expected = dt.date(2021, 3, 4) + dt.timedelta(days=shift)
    assert a.StudyDate == expected.strftime("%Y%m%d")
    assert (dt.datetime.strptime(b.StudyDate, "%Y%m%d").date() - expected).days == 6


def test_same_key_same_bytes_other_key_other_uids(tmp_path: Path, key: Path) -> None:
    first, second = _study_files(tmp_path)
    for name in ("x", "y"):
        run = deidentify(first, second, tmp_path / name, "--key", key)
        assert run.returncode == 0, run.stderr
    for name in ("000000.dcm", "000001.dcm"):
        assert (tmp_path / "x" / name).read_bytes() == (tmp_path / "y" / name).read_bytes()
    assert deidentify(first, tmp_path / "z.dcm", "--key", tmp_path / "other.hex").returncode == 0
    z = pydicom.dcmread(tmp_path / "z.dcm")
    assert z.SOPInstanceUID != pydicom.dcmread(tmp_path / "x" / "000000.dcm").SOPInstanceUID


def test_dates_remove_mode(tmp_path: Path, key: Path) -> None:
    first, _ = _study_files(tmp_path)
    run = deidentify(
        first, tmp_path / "out.dcm", "--key", key, "--config", '{"deid": {"dates": "remove"}}'
    )
    assert run.returncode == 0, run.stderr
    out = pydicom.dcmread(tmp_path / "out.dcm")
    assert out.StudyDate == "" and out.LongitudinalTemporalInformationModified == "REMOVED"
    assert [item.CodeValue for item in out.DeidentificationMethodCodeSequence] == [
        "113100",
        "113101",
    ]


def test_no_regions_needs_fallback_box(tmp_path: Path, key: Path) -> None:
    pixels = pattern(2, 48, 64, 1, 255, seed=5)
    raw = save(make_us(pixels, regions=None), tmp_path / "noregions.dcm")
    run = deidentify(raw, tmp_path / "out.dcm", "--key", key)
    assert run.returncode == 2 and f"{raw}: no SequenceOfUltrasoundRegions" in run.stderr
    assert not (tmp_path / "out.dcm").exists()
    box = '{"deid": {"fallback_box": [4, 5, 30, 20]}}'
    assert deidentify(raw, tmp_path / "out.dcm", "--key", key, "--config", box).returncode == 0
    out = pydicom.dcmread(tmp_path / "out.dcm").pixel_array
    inside = region_mask([(4, 5, 30, 20)], 48, 64)
    np.testing.assert_array_equal(out[:, inside], pixels[:, inside])
    assert not out[:, ~inside].any()


NAME = "PHINAME DOE"


def ocr_text(frame: np.ndarray) -> str:
    """What the locked OCR engine reads in a gray frame."""
    found, _ = engine()(np.repeat(frame[..., None], 3, axis=-1))
    return " ".join(text for _, text, _ in found or [])


def burned_cine(regions: list[tuple[int, int, int, int]]) -> tuple[Dataset, np.ndarray]:
    """A moving 10-frame cine with NAME burned in over the tissue at the top; its text mask."""
    frames = pattern(10, 96, 128, 1, 160, seed=7)
    before = frames.copy()
    burn_text(frames, NAME, (4, 3))
    return make_us(frames, regions=regions), (frames != before).any(axis=0)


def _run_burned(tmp_path: Path, key: Path, regions: list, config: str = "{}") -> tuple:
    ds, text = burned_cine(regions)
    raw = save(ds, tmp_path / "raw" / "Doe_Jane.dcm")
    out, audit = tmp_path / "out.dcm", tmp_path / "audit.json"
    run = deidentify(raw, out, "--key", key, "--audit", audit, "--config", config)
    return raw, out, audit, text, run


@pytest.mark.parametrize(
    "regions",
    [[(0, 0, 127, 95)], [(0, 20, 127, 95), (0, 0, 127, 19)]],
    ids=["region-covers-frame", "second-region-covers-banner"],
)
def test_text_inside_the_regions_is_found_and_blanked(tmp_path: Path, key: Path, regions) -> None:
    raw, out, audit_path, text, run = _run_burned(tmp_path, key, regions)
    assert run.returncode == 0, run.stderr
    before, after = pixel_array(raw), pydicom.dcmread(out).pixel_array
    rows, columns = np.nonzero(text)
    box = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
    assert before[(slice(None), *box)].min(axis=0).max() == 255  # the name is burned in
    assert not after[(slice(None), *box)].any()  # ... and gone
    np.testing.assert_array_equal(after[:, 30:], before[:, 30:])  # tissue below: untouched
    assert pydicom.dcmread(out).BurnedInAnnotation == "NO"
    audit_text = audit_path.read_text()
    assert "PHINAME" not in audit_text and "DOE" not in audit_text.upper().replace("DOE_", "")
    check = json.loads(audit_text)["files"][0]["pixels"]["burned_in_text"]
    assert check["mode"] == "blank" and check["checked"] and check["blanked"]
    assert check["ocr"] == require_ocr() and check["text_areas"]
    assert "PHINAME" in ocr_text(before[0]) and "PHINAME" not in ocr_text(after[0])


def test_static_cue_alone_without_ocr(tmp_path: Path, key: Path) -> None:
    config = '{"deid": {"ocr": false}}'
    raw, out, audit_path, text, run = _run_burned(tmp_path, key, [(0, 0, 127, 95)], config)
    assert run.returncode == 0, run.stderr
    assert not pydicom.dcmread(out).pixel_array[:, text].any()
    check = json.loads(audit_path.read_text())["files"][0]["pixels"]["burned_in_text"]
    assert check["ocr"] == "not run: deid.ocr false" and check["checked"]
    assert pydicom.dcmread(out).BurnedInAnnotation == "NO"


def test_single_frame_text_is_found_by_ocr(tmp_path: Path, key: Path) -> None:
    """No static cue in one frame: OCR of the whole kept area finds the name, nothing else."""
    frames = pattern(1, 96, 128, 1, 160, seed=9)
    before = frames.copy()
    burn_text(frames, "PHINAME", (4, 40))  # one word: one frame gives OCR no second view
    text = (frames != before).any(axis=0)
    raw = save(make_us(frames, regions=[(0, 0, 127, 95)]), tmp_path / "raw.dcm")
    run = deidentify(raw, tmp_path / "out.dcm", "--key", key, "--audit", tmp_path / "a.json")
    assert run.returncode == 0, run.stderr
    after = pydicom.dcmread(tmp_path / "out.dcm")
    assert not after.pixel_array[text].any() and after.BurnedInAnnotation == "NO"
    check = json.loads((tmp_path / "a.json").read_text())["files"][0]["pixels"]["burned_in_text"]
    assert check["cue"].startswith("none: 1 frame") and check["checked"]
    assert region_mask(check["blanked"], 96, 128).sum() < 0.2 * 96 * 128  # only the words


def test_error_mode_names_the_file(tmp_path: Path, key: Path) -> None:
    config = '{"deid": {"burned_in_text": "error", "ocr": false}}'
    raw, out, _, _, run = _run_burned(tmp_path, key, [(0, 0, 127, 95)], config)
    assert run.returncode == 2
    assert f"{raw}: burned-in" in run.stderr.strip().splitlines()[-1]
    assert "blank" in run.stderr and "Traceback" not in run.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("frames", "config", "why"),
    [
        (10, '{"deid": {"burned_in_text": "off"}}', "deid.burned_in_text: off"),
        (1, '{"deid": {"ocr": false}}',
         "none: 1 frame(s), 100% of bright pixels still; OCR not run: deid.ocr false"),
    ],
    ids=["check-off", "single-frame-without-ocr"],
)  # fmt: skip
def test_burned_in_annotation_yes_unless_checked(
    tmp_path: Path, key: Path, frames: int, config: str, why: str
) -> None:
    """Unchecked files keep BurnedInAnnotation YES, get a console line and the audit's list."""
    ds = make_us(pattern(frames, 48, 64, 1, 160, seed=2), regions=[(0, 0, 63, 47)])
    raw = save(ds, tmp_path / "raw.dcm")
    run = deidentify(raw, tmp_path / "out.dcm", "--key", key, "--audit", tmp_path / "a.json",
                     "--config", config)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert pydicom.dcmread(tmp_path / "out.dcm").BurnedInAnnotation == "YES"
    audit = json.loads((tmp_path / "a.json").read_text())
    assert audit["files"][0]["pixels"]["burned_in_text"]["checked"] is False
    assert audit["burned_in_text_not_checked"] == ["out.dcm"]
    assert run.stderr.splitlines() == [
        f"dynbus deidentify: {raw}: burned-in text not checked ({why}); "
        "written with BurnedInAnnotation YES"
    ]


def test_preamble_overlays_unknown_tags_and_text_value_removed(tmp_path: Path, key: Path) -> None:
    ds = make_us(pattern(3, 48, 64, 1, 255, seed=6))
    for group in (0x6000, 0x6002):
        ds.add_new((group << 16) | 0x0022, "LO", f"PHIOVERLAYDESC{group:04X}")
        ds.add_new((group << 16) | 0x1500, "LO", f"PHIOVERLAYLABEL{group:04X}")
    ds.add_new(0x00189FF0, "LO", "PHIUNKNOWNPUBLIC")  # public (even group), in no dictionary
    ds.TextValue = "PHITEXTVALUE Jane Doe"
    raw = save(ds, tmp_path / "raw.dcm")
    data = bytearray(raw.read_bytes())
    data[:128] = b"PHIPREAMBLE Jane Doe".ljust(128, b"\x01")
    raw.write_bytes(bytes(data))
    out = tmp_path / "out.dcm"
    run = deidentify(raw, out, "--key", key, "--audit", tmp_path / "a.json")
    assert run.returncode == 0, run.stderr
    written = out.read_bytes()
    assert written[:128] == bytes(128) and written[128:132] == b"DICM"
    assert b"PHI" not in written
    deid = pydicom.dcmread(out)
    assert not [elem.tag for elem in deid if elem.tag >> 16 & 0xFF00 == 0x6000]
    assert 0x00189FF0 not in deid and "TextValue" not in deid
    actions = {
        entry["tag"]: entry["action"]
        for entry in json.loads((tmp_path / "a.json").read_text())["files"][0]["actions"]
    }
    for tag in ("(6000,0022)", "(6002,1500)", "(0018,9FF0)", "(0040,A160)"):
        assert actions[tag] == "removed: not in Table E.1-1, not on the keep-list"


@pytest.mark.parametrize("seed", range(4))
def test_mask_spans_cover_exactly_the_mask(seed: int) -> None:
    """Blanking by rectangles sets the pixels a boolean index sets, for unions of boxes (what
    the cleaner blanks) and for arbitrary masks."""
    rng = np.random.default_rng(seed)
    rows, columns = 40, 56
    boxes = [tuple(int(v) for v in rng.integers(0, 40, 4)) for _ in range(3)]
    masks = [
        ~region_mask(
            [(min(a, c), min(b, d), max(a, c), max(b, d)) for a, b, c, d in boxes], rows, columns
        ),
        rng.random((rows, columns)) < 0.5,
        np.zeros((rows, columns), dtype=bool),
        np.ones((rows, columns), dtype=bool),
    ]
    for where in masks:
        covered = np.zeros_like(where)
        for row0, row1, column0, column1 in mask_spans(where):
            assert not covered[row0:row1, column0:column1].any()  # no overlaps
            covered[row0:row1, column0:column1] = True
        np.testing.assert_array_equal(covered, where)


def _dt_values(ds: Dataset) -> list[str]:
    return [str(elem.value) for elem in ds.iterall() if elem.VR == "DT" and elem.value]


def test_shifted_datetimes_keep_no_time_of_day(tmp_path: Path, key: Path) -> None:
    ds = make_us(pattern(2, 48, 64, 1, 255, seed=8))
    ds.AcquisitionDateTime = "20210304145628.35+0800"
    ds.ObservationDateTime = "20210304101112"
    ds.SequenceOfUltrasoundRegions[0].DateTime = "20210304093017.123456-0500"
    raw = save(ds, tmp_path / "raw.dcm")
    assert deidentify(raw, tmp_path / "out.dcm", "--key", key).returncode == 0
    out = pydicom.dcmread(tmp_path / "out.dcm")
    shift = date_shift_days(load_or_create_key(key), "PAT-0001", 365)
    day = (dt.date(2021, 3, 4) + dt.timedelta(days=shift)).strftime("%Y%m%d")
    assert out.AcquisitionDateTime == out.ObservationDateTime == day
    assert out.SequenceOfUltrasoundRegions[0].DateTime == day
    data = (tmp_path / "out.dcm").read_bytes()
    for time in (b"145628", b"101112", b"093017", b"+0800", b"-0500"):
        assert time not in data


def test_real_palette_cine_datetime_loses_its_time(tmp_path: Path, key: Path) -> None:
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("examples_palette.dcm"))
    assert ds.AcquisitionDateTime.startswith(ds.AcquisitionDate + "145628")
    ds.PatientID = "PAL-0001"
    raw = save(ds, tmp_path / "palette.dcm")
    box = '{"deid": {"fallback_box": [0, 0, 10000, 10000]}}'
    run = deidentify(raw, tmp_path / "out.dcm", "--key", key, "--config", box)
    assert run.returncode == 0, run.stderr
    out = pydicom.dcmread(tmp_path / "out.dcm")
    assert _dt_values(out) and all(len(value) == 8 for value in _dt_values(out))
    assert b"145628" not in (tmp_path / "out.dcm").read_bytes()


@pytest.mark.parametrize("real", [True, False], ids=["pydicom-rgb-8bit", "gray-16bit"])
def test_big_endian_input_is_read_and_stored_little_endian(
    tmp_path: Path, key: Path, real: bool
) -> None:
    if real:
        raw = tmp_path / "be.dcm"
        ds = pydicom.dcmread(pydicom.data.get_testdata_file("ExplVR_BigEnd.dcm"))
        assert ds.Modality == "US"
        ds.PatientID = "BE-0001"
        ds.save_as(raw)
    else:
        pixels = pattern(2, 48, 64, 1, 4000, seed=9).astype(np.uint16)
        raw = save(to_big_endian(make_us(pixels, regions=None)), tmp_path / "be.dcm")
    source = pydicom.dcmread(raw)
    assert source.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRBigEndian
    if not real:
        np.testing.assert_array_equal(source.pixel_array, pixels)
    box = '{"deid": {"fallback_box": [0, 0, 10000, 10000], "burned_in_text": "off"}}'
    run = deidentify(raw, tmp_path / "out.dcm", "--key", key, "--config", box)
    assert run.returncode == 0, run.stderr
    out = pydicom.dcmread(tmp_path / "out.dcm")
    assert out.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    np.testing.assert_array_equal(out.pixel_array, source.pixel_array)


def test_32_bit_pixels_are_refused_in_one_line(tmp_path: Path, key: Path) -> None:
    ds = make_us(pattern(1, 8, 8, 1, 255, seed=3))
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.PixelData = np.arange(2 * 64, dtype="<u4").tobytes()
    raw = save(ds, tmp_path / "wide.dcm")
    run = deidentify(raw, tmp_path / "out.dcm", "--key", key)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"dynbus deidentify: error: {raw}: BitsAllocated 32: only 8- or 16-bit pixel data is "
        "supported"
    ]
    assert not (tmp_path / "out.dcm").exists()
