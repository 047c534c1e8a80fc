"""KL divergence between SimCC distributions (x and y bins), for online distillation."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..utils import autocast_disabled

__all__ = ['SimCCKLDivLoss']


@MODELS.register_module()
class SimCCKLDivLoss(nn.Module):
    r"""KL(target || pred) of SimCC logits, per keypoint, over the x bins and the y bins.

    As DWPose's logit distillation (MMPose's ``KDLoss``): with ``P = softmax(beta * t)`` and
    ``Q = softmax(beta * s)`` over the bins of one keypoint,

    .. math::

        L = \mathrm{loss\_weight} \cdot \frac{1}{K} \cdot \frac{1}{N} \sum_n \sum_k w_{nk}
            \left[\mathrm{KL}(P^x_{nk} \| Q^x_{nk}) + \mathrm{KL}(P^y_{nk} \| Q^y_{nk})\right]

    summed over bins and keypoints, averaged over the batch, divided by the keypoint count.
    DWPose distils every keypoint (``use_target_weight=False``, default: invisible keypoints
    count too, as there); with ``use_target_weight=True`` the keypoint weights ``w`` multiply
    each keypoint's KL (0 drops it).

    Args:
        beta (float): logit scale before the softmax; 10 is RTMPose's ``KLDiscretLoss`` beta.
        use_target_weight (bool): weight keypoints by ``target_weights``. Defaults to False.
        detach_target (bool): stop gradients into the target. OKDHP's online ensemble is not
            detached (its KL gradients reach the FAU and the branches). Defaults to False.
        loss_weight (float): overall weight. Defaults to 1.0.

    Computed in float32 with autocast off; returns a float32 scalar.
    """

    def __init__(self, beta: float = 10.0, use_target_weight: bool = False,
                 detach_target: bool = False, loss_weight: float = 1.0):
        super().__init__()
        if not beta > 0:
            raise ValueError(f'SimCCKLDivLoss: beta must be > 0, got {beta!r}')
        self.beta, self.use_target_weight = float(beta), use_target_weight
        self.detach_target, self.loss_weight = detach_target, float(loss_weight)

    def _kl(self, s: Tensor, t: Tensor) -> Tensor:
        """(N, K) KL over the last (bin) axis."""
        log_q = F.log_softmax(s.float() * self.beta, dim=-1)
        log_p = F.log_softmax(t.float() * self.beta, dim=-1)
        return (log_p.exp() * (log_p - log_q)).sum(-1)

    def forward(self, pred: Sequence[Tensor], target: Sequence[Tensor],
                target_weights: Optional[Tensor] = None) -> Tensor:
        """``pred`` / ``target``: ``(x, y)`` logits of shapes ``(N, K, Wx)``, ``(N, K, Wy)``;
        ``target_weights``: ``(N, K)``."""
        (sx, sy), (tx, ty) = pred, target
        for s, t in ((sx, tx), (sy, ty)):
            if s.shape != t.shape or s.dim() != 3:
                raise ValueError(f'SimCCKLDivLoss: pred and target must be (N, K, bins) pairs '
                                 f'of the same shape, got {tuple(s.shape)} and '
                                 f'{tuple(t.shape)}')
        if self.detach_target:
            tx, ty = tx.detach(), ty.detach()
        n, k = sx.shape[:2]
        with autocast_disabled(sx.device.type):
            kl = self._kl(sx, tx) + self._kl(sy, ty)                      # (N, K)
            if self.use_target_weight and target_weights is not None:
                kl = kl * target_weights.float().reshape(n, k)
            loss = kl.sum() / (n * k)
        return loss * self.loss_weight
