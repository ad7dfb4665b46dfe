"""``dynbus video-metrics``: the field's video metrics (UltraDet, CVA-Net) with bootstrap CIs.

Frame-level AP50, AP75 and mAP@[.5:.95]; R@16 (recall at IoU 0.5 of the 16 highest-scoring
boxes of each frame); precision at recall 0.7 / 0.8 / 0.9; false-positive chains per minute at
recall 0.7 / 0.8 / 0.9 (FP@R, at the score threshold where the frame-level recall at IoU 0.5
reaches R). Definitions as in UltraDet's ``video_evaluation.py`` (see ``frame_ap`` and
``fp_chains``), with two corrections, each reported beside UltraDet's literal value: mAP is the
mean of the 10 APs (UltraDet's ``calculate_mmdet_ap`` divides their sum by 9), and FP/min uses
each cine's frame time (UltraDet's ``calculate_video_level_fp`` assumes 30 fps). Each metric
gets a patient-cluster bootstrap 95 % CI (the resamples of ``dynbus evaluate``: same seed,
same patients); in each resample the thresholds are chosen again on a grid of at most
``evaluate.max_thresholds`` scores. Writes ``--out`` (long CSV) and ``--table``.{csv,md}.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from dynbus import config as study_config
from dynbus.io.atomic import atomic_open, write_csv
from dynbus.metrics.fp_chains import fp_chain_counts
from dynbus.metrics.frame_ap import area_ap, at_recall, frame_ranks, match, recall_precision
from dynbus.metrics.videos import DEFAULT_FPS, Video, add_video_arguments, videos_from_args
from dynbus.protocol import stats
from dynbus.protocol.sweep import threshold_grid

AP_IOUS = np.round(np.arange(0.5, 0.951, 0.05), 2)
RECALLS = np.array([0.7, 0.8, 0.9])
TOP_K = 16
# UltraDet's mAP: the sum of the APs at IoU 0.5, 0.55, ..., 0.95 divided by len(range(55, 100, 5))
ULTRADET_MAP_DIVISOR = len(AP_IOUS) - 1
COLUMNS = ["metric", "recall", "estimate", "low", "high", "threshold", "n_bootstrap"]
LABELS = {
    "ap50": "AP50",
    "ap75": "AP75",
    "map": "mAP@[.5:.95] (mean of the 10 APs)",
    "map_ultradet": "mAP@[.5:.95], UltraDet literal (sum of the 10 APs / 9)",
    "r16": "R@16",
    "precision": "P@R{r:g}",
    "fp_per_minute": "FP/min@R{r:g} (cine frame rate)",
    "fp_per_minute_30fps": "FP/min@R{r:g}, UltraDet literal (30 fps)",
}


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus video-metrics``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_video_arguments(parser)
    parser.add_argument("--out", required=True, help="metrics CSV to write")
    parser.add_argument("--table", default=None, help="also write this table (.csv and .md)")
    study_config.add_config_argument(parser)
    return parser


class Tally:
    """Per-detection outcomes of all videos, and per-patient totals on a threshold grid."""

    def __init__(self, videos: list[Video], max_thresholds: int) -> None:
        patients, self.cluster = np.unique([v.data.patient_id for v in videos], return_inverse=True)
        self.n_clusters = len(patients)
        self.videos = videos
        self.scores = np.concatenate([v.data.scores for v in videos] or [np.zeros(0)])
        self.det_cluster = np.repeat(self.cluster, [len(v.data.scores) for v in videos])
        self.tp = np.stack(
            [
                np.concatenate(
                    [match(v.data.frames, v.data.overlap, iou) for v in videos]
                    or [np.zeros(0, bool)]
                )
                for iou in AP_IOUS
            ]
        )
        self.n_gt = np.array([len(v.gt_frames) for v in videos], dtype=float)
        self.minutes = np.array([v.minutes for v in videos])
        self.minutes_30fps = np.array([v.n_frames / (60 * DEFAULT_FPS) for v in videos])
        top = [frame_ranks(v.data.frames) < TOP_K for v in videos]
        self.top_tp = np.array(
            [
                match(v.data.frames[t], v.data.overlap[t], 0.5).sum()
                for v, t in zip(videos, top, strict=True)
            ],
            dtype=float,
        )
        self.grid = threshold_grid(self.scores, max_thresholds)[1:]  # descending, finite

    def per_cluster(self, values: np.ndarray) -> np.ndarray:
        """Sum per patient of per-sequence values (``(S,)`` or ``(S, T)``)."""
        out = np.zeros((self.n_clusters, *values.shape[1:]))
        np.add.at(out, self.cluster, values)
        return out

    def grid_counts(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-patient cumulative TP / FP at IoU ``AP_IOUS[k]`` over the grid (score >= t)."""
        entry = np.searchsorted(-self.grid, -self.scores, side="left")
        inside = entry < len(self.grid)
        tp = np.zeros((self.n_clusters, len(self.grid)))
        fp = np.zeros_like(tp)
        hit = self.tp[k]
        np.add.at(tp, (self.det_cluster[inside & hit], entry[inside & hit]), 1.0)
        np.add.at(fp, (self.det_cluster[inside & ~hit], entry[inside & ~hit]), 1.0)
        return np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)

    def fp_chains(self, thresholds: np.ndarray) -> np.ndarray:
        """``(S, len(thresholds))`` false-positive chains of each video."""
        return np.array(
            [
                fp_chain_counts(
                    v.data.boxes, v.data.frames, v.data.scores, v.centre_covered(), thresholds
                )
                for v in self.videos
            ]
        ).reshape(len(self.videos), len(thresholds))


def video_metrics(
    videos: list[Video], n_bootstrap: int, seed: int, max_thresholds: int
) -> pd.DataFrame:
    """All metrics with their bootstrap 95 % intervals (long table, ``COLUMNS``).

    A metric at a recall the curve never reaches is NaN, without an interval.
    """
    tally = Tally(videos, max_thresholds)
    weights = stats.cluster_weights(tally.n_clusters, n_bootstrap, seed)
    n_gt = tally.n_gt.sum()
    boot_gt = weights @ tally.per_cluster(tally.n_gt)
    order = np.argsort(-tally.scores, kind="stable")
    rows: list[list] = []
    aps, boot_aps = [], []
    for k in range(len(AP_IOUS)):
        hit = tally.tp[k][order]
        recall, precision = recall_precision(np.cumsum(hit), np.cumsum(~hit), n_gt)
        aps.append(area_ap(recall, precision)[0] if n_gt else np.nan)
        tp, fp = tally.grid_counts(k)
        b_recall, b_precision = recall_precision(weights @ tp, weights @ fp, boot_gt)
        boot_aps.append(np.where(boot_gt > 0, area_ap(b_recall, b_precision), np.nan))
        if k == 0:
            point = (recall, precision)
            boot_point = (b_recall, b_precision)
    for name, k in (("ap50", 0), ("ap75", 5)):
        rows.append(_row(name, np.nan, aps[k], boot_aps[k], np.nan, n_bootstrap))
    rows.append(
        _row("map", np.nan, float(np.mean(aps)), np.mean(boot_aps, axis=0), np.nan, n_bootstrap)
    )
    literal_map = float(np.sum(aps)) / ULTRADET_MAP_DIVISOR
    boot_literal_map = np.sum(boot_aps, axis=0) / ULTRADET_MAP_DIVISOR
    rows.append(_row("map_ultradet", np.nan, literal_map, boot_literal_map, np.nan, n_bootstrap))
    r16 = tally.top_tp.sum() / n_gt if n_gt else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        boot_r16 = (weights @ tally.per_cluster(tally.top_tp)) / boot_gt
    rows.append(_row("r16", np.nan, r16, boot_r16, np.nan, n_bootstrap))
    recall, precision = point
    scores = tally.scores[order][None, :]
    precision_at = at_recall(recall, precision, RECALLS)[0]
    thresholds = at_recall(recall, scores, RECALLS)[0]
    boot_precision = at_recall(*boot_point, RECALLS)
    for r, value, t, boot in zip(RECALLS, precision_at, thresholds, boot_precision.T, strict=True):
        rows.append(_row("precision", r, value, boot, t, n_bootstrap))
    rows += _fp_rows(tally, weights, recall, thresholds, boot_point[0], n_bootstrap)
    return pd.DataFrame(rows, columns=COLUMNS)


def _fp_rows(
    tally: Tally,
    weights: np.ndarray,
    recall: np.ndarray,
    thresholds: np.ndarray,
    boot_recall: np.ndarray,
    n_bootstrap: int,
) -> list[list]:
    """FP@R: FP chains per minute at the thresholds where recall reaches R (estimate, CI).

    Per minute of the cines' own frame rate, and (UltraDet's literal FP/min) at 30 fps.
    """
    grid = tally.grid
    boot_thresholds = at_recall(boot_recall, np.broadcast_to(grid, boot_recall.shape), RECALLS)
    ok = ~np.isnan(boot_thresholds)
    # smallest grid value >= t; the chains are counted only at the grid values some resample
    # uses, in one pass per video with the estimate's thresholds
    level = np.maximum(np.searchsorted(-grid, -boot_thresholds[ok], side="right") - 1, 0)
    used, column = np.unique(level, return_inverse=True)
    reached = ~np.isnan(thresholds)
    counts = tally.fp_chains(np.r_[thresholds[reached], grid[used]])
    chains = weights @ tally.per_cluster(counts[:, reached.sum() :])  # (B, U), boxes > grid[u]
    at = np.zeros(boot_thresholds.shape, dtype=np.int64)
    at[ok] = column
    per_minute = {"fp_per_minute": tally.minutes, "fp_per_minute_30fps": tally.minutes_30fps}
    boot_minutes = {metric: weights @ tally.per_cluster(m) for metric, m in per_minute.items()}
    rows = []
    for k, r in enumerate(RECALLS):
        t = boot_thresholds[:, k]
        ok = ~np.isnan(t)
        for metric, minutes in per_minute.items():
            estimate = counts[:, reached[:k].sum()].sum() / minutes.sum() if reached[k] else np.nan
            boot = np.full(len(t), np.nan)
            boot[ok] = chains[np.flatnonzero(ok), at[ok, k]] / boot_minutes[metric][ok]
            rows.append(_row(metric, r, estimate, boot, thresholds[k], n_bootstrap))
    return rows


def _row(
    metric: str,
    recall: float,
    estimate: float,
    boot: np.ndarray,
    threshold: float,
    n_bootstrap: int,
) -> list:
    low, high = (np.nan, np.nan) if np.isnan(estimate) else stats.percentile_interval(boot)
    return [metric, recall, float(estimate), low, high, float(threshold), n_bootstrap]


def metrics_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Readable table: metric, estimate, bootstrap 95 % CI, score threshold."""

    def fmt(value: float, digits: int = 3) -> str:
        return "n/a" if np.isnan(value) else f"{value:.{digits}f}"

    names = [
        LABELS[m].format(r=r) for m, r in zip(metrics["metric"], metrics["recall"], strict=True)
    ]
    return pd.DataFrame(
        {
            "Metric": names,
            "Estimate": [fmt(v) for v in metrics["estimate"]],
            "Bootstrap 95% CI": [
                f"{fmt(lo)}-{fmt(hi)}"
                for lo, hi in zip(metrics["low"], metrics["high"], strict=True)
            ],
            "Score threshold": [fmt(t, 4) if not np.isnan(t) else "" for t in metrics["threshold"]],
        }
    )


def write_table(table: pd.DataFrame, stem: str | Path, title: str) -> None:
    """Write ``{stem}.csv`` and ``{stem}.md`` (a titled GitHub Markdown table)."""
    stem = Path(stem)
    write_csv(stem.with_suffix(".csv"), table)
    with atomic_open(stem.with_suffix(".md"), encoding="utf-8") as handle:
        handle.write(f"**{title}**\n\n{table.to_markdown(index=False)}\n")


def main(args: argparse.Namespace) -> None:
    """Compute the video metrics of one split; write the CSV (and the table)."""
    config = study_config.load(args.config)
    videos, assumed = videos_from_args(args, config)
    ev = config["evaluate"]
    metrics = video_metrics(videos, ev["bootstrap"], ev["seed"], ev["max_thresholds"])
    write_csv(args.out, metrics)
    if args.table:
        note = f" {assumed} sequence(s) without a frame time taken as 30 fps." if assumed else ""
        write_table(
            metrics_table(metrics),
            args.table,
            f"Video metrics (UltraDet's definitions; mAP and FP/min corrected, UltraDet's "
            f"literal values beside them) on {len(videos)} sequences, "
            f"patient-cluster bootstrap 95 % CIs ({ev['bootstrap']} resamples).{note}",
        )
