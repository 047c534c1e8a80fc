"""Model configs given as dicts, ``Config`` objects or config file paths (``mmpose::`` too)."""
from __future__ import annotations

import copy
import os.path as osp
from collections import OrderedDict
from typing import Any, Mapping, Union

from mmengine.config import Config, ConfigDict

__all__ = ['DEFAULT_TEACHER', 'ModelSpec', 'load_model_config', 'resolve_config_path',
           'strip_pretrained', 'teacher_specs']

ModelSpec = Union[str, dict, Config, ConfigDict]
# The name of a distiller's single teacher (``teacher=...``).
DEFAULT_TEACHER = 'teacher'


def resolve_config_path(path: str) -> str:
    """Local path, or ``'mmpose::body_2d_keypoint/...py'`` inside an installed package."""
    if '::' in path:
        from mmengine.config.utils import (_get_external_cfg_base_path,
                                           _get_package_and_cfg_path)
        from mmengine.utils import get_installed_path

        package, rel = _get_package_and_cfg_path(path)
        return _get_external_cfg_base_path(get_installed_path(package), rel)
    full = osp.abspath(osp.expanduser(path))
    if not osp.isfile(full):
        raise FileNotFoundError(f'model config file {path!r} does not exist (resolved to '
                                f'{full!r})')
    return full


def load_model_config(spec: ModelSpec, role: str = 'model') -> dict:
    """A model config dict from a dict, a ``Config`` or a config file path (``pkg::`` too).

    For a file the ``model`` field of the file is returned. The result is a plain ``dict``
    (nested ``ConfigDict``s converted) and a deep copy.
    """
    if isinstance(spec, (str, bytes)) or hasattr(spec, '__fspath__'):
        path = resolve_config_path(str(spec))
        cfg = Config.fromfile(path)
        if 'model' not in cfg:
            raise ValueError(f'{role} config file {spec!r} has no `model` field')
        model = cfg.model
    elif isinstance(spec, Config):
        model = spec.model if 'model' in spec else spec
    elif isinstance(spec, Mapping):
        model = spec
    else:
        raise TypeError(f'{role} must be a model config dict or a config file path, got '
                        f'{type(spec).__name__}')
    model = model.to_dict() if isinstance(model, ConfigDict) else copy.deepcopy(dict(model))
    if 'type' not in model:
        raise ValueError(f'{role} config has no `type`: {sorted(model)}')
    return model


def strip_pretrained(cfg: Any) -> Any:
    """Drop every ``init_cfg`` that loads weights (an exported checkpoint has them all)."""
    def loads(init):
        items = init if isinstance(init, (list, tuple)) else [init]
        return any(isinstance(i, Mapping) and i.get('type') == 'Pretrained' for i in items)

    if isinstance(cfg, Mapping):
        return {k: strip_pretrained(v) for k, v in cfg.items()
                if not (k == 'init_cfg' and loads(v))}
    if isinstance(cfg, list):
        return [strip_pretrained(v) for v in cfg]
    if isinstance(cfg, tuple):
        return tuple(strip_pretrained(v) for v in cfg)
    return cfg


def teacher_specs(teacher, teacher_checkpoint, teacher_source, teachers) -> 'OrderedDict':
    """``{name: dict(model, checkpoint, source)}`` from a distiller's ``teacher`` (+ checkpoint,
    source) or ``teachers`` arguments, checked."""
    if teachers is not None and teacher is not None:
        raise ValueError('give either `teacher` (+ `teacher_checkpoint`) or `teachers`, '
                         'not both')
    specs = OrderedDict()
    if teachers is not None:
        if teacher_checkpoint is not None:
            raise ValueError('`teacher_checkpoint` goes with `teacher`; with `teachers` give '
                             'each teacher its own `checkpoint`')
        if not teachers:
            raise ValueError('`teachers` is empty')
        for name, spec in teachers.items():
            spec = dict(spec)
            unknown = set(spec) - {'model', 'checkpoint', 'source'}
            if 'model' not in spec or unknown:
                raise ValueError(f'teacher {name!r}: expected dict(model=..., checkpoint=..., '
                                 f'source=...), got keys {sorted(spec)}')
            specs[str(name)] = spec
    elif teacher is not None:
        specs[DEFAULT_TEACHER] = dict(model=teacher, checkpoint=teacher_checkpoint,
                                      source=teacher_source)
    else:
        raise ValueError('a teacher is required: give `teacher` or `teachers`')
    return specs
