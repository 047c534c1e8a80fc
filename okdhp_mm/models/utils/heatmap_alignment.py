"""Resample a teacher's heatmaps onto a student's grid (same input crop, other stride)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['align_heatmaps']


def align_heatmaps(maps: Tensor, size_wh: Sequence[int]) -> Tensor:
    """Resample ``(B, K, H_t, W_t)`` maps onto a ``(W_s, H_s)`` grid, bilinearly.

    MMPose places heatmap pixel ``i`` at input coordinate ``i * stride`` (``MSRAHeatmap``
    encodes ``keypoint / stride``; integral heads decode ``sum P(u) * u / W * input_w``), so
    student pixel ``j`` is read at teacher coordinate ``j * W_t / W_s`` (and ``i * H_t / H_s``
    for rows), bilinearly, clamped to the border. For an integer down-sampling ratio this
    picks teacher pixels exactly (``j * r``). Only meaningful when teacher and student see the
    same input crop (same input size), which the distiller checks.
    """
    b, k, ht, wt = maps.shape
    ws, hs = (int(s) for s in size_wh)
    if (ht, wt) == (hs, ws):
        return maps
    dev = maps.device
    xs = torch.arange(ws, device=dev, dtype=torch.float32) * (wt / ws)
    ys = torch.arange(hs, device=dev, dtype=torch.float32) * (ht / hs)
    gx = xs / (wt - 1) * 2 - 1 if wt > 1 else torch.zeros_like(xs)
    gy = ys / (ht - 1) * 2 - 1 if ht > 1 else torch.zeros_like(ys)
    grid = torch.stack(torch.meshgrid(gy, gx, indexing='ij')[::-1], dim=-1)   # (hs, ws, 2)
    grid = grid.unsqueeze(0).expand(b, hs, ws, 2)
    out = F.grid_sample(maps.float(), grid, mode='bilinear', padding_mode='border',
                        align_corners=True)
    return out.to(maps.dtype)
