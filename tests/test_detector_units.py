"""Detector parts: augmentation, epoch sampler, LR schedule, weight loading, loss guard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from dynbus.detector import train
from dynbus.detector.data import EpochSampler, FrameDataset, augment, list_frames, read_annotations
from dynbus.detector.engine import train_one_epoch
from dynbus.detector.model import build_model, load_weights
from dynbus.detector.optim import build_optimizer, build_scheduler
from dynbus.errors import DynbusError, InputFileError
from tests.detector_fixtures import write_inputs

SLIM = {"arch": "resnet18_fpn_slim", "min_size": 64, "max_size": 80}
TRAIN = {
    "epochs": 2,
    "optimizer": "adamw",
    "lr": 0.01,
    "momentum": 0.9,
    "weight_decay": 0.0,
    "warmup_iters": 4,
    "lr_schedule": "cosine",
    "lr_steps": [1],
    "lr_gamma": 0.1,
}


def test_augment_moves_boxes_with_the_flipped_pixels() -> None:
    image = torch.zeros(1, 10, 20)
    image[:, 2:5, 1:4] = 1.0
    boxes = torch.tensor([[1.0, 2.0, 4.0, 5.0]])
    seeds = range(50)
    flips = [torch.rand(3, generator=torch.Generator().manual_seed(s))[0] < 0.5 for s in seeds]
    seed = next(s for s, flip in zip(seeds, flips, strict=True) if flip)
    out, out_boxes = augment(image, boxes, seed)
    x1, y1, x2, y2 = out_boxes[0].int().tolist()
    assert (x1, y1, x2, y2) == (16, 2, 19, 5)
    inside = out[0, y1:y2, x1:x2]
    assert inside.min() > out[0].mean() and out.shape == image.shape
    again, again_boxes = augment(image, boxes, seed)
    assert torch.equal(again, out) and torch.equal(again_boxes, out_boxes)


def test_epoch_sampler_is_a_function_of_seed_and_epoch(tmp_path: Path) -> None:
    data = write_inputs(tmp_path, counts={"train": 2}, negatives=2, n_frames=5)
    dataset = FrameDataset(
        list_frames(data.frames, ["train00", "train01", "train02", "train03"]),
        read_annotations(data.annotations),
    )
    sampler = EpochSampler(dataset, negative_ratio=0.5, seed=3)
    assert len(sampler) == 10 + 5 and len(list(sampler)) == 15
    first = list(sampler)
    assert first == list(sampler)
    assert {i for i, _ in first} >= {frames[0] for frames in sampler.positives}
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert list(EpochSampler(dataset, 0.5, seed=3)) == first


def test_epoch_sampler_with_a_stride_draws_one_frame_per_window(tmp_path: Path) -> None:
    data = write_inputs(tmp_path, counts={"train": 2}, negatives=2, n_frames=6)
    dataset = FrameDataset(
        list_frames(data.frames, ["train00", "train01", "train02", "train03"]),
        read_annotations(data.annotations),
    )
    sampler = EpochSampler(dataset, negative_ratio=0.5, seed=3, stride=3)
    assert len(sampler) == 4 + 2
    seen: set[int] = set()
    for epoch in range(12):
        sampler.set_epoch(epoch)
        picked = [index for index, _ in sampler]
        windows = {(dataset.refs[i].sequence_id, dataset.refs[i].frame // 3) for i in picked}
        assert len(picked) == len(windows) == 6
        assert sum(dataset.has_mass(i) for i in picked) == 4
        seen.update(i for i in picked if dataset.has_mass(i))
    assert seen == {i for i in range(len(dataset)) if dataset.has_mass(i)}


@pytest.mark.parametrize("workers", [0, 2])
def test_training_loader_leaves_the_global_generator_alone(tmp_path: Path, workers: int) -> None:
    """Resuming at any epoch, with any worker count, replays the same RPN/ROI sampling stream."""
    data = write_inputs(tmp_path, counts={"train": 1}, negatives=1, n_frames=3)
    dataset = FrameDataset(
        list_frames(data.frames, ["train00", "train01"]), read_annotations(data.annotations)
    )
    sampler = EpochSampler(dataset, negative_ratio=1.0, seed=3)
    loader = train._loader(dataset, 2, workers, torch.device("cpu"), sampler)
    torch.manual_seed(5)
    expected = torch.rand(3)
    for epoch in range(2):
        torch.manual_seed(5)
        sampler.set_epoch(epoch)
        assert len(list(loader)) == len(loader)
        assert torch.equal(torch.rand(3), expected), f"epoch {epoch}"


def test_warmup_then_cosine_and_step_schedules() -> None:
    model = torch.nn.Linear(2, 1)
    scheduler = build_scheduler(build_optimizer(model, TRAIN), TRAIN, iters_per_epoch=10)
    lrs = []
    for _ in range(20):
        lrs.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()
        scheduler.step()
    assert lrs[0] == pytest.approx(0.01 * 0.001) and lrs[1] < lrs[3]
    assert max(lrs) <= 0.01 and lrs[19] < 0.001 and lrs[10] == pytest.approx(0.005)
    step_cfg = {**TRAIN, "lr_schedule": "step", "warmup_iters": 0, "optimizer": "sgd"}
    step = build_scheduler(build_optimizer(model, step_cfg), step_cfg, iters_per_epoch=10)
    for _ in range(10):
        assert step.get_last_lr()[0] == pytest.approx(0.01)
        step.optimizer.step()
        step.step()
    assert step.get_last_lr()[0] == pytest.approx(0.001)


@pytest.mark.parametrize(
    "arch", ["resnet18_fpn_slim", "resnet18_fpn", "mobilenet_v3_large_fpn", "resnet50_fpn"]
)
def test_every_arch_builds_a_two_class_detector(arch: str) -> None:
    model = build_model({**SLIM, "arch": arch}, score_floor=0.02).eval()
    assert model.roi_heads.box_predictor.cls_score.out_features == 2
    assert model.roi_heads.score_thresh == 0.02 and model.transform.min_size[-1] == 64


def test_load_weights_takes_a_backbone_or_a_detector_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    backbone = resnet18(weights=None)
    torch.save(backbone.state_dict(), tmp_path / "backbone.pth")
    model = build_model(SLIM)
    assert "backbone" in load_weights(model, tmp_path / "backbone.pth")
    assert torch.equal(model.backbone.body.layer2[0].conv1.weight, backbone.layer2[0].conv1.weight)

    torch.save({"model": model.state_dict()}, tmp_path / "detector.pt")
    other = build_model(SLIM)
    assert "detector" in load_weights(other, tmp_path / "detector.pt")
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True)
    )
    torch.save({"unrelated": torch.zeros(3)}, tmp_path / "junk.pt")
    with pytest.raises(InputFileError, match="no tensor matches"):
        load_weights(other, tmp_path / "junk.pt")
    with pytest.raises(InputFileError, match="not found"):
        load_weights(other, tmp_path / "absent.pt")


class _NanLoss(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, images: list, targets: list) -> dict[str, torch.Tensor]:
        nan = self.weight * float("nan")
        return {
            name: nan
            for name in ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg")
        }


def test_non_finite_loss_stops_with_a_clear_error() -> None:
    model = _NanLoss()
    optimizer = build_optimizer(model, TRAIN)
    scheduler = build_scheduler(optimizer, TRAIN, iters_per_epoch=1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    batch = ([torch.zeros(3, 8, 8)], [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}], [0])
    with pytest.raises(DynbusError, match="non-finite training loss at epoch 1, iteration 1"):
        train_one_epoch(model, optimizer, scheduler, scaler, [batch], torch.device("cpu"), 0, 1.0)
    assert torch.equal(model.weight, torch.ones(1))


def test_bad_boxes_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "annotations.csv"
    path.write_text("sequence_id,frame,lesion_id,x1,y1,x2,y2\ns1,0,a,1,1,5,5\ns1,1,a,5,1,2,5\n")
    with pytest.raises(InputFileError, match="row 3: needs x1 < x2"):
        read_annotations(path)
    path.write_text("sequence_id,frame,lesion_id,x1,y1,x2,y2\ns1,0,a,1,1,5,5\ns1,0,b,6,6,9,9\n")
    assert np.array_equal(read_annotations(path)[("s1", 0)], [[1, 1, 5, 5], [6, 6, 9, 9]])
