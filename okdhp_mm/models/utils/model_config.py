"""Model configs given as dicts, ``Config`` objects or config file paths (``mmpose::`` too)."""
from __future__ import annotations

import copy
import os.path as osp
from typing import Any, Mapping, Union

from mmengine.config import Config, ConfigDict

__all__ = ['ModelSpec', 'load_model_config', 'resolve_config_path', 'strip_pretrained']

ModelSpec = Union[str, dict, Config, ConfigDict]


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
