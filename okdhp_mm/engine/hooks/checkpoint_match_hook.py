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

from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

from ...utils.checkpoint import compare_state_dicts, read_checkpoint
from ..runner.resume import resolve_resume_checkpoint

__all__ = ['CheckpointMatchHook']


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
        if runner._resume:  # the checkpoint resume will read (the newest readable one)
            return 'resume', resolve_resume_checkpoint(runner)
        if runner._load_from is not None:
            return 'load_from', runner._load_from
        return None, None

    def before_run(self, runner) -> None:
        key, path = self._source(runner)
        if not path:
            return
        try:
            _, state = read_checkpoint(path, what=key)
        except ValueError as err:
            raise ValueError(f'{err}: pass a checkpoint written by training this config') \
                from None
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # A distiller's checkpoint may hold its (frozen) teachers; the model's state dict not.
        extra = tuple(getattr(model, 'ignorable_checkpoint_keys', ()))
        why = compare_state_dicts(model.state_dict(), state, self.allow_missing,
                                  self.allow_unexpected + extra)
        if why:
            raise ValueError(
                f'{key}={path!r} is a checkpoint of another architecture than this config\'s '
                f'{type(model).__name__} ({why.describe()}): pass a checkpoint trained with '
                "this config, or load partial weights through the backbone's init_cfg=dict(type='Pretrained', "
                'checkpoint=...)')
