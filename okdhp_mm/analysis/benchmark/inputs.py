"""Synthetic inputs of a config's size: what the data preprocessor would hand the model."""
from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ['make_batch']

# Flip pairs of the two keypoint layouts of the paper; anything else gets identity indices
# (flip test is off in every measurement, the value only has to exist).
_COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
_MPII_FLIP = [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10]


def _flip_indices(num_keypoints: int) -> List[int]:
    if num_keypoints == 17:
        return list(_COCO_FLIP)
    if num_keypoints == 16:
        return list(_MPII_FLIP)
    return list(range(num_keypoints))


def make_batch(batch_size: int, input_size: Tuple[int, int], num_keypoints: int,
               heatmap_size: Optional[Tuple[int, int]] = None,
               device: Union[str, torch.device] = 'cpu',
               seed: int = 0) -> Tuple[Tensor, List[Any]]:
    """Synthetic ``(inputs, data_samples)`` of ``batch_size`` crops of ``input_size`` (W, H).

    The inputs are already normalised (what the data preprocessor hands the model). Every
    sample has the metainfo ``predict`` needs (input_size/center/scale, flip_indices) and one
    ground-truth instance (bbox, bbox score); with ``heatmap_size`` (w, h) also training
    targets: ``gt_fields.heatmaps`` (K, h, w) Gaussians and ``gt_instance_labels
    .keypoint_weights`` (1, K) ones.
    """
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample

    w, h = input_size
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch_size, 3, h, w, generator=g).to(device)
    samples = []
    for i in range(batch_size):
        sample = PoseDataSample(metainfo=dict(
            id=i, img_id=i, img_path=f'synthetic_{i}.jpg', ori_shape=(h, w), img_shape=(h, w),
            input_size=(w, h), input_center=np.array([[w / 2, h / 2]], dtype=np.float32),
            input_scale=np.array([[w, h]], dtype=np.float32),
            flip_indices=_flip_indices(num_keypoints)))
        sample.gt_instances = InstanceData(
            bboxes=np.array([[0, 0, w, h]], dtype=np.float32),
            bbox_scores=np.ones(1, dtype=np.float32))
        if heatmap_size is not None:
            hw, hh = heatmap_size
            ys = torch.arange(hh, dtype=torch.float32)[:, None]
            xs = torch.arange(hw, dtype=torch.float32)[None, :]
            centres = torch.rand(num_keypoints, 2, generator=g) * torch.tensor([hw, hh])
            heatmaps = torch.exp(-((xs[None] - centres[:, 0, None, None]) ** 2 +
                                   (ys[None] - centres[:, 1, None, None]) ** 2) / (2 * 2.0 ** 2))
            sample.gt_fields = PixelData(heatmaps=heatmaps.to(device))
            sample.gt_instance_labels = InstanceData(
                keypoint_weights=torch.ones(1, num_keypoints, device=device))
        samples.append(sample)
    return inputs, samples
