"""The model card (Mitchell et al. 2019, "Model Cards for Model Reporting"), filled from a run.

Sections: model details, intended use, training data (the split summary), metrics with 95 %
CIs (test results at thresholds re-set on test and frozen on val), operating points, known
failure modes (the lesions missed at the middle operating point, with their sizes), and the
CLAIM 2024 checklist items the pipeline knows. Only aggregate numbers and configuration
values: no sequence, patient or lesion identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from markdown_it import MarkdownIt

CARD_STYLE = (
    "body{font:14px sans-serif;max-width:60em;margin:1em auto}"
    "table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:3px 8px}"
)


@dataclass(frozen=True)
class CardInputs:
    """What the card is filled from (all read from the run's results)."""

    config: dict[str, Any]
    version: str
    split_summary: pd.DataFrame
    both_ways: pd.DataFrame  # dynbus.reporting.frozen.both_ways: paper and frozen test results
    thresholds: pd.DataFrame  # method, fp_rate, threshold: the package's operating points
    threshold_iou: float
    missed: pd.DataFrame  # failure_modes()
    middle: tuple[float, float]  # (hit IoU, FP rate) of the failure modes
    fingerprint: str | None


def lesion_sizes(annotations: pd.DataFrame) -> pd.Series:
    """Each lesion's size in pixels: the median over its frames of sqrt(box width x height)."""
    side = np.sqrt(
        (annotations["x2"] - annotations["x1"]) * (annotations["y2"] - annotations["y1"])
    )
    return side.groupby([annotations["sequence_id"], annotations["lesion_id"]]).median()


def failure_modes(hits: pd.DataFrame, sizes: pd.Series, iou: float, rate: float) -> pd.DataFrame:
    """Per method: lesions missed and hit at (``iou``, ``rate``), with their median sizes."""
    part = hits[np.isclose(hits["iou"], iou) & np.isclose(hits["fp_rate"], rate)]
    size = sizes.reindex(pd.MultiIndex.from_frame(part[["sequence_id", "lesion_id"]])).to_numpy()
    rows = []
    for method in ("single", "multi"):
        hit = part[method].to_numpy(bool)
        rows.append(
            {
                "method": method,
                "lesions": len(part),
                "missed": int((~hit).sum()),
                "missed median size (px)": _median(size[~hit]),
                "missed size range (px)": _range(size[~hit]),
                "hit median size (px)": _median(size[hit]),
            }
        )
    return pd.DataFrame(rows)


def _median(values: np.ndarray) -> str:
    return f"{np.median(values):.0f}" if len(values) else "-"


def _range(values: np.ndarray) -> str:
    return f"{values.min():.0f}-{values.max():.0f}" if len(values) else "-"


def _markdown(table: pd.DataFrame) -> str:
    return table.to_markdown(index=False, disable_numparse=True)


def _data_source(config: dict[str, Any]) -> str:
    if config["simulate"]["enabled"]:
        return "synthetic cine loops from `dynbus simulate` (the demo study; no real patient)"
    return f"the study's own export (`source.format: {config['source']['format']}`)"


def claim_items(config: dict[str, Any]) -> pd.DataFrame:
    """The CLAIM 2024 checklist items the pipeline knows, with what this run did."""
    model, train, split = config["model"], config["train"], config["split"]
    fractions = ", ".join(f"{k} {v:g}" for k, v in split["fractions"].items())
    folds = f"; {split['folds']}-fold cross-validation" if split["folds"] > 1 else ""
    items = [
        ("Data source", _data_source(config)),
        (
            "De-identification",
            "DICOM PS3.15 E.1-1 header profile, keyed pseudonyms and date shifts, burned-in "
            "text removed from the pixels; an audit of every file",
        ),
        (
            "Data partitions",
            f"split by patient (no patient in two splits), {fractions}, seed {split['seed']}"
            f"{folds}; near-duplicate frames across sequences checked",
        ),
        ("Reference standard", "the study's lesion box annotations, per frame"),
        (
            "Model",
            f"Faster R-CNN `{model['arch']}`, input resized to {model['min_size']}-"
            f"{model['max_size']} px, 1-channel 8-bit gray frames",
        ),
        (
            "Training",
            f"{train['epochs']} epochs, `{train['optimizer']}` at learning rate {train['lr']:g}, "
            f"batch size {train['batch_size']}, seed {train['seed']}, best epoch chosen on the "
            "val split; pinned kernels (`reproducibility`)",
        ),
        (
            "Evaluation",
            "lesion sensitivity at fixed FP per sequence (FROC), single frame vs multi-frame "
            f"fusion, hit IoU {', '.join(f'{v:g}' for v in config['evaluate']['hit_iou'])}; "
            "Wilson 95 % CIs, χ², exact McNemar, patient bootstrap",
        ),
        (
            "Thresholds",
            "operating points chosen on the val split and applied unchanged to test (frozen), "
            "beside the paper's thresholds re-set on test",
        ),
    ]
    return pd.DataFrame(items, columns=["CLAIM 2024 item", "this run"])


def model_card(inputs: CardInputs) -> str:
    """The card as Markdown."""
    config = inputs.config
    model = config["model"]
    iou, rate = inputs.middle
    fingerprint = f"`{inputs.fingerprint}`" if inputs.fingerprint else "not recorded"
    parts = [
        "# Model card: dynbus breast-ultrasound mass detector",
        "## Model details",
        f"- Faster R-CNN (torchvision) `{model['arch']}`, trained by dynbus {inputs.version}.\n"
        f"- Input: 1-channel 8-bit gray frames, resized to {model['min_size']}-"
        f"{model['max_size']} px; output: boxes with scores (score floor "
        f"{config['infer']['score_floor']:g}).\n"
        f"- Multi-frame fusion: link boxes with IoU > {config['fusion']['iou']:g} "
        f"({config['fusion']['link']}), group score `{config['fusion']['score']}`, "
        f"order `{config['fusion']['order']}`.\n"
        f"- Study fingerprint (sha256 of `results/fingerprints/stages.json`): {fingerprint}.",
        "## Intended use",
        "Research on mass detection in breast-ultrasound cine loops, and the reproduction of "
        "single- vs multi-frame comparisons. **Not for clinical use**: not a medical device, not "
        "validated on any population; a site's own data must be evaluated before any reading.",
        "## Training data",
        "Patients, sequences, masses and frames per split (patient-disjoint):\n\n"
        + _markdown(inputs.split_summary),
        "## Metrics",
        "Test-split lesion sensitivity with Wilson 95 % CIs at each FP-per-sequence rate. "
        "*paper*: thresholds re-set on the test detections (the paper's protocol); *frozen*: "
        "thresholds chosen on val and applied unchanged (what a new site would see).\n\n"
        + _markdown(inputs.both_ways),
        "## Operating points",
        f"The thresholds in `configs/model.yaml`: chosen on the val split at hit IoU "
        f"{inputs.threshold_iou:g}.\n\n" + _markdown(inputs.thresholds),
        "## Known failure modes",
        f"Lesions of the test split missed at hit IoU {iou:g} and {rate:g} FP/sequence "
        "(thresholds re-set on test), by size (median over frames of sqrt(box area)):\n\n"
        + _markdown(inputs.missed)
        + "\n\nThe overlay videos of the worst false positives and false negatives are in "
        "`results/overlays/worst.html` of the study.",
        "## CLAIM 2024 items",
        _markdown(claim_items(config)),
    ]
    return "\n\n".join(parts) + "\n"


def card_html(markdown: str) -> str:
    """The card as a standalone HTML page (CommonMark with tables, markdown-it-py)."""
    body = MarkdownIt("commonmark").enable("table").render(markdown)
    return (
        '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"><title>Model card</title>'
        f"<style>{CARD_STYLE}</style></head>\n<body>\n{body}</body>\n</html>\n"
    )
