"""Tracker-based linking: ByteTrack (roboflow ``trackers``) over a sequence's detections.

Each track is a group (with the box that started it); a box the tracker leaves unassigned is a
group of its own. The tracker runs with the package's defaults except
``minimum_consecutive_frames=1`` (a track has its id from its second box on) and the cine's
frame rate.
"""

from __future__ import annotations

import numpy as np


def track_labels(
    boxes: np.ndarray, frames: np.ndarray, scores: np.ndarray, fps: float
) -> np.ndarray:
    """Group label of each box: its ByteTrack track, or a new label of its own."""
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker(frame_rate=fps, minimum_consecutive_frames=1)
    spawn = min(tracker.track_activation_threshold, 1.0)
    high = tracker.high_conf_det_threshold
    track = np.full(len(scores), -1, dtype=np.int64)
    spawned: list[tuple[object, int]] = []  # (tracklet, the box that started it)
    present = np.unique(frames)
    for frame in range(int(present.max(initial=-1)) + 1):
        index = np.flatnonzero(frames == frame)
        before = {id(t) for t in tracker.tracks}
        detections = sv.Detections(
            xyxy=boxes[index].reshape(-1, 4).astype(np.float32),
            confidence=scores[index].astype(np.float32),
            data={"index": index},
        )
        result = tracker.update(detections)
        if len(result):
            track[result.data["index"]] = result.tracker_id
        # the package returns a track's first box with id -1; new tracklets are appended in
        # the order of their starting boxes, which come last in the result
        new = [t for t in tracker.tracks if id(t) not in before]
        starts = [
            int(i)
            for i, tid, c in zip(
                result.data["index"] if len(result) else [],
                result.tracker_id,
                result.confidence,
                strict=True,
            )
            if tid < 0 and c >= max(spawn, high)
        ]
        spawned += zip(new, starts[len(starts) - len(new) :], strict=True)
    for tracklet, box in spawned:
        if tracklet.tracker_id >= 0:
            track[box] = tracklet.tracker_id
    single = track < 0
    track[single] = track.max(initial=-1) + 1 + np.arange(int(single.sum()))
    _, labels = np.unique(track, return_inverse=True)
    return labels
