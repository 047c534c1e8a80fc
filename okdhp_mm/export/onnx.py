"""ONNX export of a plain student, checked with ONNX Runtime against PyTorch.

The graph is the student's ``forward`` in MMPose's tensor mode with its data preprocessing in
front: input ``image`` ``(N, 3, H, W)`` float32, the top-down crop as ``TopdownAffine`` makes it
from an OpenCV (BGR, 0..255) image; outputs what the head computes before decoding -- heatmaps
(``HeatmapHead``, the last stage of a ``CPMHead``), SimCC ``simcc_x`` / ``simcc_y``
(``RTMCCHead``) or ``coords`` / ``heatmaps`` (integral heads). The batch axis is dynamic.
"""
from __future__ import annotations

import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ['export_onnx', 'sample_crops']


class _TensorModeStudent(nn.Module):
    """``student(preprocess(image), mode='tensor')`` with a flat tuple of outputs."""

    def __init__(self, student: nn.Module):
        super().__init__()
        self.student = student
        dp = student.data_preprocessor
        self.swap = bool(getattr(dp, '_channel_conversion', False))
        self.register_buffer('mean', dp.mean.clone() if dp._enable_normalize else
                             torch.zeros(3, 1, 1))
        self.register_buffer('std', dp.std.clone() if dp._enable_normalize else
                             torch.ones(3, 1, 1))

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        x = image.flip(1) if self.swap else image
        out = self.student((x - self.mean) / self.std, None, mode='tensor')
        if isinstance(out, list):  # multi-stage heads (CPMHead): the decoded, last stage
            out = out[-1]
        return out if isinstance(out, tuple) else (out, )


def _output_names(head: nn.Module, count: int) -> List[str]:
    names = {'RTMCCHead': ['simcc_x', 'simcc_y'], 'DSNTHead': ['coords', 'heatmaps'],
             'IntegralRegressionHead': ['coords', 'heatmaps']}.get(type(head).__name__)
    if names is None or len(names) != count:
        names = ['heatmaps'] if count == 1 else [f'output{i}' for i in range(count)]
    return names


def sample_crops(input_size: Sequence[int], ann_file: Optional[str] = None,
                 img_dir: Optional[str] = None, limit: int = 8, seed: int = 0) -> np.ndarray:
    """Top-down crops ``(N, 3, H, W)`` float32 (BGR, 0..255) of the annotated persons of a
    COCO file (MMPose's ``CocoDataset`` + ``TopdownAffine``), or seeded random crops."""
    w, h = (int(v) for v in input_size)
    if ann_file is None:
        rng = np.random.default_rng(seed)
        return rng.uniform(0, 255, size=(limit, 3, h, w)).astype(np.float32)
    from mmpose.datasets import CocoDataset

    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=(w, h))]
    ds = CocoDataset(ann_file=osp.abspath(ann_file), data_root='',
                     data_prefix=dict(img=osp.abspath(img_dir) + '/'), data_mode='topdown',
                     pipeline=pipeline, test_mode=True)
    crops = [ds[i]['img'].transpose(2, 0, 1) for i in range(min(limit, len(ds)))]
    return np.stack(crops).astype(np.float32)


def export_onnx(student: nn.Module, input_size: Sequence[int], path: str,
                crops: np.ndarray, opset: int = 17) -> dict:
    """Write ``path`` and compare ONNX Runtime with PyTorch on ``crops`` (batch 1 and all).

    Returns ``dict(onnx=path, outputs=[names], max_abs_diff=d, checked_crops=n)``.
    """
    import onnxruntime as ort

    w, h = (int(v) for v in input_size)
    wrapper = _TensorModeStudent(student).eval()  # eval: export keeps the module's mode
    with torch.no_grad():
        probe = wrapper(torch.zeros(1, 3, h, w))
    names = _output_names(student.head, len(probe))
    torch.onnx.export(wrapper, (torch.zeros(2, 3, h, w), ), path, dynamo=False,
                      input_names=['image'], output_names=names, opset_version=opset,
                      dynamic_axes={n: {0: 'batch'} for n in ['image'] + names})
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    worst = 0.0
    for batch in ([crops[:1]] + ([crops] if len(crops) > 1 else [])):
        ours = session.run(None, {'image': batch})
        with torch.no_grad():
            ref = wrapper(torch.from_numpy(batch))
        worst = max([worst] + [float(np.abs(o - r.numpy()).max()) for o, r in zip(ours, ref)])
    return dict(onnx=path, outputs=names, max_abs_diff=worst, checked_crops=int(len(crops)))
