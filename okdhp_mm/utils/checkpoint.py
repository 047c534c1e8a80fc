"""The one checkpoint reader and key-mismatch report of the package.

Export (``tools/export_student.py``), :class:`~okdhp_mm.engine.CheckpointMatchHook`, the
benchmark and :class:`~okdhp_mm.models.TeacherStudentDistiller` (teacher checkpoints) all read
checkpoints through :func:`read_checkpoint` and describe a checkpoint that does not fit a model
with :class:`StateDictMismatch`, so a user sees the same report wherever it happens.
"""
from __future__ import annotations

import os.path as osp
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from torch import nn

__all__ = ['StateDictMismatch', 'compare_state_dicts', 'heatmap_to_integral_state', 'is_remote',
           'load_complete_checkpoint', 'load_state_into', 'read_checkpoint']

_MODULE_PREFIX = re.compile(r'^module\.')


def is_remote(filename: str) -> bool:
    """A URL or an MMEngine model-zoo name (``open-mmlab://...``), not a local file."""
    return bool(re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*://', filename)) or \
        filename.startswith(('open-mmlab:', 'openmmlab:', 'mmcls:', 'torchvision:', 'modelzoo:'))


def read_checkpoint(filename: str, map_location: str = 'cpu',
                    what: str = 'checkpoint') -> Tuple[Dict[str, Any], 'OrderedDict']:
    """(whole checkpoint, its state dict with any ``module.`` prefix removed).

    Reads through MMEngine's loaders (the safe ``weights_only`` loading ``okdhp_mm`` installs
    for local files; MMEngine's for URLs). The state dict keeps its ``_metadata`` (BN versions),
    so MMPose's own load hooks still convert old checkpoints.

    Raises:
        FileNotFoundError: a local ``filename`` does not exist (the message names the path).
        ValueError: the file holds no state dict.
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    if not is_remote(filename) and not osp.isfile(osp.expanduser(filename)):
        raise FileNotFoundError(f'{what} {filename!r} does not exist (resolved to '
                                f'{osp.abspath(osp.expanduser(filename))!r})')
    ckpt = _load_checkpoint(filename, map_location=map_location)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, Mapping):
        raise ValueError(f'{what} {filename!r} holds no state_dict')
    metadata = getattr(state, '_metadata', OrderedDict())
    clean = OrderedDict((_MODULE_PREFIX.sub('', k), v) for k, v in state.items())
    clean._metadata = OrderedDict((_MODULE_PREFIX.sub('', k), v) for k, v in metadata.items())
    return (ckpt if isinstance(ckpt, dict) else {'state_dict': state}), clean


def _few(keys: Sequence[str], most: int = 5) -> str:
    return ', '.join(keys[:most]) + (f' ... ({len(keys)} in all)' if len(keys) > most else '')


@dataclass
class StateDictMismatch:
    """How a checkpoint's state dict differs from a model's (empty: it fits)."""

    total: int
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[str] = field(default_factory=list)  # 'key (ckpt shape) vs model (shape)'

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.mismatched)

    @property
    def fitting(self) -> int:
        return self.total - len(self.missing) - len(self.mismatched)

    def describe(self) -> str:
        """``"N of the model's M keys fit; missing keys: ...; unexpected keys: ..."``."""
        parts = [f"{self.fitting} of the model's {self.total} keys fit"]
        if self.missing:
            parts.append(f'missing keys: {_few(self.missing)}')
        if self.unexpected:
            parts.append(f'unexpected keys: {_few(self.unexpected)}')
        if self.mismatched:
            parts.append(f'shape mismatches: {_few(self.mismatched)}')
        return '; '.join(parts)


def compare_state_dicts(model_state: Mapping, ckpt_state: Mapping,
                        allow_missing: Sequence[str] = (),
                        allow_unexpected: Sequence[str] = ()) -> StateDictMismatch:
    """Keys and shapes of ``ckpt_state`` against ``model_state``.

    ``allow_missing`` / ``allow_unexpected`` are regular expressions of keys whose absence /
    presence is expected (a model with more heads, a checkpoint with more teachers).
    """
    ckpt_state = {_MODULE_PREFIX.sub('', k): v for k, v in ckpt_state.items()}

    def allowed(key, patterns):
        return any(re.search(p, key) for p in patterns)

    def shape(t):
        return tuple(t.shape) if hasattr(t, 'shape') else None

    return StateDictMismatch(
        total=len(model_state),
        missing=sorted(k for k in set(model_state) - set(ckpt_state)
                       if not allowed(k, allow_missing)),
        unexpected=sorted(k for k in set(ckpt_state) - set(model_state)
                          if not allowed(k, allow_unexpected)),
        mismatched=sorted(
            f'{k} {shape(ckpt_state[k])} vs model {shape(model_state[k])}'
            for k in set(model_state) & set(ckpt_state)
            if shape(ckpt_state[k]) is not None and shape(ckpt_state[k]) != shape(model_state[k])))


def load_state_into(model: nn.Module, state: Mapping) -> StateDictMismatch:
    """Load ``state`` into ``model`` as far as it fits; return what did not fit.

    Goes through ``model.load_state_dict(strict=False)``, so the model's own key-conversion
    hooks apply (MMPose 0.x ``keypoint_head.*`` checkpoints). Nothing is loaded when a shared
    key has another shape.
    """
    own = model.state_dict()
    shapes = compare_state_dicts(own, {k: v for k, v in state.items() if k in own})
    if shapes.mismatched:
        return StateDictMismatch(total=len(own), mismatched=shapes.mismatched)
    result = model.load_state_dict(state, strict=False)
    return StateDictMismatch(total=len(own), missing=sorted(result.missing_keys),
                             unexpected=sorted(result.unexpected_keys))


def load_complete_checkpoint(model: nn.Module, filename: str, role: str, hint: str = '',
                             map_location: str = 'cpu') -> None:
    """Load ``filename`` into ``model``; every weight of the model must be in it.

    For frozen models (teachers) that must not run half-initialised: keys the checkpoint has
    beyond the model's are ignored with a warning.

    Raises:
        FileNotFoundError: a local ``filename`` does not exist (the message names the path
            and ends with ``hint``).
        RuntimeError: the file holds no state dict, lacks some of the model's weights or has
            another shape.
    """
    try:
        _, state = read_checkpoint(filename, map_location, what=f'{role} checkpoint')
    except FileNotFoundError as err:
        raise FileNotFoundError(f'{err}; {hint}' if hint else str(err)) from None
    except ValueError as err:
        raise RuntimeError(str(err)) from None
    mismatch = load_state_into(model, state)
    if mismatch.missing or mismatch.mismatched:
        raise RuntimeError(f'{role} checkpoint {filename!r} does not fit the {role} model '
                           f'({mismatch.describe()}); a partly loaded model would predict noise')
    if mismatch.unexpected:
        warnings.warn(f'{role} checkpoint {filename!r}: ignored {len(mismatch.unexpected)} '
                      f'unexpected keys ({_few(mismatch.unexpected)})')


def heatmap_to_integral_state(state: Mapping, prefix: str = '') -> 'OrderedDict':
    """A heatmap model's state dict (``HeatmapHead``) under an integral model's key names.

    MMPose's ``IntegralRegressionHead`` / ``DSNTHead`` wrap the SimpleBaseline head as
    ``head.simplebaseline_head``; their own load hook maps ``final_layer`` but not
    ``deconv_layers``, so a heatmap checkpoint loaded as it is leaves the deconvolutions at
    their initialisation without an error. Every key is put under ``prefix`` (``'student.'``
    for a distiller's student); ``data_preprocessor`` keys are dropped.
    """
    out = OrderedDict()
    for key, value in state.items():
        if key.startswith('data_preprocessor.'):
            continue
        for part in ('head.deconv_layers.', 'head.conv_layers.', 'head.final_layer.'):
            if key.startswith(part):
                key = 'head.simplebaseline_head.' + key[len('head.'):]
                break
        out[prefix + key] = value
    return out
