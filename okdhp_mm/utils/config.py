"""Config helpers shared by the export, benchmark and evidence code: one copy of each."""
from __future__ import annotations

import copy
import os
import os.path as osp
from typing import Tuple, Union

from mmengine.config import Config
from torch import nn

__all__ = ['build_model_from_config', 'config_input_size', 'load_config']

ConfigLike = Union[str, os.PathLike, Config, dict]


def load_config(cfg_or_path: ConfigLike) -> Config:
    """A ``Config`` from a path, a ``Config`` (deep-copied) or a dict; sets the default scope.

    Raises:
        FileNotFoundError: the path does not exist.
        TypeError: anything else was given.
    """
    from mmengine.registry import init_default_scope

    import okdhp_mm  # noqa: F401  (registers our modules before any build)

    if isinstance(cfg_or_path, (str, os.PathLike)):
        if not osp.isfile(cfg_or_path):
            raise FileNotFoundError(f'config {str(cfg_or_path)!r} does not exist')
        cfg = Config.fromfile(str(cfg_or_path))
    elif isinstance(cfg_or_path, Config):
        cfg = copy.deepcopy(cfg_or_path)
    elif isinstance(cfg_or_path, dict):
        cfg = Config(copy.deepcopy(cfg_or_path))
    else:
        raise TypeError(f'config must be a path, a Config or a dict, got '
                        f'{type(cfg_or_path).__name__}')
    init_default_scope(cfg.get('default_scope', 'mmpose'))
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
