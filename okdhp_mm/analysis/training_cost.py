"""Training cost as the OKDHP paper's TrainCost counts it: forward multiply-accumulates of
every network that runs on a training image in every stage (backward passes cost about twice
their forward in every row alike)."""
from __future__ import annotations

from typing import Optional

import torch

__all__ = ['training_cost', 'training_forward_macs']

def training_forward_macs(config: str) -> int:
    """Multiply-accumulates of one training forward of ``config``'s model on one image: every
    branch and the FAU of a multi-branch model, the student of a distiller, else the model."""
    from okdhp_mm.utils.config import build_model_from_config, load_config
    from .benchmark.measure import count_flops

    cfg = load_config(config)
    if cfg.model.get('type') == 'TeacherStudentDistiller':
        cfg.model = cfg.model['student']
    model, (w, h) = build_model_from_config(cfg).eval(), cfg.codec['input_size']
    fn = (lambda m, i: m.head.forward(m.extract_feat(i))) if hasattr(model.head, 'ensemble') \
        else (lambda m, i: m(i, None))
    with torch.no_grad():
        return count_flops(model, torch.zeros(1, 3, h, w), fn)


def training_cost(student: int, teacher: Optional[int], teacher_epochs_ratio: float) -> int:
    """Forward MACs per training image: two-stage KD adds the teacher's training
    (``teacher_epochs_ratio`` of it) and its forward beside the student."""
    return student if teacher is None else int(teacher_epochs_ratio * teacher + student + teacher)
