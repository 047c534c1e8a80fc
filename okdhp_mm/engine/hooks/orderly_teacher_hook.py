"""ODKD orderly learning: the student learns from the primary teacher first, then the senior.

The ODKD abstract only names "an orderly learning strategy". Our reading (configurable):
the distiller has one distillation loss per teacher (``TeacherStudentDistiller`` with
``teachers=dict(primary=..., senior=...)`` and losses routed by ``teacher_name``), and
:class:`OrderlyTeacherHook` sets their ``loss_weight`` before every training epoch (or
iteration) from the current epoch alone:

    f(e) = clip((e - switch_epoch + 1) / (transition_epochs + 1), 0, 1)
    primary weight = primary_weight * (1 - f(e)),  senior weight = senior_weight * f(e)

with ``e`` the 0-based epoch about to run. By default (``transition_epochs=None``) the
hand-over is gradual and lasts from ``switch_epoch`` to the last epoch (``N = max_epochs -
switch_epoch - 1``): the student keeps part of the primary teacher's easier target while the
senior's grows -- a hard switch made a probe student's keypoint loss jump five-fold at the
switch. ``transition_epochs=0`` is a hard switch (epochs ``< switch_epoch`` learn from the
primary teacher only, the rest from the senior), ``transition_epochs=N`` hands over linearly in
N+1 steps. Because the
weights are derived from the epoch (restored by ``resume``), the hook keeps no state and is
resume-safe. Every change is logged.
"""
from __future__ import annotations

from typing import Optional, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

__all__ = ['OrderlyTeacherHook', 'orderly_fraction']


def orderly_fraction(step: int, switch: int, transition: int = 0) -> float:
    """Senior-teacher share ``f`` at 0-based epoch (or iteration) ``step``."""
    return min(1., max(0., (step - switch + 1) / (transition + 1)))


@HOOKS.register_module()
class OrderlyTeacherHook(Hook):
    """Hand the distillation over from the primary to the senior teacher.

    Args:
        switch_epoch: first (0-based) epoch with the senior teacher (``by_epoch=False``:
            iteration). Required.
        transition_epochs: length of a linear hand-over (default None: until the last epoch or
            iteration; 0: hard switch).
        primary_loss: distillation loss name of the primary teacher (default
            ``'loss_primary'``).
        senior_loss: distillation loss name of the senior teacher (default ``'loss_senior'``).
        primary_weight / senior_weight: full weights of the two terms (default 1.0 each).
        by_epoch: schedule in epochs (default True) or iterations.
    """

    priority = 'NORMAL'

    def __init__(self, switch_epoch: int, transition_epochs: Optional[int] = None,
                 primary_loss: str = 'loss_primary', senior_loss: str = 'loss_senior',
                 primary_weight: float = 1.0, senior_weight: float = 1.0,
                 by_epoch: bool = True):
        if switch_epoch < 0 or (transition_epochs is not None and transition_epochs < 0):
            raise ValueError(f'switch_epoch ({switch_epoch}) and transition_epochs '
                             f'({transition_epochs}) must be >= 0 (transition_epochs=None: '
                             'until the end of training)')
        self.switch = int(switch_epoch)
        self.transition_epochs = None if transition_epochs is None else int(transition_epochs)
        self.transition = self.transition_epochs or 0  # resolved in before_train when None
        self.primary_loss, self.senior_loss = primary_loss, senior_loss
        self.primary_weight, self.senior_weight = float(primary_weight), float(senior_weight)
        self.by_epoch = by_epoch
        self._last: Optional[Tuple[float, float]] = None  # for logging only

    def weights(self, step: int) -> Tuple[float, float]:
        f = orderly_fraction(step, self.switch, self.transition)
        return self.primary_weight * (1. - f), self.senior_weight * f

    def _losses(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        losses = getattr(model, 'distill_losses', None)
        if losses is None:
            raise TypeError(f'OrderlyTeacherHook needs a distiller with `distill_losses`; got '
                            f'{type(model).__name__}')
        for name in (self.primary_loss, self.senior_loss):
            if name not in losses:
                raise KeyError(f'OrderlyTeacherHook: no distillation loss {name!r} in the model '
                               f'({list(losses)})')
        return losses[self.primary_loss], losses[self.senior_loss]

    def apply(self, runner, step: int) -> Tuple[float, float]:
        primary, senior = self._losses(runner)
        wp, ws = self.weights(step)
        primary.loss_weight, senior.loss_weight = wp, ws
        if self._last != (wp, ws):
            unit = 'epoch' if self.by_epoch else 'iter'
            runner.logger.info(f'OrderlyTeacherHook: {unit} {step}: {self.primary_loss} weight '
                               f'{wp:g}, {self.senior_loss} weight {ws:g}')
            self._last = (wp, ws)
        return wp, ws

    def before_train(self, runner) -> None:
        self._last = None
        if self.transition_epochs is None:
            total = runner.max_epochs if self.by_epoch else runner.max_iters
            self.transition = max(0, int(total) - self.switch - 1)
        self.apply(runner, runner.epoch if self.by_epoch else runner.iter)

    def before_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self.apply(runner, runner.epoch)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if not self.by_epoch:
            self.apply(runner, runner.iter)
