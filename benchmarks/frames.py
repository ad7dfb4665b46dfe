"""Time ``dynbus frames`` (whole process) against the naive baseline on two inputs of one cine.

- pipeline path: the uncompressed (Explicit VR Little Endian, RGB) DICOM that ``dynbus
  deidentify`` writes, which is what ``frames`` reads in the workflow;
- JPEG path: the JPEG Baseline YBR_FULL_422 original (``dynbus frames`` on raw scanner files).

Baseline: ``pydicom.dcmread(f).pixel_array`` -> gray (PIL ``convert("L")``) -> ``Image.save``
PNG with defaults. Each pair runs interleaved in one run on the same synthetic ultrasound cine
(default 100 frames of 600 x 800). Prints both times and the ratio per input.

    python benchmarks/frames.py [--frames 100] [--rows 600] [--columns 800] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
import simplejpeg
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)
from scipy.ndimage import gaussian_filter


def make_cine(path: Path, frames: int, rows: int, columns: int) -> None:
    """Speckled gray image area on black, a coloured banner on top: JPEG Baseline YBR_FULL_422."""
    rng = np.random.default_rng(0)
    tissue = gaussian_filter(rng.random((rows + frames * 2, columns)), 3)
    tissue = (tissue - tissue.min()) / np.ptp(tissue)
    encoded = []
    for index in range(frames):
        speckle = rng.rayleigh(0.5, (rows, columns))
        gray = np.clip(tissue[index * 2 : index * 2 + rows] * speckle * 180, 0, 255)
        outside = np.ones((rows, columns), dtype=bool)
        outside[rows // 10 : rows * 19 // 20, columns * 3 // 20 : columns * 17 // 20] = False
        gray[outside] = 0  # the image area of a scanner screen is a box on black
        rgb = np.repeat(gray[:, :, None], 3, axis=2).astype(np.uint8)
        rgb[: rows // 12, :, 2] = 200  # a blue banner, as scanners burn in
        encoded.append(simplejpeg.encode_jpeg(rgb, 90, "RGB", "422"))
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = UltrasoundMultiFrameImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.Modality, ds.PatientID, ds.FrameTime = "US", "BENCH", "33.3"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "YBR_FULL_422", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)


def naive(path: Path, outdir: Path) -> None:
    """The baseline every user writes first."""
    outdir.mkdir()
    for index, frame in enumerate(pydicom.dcmread(path).pixel_array):
        Image.fromarray(frame).convert("L").save(outdir / f"{index:06d}.png")


def dynbus_frames(path: Path, outdir: Path) -> None:
    """The whole ``dynbus frames`` process, interpreter start included."""
    command = [sys.executable, "-m", "dynbus", "frames", str(path), str(outdir)]
    subprocess.run(command, check=True)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (load on a shared machine aside)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def read_pngs(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))])


def uncompressed(jpeg: Path, path: Path) -> None:
    """The cine as ``dynbus deidentify`` leaves it: decoded RGB, Explicit VR Little Endian."""
    ds = pydicom.dcmread(jpeg)
    rgb = ds.pixel_array
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PhotometricInterpretation = "RGB"
    ds.PixelData = rgb.tobytes()
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)


def compare(cine: Path, root: Path, repeat: int) -> None:
    """Best-of-``repeat`` wall and CPU times of naive and dynbus, alternating; print the ratio."""
    best = {"naive": float("inf"), "dynbus": float("inf")}
    cpu = dict(best)
    for run in range(repeat):
        for name, function in (("naive", naive), ("dynbus", dynbus_frames)):
            start, start_cpu = time.perf_counter(), cpu_seconds()
            function(cine, root / f"{cine.stem}-{name}{run}")
            best[name] = min(best[name], time.perf_counter() - start)
            cpu[name] = min(cpu[name], cpu_seconds() - start_cpu)
    ours, theirs = (read_pngs(root / f"{cine.stem}-{name}0") for name in ("dynbus", "naive"))
    difference = np.abs(ours.astype(int) - theirs).max()
    for name, label in (("naive", "naive (pixel_array -> L -> PNG)"), ("dynbus", "dynbus frames")):
        print(f"  {label:<32} wall {best[name]:6.2f} s   cpu {cpu[name]:6.2f} s")
    print(
        f"  speed-up: wall {best['naive'] / best['dynbus']:.1f}x, "
        f"cpu {cpu['naive'] / cpu['dynbus']:.1f}x  (max gray difference {difference})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--columns", type=int, default=800)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs each")
    args = parser.parse_args()
    print(f"cine: {args.frames} frames {args.rows}x{args.columns}, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        jpeg, native = root / "jpeg.dcm", root / "deidentified.dcm"
        make_cine(jpeg, args.frames, args.rows, args.columns)
        uncompressed(jpeg, native)
        print("pipeline path: de-identified input (Explicit VR Little Endian, RGB)")
        compare(native, root, args.repeat)
        print("JPEG path: raw input (JPEG Baseline YBR_FULL_422)")
        compare(jpeg, root, args.repeat)


if __name__ == "__main__":
    main()
