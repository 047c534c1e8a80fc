"""Pixel-wise (spatial-softmax) KL divergence between heatmaps, as used by OKDHP.

Re-implementation of the official OKDHP ``JointsKLDLoss`` (``lib/core/loss.py`` of
zhengli97/OKDHP), numerically hardened and extended with a temperature and an optional
stop-gradient on the target.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmpose.registry import MODELS

from ..utils import autocast_disabled


@MODELS.register_module()
class PixelKLDivLoss(nn.Module):
    r"""Per-keypoint KL divergence between spatial-softmax distributions of two heatmaps.

    For every sample ``b`` and keypoint ``k`` the ``H*W`` heatmap values are turned into a
    distribution over pixels by a softmax, and the loss is

    .. math::

        L = \mathrm{loss\_weight}\cdot\frac{T^2}{B\,H\,W}\sum_{b,k}\sum_{p}
            P_{bkp}\,(\log P_{bkp} - \log Q_{bkp}),\qquad
        P_{bk} = \mathrm{softmax}_p(v_{bk}\,y_{bk}/T),\;
        Q_{bk} = \mathrm{softmax}_p(v_{bk}\,x_{bk}/T)

    with ``x = pred`` (student), ``y = target`` (teacher / ensemble) and ``v`` the keypoint
    weights, i.e. ``KL(target || pred)`` -- the forward distillation direction of
    ``nn.KLDivLoss(log_softmax(pred), softmax(target))``.

    Masking and normalisation (reproduce the official ``JointsKLDLoss``, see
    ``lib/core/loss.py`` of the released code, github.com/zhengli97/OKDHP):

    * The keypoint weight **multiplies the logits before the softmax** (of both maps), exactly
      like the official code. For a weight of 0 both maps become uniform, so the keypoint
      contributes exactly 0 loss and 0 gradient; for a weight of 1 the keypoint is untouched.
      With binary visibility weights this is therefore identical to multiplying the per-joint
      KL by the weight. Non-binary weights (e.g. MMPose dataset keypoint weights) are *not* a
      linear rescaling of the loss: a weight ``w`` sharpens (``w > 1``) or flattens (``w < 1``)
      both distributions, as in the official code.
    * The KL is **summed over keypoints and pixels and divided by ``B*H*W``** (the official
      code sums ``nn.KLDivLoss(reduction='none')`` over pixels and joints and divides by the
      batch size and by ``H*W``). The number of keypoints and of visible keypoints does not
      enter the normaliser, so the paper's loss weights (``KD_WEIGHT`` = 2 in the released
      script) carry over unchanged for the same heatmap size.
    * With a temperature ``T != 1`` the logits are divided by ``T`` (after the weight) and the
      result is multiplied by ``T**2`` (Hinton et al.) so that gradient magnitudes stay
      comparable across temperatures. ``T = 1`` (official) reproduces ``JointsKLDLoss``.

    Numerics: both maps are cast to float32 and the computation runs with autocast disabled,
    using ``log_softmax`` for both distributions and ``exp(log P)`` for ``P``; no ``log(0)`` is
    ever taken, so fp16/bf16 inputs, saturated logits (peaks of 1e4) and all-zero weights give
    finite values and gradients. The returned loss is a float32 scalar.

    Args:
        temperature (float): Softmax temperature ``T`` (> 0). Defaults to 1.0.
        use_target_weight (bool): Whether to apply ``target_weights`` as described above.
            Defaults to True.
        detach_target (bool): Stop the gradient into ``target``. The official OKDHP code does
            *not* detach the ensemble target (its KL gradients reach the FAU and the
            branches). Defaults to False.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 use_target_weight: bool = True,
                 detach_target: bool = False,
                 loss_weight: float = 1.0):
        super().__init__()
        if not temperature > 0:
            raise ValueError(
                f'PixelKLDivLoss: temperature must be > 0, got {temperature!r}')
        self.temperature = float(temperature)
        self.use_target_weight = use_target_weight
        self.detach_target = detach_target
        self.loss_weight = loss_weight

    def forward(self,
                pred: Tensor,
                target: Tensor,
                target_weights: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Student heatmaps (logits), shape ``(B, K, H, W)`` (any number of
                trailing spatial dims is accepted; they are flattened).
            target (Tensor): Teacher/ensemble heatmaps, same shape as ``pred``.
            target_weights (Tensor, optional): Keypoint weights of shape ``(B, K)`` (a
                ``(B, K, 1, 1)``-like tensor with ``B*K`` elements is accepted too). Ignored if
                ``use_target_weight`` is False; ``None`` means all keypoints have weight 1.

        Returns:
            Tensor: Scalar float32 loss (already multiplied by ``loss_weight``).
        """
        if pred.shape != target.shape:
            raise ValueError(
                'PixelKLDivLoss: pred and target must have the same shape, got '
                f'pred {tuple(pred.shape)} and target {tuple(target.shape)}')
        if pred.dim() < 3:
            raise ValueError(
                'PixelKLDivLoss: expected heatmaps of shape (B, K, H, W), got '
                f'{tuple(pred.shape)}')
        B, K = pred.shape[:2]
        num_pixels = math.prod(pred.shape[2:])

        if self.detach_target:
            target = target.detach()
        if B * K * num_pixels == 0:  # empty batch: keep the graph, return 0
            return (pred.float().sum() + target.float().sum()) * 0.0

        with autocast_disabled(pred.device.type):
            x = pred.float().flatten(2)  # (B, K, HW)
            y = target.float().flatten(2)

            if self.use_target_weight and target_weights is not None:
                w = target_weights
                if w.numel() != B * K:
                    raise ValueError(
                        'PixelKLDivLoss: target_weights must have shape (B, K) = '
                        f'({B}, {K}), got {tuple(w.shape)}')
                w = w.to(device=x.device, dtype=torch.float32).reshape(B, K, 1)
                # Official JointsKLDLoss: the weight multiplies the logits of both maps.
                x = x * w
                y = y * w

            if self.temperature != 1.0:
                x = x / self.temperature
                y = y / self.temperature

            log_q = F.log_softmax(x, dim=-1)
            log_p = F.log_softmax(y, dim=-1)
            # P * (log P - log Q) with P = exp(log P): an underflowed P gives 0 * finite = 0.
            kl = log_p.exp() * (log_p - log_q)
            loss = kl.sum() / (B * num_pixels)

            if self.temperature != 1.0:
                loss = loss * (self.temperature**2)

        return loss * self.loss_weight

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, '
                f'use_target_weight={self.use_target_weight}, '
                f'detach_target={self.detach_target}, loss_weight={self.loss_weight}')
