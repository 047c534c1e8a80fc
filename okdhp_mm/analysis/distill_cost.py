"""Cost of a distillation loss inside a :class:`TeacherStudentDistiller` training step.

Reads these attributes of the distiller: ``distill_losses`` (name -> loss module),
``record_distill_inputs`` (flag), ``last_distill_inputs`` (name -> (student map, teacher map,
keypoint weights) of the last step, filled while the flag is set) and ``_loss_takes_weights``
(name -> whether the loss takes ``target_weights``).
"""
from __future__ import annotations

import copy
from typing import Dict

from okdhp_mm.models.distillers import TeacherStudentDistiller

from . import timing

__all__ = ['hhd_loss_share']


def hhd_loss_share(model: TeacherStudentDistiller, batch: dict, repeats: int = 5,
                   loss_name: str = 'loss_hhd', warmup: int = 1,
                   loss_repeats: int = 5, median: bool = False) -> Dict[str, float]:
    """Share of one training step spent in the distillation loss ``loss_name``.

    ``batch`` is a data batch as a dataloader yields it (``inputs`` / ``data_samples``). The
    step is what ``train_step`` computes before the optimizer update: preprocessing, the
    student's loss forward, the teachers' forward, every distillation loss, and the backward of
    the summed loss. The loss time is the forward + backward of ``loss_name`` alone on the
    (detached) maps of that step, timed ``loss_repeats`` times per step. Both are the best
    (minimum) times over ``repeats`` steps after ``warmup`` steps, as ``timeit`` recommends:
    the minimum is the least disturbed by other processes (on a shared CPU a descheduled
    intra-op thread can stretch a few-millisecond op many times), ``median=True`` gives medians.
    The model's parameters are not changed (gradients are cleared; BN running statistics of the
    student do move, as in any training step).

    Returns ``dict(share=loss_s / step_s, loss_s=..., step_s=..., batch_size=...)``.
    """
    if loss_name not in model.distill_losses:
        raise ValueError(f'{loss_name!r} is not a distillation loss of the model '
                         f'({list(model.distill_losses)})')
    was_training, was_recording = model.training, model.record_distill_inputs
    device = next(model.student.parameters()).device
    model.train()
    model.record_distill_inputs = True
    step_times, loss_times = [], []

    def train_step() -> None:
        data = model.data_preprocessor(copy.deepcopy(batch), True)
        losses = model(**data, mode='loss')
        total, _ = model.parse_losses(losses)
        total.backward()

    try:
        for i in range(warmup + repeats):
            model.zero_grad(set_to_none=True)
            step_s = timing.timed(train_step, device) / 1e3

            s_map, t_map, w = model.last_distill_inputs[loss_name]
            loss_fn = model.distill_losses[loss_name]
            kwargs = {'target_weights': w} if model._loss_takes_weights[loss_name] else {}
            for _ in range(loss_repeats):
                s_in = s_map.detach().clone().requires_grad_(True)
                loss_s = timing.timed(lambda: loss_fn(s_in, t_map, **kwargs).backward(),
                                      device) / 1e3
                if i >= warmup:
                    loss_times.append(loss_s)
            if i >= warmup:
                step_times.append(step_s)
    finally:
        model.zero_grad(set_to_none=True)
        model.record_distill_inputs = was_recording
        model.last_distill_inputs = {}
        model.train(was_training)
    pick = timing.median if median else min
    step_s, loss_s = pick(step_times), pick(loss_times)
    return dict(share=loss_s / step_s, loss_s=loss_s, step_s=step_s,
                batch_size=int(len(batch['inputs'])))
