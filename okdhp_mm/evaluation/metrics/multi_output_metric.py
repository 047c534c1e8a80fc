"""Evaluate every output of a multi-branch model (each branch, the ensemble) in one pass."""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS

from ...models.utils import ENSEMBLE  # the FAU ensemble's output; every other is a branch


@METRICS.register_module()
class MultiOutputMetric(BaseMetric):
    """Run one MMPose metric (``CocoMetric``, ``PCKAccuracy``, ...) per model output.

    The model's head fills ``pred_instances.output_keypoints`` (N, O, K, 2) and
    ``output_keypoint_scores`` (N, O, K) when ``test_cfg.output_all=True``: the O - 1 branches
    in order, then the FAU ensemble. Metrics come out as ``{output_name}/{metric key}``
    (``branch0/coco/AP``, ``ensemble/coco/AP``) plus the plain keys (``coco/AP``) of the main
    prediction (``test_cfg.branch``), so ``save_best`` and every MMPose tool keep working, plus
    ``best_branch/{metric key}``: the best value over the branches (every output but
    ``'ensemble'``; the smallest for error metrics such as EPE and NME, the largest otherwise).
    ``save_best='best_branch/PCK'`` keeps the checkpoint whose best branch is best, as the
    released OKDHP code does.

    Args:
        metric (dict): config of the inner metric.
        output_names (Sequence[str], optional): names of the outputs in head order, e.g.
            ``('branch0', 'branch1', 'branch2', 'ensemble')``; a model that returns another
            number of outputs is an error. ``None`` (default): the names follow the model,
            ``branch0`` ... ``branch{O-2}`` and ``ensemble`` for O outputs
            (:func:`output_names_for`), so a config need not repeat its head's
            ``num_branches``.
    """

    default_prefix = ''

    def __init__(self, metric: dict, output_names: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metric_cfg = copy.deepcopy(metric)
        self.output_names = None if output_names is None else list(output_names)
        self.main = METRICS.build(copy.deepcopy(metric))
        self.per_output: 'OrderedDict[str, BaseMetric]' = OrderedDict()
        for name in self.output_names or []:
            self._metric_of(name)

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        for m in [self.main, *self.per_output.values()]:
            m.dataset_meta = copy.deepcopy(dataset_meta)

    def _metric_of(self, name: str) -> BaseMetric:
        """The inner metric of output ``name``, built on first use (derived names)."""
        if name not in self.per_output:
            metric = METRICS.build(copy.deepcopy(self.metric_cfg))
            if getattr(self, '_dataset_meta', None) is not None:
                metric.dataset_meta = copy.deepcopy(self._dataset_meta)
            self.per_output[name] = metric
        return self.per_output[name]

    def _names_for(self, num: int) -> List[str]:
        """The names of a prediction with ``num`` outputs: the configured ones (their count
        must match) or the derived ones."""
        if self.output_names is not None:
            if num != len(self.output_names):
                raise ValueError(
                    f'the model returned {num} outputs but output_names lists '
                    f'{len(self.output_names)} ({self.output_names}): list one name per '
                    'branch, then the ensemble')
            return self.output_names
        return output_names_for(num)

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
                names = self._names_for(pred['output_keypoints'].shape[1])
                for o, name in enumerate(names):
                    one = dict(pred, keypoints=pred['output_keypoints'][:, o],
                               keypoint_scores=pred['output_keypoint_scores'][:, o])
                    entry[name] = self._results_of(self._metric_of(name), data_batch,
                                                   dict(ds, pred_instances=one))
            self.results.append(entry)

    @staticmethod
    def _compute(metric: BaseMetric, results: List) -> Dict[str, float]:
        # BaseMetric.evaluate adds the inner metric's prefix ('coco/'); we bypass it, so add it.
        values = metric.compute_metrics(results)
        return {(f'{metric.prefix}/{k}' if metric.prefix else k): v for k, v in values.items()}

    @staticmethod
    def _names_in(results: List) -> List[str]:
        """The output names of this evaluation's samples (those of every rank); samples that
        disagree (derived names of models with different branch counts) are an error."""
        seen = [tuple(k for k in entry if k is not None) for entry in results]
        kinds = [names for names in dict.fromkeys(seen) if names]
        if len(kinds) > 1:
            raise ValueError(f'the samples of one evaluation name different outputs: {kinds}')
        return list(kinds[0]) if kinds else []

    def compute_metrics(self, results: List) -> Dict[str, float]:
        def gather(tag):
            return [r for entry in results for r in entry.get(tag, [])]

        names = self._names_in(results)
        metrics = OrderedDict(self._compute(self.main, gather(None)))
        for name in names:
            mine = gather(name)
            if mine:
                for key, value in self._compute(self._metric_of(name), mine).items():
                    metrics[f'{name}/{key}'] = value
        metrics.update(self._best_branch(metrics, names))
        return metrics

    def _best_branch(self, metrics: Dict[str, float],
                     names: Optional[Sequence[str]] = None) -> Dict[str, float]:
        """``best_branch/{key}``: the best branch value of every key all branches report.

        ``names``: the outputs evaluated (default: the configured or already seen ones)."""
        if names is None:
            names = self.output_names if self.output_names is not None else list(self.per_output)
        branches = [n for n in names if n != ENSEMBLE]
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


def output_names_for(num_outputs: int) -> List[str]:
    """The names of a multi-branch model's ``num_outputs`` outputs in head order (what
    ``test_cfg.output_all`` returns): ``branch0`` ... ``branch{num_outputs - 2}``, then
    ``ensemble``."""
    if num_outputs < 2:
        raise ValueError(f'a multi-branch prediction has at least one branch and the ensemble, '
                         f'got {num_outputs} output(s)')
    return [f'branch{i}' for i in range(num_outputs - 1)] + [ENSEMBLE]


def _lower_is_better(key: str) -> bool:
    return any(tag in key.upper() for tag in ('EPE', 'NME', 'LOSS'))
