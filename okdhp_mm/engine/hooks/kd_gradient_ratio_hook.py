"""How hard distillation pulls at the end of training: the gradient norm, at the deployed
student's outputs, of the distillation terms against that of the ground-truth terms.

A loss value says little about its pull (a KL is second order in the logit difference, its
gradient first order), so the evidence tool reports this ratio for every method. Add
``dict(type='KDGradientRatioHook')`` to ``custom_hooks`` to log it (``kd_gt_ratio``) after any
training of a multi-branch model (at branch 0's head, every ``loss_kd_*``: through a live
ensemble target each reaches branch 0), of a ``TeacherStudentDistiller`` (at the student
module its distillation losses read) or of MMPose's ``DWPoseDistiller`` (at its RTMPose
student's SimCC logits).
"""
from __future__ import annotations

from typing import Callable, Iterable, List, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS
from torch import nn

__all__ = ['KDGradientRatioHook', 'kd_gt_ratio']


def _student_outputs(model: nn.Module) -> Tuple[List[nn.Module], Callable[[str], bool]]:
    """The modules producing the deployed student's outputs, and which losses distil."""
    if hasattr(model, 'student_source'):  # our TeacherStudentDistiller
        from okdhp_mm.models.utils import get_module
        return ([get_module(model.student, model.student_source, 'student')],
                set(model.distill_losses).__contains__)
    if hasattr(model, 'distill_losses'):  # MMPose's DWPoseDistiller: an RTMCCHead student
        return [model.student.head.cls_x, model.student.head.cls_y], \
            set(model.distill_losses).__contains__
    return [model.head.branch_heads[0]], lambda name: name.startswith('loss_kd')


def kd_gt_ratio(model: nn.Module, batches: Iterable[dict], num: int = 4) -> float:
    """Mean over ``num`` training batches of ||d KD / d out|| / ||d GT / d out||. The model's
    weights and buffers (BatchNorm statistics) are left as they were."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    modules, is_kd = _student_outputs(model)
    outputs, ratios = [], []
    handles = [m.register_forward_hook(lambda m, i, o: outputs.append(o)) for m in modules]
    model.train()
    try:
        for _, data in zip(range(num), batches):
            outputs.clear()
            losses = model(**model.data_preprocessor(data, True), mode='loss')
            outs = [t for o in outputs for t in (o if isinstance(o, (list, tuple)) else [o])
                    if isinstance(t, torch.Tensor) and t.requires_grad]
            norms = []
            for terms in ([v for k, v in losses.items() if is_kd(k)],
                          [v for k, v in losses.items() if k.startswith('loss') and not is_kd(k)]):
                total = sum(terms)
                grads = torch.autograd.grad(total, outs, retain_graph=True, allow_unused=True) \
                    if torch.is_tensor(total) and total.requires_grad else []
                norms.append(sum(float((g.float() ** 2).sum()) for g in grads
                                 if g is not None) ** 0.5)
            ratios.append(norms[0] / norms[1] if norms[1] > 0 else float('nan'))
    finally:
        for handle in handles:
            handle.remove()
        model.load_state_dict(saved)
    return float(sum(ratios) / len(ratios))


@HOOKS.register_module()
class KDGradientRatioHook(Hook):
    """After training, log :func:`kd_gt_ratio` over ``batches`` training batches as the
    message hub's ``kd_gt_ratio`` info (the checkpoint is saved before: it is unaffected)."""

    priority = 'LOWEST'

    def __init__(self, batches: int = 4):
        self.batches = batches

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        ratio = kd_gt_ratio(model, runner.train_dataloader, self.batches)
        runner.message_hub.update_info('kd_gt_ratio', ratio)
        runner.logger.info(f'kd_gt_ratio (KD / GT gradient norm at the student): {ratio:.4g}')
