"""Synthetic inputs of a config's size: what the data preprocessor would hand the model.

Training targets come from the model's own codec through MMPose's ``GenerateTarget`` and
``PackPoseInputs``, exactly as the data pipeline makes them: heatmaps (``gt_fields``) for
heatmap codecs, ``keypoint_x_labels`` / ``keypoint_y_labels`` (``gt_instance_labels``) for
SimCC, whatever another codec encodes.
"""
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


def _encoded_targets(codec: dict, input_size: Tuple[int, int], num_keypoints: int,
                     generator: torch.Generator):
    """(gt_instance_labels, gt_fields or None) of one instance with random visible keypoints
    (inside the crop's central 80 %), encoded and packed by MMPose's own transforms."""
    from mmpose.datasets.transforms import GenerateTarget, PackPoseInputs

    w, h = input_size
    xy = (0.1 + 0.8 * torch.rand(1, num_keypoints, 2, generator=generator)) * \
        torch.tensor([w, h], dtype=torch.float32)
    results = dict(img=np.zeros((h, w, 3), dtype=np.uint8),
                   keypoints=xy.numpy().astype(np.float32),
                   keypoints_visible=np.ones((1, num_keypoints), dtype=np.float32))
    results = GenerateTarget(encoder=codec).transform(results)
    packed = PackPoseInputs().transform(results)['data_samples']
    return packed.gt_instance_labels, packed.get('gt_fields')


def make_batch(batch_size: int, input_size: Tuple[int, int], num_keypoints: int,
               heatmap_size: Optional[Tuple[int, int]] = None,
               device: Union[str, torch.device] = 'cpu', seed: int = 0,
               codec: Optional[dict] = None) -> Tuple[Tensor, List[Any]]:
    """Synthetic ``(inputs, data_samples)`` of ``batch_size`` crops of ``input_size`` (W, H).

    The inputs are already normalised (what the data preprocessor hands the model). Every
    sample has the metainfo ``predict`` needs (input_size/center/scale, flip_indices) and one
    ground-truth instance (bbox, bbox score). With ``codec`` (a codec config, e.g. the head's
    ``decoder``) also the training targets that codec encodes from random visible keypoints
    (``gt_instance_labels``, and ``gt_fields`` for heatmap codecs); ``heatmap_size`` (w, h) is
    short for an ``MSRAHeatmap`` codec of that size (sigma 2): ``gt_fields.heatmaps``
    (K, h, w) and ``gt_instance_labels.keypoint_weights`` (1, K).
    """
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    if heatmap_size is not None:
        if codec is not None:
            raise ValueError('make_batch: give codec or heatmap_size, not both (heatmap_size '
                             'is short for an MSRAHeatmap codec)')
        codec = dict(type='MSRAHeatmap', input_size=tuple(input_size),
                     heatmap_size=tuple(heatmap_size), sigma=2.0)
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
        if codec is not None:
            labels, fields = _encoded_targets(codec, input_size, num_keypoints, g)
            sample.gt_instance_labels = labels.to(device)
            if fields is not None:
                sample.gt_fields = fields.to(device)
        samples.append(sample)
    return inputs, samples
