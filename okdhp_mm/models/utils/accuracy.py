"""Training accuracies for the log, in torch: MMPose's numpy versions stall a GPU step.

MMPose's heads log ``acc_pose`` with ``pose_pck_accuracy`` / ``simcc_pck_accuracy``, which
copy the outputs and targets to the host (``to_numpy``) on every training step: a device
synchronisation per call on CUDA. These compute the same numbers (same arg-max, the same
``[H, W]`` normalisation, the same skipping of invisible and empty keypoints) as tensors on the
outputs' device, so reading them costs nothing until the logger does. Nothing is copied from
the host either: the normalisation sizes are Python numbers (a ``torch.tensor`` of them on
the device would be a host-to-device copy, which synchronises the stream).
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['heatmap_pck_accuracy', 'keypoint_pck_accuracy', 'simcc_pck_accuracy']


def _maximum(flat: Tensor) -> Tuple[Tensor, Tensor]:
    vals, idx = flat.max(dim=-1)
    return idx, vals


def keypoint_pck_accuracy(pred: Tensor, gt: Tensor, mask: Tensor, thr: float,
                          norm: Sequence[float]) -> Tensor:
    """Mean over keypoints (with at least one valid instance) of the share of valid instances
    whose normalised distance is below ``thr``; 0 when no keypoint is valid. ``pred``/``gt``
    ``(N, K, 2)``, ``mask`` ``(N, K)`` bool, ``norm`` the two sizes ``(x, y)`` are divided
    by (Python numbers)."""
    diff = pred - gt
    dist = torch.stack((diff[..., 0] / float(norm[0]), diff[..., 1] / float(norm[1])),
                       -1).norm(dim=-1)                             # (N, K)
    valid = mask.bool()
    hits = ((dist < thr) & valid).sum(0).float()
    count = valid.sum(0).float()
    has = count > 0
    per_kpt = hits / count.clamp_min(1.)
    num = has.sum()
    return torch.where(num > 0, (per_kpt * has).sum() / num.clamp_min(1), per_kpt.new_zeros(()))


def heatmap_pck_accuracy(output: Tensor, target: Tensor, mask: Tensor,
                         thr: float = 0.05) -> Tensor:
    """``mmpose.evaluation.functional.pose_pck_accuracy(...)[1]`` for ``(N, K, H, W)`` maps."""
    n, k, h, w = output.shape
    if k == 0:
        return output.new_zeros(())

    def locs(maps: Tensor) -> Tensor:
        idx, vals = _maximum(maps.detach().float().flatten(2))
        xy = torch.stack((idx % w, torch.div(idx, w, rounding_mode='floor')), -1).float()
        return torch.where((vals <= 0)[..., None], torch.full_like(xy, -1.), xy)

    # As MMPose: x divided by H and y by W.
    return keypoint_pck_accuracy(locs(output), locs(target), mask, thr, (h, w))


def simcc_pck_accuracy(output: Tuple[Tensor, Tensor], target: Tuple[Tensor, Tensor],
                       simcc_split_ratio: float, mask: Tensor, thr: float = 0.05) -> Tensor:
    """``mmpose.evaluation.functional.simcc_pck_accuracy(...)[1]`` for SimCC x/y vectors."""
    wx, wy = output[0].shape[-1], output[1].shape[-1]
    width, height = int(wx / simcc_split_ratio), int(wy / simcc_split_ratio)

    def locs(x: Tensor, y: Tensor) -> Tensor:
        ix, vx = _maximum(x.detach().float())
        iy, vy = _maximum(y.detach().float())
        xy = torch.stack((ix, iy), -1).float() / simcc_split_ratio
        vals = torch.minimum(vx, vy)
        return torch.where((vals <= 0)[..., None], torch.full_like(xy, -1. / simcc_split_ratio),
                           xy)

    return keypoint_pck_accuracy(locs(*output), locs(*target), mask, thr, (height, width))
