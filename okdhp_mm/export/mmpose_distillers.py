"""MMPose's own distillers as exportable students, so that ``tools/export_student.py`` writes
their student as it writes ours (plain config, ``dataset_meta``, model-index entry, ONNX).

``DWPoseDistiller`` (first stage) is exported as MMPose's ``tools/misc/pth_transfer.py`` turns
its checkpoint into a plain model: the ``student.`` weights with the prefix removed; the plain
config is the distiller's ``student_cfg`` file's model. The second stage (``two_dis``) keeps the
teacher's backbone and is not a student export: it is refused.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Dict, Optional

from mmengine.config import Config
from torch import nn

from ..models.utils.export_contract import ExportableStudent, ExportError, StudentExport

__all__ = ['mmpose_distiller_student']

STUDENT_PREFIX = 'student.'


class _DWPoseStudent(ExportableStudent):
    """A ``DWPoseDistiller`` seen through the export contract; its weights are the
    distiller's (checkpoints load into it unchanged)."""

    ignorable_checkpoint_keys = (r'^teacher\.', r'^distill_losses\.')

    def __init__(self, distiller: nn.Module, student_cfg: Dict[str, Any]) -> None:
        self.distiller, self.student_cfg = distiller, student_cfg

    @property
    def num_students(self) -> int:
        return 1

    def state_dict(self) -> 'OrderedDict':
        return self.distiller.state_dict()

    def load_state_dict(self, state, strict: bool = True):
        return self.distiller.load_state_dict(state, strict=strict)

    def eval(self) -> '_DWPoseStudent':
        self.distiller.eval()
        return self

    def export_student(self, index: int = 0) -> StudentExport:
        state = OrderedDict((k[len(STUDENT_PREFIX):], v)
                            for k, v in self.distiller.state_dict().items()
                            if k.startswith(STUDENT_PREFIX))
        return copy.deepcopy(self.student_cfg), state


def mmpose_distiller_student(model: nn.Module, cfg: Config) -> Optional[ExportableStudent]:
    """The export view of one of MMPose's distillers, or None for any other model."""
    from mmpose.models.distillers import DWPoseDistiller

    if not isinstance(model, DWPoseDistiller):
        return None
    if model.two_dis:
        raise ExportError('a DWPoseDistiller with two_dis=True (the second stage) trains the '
                          "student's head on the teacher's backbone: export its first-stage "
                          'checkpoint, or convert it with pth_transfer.py --two_dis')
    return _DWPoseStudent(model, Config.fromfile(cfg.model.student_cfg).model.to_dict())
