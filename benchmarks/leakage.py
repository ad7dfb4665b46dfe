"""Detection rate and false alarms of the duplicate (leakage) check on altered copies.

On a study's frame folders (``--frames``, ``--manifest``: e.g. the demo's ``results/frames`` and
``results/manifest.csv``), the real check (``dynbus.dataset.duplicates.find_duplicates`` with the
default configuration) counts the false alarms: pairs of distinct sweeps, of one patient or of
two (and how many distinct pairs score above a few correlations). Then ``--sources`` sweeps,
evenly spread over the study, are each copied under every alteration of ``ALTERATIONS`` (crops
in pixels of a 128 x 160 frame, scaled to the frame size; with ``--size ROWSxCOLUMNS`` the
sweeps are first resized to that size; ``--no-check`` skips the count), and each copy is scored
against its sweep as the check scores a pair: the crop-tolerant correlation
(``dynbus.ingest.crop_match.sequence_similarity``) and the closest pHash distance. Prints, per
alteration, how many copies are found, the lowest correlation and the pHash distances.

    python benchmarks/leakage.py --frames DIR --manifest CSV [--sources 20] [--size 600x800]
"""

from __future__ import annotations

import argparse
import io
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from dynbus import config as study_config
from dynbus.dataset.duplicates import find_duplicates
from dynbus.ingest.crop_match import MATCHED_FRAMES, sequence_similarity, thumbnails
from dynbus.ingest.phash import downscale, hash_downscales
from dynbus.io.png_io import read_png

Alteration = Callable[[np.ndarray, float], np.ndarray]
LISTED = 0.9  # the false-alarm run lists distinct pairs from this correlation on
THRESHOLDS = (0.92, 0.94, 0.95, 0.96, 0.97)


def _crop(top: int, bottom: int, left: int, right: int) -> Alteration:
    """Cut pixels of a 128 x 160 frame off each border (scaled by ``unit``, rows / 128)."""

    def crop(image: np.ndarray, unit: float) -> np.ndarray:
        rows, columns = image.shape
        cut = [round(px * unit) for px in (top, bottom, left, right)]
        return image[cut[0] : rows - cut[1], cut[2] : columns - cut[3]]

    return crop


def _resize(image: np.ndarray, rows: int, columns: int) -> np.ndarray:
    resample = Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(image).resize((columns, rows), resample))


def _rescale(factor: float) -> Alteration:
    return lambda image, _: _resize(image, *(round(n * factor) for n in image.shape))


def _levels(shift: int = 0, gamma: float = 1.0) -> Alteration:
    return lambda image, _: np.clip(255 * (image / 255) ** gamma + shift + 0.5, 0, 255).astype(
        np.uint8
    )


def _jpeg(quality: int) -> Alteration:
    def encode(image: np.ndarray, _: float) -> np.ndarray:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        return np.asarray(Image.open(buffer))

    return encode


def _chain(*steps: Alteration) -> Alteration:
    def apply(image: np.ndarray, unit: float) -> np.ndarray:
        for step in steps:
            image = step(image, unit)
        return image

    return apply


# name -> (fraction of the sweep copied: its middle third or all, the alteration)
ALTERATIONS: dict[str, tuple[bool, Alteration]] = {
    "crop 3 px": (False, _crop(3, 3, 3, 3)),
    "crop 6 px": (False, _crop(6, 6, 6, 6)),
    "crop 10 px": (False, _crop(10, 10, 10, 10)),
    "crop 3/10/10/3 px": (False, _crop(3, 10, 10, 3)),
    "crop 10/3/3/10 px": (False, _crop(10, 3, 3, 10)),
    "rescale 0.9": (False, _rescale(0.9)),
    "rescale 1.1": (False, _rescale(1.1)),
    "brightness +20": (False, _levels(20)),
    "brightness -20": (False, _levels(-20)),
    "gamma 0.7": (False, _levels(gamma=0.7)),
    "gamma 1.4": (False, _levels(gamma=1.4)),
    "JPEG q50": (False, _jpeg(50)),
    "JPEG q70": (False, _jpeg(70)),
    "JPEG q90": (False, _jpeg(90)),
    "middle third": (True, _levels()),
    "middle third, crop 5/8/4/7, x0.95, -15, JPEG q60": (
        True,
        _chain(_crop(5, 8, 4, 7), _rescale(0.95), _levels(-15), _jpeg(60)),
    ),
}


def _signature(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(pHashes, thumbnails) of frames, as the frame writer stores them."""
    small = np.stack([downscale(frame) for frame in frames])
    return hash_downscales(small)[0], thumbnails(small)


def _score(source: tuple[np.ndarray, np.ndarray], copy: tuple[np.ndarray, np.ndarray]) -> tuple:
    """(crop-tolerant correlation, closest pHash distance) of a copy and its source."""
    thumbs = np.concatenate([source[1], copy[1]])
    owners = np.repeat([0, 1], [len(source[1]), len(copy[1])])
    correlation = sequence_similarity(thumbs, owners, 2, MATCHED_FRAMES)[0, 1]
    distance = np.bitwise_count(source[0][:, None] ^ copy[0][None]).sum(axis=-1).min()
    return float(correlation), int(distance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=Path, required=True, help="folder of frame folders")
    parser.add_argument("--manifest", type=Path, required=True, help="public manifest CSV")
    parser.add_argument("--sources", type=int, default=20, help="sweeps copied")
    parser.add_argument("--size", default="", help="resize the sweeps first, e.g. 600x800")
    parser.add_argument("--no-check", action="store_true", help="skip the false-alarm count")
    args = parser.parse_args()
    cfg = study_config.load(None)["duplicates"]
    manifest = pd.read_csv(args.manifest).sort_values("sequence_id").reset_index(drop=True)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.no_check:
        start, cpu = time.perf_counter(), time.process_time()
        pairs = find_duplicates(  # every pair down to LISTED, to show the margin
            args.frames, manifest, cfg["max_distance"], cfg["min_contrast"], LISTED
        )
        alarms = pairs[
            (pairs["frame_pairs"] > 0) | (pairs["correlation"] >= cfg["min_correlation"])
        ]
        print(
            f"{len(manifest)} sweeps of {manifest['patient_id'].nunique()} patients, "
            f"{int(manifest['n_frames'].sum())} frames: check {time.perf_counter() - start:.1f} s "
            f"wall, {time.process_time() - cpu:.1f} s CPU; false alarms: "
            f"{int(alarms['same_patient'].sum())} pairs of one patient, "
            f"{int((~alarms['same_patient']).sum())} of two"
        )
        for same, group in pairs.groupby("same_patient"):
            counts = ", ".join(
                f">= {t}: {int((group['correlation'] >= t).sum())}" for t in THRESHOLDS
            )
            print(
                f"  pairs of {'one patient' if same else 'two patients'}: highest correlation "
                f"{group['correlation'].max():.4f}; {counts}"
            )
    picks = np.linspace(0, len(manifest) - 1, args.sources).round().astype(int)
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in ALTERATIONS}
    for pick in picks:
        row = manifest.iloc[pick]
        folder = args.frames / row.sequence_id
        frames = [read_png(folder / f"{index:06d}.png") for index in range(int(row.n_frames))]
        if args.size:
            rows, columns = (int(n) for n in args.size.split("x"))
            frames = [_resize(frame, rows, columns) for frame in frames]
        unit = frames[0].shape[0] / 128
        source = _signature(frames)
        third = len(frames) // 3
        for name, (part, alteration) in ALTERATIONS.items():
            copied = frames[third : max(2 * third, third + MATCHED_FRAMES)] if part else frames
            results[name].append(_score(source, _signature([alteration(f, unit) for f in copied])))
    size = args.size or "x".join(str(n) for n in frames[0].shape)
    print(f"{len(picks)} sweeps at {size}; found: correlation >= {cfg['min_correlation']}")
    print(f"{'alteration':50s} found  min corr  pHash distance (min-max; found <= 12)")
    for name, scores in results.items():
        correlation = np.array([s[0] for s in scores])
        distance = np.array([s[1] for s in scores])
        found = int(((correlation >= cfg["min_correlation"]) | (distance <= 12)).sum())
        print(
            f"{name:50s} {found:2d}/{len(scores):2d}  {correlation.min():.3f}    "
            f"{distance.min()}-{distance.max()}"
        )


if __name__ == "__main__":
    main()
