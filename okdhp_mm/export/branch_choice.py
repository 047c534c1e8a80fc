"""Which branch to export: the one with the best last validation metric."""
from __future__ import annotations

import glob
import json
import os.path as osp
from typing import Any, Dict, Tuple

from mmengine.config import Config

from ..models.utils.export_contract import ExportError

__all__ = ['best_metric_key', 'branch_metrics', 'choose_best_branch']

# Metric key that --branch best ranks on when the config names no save_best.
_DEFAULT_BEST_KEYS = ('coco/AP', 'PCK', 'AUC')


def branch_metrics(ckpt: Dict[str, Any], checkpoint: str, num_branches: int,
                    metric_key: str) -> Dict[int, float]:
    """Last validation ``metric_key`` of every branch that has one.

    Looked up in the checkpoint's message hub (checkpoints saved after a validation, e.g.
    ``best_*.pth``), else in the newest ``*/vis_data/scalars.json`` of the checkpoint's
    work_dir (epoch checkpoints are saved before that epoch's validation).
    """
    scalars = (ckpt.get('message_hub') or {}).get('log_scalars') or {}
    values = {}
    for t in range(num_branches):
        buf = scalars.get(f'val/branch{t}/{metric_key}')
        if buf is not None:
            values[t] = float(buf.current())
    if len(values) == num_branches:
        return values
    logs = sorted(glob.glob(osp.join(osp.dirname(osp.abspath(checkpoint)), '*', 'vis_data',
                                     'scalars.json')))
    if logs:
        last = {}
        with open(logs[-1]) as f:
            for line in f:
                rec = json.loads(line)
                if f'branch0/{metric_key}' in rec:
                    last = rec
        found = {t: float(last[f'branch{t}/{metric_key}']) for t in range(num_branches)
                 if f'branch{t}/{metric_key}' in last}
        if len(found) == num_branches:
            return found
    return values


def choose_best_branch(ckpt: Dict[str, Any], num_branches: int, metric_key: str,
                       checkpoint: str = '') -> tuple:
    """(index, value) of the branch with the best last validation ``metric_key``.

    The per-branch values are the ``branch{t}/{metric_key}`` metrics of ``MultiOutputMetric``.
    """
    values = branch_metrics(ckpt, checkpoint, num_branches, metric_key)
    if len(values) != num_branches:
        raise ExportError(
            f'--branch best needs val/branch0..{num_branches - 1}/{metric_key} in the '
            f'checkpoint\'s message hub or its work_dir logs, found {sorted(values)}: validate '
            'with MultiOutputMetric (test_cfg.output_all=True), or pass an index')
    best = max(values, key=values.get)
    return best, values[best]


def best_metric_key(cfg: Config) -> str:
    save_best = (cfg.get('default_hooks', {}).get('checkpoint', {}) or {}).get('save_best')
    if isinstance(save_best, str) and save_best != 'auto':
        return save_best
    evaluator = cfg.get('val_evaluator', {})
    inner = evaluator.get('metric', evaluator) if isinstance(evaluator, dict) else {}
    return 'coco/AP' if inner.get('type') == 'CocoMetric' else _DEFAULT_BEST_KEYS[1]


