"""Refuse a ``load_from`` / ``resume`` checkpoint of another architecture before training.

MMEngine loads ``load_from`` (and ``resume``) checkpoints with ``strict=False``: a checkpoint
of another model only logs "The model and loaded state dict do not match exactly" and the run
goes on from the random initialisation (or, on resume, fails later on the optimizer state).
:class:`CheckpointMatchHook` checks the checkpoint against the model in ``before_run`` --
before any weight is initialised, loaded or trained -- and stops with an error that names the
file, the number of keys that fit and examples of the ones that do not::

    custom_hooks = [dict(type='CheckpointMatchHook')]

Partial loading on purpose (a pretrained backbone) belongs in the backbone's
``init_cfg=dict(type='Pretrained', checkpoint=...)``; ``allow_missing`` / ``allow_unexpected``
(regular expressions on state-dict keys) admit known differences.
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

__all__ = ['CheckpointMatchHook', 'checkpoint_mismatch']


def checkpoint_mismatch(model_state: dict, ckpt_state: dict,
                        allow_missing: Sequence[str] = (),
                        allow_unexpected: Sequence[str] = ()) -> Optional[str]:
    """Why ``ckpt_state`` does not fit ``model_state`` (None when it does)."""
    ckpt_state = {k[len('module.'):] if k.startswith('module.') else k: v
                  for k, v in ckpt_state.items()}

    def allowed(key, patterns):
        return any(re.search(p, key) for p in patterns)

    missing = sorted(k for k in set(model_state) - set(ckpt_state)
                     if not allowed(k, allow_missing))
    unexpected = sorted(k for k in set(ckpt_state) - set(model_state)
                        if not allowed(k, allow_unexpected))
    mismatched = sorted(
        f'{k} {tuple(ckpt_state[k].shape)} vs model {tuple(model_state[k].shape)}'
        for k in set(model_state) & set(ckpt_state)
        if hasattr(ckpt_state[k], 'shape') and tuple(ckpt_state[k].shape) != tuple(
            model_state[k].shape))
    if not (missing or unexpected or mismatched):
        return None

    def few(keys):
        return ', '.join(keys[:4]) + (f' ... ({len(keys)} in all)' if len(keys) > 4 else '')

    fitting = len(set(model_state) & set(ckpt_state)) - len(mismatched)
    parts = [f'{fitting} of the model\'s {len(model_state)} keys fit']
    if missing:
        parts.append(f'missing from the checkpoint: {few(missing)}')
    if unexpected:
        parts.append(f'not in the model: {few(unexpected)}')
    if mismatched:
        parts.append(f'other shapes: {few(mismatched)}')
    return '; '.join(parts)


@HOOKS.register_module()
class CheckpointMatchHook(Hook):
    """Fail in ``before_run`` when the checkpoint to load or resume does not fit the model.

    Args:
        allow_missing (Sequence[str]): regexes of model keys the checkpoint may lack.
        allow_unexpected (Sequence[str]): regexes of checkpoint keys the model may lack.
    """

    priority = 'VERY_HIGH'

    def __init__(self, allow_missing: Sequence[str] = (),
                 allow_unexpected: Sequence[str] = ()) -> None:
        self.allow_missing = tuple(allow_missing)
        self.allow_unexpected = tuple(allow_unexpected)

    @staticmethod
    def _source(runner):
        from mmengine.runner.checkpoint import find_latest_checkpoint

        if runner._load_from is not None:
            key = 'resume' if runner._resume else 'load_from'
            return key, runner._load_from
        if runner._resume:
            return 'resume', find_latest_checkpoint(runner.work_dir)
        return None, None

    def before_run(self, runner) -> None:
        key, path = self._source(runner)
        if not path:
            return
        from mmengine.runner.checkpoint import _load_checkpoint

        ckpt = _load_checkpoint(path, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict):
            raise ValueError(f'{key}={path!r} holds no state_dict: pass a checkpoint written '
                             'by training this config')
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        why = checkpoint_mismatch(model.state_dict(), state, self.allow_missing,
                                  self.allow_unexpected)
        if why:
            raise ValueError(
                f'{key}={path!r} is a checkpoint of another architecture than this config\'s '
                f'{type(model).__name__} ({why}): pass a checkpoint trained with this config, '
                "or load partial weights through the backbone's init_cfg=dict(type='Pretrained', "
                'checkpoint=...)')
