"""``build_model``: the torchvision Faster R-CNN variants selectable by ``model.arch``.

``resnet50_fpn`` is the paper's model (torchvision's ``fasterrcnn_resnet50_fpn``, two classes).
``resnet18_fpn_slim`` is the CPU demo model: ResNet-18 with trainable BatchNorm, a 64-channel FPN
on layers 2-4 plus a max-pool level, small anchors and fewer proposals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models import resnet18
from torchvision.models.detection import (
    FasterRCNN,
    fasterrcnn_mobilenet_v3_large_fpn,
    fasterrcnn_resnet50_fpn,
)
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN, resnet_fpn_backbone
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from dynbus.errors import InputFileError

NUM_CLASSES = 2  # background, mass
MAX_DETECTIONS = 100


def _slim_resnet18(common: dict[str, Any]) -> FasterRCNN:
    channels = 64
    body = resnet18(weights=None, norm_layer=nn.BatchNorm2d)
    backbone = BackboneWithFPN(
        body,
        return_layers={"layer2": "0", "layer3": "1", "layer4": "2"},
        in_channels_list=[128, 256, 512],
        out_channels=channels,
        extra_blocks=LastLevelMaxPool(),
    )
    anchors = AnchorGenerator(
        sizes=((16, 24), (32, 48), (64, 96), (128, 192)),
        aspect_ratios=((0.5, 1.0, 2.0),) * 4,
    )
    return FasterRCNN(
        backbone,
        rpn_anchor_generator=anchors,
        rpn_head=RPNHead(channels, anchors.num_anchors_per_location()[0]),
        rpn_pre_nms_top_n_train=600,
        rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300,
        rpn_post_nms_top_n_test=150,
        rpn_batch_size_per_image=128,
        box_head=TwoMLPHead(channels * 7 * 7, 256),
        box_predictor=FastRCNNPredictor(256, NUM_CLASSES),
        box_batch_size_per_image=128,
        **common,
    )


def build_model(model_cfg: dict[str, Any], score_floor: float = 0.05) -> FasterRCNN:
    """Build the detector of ``model_cfg`` (arch, min_size, max_size), randomly initialised.

    ``score_floor`` is the lowest box score the model returns in eval mode. Training uses
    torchvision's multi-scale jitter: the shorter side is drawn from 7/8 to 1 of ``min_size``;
    evaluation always uses ``min_size``.
    """
    size = model_cfg["min_size"]
    common: dict[str, Any] = {
        "min_size": (round(size * 0.875), round(size * 0.9375), size),
        "max_size": model_cfg["max_size"],
        "box_score_thresh": score_floor,
        "box_detections_per_img": MAX_DETECTIONS,
    }
    arch = model_cfg["arch"]
    if arch == "resnet18_fpn_slim":
        return _slim_resnet18(common)
    if arch == "resnet50_fpn":
        return fasterrcnn_resnet50_fpn(
            weights=None, weights_backbone=None, num_classes=NUM_CLASSES, **common
        )
    if arch == "mobilenet_v3_large_fpn":
        return fasterrcnn_mobilenet_v3_large_fpn(
            weights=None, weights_backbone=None, num_classes=NUM_CLASSES, **common
        )
    if arch == "resnet18_fpn":
        backbone = resnet_fpn_backbone(
            backbone_name="resnet18", weights=None, norm_layer=nn.BatchNorm2d, trainable_layers=5
        )
        return FasterRCNN(backbone, num_classes=NUM_CLASSES, **common)
    raise ValueError(f"unknown model.arch {arch!r}")


def load_weights(model: FasterRCNN, path: str | Path) -> str:
    """Initialise ``model`` from a local file: a detector checkpoint or a backbone state dict.

    Tensors whose name or shape does not fit (e.g. a 91-class COCO predictor, a classifier's
    ``fc``) are skipped. Returns a one-line summary; raises if nothing at all fits.
    """
    file = Path(path)
    if not file.is_file():
        raise InputFileError(file, "model.weights file not found")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise InputFileError(file, f"cannot read weights: {error}") from error
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise InputFileError(file, "not a state dict or a checkpoint with a 'model' entry")
    detector_keys = any(key.startswith(("backbone.", "rpn.", "roi_heads.")) for key in state)
    target = model if detector_keys else model.backbone.body
    own = target.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not fitting:
        raise InputFileError(file, "no tensor matches the model's names and shapes")
    target.load_state_dict(fitting, strict=False)
    part = "detector" if detector_keys else "backbone"
    return f"loaded {len(fitting)}/{len(own)} {part} tensors from {file}"
