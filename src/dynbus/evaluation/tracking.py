"""Tracker-based linking: ByteTrack (roboflow ``trackers``) over a sequence's detections.

Each track is a group; a box the tracker leaves unassigned is a group of its own. The tracker
runs with the package's defaults except ``minimum_consecutive_frames=1`` (a track's first box
belongs to it) and the cine's frame rate.
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
    track = np.full(len(scores), -1, dtype=np.int64)
    present = np.unique(frames)
    for frame in range(int(present.max(initial=-1)) + 1):
        index = np.flatnonzero(frames == frame)
        detections = sv.Detections(xyxy=boxes[index].reshape(-1, 4).astype(np.float32),
                                   confidence=scores[index].astype(np.float32),
                                   data={"index": index})
        result = tracker.update(detections)
        if len(result):
            track[result.data["index"]] = result.tracker_id
    single = track < 0
    track[single] = track.max(initial=-1) + 1 + np.arange(int(single.sum()))
    _, labels = np.unique(track, return_inverse=True)
    return labels
