"""Evaluate every output of a multi-branch model (each branch, the ensemble) in one pass."""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS

# Output name of the FAU ensemble (MultiBranchHead); every other output is a branch.
ENSEMBLE = 'ensemble'


@METRICS.register_module()
class MultiOutputMetric(BaseMetric):
    """Run one MMPose metric (``CocoMetric``, ``PCKAccuracy``, ...) per model output.

    The model's head fills ``pred_instances.output_keypoints`` (N, O, K, 2) and
    ``output_keypoint_scores`` (N, O, K) when ``test_cfg.output_all=True``. Metrics come out as
    ``{output_name}/{metric key}`` (``branch0/coco/AP``, ``ensemble/coco/AP``) plus the plain
    keys (``coco/AP``) of the main prediction (``test_cfg.branch``), so ``save_best`` and every
    MMPose tool keep working, plus ``best_branch/{metric key}``: the best value over the
    branches (every output but ``'ensemble'``; the smallest for error metrics such as EPE and
    NME, the largest otherwise). ``save_best='best_branch/PCK'`` keeps the checkpoint whose best
    branch is best, as the released OKDHP code does.

    Args:
        metric (dict): config of the inner metric.
        output_names (Sequence[str]): names of the outputs in head order, e.g.
            ``('branch0', 'branch1', 'branch2', 'ensemble')``.
    """

    default_prefix = ''

    def __init__(self, metric: dict, output_names: Sequence[str],
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.output_names = list(output_names)
        self.main = METRICS.build(copy.deepcopy(metric))
        self.per_output = OrderedDict(
            (name, METRICS.build(copy.deepcopy(metric))) for name in self.output_names)

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        for m in [self.main, *self.per_output.values()]:
            m.dataset_meta = copy.deepcopy(dataset_meta)

    @staticmethod
    def _results_of(metric: BaseMetric, data_batch: Any, data_sample: dict) -> list:
        metric.process(data_batch, [data_sample])
        out = list(metric.results)
        metric.results.clear()
        return out

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        # One entry per data sample holding every output's results: BaseMetric.evaluate
        # gathers self.results across ranks and keeps as many entries as the data set has.
        for ds in data_samples:
            entry = {None: self._results_of(self.main, data_batch, ds)}
            pred = ds['pred_instances']
            if 'output_keypoints' in pred:
                num = pred['output_keypoints'].shape[1]
                if num != len(self.output_names):
                    raise ValueError(
                        f'the model returned {num} outputs but output_names lists '
                        f'{len(self.output_names)} ({self.output_names}): list one name per '
                        'branch, then the ensemble')
                for o, (name, metric) in enumerate(self.per_output.items()):
                    one = dict(pred, keypoints=pred['output_keypoints'][:, o],
                               keypoint_scores=pred['output_keypoint_scores'][:, o])
                    entry[name] = self._results_of(metric, data_batch,
                                                   dict(ds, pred_instances=one))
            self.results.append(entry)

    @staticmethod
    def _compute(metric: BaseMetric, results: List) -> Dict[str, float]:
        # BaseMetric.evaluate adds the inner metric's prefix ('coco/'); we bypass it, so add it.
        values = metric.compute_metrics(results)
        return {(f'{metric.prefix}/{k}' if metric.prefix else k): v for k, v in values.items()}

    def compute_metrics(self, results: List) -> Dict[str, float]:
        def gather(tag):
            return [r for entry in results for r in entry.get(tag, [])]

        metrics = OrderedDict(self._compute(self.main, gather(None)))
        for name, metric in self.per_output.items():
            mine = gather(name)
            if mine:
                for key, value in self._compute(metric, mine).items():
                    metrics[f'{name}/{key}'] = value
        metrics.update(self._best_branch(metrics))
        return metrics

    def _best_branch(self, metrics: Dict[str, float]) -> Dict[str, float]:
        """``best_branch/{key}``: the best branch value of every key all branches report."""
        branches = [n for n in self.per_output if n != ENSEMBLE]
        if not branches:
            return {}
        best = OrderedDict()
        for key in metrics:
            if not key.startswith(f'{branches[0]}/'):
                continue
            tail = key.split('/', 1)[1]
            values = [metrics.get(f'{n}/{tail}') for n in branches]
            if all(isinstance(v, (int, float)) for v in values):
                best[f'best_branch/{tail}'] = (min if _lower_is_better(tail) else max)(values)
        return best


def _lower_is_better(key: str) -> bool:
    return any(tag in key.upper() for tag in ('EPE', 'NME', 'LOSS'))
