"""``dynbus ablation``: multi-frame fusion variants on the same detections vs the paper's rule.

Variants: the paper's IoU grouping in both ``fusion.order``s x ``max`` / ``mean`` / ``sum`` x
``link: all`` / ``window``; Seq-NMS (``seqnms``); ByteTrack tracks (``tracking``). For each:
sensitivity at every ``evaluate.fp_rates`` and ``hit_iou`` (the paper's protocol, threshold
and counts), its cluster-bootstrap 95 % CI, the difference to the reference (the configured
``fusion``, by default the paper's literal rule) with its CI and the exact McNemar P on the
paired lesions; and the video metrics (``video_metrics``) of the boxes each variant outputs:
with ``threshold_then_group`` the raw boxes (thresholding comes first, so the boxes shown at
any threshold are the detector's), otherwise each box rescored to its group's score.
Writes ``--out`` (sensitivities), ``--video-out`` (video metrics) and ``--table``.{csv,md}.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from dynbus import config as study_config
from dynbus.io.atomic import write_csv
from dynbus.metrics.seqnms import seq_nms
from dynbus.metrics.tracking import track_labels
from dynbus.metrics.video_metrics import video_metrics, write_table
from dynbus.metrics.videos import Video, add_video_arguments, videos_from_args
from dynbus.protocol import stats
from dynbus.protocol.fusion import FusionSettings, group_labels, score_groups
from dynbus.protocol.matching import greedy_match
from dynbus.protocol.sweep import (
    Curve,
    curve,
    grid_scores,
    hits_at,
    operating_point,
    tally,
    threshold_grid,
)

ORDERS = ("threshold_then_group", "group_then_threshold")
SCORES = ("max", "mean", "sum")
LINKS = ("all", "window")


@dataclass(frozen=True)
class Variant:
    """One fusion variant: an IoU grouping (``settings``) or ``seqnms`` / ``tracking``."""

    name: str
    settings: FusionSettings | None = None


def variants(reference: FusionSettings) -> list[Variant]:
    """The reference first, then every other variant."""
    grouping = [
        replace(reference, order=o, score=s, link=k) for o in ORDERS for s in SCORES for k in LINKS
    ]
    grouping.sort(key=lambda f: f != reference)
    named = [Variant(f"{f.order}/{f.score}/{f.link}", f) for f in grouping]
    return [*named, Variant("seqnms"), Variant("tracking")]


@dataclass
class Groups:
    """A rescoring fusion's output on one sequence: group label per box (-1: dropped)."""

    labels: np.ndarray
    scores: np.ndarray  # per group

    def overlap(self, box_overlap: np.ndarray) -> np.ndarray:
        """Each group's best IoU with each lesion."""
        best = np.zeros((len(self.scores), box_overlap.shape[1]))
        kept = self.labels >= 0
        np.maximum.at(best, self.labels[kept], box_overlap[kept])
        return best


def fuse(variants: list[Variant], video: Video, how: str) -> list[Groups | None]:
    """The groups of every variant on one video (None for ``threshold_then_group``).

    Tracks are scored with ``how`` (the reference's ``fusion.score``); Seq-NMS paths with
    their average score. The IoU groups are found once per linking rule, then scored each way.
    """
    seq = video.data
    found: dict[FusionSettings, np.ndarray] = {}
    out: list[Groups | None] = []
    for variant in variants:
        settings = variant.settings
        if settings is not None and settings.order == "threshold_then_group":
            out.append(None)
        elif settings is not None:
            linking = replace(settings, score="max", order="group_then_threshold")
            if linking not in found:
                found[linking] = group_labels(seq.boxes, seq.frames, settings)
            labels = found[linking]
            out.append(Groups(labels, score_groups(labels, seq.scores, settings.score)))
        elif variant.name == "seqnms":
            out.append(Groups(*seq_nms(seq.boxes, seq.frames, seq.scores)))
        else:
            labels = track_labels(seq.boxes, seq.frames, seq.scores, 1000 / video.frame_time_ms)
            out.append(Groups(labels, score_groups(labels, seq.scores, how)))
    return out


def rescored(video: Video, groups: Groups | None) -> Video:
    """The boxes a variant outputs, each with its group's score."""
    if groups is None:
        return video
    keep = groups.labels >= 0
    return video.rescored(keep, groups.scores[groups.labels[keep]])


def sensitivity_rows(
    videos: list[Video],
    variant: Variant,
    groups: list[Groups | None],
    reference_hits: dict,
    weights: np.ndarray,
    config: dict[str, Any],
) -> tuple[list[dict], dict]:
    """Operating points of one variant at every hit IoU x FP rate, with CIs and McNemar P."""
    ev = config["evaluate"]
    seqs = [v.data for v in videos]
    lesions = np.array([len(s.lesion_ids) for s in seqs], dtype=float)
    rates = np.asarray(ev["fp_rates"], dtype=float)
    if variant.settings is not None and variant.settings.order == "threshold_then_group":
        grid = threshold_grid(grid_scores(seqs, "multi", variant.settings), ev["max_thresholds"])
        overlaps = None
    else:  # fixed groups: fused once, counted at every threshold (as sweep.curve does)
        grid = threshold_grid(
            np.concatenate([g.scores for g in groups] or [np.zeros(0)]), ev["max_thresholds"]
        )
        overlaps = [g.overlap(s.overlap) for s, g in zip(seqs, groups, strict=True)]
    rows, hits, boots = [], {}, {}
    for iou in ev["hit_iou"]:
        c = _curve(seqs, variant, groups, overlaps, grid, iou)
        boot = stats.froc_envelope(
            weights @ c.tp, weights @ c.fp, weights @ lesions, weights.sum(axis=1), rates
        )
        for k, rate in enumerate(rates):
            point = operating_point(c, int(lesions.sum()), rate)
            hit = np.concatenate(
                [
                    _hits(s, variant, g, o, point.threshold, iou)
                    for s, g, o in zip(seqs, groups, overlaps or groups, strict=True)
                ]
                or [[]]
            )
            hits[iou, rate], boots[iou, rate] = hit, boot[:, k]
            ref_hit, ref_boot = reference_hits.get((iou, rate), (hit, boot[:, k]))
            p, only_ref, only_variant = stats.mcnemar_exact(ref_hit, hit)
            low, high = stats.percentile_interval(boot[:, k])
            d_low, d_high = stats.percentile_interval(boot[:, k] - ref_boot)
            rows.append(
                {
                    "fusion": variant.name,
                    "iou": iou,
                    "fp_rate": rate,
                    "threshold": point.threshold,
                    "tp": point.tp,
                    "fn": point.fn,
                    "fp": point.fp,
                    "sensitivity": point.sensitivity,
                    "boot_low": low,
                    "boot_high": high,
                    "reference_only": only_ref,
                    "variant_only": only_variant,
                    "mcnemar_p": p,
                    "difference_boot_low": d_low,
                    "difference_boot_high": d_high,
                }
            )
    return rows, {key: (hits[key], boots[key]) for key in hits}


def _curve(
    seqs: list,
    variant: Variant,
    groups: list[Groups | None],
    overlaps: list[np.ndarray] | None,
    grid: np.ndarray,
    iou: float,
) -> Curve:
    if overlaps is None:
        return curve(seqs, "multi", variant.settings, grid, iou)
    counts = [tally(g.scores, o, grid, iou) for g, o in zip(groups, overlaps, strict=True)]
    tp = np.array([c[0] for c in counts]).reshape(len(seqs), len(grid))
    fp = np.array([c[1] for c in counts]).reshape(len(seqs), len(grid))
    return Curve(grid, tp, fp)


def _hits(
    seq: Any,
    variant: Variant,
    groups: Groups | None,
    overlap: np.ndarray | None,
    threshold: float,
    iou: float,
) -> np.ndarray:
    if groups is None:
        return hits_at(seq, "multi", variant.settings, threshold, iou)[0]
    keep = groups.scores >= threshold
    outcome = greedy_match(groups.scores[keep], overlap[keep], iou)
    hit = np.zeros(len(seq.lesion_ids), dtype=bool)
    hit[outcome[outcome >= 0]] = True
    return hit


def ablation(videos: list[Video], config: dict[str, Any]) -> dict[str, Any]:
    """Sensitivity rows, video-metric rows and the seconds spent fusing, for every variant."""
    ev = config["evaluate"]
    reference = FusionSettings.from_config(config["fusion"])
    _, cluster = np.unique([v.data.patient_id for v in videos], return_inverse=True)
    weights = stats.cluster_weights(int(cluster.max(initial=-1)) + 1, ev["bootstrap"], ev["seed"])[
        :, cluster
    ]
    every = variants(reference)
    start = time.perf_counter()
    fused = [fuse(every, v, reference.score) for v in videos]
    fusing = time.perf_counter() - start
    rows, video_rows, reference_hits = [], [], {}
    raw_metrics = None
    for k, variant in enumerate(every):
        groups = [per_video[k] for per_video in fused]
        found, hits = sensitivity_rows(videos, variant, groups, reference_hits, weights, config)
        reference_hits = reference_hits or hits
        rows += found
        if all(g is None for g in groups):
            raw_metrics = (
                raw_metrics
                if raw_metrics is not None
                else video_metrics(videos, ev["bootstrap"], ev["seed"], ev["max_thresholds"])
            )
            metrics = raw_metrics
        else:
            metrics = video_metrics(
                [rescored(v, g) for v, g in zip(videos, groups, strict=True)],
                ev["bootstrap"],
                ev["seed"],
                ev["max_thresholds"],
            )
        video_rows.append(metrics.assign(fusion=variant.name))
    return {
        "sensitivity": pd.DataFrame(rows),
        "video": pd.concat(video_rows, ignore_index=True),
        "fusion_seconds": fusing,
    }


def ablation_table(sens: pd.DataFrame, video: pd.DataFrame) -> pd.DataFrame:
    """One row per variant: sensitivity (CI, threshold, McNemar P vs the reference) at each
    IoU x FP rate, then AP50, R@16 and FP/min at recall 0.8 with CIs."""

    def pct(v: float) -> str:
        return "n/a" if np.isnan(v) else f"{100 * v:.1f}"

    table = pd.DataFrame({"Fusion": list(dict.fromkeys(sens["fusion"]))})
    for (iou, rate), part in sens.groupby(["iou", "fp_rate"], sort=True):
        part = part.set_index("fusion").loc[table["Fusion"]]
        table[f"IoU {iou:g}, {rate:g} FP/seq: sens. % (95% CI) @thr; P"] = [
            f"{pct(r.sensitivity)} ({pct(r.boot_low)}-{pct(r.boot_high)}) @{r.threshold:.3g}; "
            f"P={r.mcnemar_p:.3f}"
            for r in part.itertuples()
        ]
    for metric, recall, label in (
        ("ap50", None, "AP50"),
        ("r16", None, "R@16"),
        ("fp_per_minute", 0.8, "FP/min@R0.8"),
    ):
        part = video[video["metric"] == metric]
        if recall is not None:
            part = part[np.isclose(part["recall"], recall)]
        part = part.set_index("fusion").loc[table["Fusion"]]
        table[f"{label} (95% CI) @thr" if recall else f"{label} (95% CI)"] = [
            ("n/a" if np.isnan(r.estimate) else f"{r.estimate:.3f} ({r.low:.3f}-{r.high:.3f})")
            + (f" @{r.threshold:.3g}" if recall and not np.isnan(r.threshold) else "")
            for r in part.itertuples()
        ]
    return table


def get_args_parser() -> argparse.ArgumentParser:
    """Command-line options of ``dynbus ablation``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_video_arguments(parser)
    parser.add_argument("--out", required=True, help="sensitivity CSV to write")
    parser.add_argument("--video-out", required=True, help="video-metrics CSV to write")
    parser.add_argument("--table", required=True, help="table to write (.csv and .md)")
    study_config.add_config_argument(parser)
    return parser


def main(args: argparse.Namespace) -> None:
    """Run every fusion variant on one split; write the CSVs and the table."""
    config = study_config.load(args.config)
    videos, _ = videos_from_args(args, config)
    result = ablation(videos, config)
    write_csv(args.out, result["sensitivity"])
    write_csv(args.video_out, result["video"])
    reference = result["sensitivity"]["fusion"].iloc[0]
    write_table(
        ablation_table(result["sensitivity"], result["video"]),
        args.table,
        f"Fusion ablation on {len(videos)} sequences: every variant against the "
        f"reference {reference} (exact McNemar P, patient-cluster bootstrap 95 % CIs, "
        f"{config['evaluate']['bootstrap']} resamples).",
    )
    print(
        f"fusion of {len(variants(FusionSettings.from_config(config['fusion'])))} variants: "
        f"{result['fusion_seconds']:.2f} s"
    )
