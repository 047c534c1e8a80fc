"""Checks of a ``TeacherStudentDistiller`` from outside: which teachers ran, and a
distillation loss computed without the distiller."""
from __future__ import annotations

from typing import Dict

import torch
from torch import Tensor


def count_teacher_runs(model) -> Dict[str, int]:
    """teacher name -> forward passes of its backbone from now on (a forward hook each)."""
    calls = dict.fromkeys(model.teachers, 0)
    for name, teacher in model.teachers.items():
        def count(*_, name=name):
            calls[name] += 1
        teacher.backbone.register_forward_hook(count)
    return calls


def heatmap_kd_loss_from_scratch(model, teacher_name: str, loss_cfg: dict, inputs: Tensor,
                                 data_samples) -> Tensor:
    """The loss ``loss_cfg`` between the student's and the teacher's heatmaps, both from their
    own ``HeatmapHead`` (``head(extract_feat(inputs))``), weighted by the samples' keypoint
    weights, with a freshly built loss module: what the distiller should report."""
    from mmpose.registry import MODELS

    teacher = model.teachers[teacher_name]
    with torch.no_grad():
        student_map = model.student.head(model.student.extract_feat(inputs))
        teacher_map = teacher.head(teacher.extract_feat(inputs))
    assert teacher_map.shape == student_map.shape  # no resampling in between
    weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in data_samples])
    return MODELS.build(dict(loss_cfg))(student_map, teacher_map, target_weights=weights)
