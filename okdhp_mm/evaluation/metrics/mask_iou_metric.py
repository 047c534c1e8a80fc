"""Person-mask IoU of a mask-aware model (ODKD's senior teacher) on a validation split."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS

__all__ = ['MaskIoUMetric']


@METRICS.register_module()
class MaskIoUMetric(BaseMetric):
    """IoU between ``pred_fields.person_mask`` (probabilities, thresholded at ``threshold``) and
    ``gt_fields.person_mask`` (``TopdownGenerateMask`` in the test pipeline), per instance.

    Reports ``mask/IoU`` (mean over instances whose target or prediction has a person pixel)
    and ``mask/empty_share`` (share of instances whose predicted mask is empty). The model must
    output masks: ``MaskAwareHeatmapHead`` with ``test_cfg.output_mask=True``.
    """

    default_prefix = 'mask'

    def __init__(self, threshold: float = 0.5, key: str = 'person_mask',
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.threshold, self.key = float(threshold), key

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample.get('pred_fields', {}).get(self.key)
            gt = sample.get('gt_fields', {}).get(self.key)
            if pred is None or gt is None:
                raise KeyError(f'MaskIoUMetric needs pred_fields.{self.key} (test_cfg.'
                               f'output_mask=True) and gt_fields.{self.key} (TopdownGenerateMask '
                               'in the test pipeline)')
            p = np.asarray(pred.cpu() if hasattr(pred, 'cpu') else pred) >= self.threshold
            g = np.asarray(gt.cpu() if hasattr(gt, 'cpu') else gt) >= 0.5
            union = np.logical_or(p, g).sum()
            self.results.append(dict(inter=float(np.logical_and(p, g).sum()),
                                     union=float(union), empty=bool(p.sum() == 0)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        scored = [r for r in results if r['union'] > 0]
        iou = float(np.mean([r['inter'] / r['union'] for r in scored])) if scored else 0.0
        return {'IoU': iou, 'empty_share': float(np.mean([r['empty'] for r in results]))
                if results else 0.0}
