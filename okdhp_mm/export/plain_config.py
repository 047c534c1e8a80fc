"""Plain MMPose configs: which types need a plugin, and the config an exported student ships."""
from __future__ import annotations

import copy
from typing import Any

from mmengine.config import Config

__all__ = ['PLAIN_PACKAGES', 'find_foreign_types', 'plain_config', 'plain_value']

# Packages whose modules a plain MMPose installation has.
PLAIN_PACKAGES = ('mmpose', 'mmcv', 'mmengine', 'mmdet', 'torch')


def find_foreign_types(cfg: Any) -> list:
    """Every ``type`` in a (nested) config that plain MMPose cannot build.

    A type is plain when the class it names comes from MMPose, MMCV, MMEngine, MMDetection or
    torch; anything else (our modules, a user's plugin) would need that code installed.
    """
    from mmpose.registry import KEYPOINT_CODECS, MODELS

    found = []

    def plain(cls) -> bool:
        return cls.__module__.split('.')[0] in PLAIN_PACKAGES

    def visit(node, path):
        if isinstance(node, dict):
            typ = node.get('type')
            where = f'{path or "model"}.type'
            if isinstance(typ, str):
                cls = MODELS.get(typ) or KEYPOINT_CODECS.get(typ)
                if cls is None or not plain(cls):
                    found.append(f'{where}={typ}')
            elif isinstance(typ, type) and not plain(typ):
                found.append(f'{where}={typ.__name__}')
            for k, v in node.items():
                if k != 'init_cfg':  # initialisers; the checkpoint overrides them anyway
                    visit(v, f'{path}.{k}' if path else k)
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                visit(v, f'{path}[{i}]')

    visit(cfg, '')
    return found


def plain_value(x: Any) -> Any:
    """numpy and tensors to plain Python, so weights_only loading needs no allow-list."""
    if hasattr(x, 'tolist'):
        return x.tolist()
    if isinstance(x, dict):
        return {str(k): plain_value(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain_value(v) for v in x]
    return x


def _plain_evaluator(evaluator: Any) -> Any:
    if isinstance(evaluator, dict) and evaluator.get('type') == 'MultiOutputMetric':
        return copy.deepcopy(evaluator['metric'])
    if isinstance(evaluator, (list, tuple)):
        return [_plain_evaluator(e) for e in evaluator]
    return evaluator


def plain_config(cfg: Config, student_cfg: dict) -> Config:
    plain = copy.deepcopy(cfg.to_dict())
    plain.pop('custom_imports', None)
    plain['model'] = copy.deepcopy(student_cfg)
    for key in ('val_evaluator', 'test_evaluator'):
        if key in plain:
            plain[key] = _plain_evaluator(plain[key])
    for key in ('load_from', 'resume'):
        plain.pop(key, None)
    plain.pop('custom_hooks', None)  # ours drive training only (teacher switches, ...)
    train_cfg = plain.get('train_cfg')
    if isinstance(train_cfg, dict) and train_cfg.get('type') == 'ResumableEpochBasedTrainLoop':
        # MMPose's own epoch loop (same schedule; only mid-epoch resume differs).
        plain['train_cfg'] = dict({k: v for k, v in train_cfg.items() if k != 'type'},
                                  by_epoch=True)
    return Config(plain)


