"""ODKD: a heatmap head with an extra person-mask output (our design; see docs/odkd.md).

The abstract says the senior teacher transfers "segmentation and keypoints information by
adding the human segmentation mask". Our reading: :class:`MaskAwareHeatmapHead` is MMPose's
``HeatmapHead`` plus a 1x1 convolution ``mask_layer`` beside ``final_layer`` (same input
features) predicting one person-mask logit map on the heatmap grid, trained against the mask
``TopdownGenerateMask`` rasterises (``gt_fields.person_mask``) with a class-balanced BCE plus a
soft Dice term:

    losses = {loss_kpt: HeatmapHead loss,
              loss_mask: mask_loss_weight * (BCE(logits, mask, pos_weight) + Dice)}

(a plain BCE leaves the sigmoid below 0.5 everywhere for a long time: person pixels are the
minority of a crop, and the hard mask is then empty);

* ``forward`` returns the K keypoint heatmaps only, so ``predict`` / flip test / decoding are
  exactly ``HeatmapHead``'s;
* every forward also runs ``masked_output`` (:class:`MaskedHeatmaps`) on
  ``(heatmaps, mask_logits)``: heatmaps x sigmoid(mask) (``mask_mode='soft'``, default) or x
  [sigmoid(mask) >= 0.5] (``'hard'``), a keypoint whose peak the mask removes falling back to
  its unmasked map. A distiller reads it with ``source='head.masked_output'``: option (a), the
  senior teacher's heatmaps masked by its own mask;
* as a student head (option (b), an auxiliary mask task) it is dropped on export by
  :meth:`MaskAwareHeatmapHead.export_plain`: plain ``HeatmapHead`` config, no ``mask_layer``.
"""
from __future__ import annotations

import copy
import inspect
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from torch import Tensor, nn

from ..utils import heatmap_pck_accuracy

__all__ = ['MaskAwareHeatmapHead', 'MaskedHeatmaps', 'mask_iou']


def mask_iou(pred: Tensor, target: Tensor) -> Tensor:
    """Mean IoU of boolean masks ``(B, 1, H, W)`` over the batch (1 where both are empty)."""
    pred, target = pred.flatten(1), target.flatten(1)
    inter = (pred & target).sum(1).float()
    union = (pred | target).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1.), torch.ones_like(union)).mean()


class MaskedHeatmaps(nn.Module):
    """``heatmaps * sigmoid(mask_logits)`` (``'soft'``) or ``* [sigmoid >= threshold]``
    (``'hard'``); ``'none'`` returns the heatmaps unchanged.

    A mask that removes a keypoint's peak (the masked map keeps less than ``keep_ratio`` of
    the raw peak: a joint the mask misses, or an untrained mask) would teach "no keypoint
    here". ``fallback='unmasked'`` (default) hands over that keypoint's raw map instead;
    ``'none'`` keeps the masked one. :meth:`log_vars` reports the share of maps that fell back
    in the last forward (a tensor: no host synchronisation).
    """

    def __init__(self, mode: str = 'soft', threshold: float = 0.5,
                 fallback: str = 'unmasked', keep_ratio: float = 0.5):
        super().__init__()
        if mode not in ('soft', 'hard', 'none'):
            raise ValueError(f"mask_mode must be 'soft', 'hard' or 'none', got {mode!r}")
        if fallback not in ('unmasked', 'none'):
            raise ValueError(f"mask_fallback must be 'unmasked' or 'none', got {fallback!r}")
        if not 0. <= keep_ratio <= 1.:
            raise ValueError(f'mask_keep_ratio must be in [0, 1], got {keep_ratio!r}')
        self.mode, self.threshold = mode, float(threshold)
        self.fallback, self.keep_ratio = fallback, float(keep_ratio)
        self._fallback_share: Optional[Tensor] = None

    def forward(self, heatmaps: Tensor, mask_logits: Tensor) -> Tensor:
        if self.mode == 'none':
            return heatmaps
        prob = torch.sigmoid(mask_logits)
        if self.mode == 'hard':
            prob = (prob >= self.threshold).to(heatmaps.dtype)
        masked = heatmaps * prob
        if self.fallback == 'none':
            return masked
        raw_peak = heatmaps.detach().flatten(-2).amax(-1)
        kept_peak = masked.detach().flatten(-2).amax(-1)
        lost = (raw_peak > 0) & (kept_peak < self.keep_ratio * raw_peak)     # (B, K)
        self._fallback_share = lost.float().mean().detach()
        return torch.where(lost[..., None, None], heatmaps, masked)

    def log_vars(self) -> Dict[str, Tensor]:
        """``{'mask_fallback': share of keypoint maps handed over unmasked}`` (last forward)."""
        if self._fallback_share is None:
            return {}
        return dict(mask_fallback=self._fallback_share)


@MODELS.register_module()
class MaskAwareHeatmapHead(HeatmapHead):
    """``HeatmapHead`` + a person-mask map (see the module docstring).

    Args (besides ``HeatmapHead``'s):
        mask_loss_weight: weight of the mask loss (default 1.0).
        mask_pos_weight: BCE weight of person pixels: ``'auto'`` (default: the batch's
            background / person pixel ratio, so the rarer person pixels count as much as the
            background; without it a mask trained briefly never reaches 0.5 anywhere), a
            float, or None (plain BCE).
        mask_dice_weight: weight of a soft Dice term added to the BCE (default 1.0; 0: none).
        mask_key: ``gt_fields`` key of the target mask (default ``'person_mask'``).
        mask_mode: how ``masked_output`` applies the mask (default ``'soft'``).
        mask_fallback / mask_keep_ratio: see :class:`MaskedHeatmaps` (default: a keypoint
            whose peak the mask removes is handed over unmasked).

    Training also logs ``mask_iou`` (IoU of the thresholded mask with the target).
    ``test_cfg.output_mask=True`` adds the predicted mask probability to
    ``pred_fields.person_mask`` (for :class:`~okdhp_mm.evaluation.MaskIoUMetric`).
    """

    def __init__(self, *args, mask_loss_weight: float = 1.0,
                 mask_pos_weight: Union[str, float, None] = 'auto',
                 mask_dice_weight: float = 1.0, mask_key: str = 'person_mask',
                 mask_mode: str = 'soft', mask_fallback: str = 'unmasked',
                 mask_keep_ratio: float = 0.5, **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(self.final_layer, nn.Conv2d):
            raise ValueError('MaskAwareHeatmapHead needs a final_layer convolution (its input '
                             'features also feed the mask layer)')
        if not (mask_pos_weight in ('auto', None) or isinstance(mask_pos_weight, (int, float))):
            raise ValueError(f"mask_pos_weight must be 'auto', a number or None, got "
                             f'{mask_pos_weight!r}')
        self.mask_layer = nn.Conv2d(self.final_layer.in_channels, 1, kernel_size=1)
        self.masked_output = MaskedHeatmaps(mask_mode, fallback=mask_fallback,
                                            keep_ratio=mask_keep_ratio)
        self.mask_loss_weight, self.mask_key = float(mask_loss_weight), mask_key
        self.mask_pos_weight, self.mask_dice_weight = mask_pos_weight, float(mask_dice_weight)

    def forward_with_mask(self, feats: Tuple[Tensor]) -> Tuple[Tensor, Tensor]:
        x = self.conv_layers(self.deconv_layers(feats[-1]))
        heatmaps, mask_logits = self.final_layer(x), self.mask_layer(x)
        self.masked_output(heatmaps, mask_logits)  # fires hooks on head.masked_output
        return heatmaps, mask_logits

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        return self.forward_with_mask(feats)[0]

    def mask_loss(self, mask_logits: Tensor, gt_mask: Tensor) -> Tensor:
        """``mask_loss_weight x (BCE(pos_weight) + mask_dice_weight x soft Dice)``."""
        logits, target = mask_logits.float(), gt_mask.float()
        pos_weight = self.mask_pos_weight
        if pos_weight == 'auto':
            pos = target.sum()
            pos_weight = ((target.numel() - pos) / pos.clamp_min(1.)).clamp(1., 100.)
        elif pos_weight is not None:
            # torch.full: no host-to-device copy (a stream sync on CUDA).
            pos_weight = torch.full((), float(pos_weight), dtype=torch.float32,
                                    device=logits.device)
        loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
        if self.mask_dice_weight:
            prob = torch.sigmoid(logits).flatten(1)
            t = target.flatten(1)
            dice = 1 - (2 * (prob * t).sum(1) + 1) / (prob.sum(1) + t.sum(1) + 1)
            loss = loss + self.mask_dice_weight * dice.mean()
        return loss * self.mask_loss_weight

    def loss(self, feats, batch_data_samples, train_cfg: Mapping = {}) -> dict:
        heatmaps, mask_logits = self.forward_with_mask(feats)
        gt_heatmaps = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        try:
            gt_mask = torch.stack([d.gt_fields.get(self.mask_key) for d in batch_data_samples])
        except (AttributeError, TypeError) as err:
            raise KeyError(f'MaskAwareHeatmapHead needs gt_fields.{self.mask_key}: add '
                           'TopdownGenerateMask(heatmap_size=...) to the pipeline') from err
        gt_mask = gt_mask.reshape(mask_logits.shape).to(mask_logits.dtype)
        losses = dict(loss_kpt=self.loss_module(heatmaps, gt_heatmaps, weights),
                      loss_mask=self.mask_loss(mask_logits, gt_mask),
                      mask_iou=mask_iou(mask_logits.detach() >= 0, gt_mask >= 0.5))
        if train_cfg.get('compute_acc', True):  # in torch: no host synchronisation
            losses['acc_pose'] = heatmap_pck_accuracy(heatmaps, gt_heatmaps, weights > 0)
        return losses

    def predict(self, feats, batch_data_samples, test_cfg: Mapping = {}):
        """``HeatmapHead.predict``; with ``test_cfg.output_mask`` also the mask probability
        (no flip averaging) in ``pred_fields.person_mask``."""
        if not test_cfg.get('output_mask', False):
            return super().predict(feats, batch_data_samples, test_cfg)
        plain = feats[0] if test_cfg.get('flip_test', False) else feats
        _, mask_logits = self.forward_with_mask(plain)
        out = super().predict(feats, batch_data_samples, dict(test_cfg, output_heatmaps=True))
        preds, fields = out
        for field, logits in zip(fields, mask_logits.detach()):
            field.person_mask = torch.sigmoid(logits.float())
        return preds, fields

    @staticmethod
    def export_plain(head_cfg: Mapping, state: Optional[Mapping] = None,
                     prefix: str = 'head.') -> Tuple[dict, Optional['OrderedDict']]:
        """Plain ``HeatmapHead`` config (and state dict without ``mask_layer``) of this head:
        every argument this head adds to ``HeatmapHead`` (the ``mask_*`` ones) is dropped."""
        cfg = copy.deepcopy(dict(head_cfg))
        cfg['type'] = 'HeatmapHead'
        for key in _own_arguments():
            cfg.pop(key, None)
        if state is None:
            return cfg, None
        drop = prefix + 'mask_layer.'
        return cfg, OrderedDict((k, v) for k, v in state.items() if not k.startswith(drop))


def _own_arguments() -> List[str]:
    """The constructor arguments of :class:`MaskAwareHeatmapHead` that ``HeatmapHead`` lacks,
    read from the signatures: an argument added later cannot be left in an export."""
    plain = inspect.signature(HeatmapHead.__init__).parameters
    own = inspect.signature(MaskAwareHeatmapHead.__init__).parameters.values()
    return [p.name for p in own
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in plain]
