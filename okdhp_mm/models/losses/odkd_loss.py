"""ODKD: binarised teacher heatmaps as a distillation target (our design; see docs/odkd.md).

The ODKD abstract only says that "a binarization operation ... reduces noise in heatmaps".
Our reading, every choice an option with a documented default:

* :func:`binarize_heatmaps`: per map (one keypoint of one sample), a pixel whose value is at
  least ``threshold`` x the map's peak (``relative=True``, default; ``relative=False``: at
  least ``threshold``) is kept -- set to 1 (``mode='hard'``, default) or left at its value
  (``mode='keep'``) -- and every other pixel is set to 0. A map whose peak is not above
  ``eps`` (an empty / all-negative map) becomes all 0.
* A keypoint whose teacher target is empty (no pixel left: the teacher does not see it, or a
  mask removed it) is left out of the loss -- it has nothing to imitate, and an all-zero
  target would teach "no keypoint here". :meth:`ODKDHeatmapLoss.log_vars` reports the share
  of keypoints left out (``empty_targets``; a tensor, no host synchronisation).
* :class:`ODKDHeatmapLoss` (a ``distill_losses`` entry of ``TeacherStudentDistiller``):
  ``loss_weight * mean_{b,k,h,w}( w_bk * m_bhw * (S - T')^2 )`` with ``T'`` the binarised
  teacher map (``binarize=False``: the raw map), ``w_bk`` the keypoint weights
  (``use_target_weight=True``, default; the distiller passes them) and ``m`` an optional mask.
* Combination with the ground truth: by default as separate loss terms, the student's own
  ``loss_kpt`` (GT) plus this loss (binarised teacher), i.e. ``L = L(S, GT) + w * L(S, bin(T))``.
  ``alpha`` (default ``None``) instead mixes targets, ``T' = alpha * GT + (1 - alpha) * bin(T)``,
  when the caller passes ``gt_heatmaps`` (``TeacherStudentDistiller`` passes them to losses
  that take them).
* Senior-teacher mask, option (a): the senior teacher's heatmaps are multiplied by its
  person-mask output before binarisation. With :class:`MaskAwareHeatmapHead` this happens in
  the teacher (distiller ``source='head.masked_output'``); a caller can also pass
  ``teacher_mask`` (``(B, 1, H, W)``, probabilities) to this loss.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..utils import autocast_disabled

__all__ = ['binarize_heatmaps', 'ODKDHeatmapLoss']


def binarize_heatmaps(heatmaps: Tensor, threshold: float = 0.5, relative: bool = True,
                      mode: str = 'hard', eps: float = 1e-6) -> Tensor:
    """Binarise ``(..., H, W)`` heatmaps map by map (see the module docstring).

    ``mode='hard'``: ``1`` where ``x >= thr`` else ``0``; ``mode='keep'``: ``x`` where
    ``x >= thr`` else ``0``; ``thr = threshold * peak`` (``relative``) or ``threshold``.
    Maps with ``peak <= eps`` give 0 everywhere. The result has no gradient (a target).
    """
    if mode not in ('hard', 'keep'):
        raise ValueError(f"mode must be 'hard' or 'keep', got {mode!r}")
    if heatmaps.dim() < 2:
        raise ValueError(f'heatmaps must be (..., H, W), got {tuple(heatmaps.shape)}')
    x = heatmaps.detach()
    peak = x.flatten(-2).amax(-1)[..., None, None]
    thr = threshold * peak if relative else torch.full_like(peak, float(threshold))
    keep = (x >= thr) & (peak > eps)
    if mode == 'hard':
        return keep.to(x.dtype)
    return torch.where(keep, x, torch.zeros_like(x))


@MODELS.register_module()
class ODKDHeatmapLoss(nn.Module):
    """MSE between the student heatmap and the (masked,) binarised teacher heatmap.

    Args:
        threshold: binarisation threshold (default 0.5, relative to each map's peak).
        relative: threshold relative to the map's peak (default True).
        mode: ``'hard'`` (default, 0/1 target) or ``'keep'`` (teacher values above it).
        binarize: apply the binarisation (default True; False: plain heatmap MSE KD).
        alpha: ``None`` (default): the GT enters as the student's own loss term; a float in
            [0, 1]: target ``alpha * GT + (1 - alpha) * bin(T)`` when ``gt_heatmaps`` is given.
        use_target_weight: weight each keypoint by the distiller's ``target_weights``
            (default True).
        loss_weight: overall weight (default 1.0); ``OrderlyTeacherHook`` changes it at run
            time.
    """

    def __init__(self, threshold: float = 0.5, relative: bool = True, mode: str = 'hard',
                 binarize: bool = True, alpha: Optional[float] = None,
                 use_target_weight: bool = True, loss_weight: float = 1.0):
        super().__init__()
        if mode not in ('hard', 'keep'):
            raise ValueError(f"mode must be 'hard' or 'keep', got {mode!r}")
        if alpha is not None and not 0. <= float(alpha) <= 1.:
            raise ValueError(f'alpha must be in [0, 1] or None, got {alpha!r}')
        self.threshold, self.relative, self.mode = float(threshold), relative, mode
        self.binarize, self.alpha = binarize, alpha
        self.use_target_weight = use_target_weight
        self.loss_weight = float(loss_weight)
        self._empty_share: Optional[Tensor] = None

    def target(self, teacher_map: Tensor, teacher_mask: Optional[Tensor] = None,
               gt_heatmaps: Optional[Tensor] = None) -> Tensor:
        t = teacher_map.detach().float()
        if teacher_mask is not None:
            t = t * teacher_mask.detach().float()
        if self.binarize:
            t = binarize_heatmaps(t, self.threshold, self.relative, self.mode)
        if self.alpha is not None and gt_heatmaps is not None:
            t = self.alpha * gt_heatmaps.float() + (1. - self.alpha) * t
        return t

    def forward(self, student_map: Tensor, teacher_map: Tensor,
                target_weights: Optional[Tensor] = None,
                teacher_mask: Optional[Tensor] = None,
                gt_heatmaps: Optional[Tensor] = None) -> Tensor:
        if student_map.shape != teacher_map.shape:
            raise ValueError(f'student map {tuple(student_map.shape)} and teacher map '
                             f'{tuple(teacher_map.shape)} differ')
        with autocast_disabled(student_map.device.type):  # float32 under AMP
            t = self.target(teacher_map, teacher_mask, gt_heatmaps)
            err = F.mse_loss(student_map.float(), t, reduction='none')
            present = (t.flatten(-2).amax(-1) > 0).float()                       # (B, K)
            self._empty_share = 1. - present.mean().detach()
            w = present
            if self.use_target_weight and target_weights is not None:
                w = w * target_weights.float().reshape(present.shape)
            err = err * w.reshape(w.shape + (1, ) * (err.dim() - w.dim()))
            return err.mean() * self.loss_weight

    def log_vars(self) -> Dict[str, Tensor]:
        """``{'empty_targets': share of keypoints left out}`` of the last call."""
        return {} if self._empty_share is None else dict(empty_targets=self._empty_share)
