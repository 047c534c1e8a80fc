"""ODKD: a heatmap head with an extra person-mask output (our design; see docs/odkd.md).

The abstract says the senior teacher transfers "segmentation and keypoints information by
adding the human segmentation mask". Our reading: :class:`MaskAwareHeatmapHead` is MMPose's
``HeatmapHead`` plus a 1x1 convolution ``mask_layer`` beside ``final_layer`` (same input
features) predicting one person-mask logit map on the heatmap grid, trained with binary cross
entropy against the mask ``TopdownGenerateMask`` rasterises (``gt_fields.person_mask``):

    losses = {loss_kpt: HeatmapHead loss, loss_mask: mask_loss_weight * BCE(logits, mask)}

* ``forward`` returns the K keypoint heatmaps only, so ``predict`` / flip test / decoding are
  exactly ``HeatmapHead``'s;
* every forward also runs ``masked_output`` (:class:`MaskedHeatmaps`) on
  ``(heatmaps, mask_logits)``: heatmaps x sigmoid(mask) (``mask_mode='soft'``, default) or x
  [sigmoid(mask) >= 0.5] (``'hard'``). A distiller reads it with
  ``source='head.masked_output'``: option (a), the senior teacher's heatmaps masked by its
  own mask;
* as a student head (option (b), an auxiliary mask task) it is dropped on export by
  :meth:`MaskAwareHeatmapHead.export_plain`: plain ``HeatmapHead`` config, no ``mask_layer``.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Mapping, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from torch import Tensor, nn

__all__ = ['MaskAwareHeatmapHead', 'MaskedHeatmaps']


class MaskedHeatmaps(nn.Module):
    """``heatmaps * sigmoid(mask_logits)`` (``'soft'``) or ``* [sigmoid >= 0.5]``
    (``'hard'``); ``'none'`` returns the heatmaps unchanged."""

    def __init__(self, mode: str = 'soft', threshold: float = 0.5):
        super().__init__()
        if mode not in ('soft', 'hard', 'none'):
            raise ValueError(f"mask_mode must be 'soft', 'hard' or 'none', got {mode!r}")
        self.mode, self.threshold = mode, float(threshold)

    def forward(self, heatmaps: Tensor, mask_logits: Tensor) -> Tensor:
        if self.mode == 'none':
            return heatmaps
        prob = torch.sigmoid(mask_logits)
        if self.mode == 'hard':
            prob = (prob >= self.threshold).to(heatmaps.dtype)
        return heatmaps * prob


@MODELS.register_module()
class MaskAwareHeatmapHead(HeatmapHead):
    """``HeatmapHead`` + a person-mask map (see the module docstring).

    Args (besides ``HeatmapHead``'s):
        mask_loss_weight: weight of the BCE mask loss (default 1.0).
        mask_key: ``gt_fields`` key of the target mask (default ``'person_mask'``).
        mask_mode: how ``masked_output`` applies the mask (default ``'soft'``).
    """

    def __init__(self, *args, mask_loss_weight: float = 1.0, mask_key: str = 'person_mask',
                 mask_mode: str = 'soft', **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(self.final_layer, nn.Conv2d):
            raise ValueError('MaskAwareHeatmapHead needs a final_layer convolution (its input '
                             'features also feed the mask layer)')
        self.mask_layer = nn.Conv2d(self.final_layer.in_channels, 1, kernel_size=1)
        self.masked_output = MaskedHeatmaps(mask_mode)
        self.mask_loss_weight, self.mask_key = float(mask_loss_weight), mask_key

    def forward_with_mask(self, feats: Tuple[Tensor]) -> Tuple[Tensor, Tensor]:
        x = self.conv_layers(self.deconv_layers(feats[-1]))
        heatmaps, mask_logits = self.final_layer(x), self.mask_layer(x)
        self.masked_output(heatmaps, mask_logits)  # fires hooks on head.masked_output
        return heatmaps, mask_logits

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        return self.forward_with_mask(feats)[0]

    def loss(self, feats, batch_data_samples, train_cfg: Mapping = {}) -> dict:
        from mmpose.evaluation.functional import pose_pck_accuracy
        from mmpose.utils.tensor_utils import to_numpy

        heatmaps, mask_logits = self.forward_with_mask(feats)
        gt_heatmaps = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        try:
            gt_mask = torch.stack([d.gt_fields.get(self.mask_key) for d in batch_data_samples])
        except (AttributeError, TypeError) as err:
            raise KeyError(f'MaskAwareHeatmapHead needs gt_fields.{self.mask_key}: add '
                           'TopdownGenerateMask(heatmap_size=...) to the pipeline') from err
        gt_mask = gt_mask.reshape(mask_logits.shape).to(mask_logits.dtype)
        losses = dict(
            loss_kpt=self.loss_module(heatmaps, gt_heatmaps, weights),
            loss_mask=F.binary_cross_entropy_with_logits(mask_logits, gt_mask) *
            self.mask_loss_weight)
        if train_cfg.get('compute_acc', True):
            _, acc, _ = pose_pck_accuracy(output=to_numpy(heatmaps), target=to_numpy(gt_heatmaps),
                                          mask=to_numpy(weights) > 0)
            losses['acc_pose'] = torch.tensor(acc, device=gt_heatmaps.device)
        return losses

    @staticmethod
    def export_plain(head_cfg: Mapping, state: Optional[Mapping] = None,
                     prefix: str = 'head.') -> Tuple[dict, Optional['OrderedDict']]:
        """Plain ``HeatmapHead`` config (and state dict without ``mask_layer``) of this head."""
        cfg = copy.deepcopy(dict(head_cfg))
        cfg['type'] = 'HeatmapHead'
        for key in ('mask_loss_weight', 'mask_key', 'mask_mode'):
            cfg.pop(key, None)
        if state is None:
            return cfg, None
        drop = prefix + 'mask_layer.'
        return cfg, OrderedDict((k, v) for k, v in state.items() if not k.startswith(drop))
