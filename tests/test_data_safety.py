"""The user's data is never an output; no patient name leaves ``linkage/`` and the raw folder.

Real Snakemake runs: ``-F`` up to the prepared frames (``prepare`` opens the raw files) on a
real-data config (with and without the forgotten ``simulate.enabled: false``) must leave the raw
files, annotations and key byte-identical; the manifest re-runs when a raw file is added, removed
or changed; unsafe configs are refused at start. The tiny study's two complete runs
(tests/conftest.py: the user's own data with patient names planted in the raw folder's name, its
folder names and file names, and the demo) and the first's report.html are scanned, names and
contents, ``.snakemake/`` included, and their consoles, for every value the simulator planted
(tests/phi.py says which variants, and what is excluded); so is a run reading a
``source.coco_json`` outside the raw folder, under a patient's name.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from dynbus.deid.pseudonyms import create_key, demo_key, load_or_create_key
from dynbus.errors import DynbusError
from dynbus.simulate.study import identities
from tests.conftest import (
    PLANTED_RAW_DIR,
    SMALL_SIMULATE,
    TINY,
    copy_tree,
    run_workflow,
    tiny_config,
)
from tests.phi import found_in, needles_for, phi_found_under, planted_phi

SIMULATE_SEED = tiny_config()["simulate"]["seed"]  # the seed of every study simulated here
OWN_DATA = {"raw_dir": "mydata", "annotations": "mydata/annotations.csv"}


def test_a_key_file_is_never_overwritten(tmp_path):
    key = load_or_create_key(tmp_path / "key.hex")
    assert load_or_create_key(tmp_path / "key.hex") == key
    create_key(tmp_path / "key.hex", key)
    with pytest.raises(DynbusError, match="key.hex: holds another linkage key"):
        create_key(tmp_path / "key.hex", demo_key(1))
    assert load_or_create_key(tmp_path / "key.hex") == key
    assert stat.S_IMODE((tmp_path / "key.hex").stat().st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["key.hex"]


def snapshot(*paths: Path) -> dict[str, bytes]:
    """Every file's bytes under (or at) ``paths``, by path."""
    files = [p for path in paths for p in ([path] if path.is_file() else path.rglob("*"))]
    return {str(file): file.read_bytes() for file in files if file.is_file()}


def write_config(workdir: Path, **settings) -> Path:
    """A tiny config in ``workdir`` with ``settings`` on top."""
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump({**tiny_config(), **settings}))
    return path


@pytest.fixture(scope="module")
def user_study(small_raw, tmp_path_factory) -> Path:
    """A work folder holding the user's raw folder ``mydata`` and their random key."""
    workdir = tmp_path_factory.mktemp("user")
    copy_tree(small_raw, workdir / "mydata")
    load_or_create_key(workdir / "linkage" / "key.hex")
    return workdir


@pytest.fixture(scope="module")
def prepared(user_study) -> Path:
    """The user's study run up to the re-keyed annotations, with simulate disabled."""
    config = write_config(user_study, **OWN_DATA, simulate={"enabled": False})
    result = run_workflow(user_study, "results/annotations.csv", configfile=config)
    assert result.returncode == 0, result.stderr[-3000:]
    return config


def test_forced_run_with_simulate_left_enabled_refuses_and_keeps_the_data(user_study, tmp_path):
    before = snapshot(user_study / "mydata", user_study / "linkage" / "key.hex")
    config = write_config(tmp_path, **OWN_DATA)  # simulate.enabled: true, the default
    result = run_workflow(user_study, "-F", configfile=config)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "config error" in line]
    assert len(errors) == 1 and "set simulate.enabled: false" in errors[0], result.stderr
    assert snapshot(user_study / "mydata", user_study / "linkage" / "key.hex") == before
    assert not (user_study / "demo").exists()


def test_forced_run_on_own_data_leaves_raw_annotations_and_key_byte_identical(user_study, prepared):
    before = snapshot(user_study / "mydata", user_study / "linkage" / "key.hex")
    targets = ["results/annotations.csv", "results/prepared/manifest.csv"]  # prepare reads raw
    result = run_workflow(user_study, "-F", *targets, configfile=prepared)
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    assert "Forced execution" in console
    for rule in (
        "checkpoint manifest",
        "rule prepare",
        "rule collect_prepared",
        "rule annotations",
    ):
        assert rule in console, rule
    assert snapshot(user_study / "mydata", user_study / "linkage" / "key.hex") == before
    links = sorted((user_study / "linkage" / "raw").rglob("*.dcm"))
    assert [link.resolve() for link in links if link.is_symlink()] == [
        link.resolve() for link in links
    ]
    assert {link.resolve() for link in links} == {
        path.resolve() for path in (user_study / "mydata").rglob("*.dcm")
    }


def dry_run_jobs(workdir: Path, config: Path) -> str:
    """The console of ``snakemake -n`` for the annotations."""
    result = run_workflow(workdir, "-n", "results/annotations.csv", configfile=config)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def test_manifest_reruns_when_a_raw_file_is_added_removed_or_changed(
    user_study, prepared, tmp_path
):
    assert "Nothing to be done" in dry_run_jobs(user_study, prepared)
    patient = sorted(path for path in (user_study / "mydata").iterdir() if path.is_dir())[0]
    first, last = sorted(patient.glob("*.dcm"))[0], sorted(patient.glob("*.dcm"))[-1]
    added = patient / "LATE^EXPORT.dcm"
    shutil.copy(first, added)
    try:
        console = dry_run_jobs(user_study, prepared)
        assert "checkpoint manifest" in console and "Params have changed" in console
        assert patient.name not in console and "LATE^EXPORT" not in console
    finally:
        added.unlink()
    shutil.move(last, tmp_path / last.name)
    try:
        console = dry_run_jobs(user_study, prepared)
        assert "checkpoint manifest" in console and "Params have changed" in console
        assert patient.name not in console and last.stem not in console
    finally:
        shutil.move(tmp_path / last.name, last)
    info = first.stat()
    os.utime(first, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    try:
        assert "checkpoint manifest" in dry_run_jobs(user_study, prepared)
    finally:
        os.utime(first, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert "Nothing to be done" in dry_run_jobs(user_study, prepared)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"linkage": {"dir": "results/linkage"}}, "linkage.dir and results/, which holds outputs"),
        ({"linkage": {"dir": "."}}, "linkage.dir and results/, which holds outputs"),
        ({"linkage": {"key": "demo/key.hex"}}, "linkage.key must not be inside demo/"),
        ({"raw_dir": "results/raw"}, "raw_dir must not be inside results/"),
    ],
)
def test_unsafe_config_is_refused_at_start(tmp_path, settings, message):
    config = write_config(tmp_path, **OWN_DATA, simulate={"enabled": False})
    values = yaml.safe_load(config.read_text())
    for name, value in settings.items():
        values[name] = {**values[name], **value} if isinstance(value, dict) else value
    config.write_text(yaml.safe_dump(values))
    result = run_workflow(tmp_path, "-n", configfile=config)
    assert result.returncode != 0
    assert f"dynbus: config error: {message}" in result.stderr


def test_linkage_is_owner_only(tiny_runs):
    for workdir in tiny_runs:
        entries = [Path(root) / name for root, dirs, files in os.walk(workdir / "linkage")
                   for name in [*dirs, *files]]  # fmt: skip
        modes = {
            str(path.relative_to(workdir)): stat.S_IMODE(path.lstat().st_mode)
            for path in [workdir / "linkage", *entries]
            if not path.is_symlink()
        }
        assert "linkage/manifest.csv" in modes and "linkage/logs/prepare" in modes
        wrong = {path: oct(mode) for path, mode in modes.items()
                 if mode != (0o700 if (workdir / path).is_dir() else 0o600)}  # fmt: skip
        assert wrong == {}, workdir.name


def test_the_scan_finds_a_planted_value_in_any_variant_and_container(small_raw, tmp_path):
    needles = planted_phi(small_raw, SIMULATE_SEED, SMALL_SIMULATE["patients"])
    person = identities(SIMULATE_SEED, SMALL_SIMULATE["patients"])[0]
    family, given = person.name.split("=")[0].split("^")[:2]
    born = person.birth_date
    results = tmp_path / "run" / "results"
    results.mkdir(parents=True)
    (results / "clean.csv").write_text(f"score\n0.{person.patient_id}1\n1{person.serial}\n")
    assert phi_found_under(tmp_path / "run", needles) == []  # digits inside numbers are no hit
    (results / "table.csv").write_text(f"row,who\n1,{given.lower()} {family.lower()}\n")
    (results / f"{family.upper()}_{given.upper()}").mkdir()
    Image.new("L", (4, 4)).save(results / "plot.png", pnginfo=png_text(f"ID {person.patient_id}"))
    with zipfile.ZipFile(results / "model.pt", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.pkl", f"dob={born:%d.%m.%Y}")
    encoded = base64.b64encode(f"<p>{person.address.upper()}</p>".encode()).decode()
    (results / "report.html").write_text(f'<a href="data:text/html;base64,{encoded}">x</a>')
    found = phi_found_under(tmp_path / "run", needles)
    assert {path for path, _ in found} == {
        "results/table.csv", f"results/{family.upper()}_{given.upper()}", "results/plot.png",
        "results/model.pt", "results/report.html",
    }  # fmt: skip
    assert found_in(f"seen {person.phone}", needles) and found_in(person.serial, needles)


def png_text(text: str) -> PngInfo:
    """A compressed PNG text chunk (zTXt) ``Comment`` holding ``text``."""
    info = PngInfo()
    info.add_text("Comment", text, zip=True)
    return info


def test_no_patient_name_outside_linkage_and_the_raw_folder(tiny_study):
    needles = planted_phi(tiny_study.raw, SIMULATE_SEED, TINY["simulate"]["patients"])
    assert len(needles) > 500
    assert phi_found_under(tiny_study.own_data / PLANTED_RAW_DIR, needles), (
        "the scan must find the names in the raw folder"
    )
    report = tiny_study.own_data / "report.html"
    result = run_workflow(
        tiny_study.own_data, "--report", str(report), configfile=tiny_study.own_config
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tiny_study.own_data / ".snakemake" / "metadata").is_dir()
    assert phi_found_under(tiny_study.own_data, needles, {PLANTED_RAW_DIR, "linkage"}) == []
    assert found_in(tiny_study.consoles["own_data"] + result.stdout + result.stderr, needles) == []


def test_no_patient_name_of_the_demo_outside_linkage_and_demo(tiny_study):
    needles = planted_phi(
        tiny_study.demo / "demo" / "raw", SIMULATE_SEED, TINY["simulate"]["patients"]
    )
    assert len(needles) > 500
    assert phi_found_under(tiny_study.demo, needles, {"demo", "linkage"}) == []
    assert found_in(tiny_study.consoles["demo"], needles) == []


PLANTED_JSON_DIR = "ST_AGATHA^WINTERBOTTOM_19570312"  # a patient's name on the JSON's folder


def tiny_cocovid(workdir: Path) -> Path:
    """``workdir/rawframes``: two 2-frame sequences of 8 x 10 PNG frames; their COCO-VID JSON
    (returned) outside it, under a folder named after a patient."""
    data: dict = {"videos": [], "images": [], "annotations": []}
    for video in (1, 2):
        data["videos"].append({"id": video, "name": f"v{video}"})
        (workdir / "rawframes" / f"v{video}").mkdir(parents=True)
        for frame in (0, 1):
            name = f"v{video}/{frame:06d}.png"
            pixels = np.full((8, 10), 40 * video + frame, np.uint8)
            Image.fromarray(pixels).save(workdir / "rawframes" / name)
            image = {"id": len(data["images"]) + 1, "video_id": video, "frame_id": frame}
            data["images"].append({**image, "file_name": name, "width": 10, "height": 8})
    data["annotations"].append({"id": 1, "image_id": 1, "bbox": [1, 1, 3, 3], "instance_id": 1})
    path = workdir / PLANTED_JSON_DIR / "train.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    return path


def test_coco_json_outside_the_raw_folder_is_read_through_a_link(tmp_path):
    """Its path (relative to the working folder) reaches no command line, console, log or
    Snakemake record; editing the JSON re-runs the import."""
    coco = tiny_cocovid(tmp_path)
    (tmp_path / "settings").mkdir()  # the user's config names the JSON, of course
    config = write_config(
        tmp_path / "settings",
        raw_dir="rawframes",
        simulate={"enabled": False},
        source={"format": "cocovid", "coco_json": [f"{PLANTED_JSON_DIR}/train.json"],
                "patient": "sequence", "labels": []},
        deid={**tiny_config()["deid"], "fallback_box": [0, 0, 100000, 100000]},
    )  # fmt: skip
    result = run_workflow(
        tmp_path, "--printshellcmds", "results/annotations.csv", configfile=config
    )
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-3000:]
    assert len(pd.read_csv(tmp_path / "results" / "annotations.csv")) == 1
    assert (tmp_path / "linkage" / "source" / "coco_json" / "1.json").resolve() == coco
    assert (tmp_path / ".snakemake" / "metadata").is_dir()
    needles = needles_for({PLANTED_JSON_DIR, "WINTERBOTTOM"}, ())
    private = {PLANTED_JSON_DIR, "linkage", "rawframes", "settings"}
    assert phi_found_under(tmp_path, needles, private) == []
    assert found_in(console, needles) == []
    assert "Nothing to be done" in dry_run_jobs(tmp_path, config)
    data = json.loads(coco.read_text())
    data["annotations"][0]["bbox"] = [2, 2, 3, 3]
    coco.write_text(json.dumps(data))
    os.utime(coco, ns=(coco.stat().st_atime_ns, coco.stat().st_mtime_ns + 10**9))
    assert "checkpoint manifest" in dry_run_jobs(tmp_path, config)
