"""The export contract: what a model of ours implements so that its student can be exported.

``tools/export_student.py`` (:func:`okdhp_mm.export.export_student`) exports any model that is
an :class:`ExportableStudent`: it asks for ``num_students`` and for ``export_student(index)``,
a plain MMPose model config (MMPose's own types only) and the matching state dict. Parts of a
model implement the smaller protocols below, so the model composes them instead of probing
for attributes. The models own the contract (they implement it); :mod:`okdhp_mm.export`
imports it from here and re-exports it, so the layers run one way: export -> models.
"""
from __future__ import annotations

import abc
from collections import OrderedDict
from typing import Mapping, Optional, Protocol, Tuple, runtime_checkable

from torch import Tensor

__all__ = ['ExportError', 'ExportableStudent', 'ExportsBranch', 'ExportsPlainHead',
           'NeedsPlugin', 'StudentExport']

# (plain MMPose config dict, state dict under the plain model's key names)
StudentExport = Tuple[dict, 'OrderedDict[str, Tensor]']


class ExportError(ValueError):
    """The requested student cannot be exported; the message says which value is wrong."""


class ExportableStudent(abc.ABC):
    """Mixin of every model that holds students to export (multi-branch models, distillers).

    ``num_students``: how many students it holds (a multi-branch model: one per branch; a
    distiller: 1). ``export_student(index)``: the plain config and state dict of student
    ``index`` (``0 <= index < num_students``), as a plain ``TopdownPoseEstimator``.
    ``ignorable_checkpoint_keys``: regular expressions of checkpoint keys the model does not
    need (a distiller's teachers).
    """

    ignorable_checkpoint_keys: Tuple[str, ...] = ()

    @property
    @abc.abstractmethod
    def num_students(self) -> int:
        """Number of exportable students."""

    @abc.abstractmethod
    def export_student(self, index: int = 0) -> StudentExport:
        """(plain MMPose model config, state dict) of student ``index``."""


@runtime_checkable
class ExportsBranch(Protocol):
    """A backbone or head with per-branch parts (``MultiBranchHourglassNet``,
    ``MultiBranchHead``): branch ``index`` as one plain MMPose module."""

    def export_branch(self, index: int) -> StudentExport:
        ...


@runtime_checkable
class ExportsPlainHead(Protocol):
    """A head with training-only outputs (``MaskAwareHeatmapHead``) that exports as a plain
    MMPose head: its config and a state dict without the extra layers."""

    def export_plain(self, head_cfg: Mapping, state: Optional[Mapping] = None,
                     prefix: str = 'head.') -> Tuple[dict, Optional['OrderedDict']]:
        ...


class NeedsPlugin:
    """Marker of a module of ours that an exported student may contain (it has no MMPose
    counterpart, e.g. the released stacked hourglass). The exported config then imports
    ``okdhp_mm`` (``custom_imports``) and the export says so; any other of our modules in a
    student config is refused."""
