"""The one config loader: files (local or ``mmpose::...``), ``Config`` objects and dicts.

Used by the models (a distiller's student and teachers), the export, benchmark and evidence
code. Only MMEngine's public API: a ``pkg::path`` is read through ``Config``'s own inheritance
(``_base_``), which resolves it inside the installed package.
"""
from __future__ import annotations

import copy
import os
import os.path as osp
from typing import Any, Mapping, Tuple, Union

from mmengine.config import Config, ConfigDict
from torch import nn

__all__ = ['ConfigLike', 'ModelSpec', 'build_model_from_config', 'config_input_size',
           'load_config', 'load_model_config', 'strip_pretrained']

ConfigLike = Union[str, os.PathLike, Config, dict]
# A model config: a dict, a Config (its ``model``, if any) or a config file path.
ModelSpec = Union[str, os.PathLike, dict, Config, ConfigDict]


def _read_file(path: Union[str, os.PathLike], what: str) -> Config:
    """A config file: a local path, or ``'mmpose::body_2d_keypoint/...py'`` (any package
    MMEngine knows) inside the installed package.

    Raises:
        FileNotFoundError: a local path that is not a file (``what`` names it).
    """
    path = os.fspath(path)
    if '::' in path:
        # MMEngine resolves `pkg::` only where a config inherits; a one-line child of the
        # package's file is that file. Inheriting tags the base's top-level dicts with the
        # package's `_scope_`, which a direct read would not: dropped again by the callers.
        return Config.fromstring(f'_base_ = [{path!r}]\n', '.py')
    if not osp.isfile(osp.expanduser(path)):
        raise FileNotFoundError(f'{what} {path!r} does not exist')
    return Config.fromfile(path)


def load_config(cfg_or_path: ConfigLike) -> Config:
    """A ``Config`` from a path (``pkg::`` too), a ``Config`` (deep-copied) or a dict; sets the
    default scope.

    Raises:
        FileNotFoundError: the path does not exist.
        TypeError: anything else was given.
    """
    from mmengine.registry import init_default_scope

    import okdhp_mm  # noqa: F401  (registers our modules before any build)

    if isinstance(cfg_or_path, (str, os.PathLike)):
        cfg = _read_file(cfg_or_path, 'config')
    elif isinstance(cfg_or_path, Config):
        cfg = copy.deepcopy(cfg_or_path)
    elif isinstance(cfg_or_path, dict):
        cfg = Config(copy.deepcopy(cfg_or_path))
    else:
        raise TypeError(f'config must be a path, a Config or a dict, got '
                        f'{type(cfg_or_path).__name__}')
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return cfg


def load_model_config(spec: ModelSpec, role: str = 'model') -> dict:
    """A model config dict from a dict, a ``Config`` or a config file path (``pkg::`` too).

    For a file the ``model`` field of the file is returned. The result is a plain ``dict``
    (nested ``ConfigDict``s converted) and a deep copy.

    Raises:
        FileNotFoundError: a local path that is not a file.
        ValueError: a file without ``model``, a model without ``type``.
        TypeError: anything else was given.
    """
    path = os.fsdecode(spec) if isinstance(spec, (str, bytes, os.PathLike)) else None
    if path is not None:
        cfg = _read_file(path, 'model config file')
        if 'model' not in cfg:
            raise ValueError(f'{role} config file {path!r} has no `model` field')
        model = cfg.model
    elif isinstance(spec, Config):
        model = spec.model if 'model' in spec else spec
    elif isinstance(spec, Mapping):
        model = spec
    else:
        raise TypeError(f'{role} must be a model config dict or a config file path, got '
                        f'{type(spec).__name__}')
    model = model.to_dict() if isinstance(model, ConfigDict) else copy.deepcopy(dict(model))
    if path is not None and '::' in path:
        model.pop('_scope_', None)  # added by the inheritance (see _read_file)
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


def build_model_from_config(cfg: Config) -> nn.Module:
    """``cfg.model`` built in the config's default scope (MMPose's unless it says otherwise)."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return MODELS.build(copy.deepcopy(cfg.model))


def config_input_size(cfg: Config) -> Tuple[int, int]:
    """(W, H) of the network input: the codec's, else the val pipeline's ``TopdownAffine``.

    Raises:
        ValueError: the config has neither.
    """
    codec = cfg.get('codec')
    if isinstance(codec, dict) and 'input_size' in codec:
        return tuple(int(v) for v in codec['input_size'])
    try:
        for step in cfg.val_dataloader.dataset.pipeline:
            if step.get('type') == 'TopdownAffine':
                return tuple(int(v) for v in step['input_size'])
    except (AttributeError, KeyError, TypeError):
        pass
    raise ValueError('cannot find the input size: the config has neither `codec.input_size` '
                     'nor a TopdownAffine step in val_dataloader.dataset.pipeline')
