"""Plain MMPose configs: which types need a plugin, and the config an exported student ships."""
from __future__ import annotations

import copy
from typing import Any, List, Optional, Tuple

from mmengine.config import Config

from ..models.utils.export_contract import NeedsPlugin

__all__ = ['PLAIN_PACKAGES', 'PLUGIN_IMPORTS', 'find_foreign_types', 'find_plugin_types',
           'plain_config', 'plain_value']

# What an exported config that contains NeedsPlugin modules imports.
PLUGIN_IMPORTS = dict(imports=['okdhp_mm'], allow_failed_imports=False)
# Packages whose modules a plain MMPose installation has.
PLAIN_PACKAGES = ('mmpose', 'mmcv', 'mmengine', 'mmdet', 'torch')


def _types(cfg: Any) -> List[Tuple[str, str, Optional[type]]]:
    """(where, type name, class or None) of every ``type`` in a nested config."""
    from mmpose.registry import KEYPOINT_CODECS, MODELS

    found = []

    def visit(node, path):
        if isinstance(node, dict):
            typ = node.get('type')
            where = f'{path or "model"}.type'
            if isinstance(typ, str):
                found.append((where, typ, MODELS.get(typ) or KEYPOINT_CODECS.get(typ)))
            elif isinstance(typ, type):
                found.append((where, typ.__name__, typ))
            for k, v in node.items():
                if k != 'init_cfg':  # initialisers; the checkpoint overrides them anyway
                    visit(v, f'{path}.{k}' if path else k)
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                visit(v, f'{path}[{i}]')

    visit(cfg, '')
    return found


def _is_plain(cls: Optional[type]) -> bool:
    return cls is not None and cls.__module__.split('.')[0] in PLAIN_PACKAGES


def find_foreign_types(cfg: Any, allow_plugin: bool = False) -> List[str]:
    """Every ``type`` in a (nested) config that plain MMPose cannot build, as ``where=Type``.

    A type is plain when the class it names comes from MMPose, MMCV, MMEngine, MMDetection or
    torch; anything else (our modules, a user's plugin) would need that code installed.
    ``allow_plugin=True`` leaves out our modules marked :class:`NeedsPlugin` (a student may
    contain them; its config then imports ``okdhp_mm``).
    """
    return [f'{where}={name}' for where, name, cls in _types(cfg)
            if not _is_plain(cls) and not (allow_plugin and _needs_plugin(cls))]


def find_plugin_types(cfg: Any) -> List[str]:
    """The :class:`NeedsPlugin` types of a config, as ``where=Type``."""
    return [f'{where}={name}' for where, name, cls in _types(cfg) if _needs_plugin(cls)]


def _needs_plugin(cls: Optional[type]) -> bool:
    return isinstance(cls, type) and issubclass(cls, NeedsPlugin)


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


def plain_config(cfg: Config, student_cfg: dict, needs_plugin: bool = False) -> Config:
    """The config an exported student ships: the training config with the student as its
    model, MMPose's own evaluators and loop, no hooks of ours, no checkpoint to load; it
    imports ``okdhp_mm`` only when the student contains :class:`NeedsPlugin` modules."""
    plain = copy.deepcopy(cfg.to_dict())
    plain.pop('custom_imports', None)
    if needs_plugin:
        plain['custom_imports'] = copy.deepcopy(PLUGIN_IMPORTS)
    plain['model'] = copy.deepcopy(student_cfg)
    for key in ('val_evaluator', 'test_evaluator'):
        if key in plain:
            plain[key] = _plain_evaluator(plain[key])
    for key in ('load_from', 'resume'):
        plain.pop(key, None)
    plain.pop('custom_hooks', None)  # ours drive training only (teacher switches, ...)
    # configs/_base_/okdhp_mm_runtime.py's variables, already merged into default_hooks / model.
    plain.pop('checkpoint_hook', None)
    plain.pop('topdown_frame', None)
    checkpoint = plain.get('default_hooks', {}).get('checkpoint')
    if isinstance(checkpoint, dict) and checkpoint.get('type') == 'AtomicCheckpointHook':
        checkpoint['type'] = 'CheckpointHook'  # MMEngine's (same arguments, in-place writes)
    train_cfg = plain.get('train_cfg')
    if isinstance(train_cfg, dict) and train_cfg.get('type') == 'ResumableEpochBasedTrainLoop':
        # MMPose's own epoch loop (same schedule; only mid-epoch resume differs).
        plain['train_cfg'] = dict({k: v for k, v in train_cfg.items() if k != 'type'},
                                  by_epoch=True)
    return Config(plain)


