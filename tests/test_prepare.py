"""dynbus prepare: many sequences in one process, same outputs as deidentify + frames, each
sequence's failure on its own; the batch helper's sharding."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pydicom
import pytest
import yaml
from pydicom.uid import JPEGBaseline8Bit

from dynbus.batch import Outcome, run_batch, shards
from dynbus.errors import DynbusError
from tests.conftest import copy_tree, run_workflow, tiny_config

TINY = {"simulate": {"frames": [4, 4], "rows": 128, "columns": 128}}


def dynbus(*args: object) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "dynbus", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated raw study (2 patients), its manifests and links to its raw files."""
    root = tmp_path_factory.mktemp("study")
    assert dynbus("simulate", "--out", root / "raw", "--patients", "2", "--seed", "4",
                  "--config", json.dumps(TINY)).returncode == 0  # fmt: skip
    result = dynbus("manifest", root / "raw", "--key", root / "key.hex", "--private",
                    root / "private.csv", "--out", root / "manifest.csv",
                    "--links", root / "links")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return root


def prepare(study: Path, out: Path, *extra: object) -> subprocess.CompletedProcess[str]:
    return dynbus("prepare", "--links", study / "links", "--key", study / "key.hex",
                  "--out", out, *extra)  # fmt: skip


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def test_prepare_writes_what_deidentify_then_frames_write(study: Path, tmp_path: Path) -> None:
    result = prepare(study, tmp_path / "batch", "--threads", "2")
    assert result.returncode == 0, result.stderr
    private = pd.read_csv(study / "private.csv").sort_values(["sequence_id", "position"])
    sequences = sorted(set(private["sequence_id"]))
    assert len(sequences) >= 2
    record = pd.read_csv(tmp_path / "batch" / "record.csv")
    assert record["sequence_id"].tolist() == sequences
    assert set(record["status"]) == {"ok"}
    single = tmp_path / "single"
    for sequence_id, rows in private.groupby("sequence_id"):
        raw = [study / "raw" / name for name in rows["file"]]
        deid, frames = single / "deid" / sequence_id, single / "frames" / sequence_id
        audit = single / "audit" / f"{sequence_id}.json"
        assert dynbus("deidentify", *raw, deid, "--key", study / "key.hex",
                      "--audit", audit).returncode == 0  # fmt: skip
        assert dynbus("frames", deid, frames).returncode == 0
        n_frames = json.loads((frames / "meta.json").read_text())["n_frames"]
        assert record.set_index("sequence_id").loc[sequence_id, "n_frames"] == n_frames
    for part in ("deid", "audit", "frames"):
        assert tree(tmp_path / "batch" / part) == tree(single / part), part


def test_a_failing_sequence_is_reported_and_skipped_alone(study: Path, tmp_path: Path) -> None:
    private = pd.read_csv(study / "private.csv").sort_values(["sequence_id", "position"])
    broken_id = private["sequence_id"].iloc[0]
    raw = tmp_path / "raw"
    subprocess.run(["cp", "-r", study / "raw", raw], check=True)
    links = tmp_path / "links"
    subprocess.run(["cp", "-r", study / "links", links], check=True)
    broken = raw / private.loc[private["sequence_id"] == broken_id, "file"].iloc[-1]
    broken.write_bytes(broken.read_bytes()[:400])  # truncated after the manifest was made
    for link in links.rglob("*.dcm"):  # the copied links point at the copied raw files
        target = Path(os.readlink(link))
        link.unlink()
        link.symlink_to(raw / target.relative_to((study / "raw").resolve()))
    for mode, code in (("error", 2), ("skip", 0)):
        out = tmp_path / mode
        config = json.dumps({"on_bad_input": mode})
        result = dynbus("prepare", "--links", links, "--key", study / "key.hex", "--out", out,
                        "--threads", "2", "--config", config)  # fmt: skip
        assert result.returncode == code, result.stderr
        assert f"{broken_id}: " in result.stderr and "truncated" in result.stderr
        if mode == "error":
            assert not out.exists()  # nothing written when the run fails
            continue
        record = pd.read_csv(out / "record.csv").set_index("sequence_id")["status"]
        assert record[broken_id] == "failed"
        assert (record.drop(broken_id) == "ok").all()
        assert not (out / "deid" / broken_id).exists()
        assert not (out / "frames" / broken_id).exists()
        assert not (out / "audit" / f"{broken_id}.json").exists()
        for sequence_id in record.drop(broken_id).index:
            assert (out / "frames" / sequence_id / "meta.json").is_file()
        assert broken.name not in (out / "record.csv").read_text()
        gathered = tmp_path / "gathered"
        collected = dynbus("collect-prepared", out, "--manifest", study / "manifest.csv",
                           "--out", tmp_path / "prepared.csv",
                           "--report", tmp_path / "failed.csv", "--frames", gathered / "frames",
                           "--deid", gathered / "deid", "--audit", gathered / "audit")  # fmt: skip
        assert collected.returncode == 0, collected.stderr
        kept = pd.read_csv(tmp_path / "prepared.csv")
        assert sorted(kept["sequence_id"]) == sorted(record.drop(broken_id).index)
        assert pd.read_csv(tmp_path / "failed.csv")["sequence_id"].tolist() == [broken_id]
        # the prepared sequences' outputs, hard-linked (same files), the failed one absent
        names = sorted(kept["sequence_id"])
        assert sorted(p.name for p in (gathered / "frames").iterdir()) == names
        assert sorted(p.stem for p in (gathered / "audit").iterdir()) == names
        for kind in ("frames", "deid", "audit"):
            assert tree(gathered / kind) == tree(out / kind)
        shard_files = {path.stat().st_ino for path in out.rglob("*") if path.is_file()}
        for path in gathered.rglob("*"):
            assert path.is_dir() or path.stat().st_ino in shard_files, path


def test_collect_prepared_refuses_a_sequence_no_shard_prepared(study: Path, tmp_path: Path) -> None:
    private = pd.read_csv(study / "private.csv")
    first = sorted(set(private["sequence_id"]))[0]
    assert prepare(study, tmp_path / "part", "--sequences", first).returncode == 0
    result = dynbus("collect-prepared", tmp_path / "part", "--manifest", study / "manifest.csv",
                    "--out", tmp_path / "prepared.csv",
                    "--report", tmp_path / "failed.csv")  # fmt: skip
    assert result.returncode == 2
    assert "in no shard's record" in result.stderr
    assert not (tmp_path / "prepared.csv").exists()


def _work(sequence_id: str) -> int:
    if sequence_id == "bad":
        raise DynbusError("bad input")
    return len(sequence_id)


def _disk_full(sequence_id: str) -> int:
    if sequence_id == "late":
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as error:  # as pydicom re-raises a write error: new message, no errno
            raise OSError(f"With tag (7FE0,0010) got exception: {error}") from error
    return 1


@pytest.mark.parametrize("processes", [1, 2])
def test_run_batch_stops_on_a_full_disk(processes: int) -> None:
    with pytest.raises(OSError, match="No space left on device"):
        run_batch(_disk_full, ["early", "late", "later"], processes)


@pytest.mark.parametrize("processes", [1, 3])
def test_run_batch_isolates_failures(processes: int) -> None:
    outcomes = run_batch(_work, ["a", "bad", "ccc"], processes)
    assert [(o.sequence_id, o.frames, o.error) for o in outcomes] == [
        ("a", 1, ""), ("bad", 0, "bad input"), ("ccc", 3, "")]  # fmt: skip
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[0], Outcome)


def test_shards_cover_every_sequence_once() -> None:
    ids = [f"S{i:03d}" for i in range(10, 0, -1)]
    batches = shards(ids, 4)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sum(batches, []) == sorted(ids)
    with pytest.raises(DynbusError):
        shards(ids, 0)


def corrupt_jpeg_scan(raw: Path) -> Path:
    """Zero the entropy-coded data of a middle frame of the first JPEG Baseline file, keeping
    its size and mtime (a file changed on its share after the manifest listed it, which the
    manifest's digest of sizes and mtimes does not see). Returns the file."""
    for path in sorted(raw.rglob("*.dcm")):
        header = pydicom.dcmread(path, stop_before_pixels=True)
        if header.file_meta.TransferSyntaxUID != JPEGBaseline8Bit:
            continue
        data = bytearray(path.read_bytes())
        starts = [i for i in range(len(data) - 2) if data[i : i + 3] == b"\xff\xd8\xff"]
        start = starts[len(starts) // 2]
        scan = data.index(b"\xff\xda", start) + 20
        end = data.index(b"\xff\xd9", scan)
        data[scan:end] = bytes(end - scan)
        info = path.stat()
        path.write_bytes(bytes(data))
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        return path
    raise AssertionError("the simulated study has no JPEG Baseline file")


@pytest.mark.parametrize("mode", ["error", "skip"])
def test_a_sequence_that_fails_to_prepare_stops_the_run_or_is_left_out(
    tiny_raw: Path, tmp_path: Path, mode: str
) -> None:
    config = tiny_config()
    raw = copy_tree(tiny_raw / "raw", tmp_path / "raw")
    copy_tree(tiny_raw / "linkage", tmp_path / "linkage")
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump({
        **config, "raw_dir": "raw", "annotations": "raw/annotations.csv",
        "simulate": {**config["simulate"], "enabled": False}, "on_bad_input": mode,
    }))  # fmt: skip
    listed = run_workflow(tmp_path, "--until", "manifest", configfile=configfile)
    assert listed.returncode == 0, listed.stderr[-4000:]
    broken = corrupt_jpeg_scan(raw)
    result = run_workflow(tmp_path, "results/splits.csv", configfile=configfile)
    if mode == "error":
        assert result.returncode != 0
        log = (tmp_path / ".snakemake" / "log").glob("*.log")
        assert "Error in rule prepare" in "".join(path.read_text() for path in log)
        assert not list((tmp_path / "results" / "prepared").glob("[0-9]*"))
        return
    assert result.returncode == 0, result.stderr[-4000:]
    private = pd.read_csv(tmp_path / "linkage" / "manifest.csv", dtype={"file": str})
    broken_id = private.set_index("file").loc[broken.relative_to(raw).as_posix(), "sequence_id"]
    failed = pd.read_csv(tmp_path / "results" / "reports" / "failed_sequences.csv")
    assert failed["sequence_id"].tolist() == [broken_id]
    splits = pd.read_csv(tmp_path / "results" / "splits.csv")
    assert broken_id not in set(splits["sequence_id"])
    assert len(splits) == len(private["sequence_id"].unique()) - 1
    assert not (tmp_path / "results" / "frames" / broken_id).exists()
    assert broken.name not in failed.to_csv()
