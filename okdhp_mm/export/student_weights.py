"""The inverse of an export: a plain student's weights put into a model that contains the
student (a multi-branch model's trunk and branch, a distiller's student), e.g. to start a
method's student from exactly the weights its alone run starts from."""
from __future__ import annotations

from typing import Dict, Mapping

import torch
from torch import Tensor, nn

__all__ = ['student_key_map', 'student_state_into']


def student_key_map(model: nn.Module, index: int = 0) -> Dict[str, str]:
    """``{student key: model key}`` of the student ``model.export_student(index)`` exports,
    found by exporting with every tensor of the model set to its own index (the model is
    restored afterwards)."""
    state = model.state_dict()
    saved, keys = {k: v.clone() for k, v in state.items()}, list(state)
    with torch.no_grad():
        for i, v in enumerate(state.values()):
            v.fill_(i)
        _, exported = model.export_student(index)
        for k, v in state.items():
            v.copy_(saved[k])
    return {k: keys[int(v.flatten()[0])] for k, v in exported.items() if v.numel()}


def student_state_into(state: Mapping[str, Tensor], model_cfg: Mapping, how: str = 'same',
                       prefix: str = '') -> Dict[str, Tensor]:
    """A plain student's ``state`` in the keys of ``model_cfg``'s model: ``'same'``,
    ``'prefix'`` (keys under ``prefix``, a distiller's ``'student.'``), ``'integral'`` (a
    heatmap model onto an integral head, under ``prefix``) or ``'branch'`` (a multi-branch
    model's trunk and branch 0, through its export mapping)."""
    from mmpose.registry import MODELS

    from okdhp_mm.utils.checkpoint import heatmap_to_integral_state

    if how == 'integral':
        return heatmap_to_integral_state(state, prefix)
    if how == 'prefix':
        return {prefix + k: v for k, v in state.items()}
    if how == 'branch':
        return {m: state[s] for s, m in student_key_map(MODELS.build(model_cfg)).items()}
    if how != 'same':
        raise ValueError(f"map={how!r}: choose 'same', 'prefix', 'integral' or 'branch'")
    return dict(state)
