"""Teacher-student distillation for MMPose top-down estimators (HHD; shared with ODKD).

:class:`TeacherStudentDistiller` wraps a plain MMPose student and one or more frozen teachers.
Per training step the student runs its own ``loss`` exactly once; a forward hook records the
student map named by ``student_source`` during that call (for an integral head: the pre-beta,
pre-softmax logits), every teacher used by a distillation loss runs once under
``torch.no_grad()`` in eval mode with a hook on its ``source`` (default: the raw output of
``head.final_layer``, the heatmap before decoding), and each distillation loss is applied to
(student map, teacher map). The returned dict holds the student's own losses (``loss_kpt``,
``acc_pose``, ..., optionally prefixed) and one entry per distillation loss (``loss_hhd``).

Validation, testing and export see the student only: ``predict``/``tensor`` delegate to it, the
distiller's ``data_preprocessor`` *is* the student's, and :meth:`export_student` returns the
student's plain MMPose config and state dict.
"""
from __future__ import annotations

import copy
import inspect
import warnings
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModel
from mmpose.registry import MODELS
from torch import Tensor, nn

from ...utils.checkpoint import load_complete_checkpoint
from ...utils.config import ModelSpec, load_model_config, strip_pretrained
from ..utils import (OUTPUT_SOURCES, ExportableStudent, ExportsPlainHead, InputConverter,
                     ModuleOutputRecorder, align_heatmaps, auto_source, autocast_disabled,
                     bf16_autocast_active, check_teacher_fits, collect_log_vars, get_module,
                     teacher_specs)

__all__ = ['TeacherStudentDistiller']


# ----------------------------------------------------------------------------------------------
# The distiller
# ----------------------------------------------------------------------------------------------
@MODELS.register_module()
class TeacherStudentDistiller(BaseModel, ExportableStudent):
    """A plain MMPose student trained with its own loss plus distillation from frozen teachers.

    Args:
        student: the student's model config (dict) or a config file path (``mmpose::...``
            allowed; its ``model`` is used). Must be a plain MMPose estimator (for export).
        teacher: the teacher's model config or config file path (one teacher, named
            ``'teacher'``). Exclusive with ``teachers``.
        teacher_checkpoint: checkpoint of ``teacher`` (path or URL) loaded in
            :meth:`init_weights`, i.e. when a Runner starts training. ``None``: the teacher
            runs its own ``init_weights`` (with a warning) -- only sensible in tests.
        teacher_source: module path in the teacher whose output is distilled (``'auto'``:
            ``head.final_layer``, the raw heatmap before decoding); ``'head'``/``'output'``:
            what ``teacher(inputs, mode='tensor')`` returns (last stage of a list).
        teachers: several teachers, ``{name: dict(model=cfg_or_path, checkpoint=...,
            source='auto')}``. Every distillation loss picks one with ``teacher_name``
            (default: the first teacher).
        distill_losses: ``{name: loss cfg}``; each loss is called as
            ``loss(student_map, teacher_map)`` plus ``target_weights=(B, K)`` keypoint weights
            when its ``forward`` has that argument. Names must contain ``'loss'`` (MMEngine
            sums those). Routing key: ``teacher_name``.
        student_source: module path in the student whose output is distilled (``'auto'``: for
            ``IntegralRegressionHead``/``DSNTHead`` the pre-beta logits,
            ``head.simplebaseline_head.final_layer`` or ``head.final_layer``; for heatmap heads
            ``head.final_layer``).
        align_heatmaps: ``'bilinear'`` (default) resamples a teacher map of another size onto
            the student's grid (:func:`align_heatmaps`, well-defined because the input sizes
            must agree); ``None`` makes a size difference an error.
        student_loss_prefix: prefix of the student's own loss names (default none: ``loss_kpt``,
            ``acc_pose`` as MMPose logs them).

    Build-time checks (``ValueError`` naming the values): teachers and student predict the same
    number of keypoints; they use the same input size (from their heads' codecs); heatmap sizes
    agree unless ``align_heatmaps='bilinear'``; a teacher whose data preprocessor normalises
    differently gets the student's batch re-normalised for it (mean/std/channel order).

    State dict: ``student.*`` only (``save_teachers=False``, default): the frozen teachers come
    back from ``teacher_checkpoint`` when training starts or resumes (``init_weights`` runs
    before MMEngine resumes), and testing and export use the student alone -- an HRNet-W48
    teacher would otherwise add 255 MB to every checkpoint. ``save_teachers=True`` keeps
    ``teachers.<name>.*`` in the state dict. Checkpoints with teacher keys load either way.
    """

    # Teacher keys a checkpoint may hold (saved with save_teachers=True, or by okdhp-mm < 0.2).
    ignorable_checkpoint_keys = (r'^teachers\.', )

    def __init__(self,
                 student: ModelSpec,
                 teacher: Optional[ModelSpec] = None,
                 teacher_checkpoint: Optional[str] = None,
                 teacher_source: str = 'auto',
                 teachers: Optional[Mapping[str, Mapping]] = None,
                 distill_losses: Optional[Mapping[str, Mapping]] = None,
                 student_source: str = 'auto',
                 align_heatmaps: Optional[str] = 'bilinear',
                 student_loss_prefix: str = '',
                 save_teachers: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        for key, value in (('data_preprocessor', data_preprocessor), ('test_cfg', test_cfg),
                           ('init_cfg', init_cfg)):
            if value:
                raise ValueError(f'TeacherStudentDistiller takes no {key} ({value!r}): the '
                                 f'student\'s own {key} is used; set it in the student config')
        if train_cfg:
            raise ValueError(f'TeacherStudentDistiller takes no train_cfg ({train_cfg!r}); set '
                             'the student\'s train_cfg in the student config')
        if align_heatmaps not in ('bilinear', None):
            raise ValueError(f"align_heatmaps must be 'bilinear' or None, got {align_heatmaps!r}")
        super().__init__()

        self._student_cfg = load_model_config(student, 'student')
        self.student = MODELS.build(copy.deepcopy(self._student_cfg))
        # Validation, testing and export see the student only: share its preprocessor.
        self.data_preprocessor = self.student.data_preprocessor

        specs = teacher_specs(teacher, teacher_checkpoint, teacher_source, teachers)
        self.teachers = nn.ModuleDict()
        self._teacher_cfgs: Dict[str, dict] = {}
        self.teacher_checkpoints: Dict[str, Optional[str]] = {}
        self._teacher_sources: Dict[str, str] = {}
        for name, spec in specs.items():
            cfg = load_model_config(spec['model'], f'teacher {name!r}')
            model = MODELS.build(copy.deepcopy(cfg))
            for p in model.parameters():
                p.requires_grad_(False)
            model.eval()
            self.teachers[name] = model
            self._teacher_cfgs[name] = cfg
            self.teacher_checkpoints[name] = spec.get('checkpoint')
            src = spec.get('source', 'auto') or 'auto'
            src = auto_source(model, f'teacher {name!r}') if src == 'auto' else src
            if src not in OUTPUT_SOURCES:
                get_module(model, src, f'teacher {name!r}')
            self._teacher_sources[name] = src

        self.student_source = (auto_source(self.student, 'student')
                               if student_source == 'auto' else student_source)
        if self.student_source in OUTPUT_SOURCES + ('', '.'):
            raise ValueError(f'student_source {student_source!r}: MMPose heads call their own '
                             'forward() inside loss(), so a hook on the head never fires and '
                             'its output is coordinates for integral heads; name the submodule '
                             'that outputs the map (e.g. "head.final_layer")')
        get_module(self.student, self.student_source, 'student')
        self.align = align_heatmaps
        self.student_loss_prefix = student_loss_prefix
        self.save_teachers = bool(save_teachers)
        self.register_load_state_dict_post_hook(self._teachers_may_be_missing)

        self.distill_losses = nn.ModuleDict()
        self._loss_teacher: Dict[str, str] = {}
        self._loss_takes_weights: Dict[str, bool] = {}
        self._loss_takes_gt: Dict[str, bool] = {}
        for lname, lcfg in (distill_losses or {}).items():
            if 'loss' not in lname:
                raise ValueError(f'distill loss name {lname!r} must contain "loss" (MMEngine '
                                 'only sums entries whose name contains "loss")')
            lcfg = dict(lcfg)
            tname = lcfg.pop('teacher_name', None) or next(iter(self.teachers))
            if tname not in self.teachers:
                raise ValueError(f'distill loss {lname!r}: teacher_name {tname!r} is not one of '
                                 f'the teachers {list(self.teachers)}')
            module = MODELS.build(lcfg)
            self.distill_losses[lname] = module
            self._loss_teacher[lname] = tname
            params = inspect.signature(module.forward).parameters
            self._loss_takes_weights[lname] = 'target_weights' in params
            self._loss_takes_gt[lname] = 'gt_heatmaps' in params

        self._input_converters: Dict[str, InputConverter] = {}
        for name in self.teachers:
            check_teacher_fits(self.teachers[name], self.student, f'teacher {name!r}',
                               self.align)
            self._input_converters[name] = InputConverter(
                self._student_cfg.get('data_preprocessor'),
                self._teacher_cfgs[name].get('data_preprocessor'), f'teacher {name!r}')
        # Set to True to keep (detached) student/teacher maps of the last step in
        # `last_distill_inputs` (tests, hhd_loss_share).
        self.record_distill_inputs = False
        self.last_distill_inputs: Dict[str, Tuple[Tensor, Tensor, Optional[Tensor]]] = {}

    # -- construction --------------------------------------------------------------------------
    # -- state dict ----------------------------------------------------------------------------
    def state_dict(self, *args, destination=None, prefix: str = '', keep_vars: bool = False):
        """The student's weights (and the teachers' with ``save_teachers=True``)."""
        state = super().state_dict(*args, destination=destination, prefix=prefix,
                                   keep_vars=keep_vars)
        if not self.save_teachers:
            for key in [k for k in state if k.startswith(prefix + 'teachers.')]:
                del state[key]
        return state

    def _teachers_may_be_missing(self, module, incompatible) -> None:
        """Strict loading of a student-only checkpoint: teacher keys are not missing."""
        incompatible.missing_keys[:] = [k for k in incompatible.missing_keys
                                        if not k.startswith('teachers.')]

    # -- properties ----------------------------------------------------------------------------
    @property
    def teacher(self) -> nn.Module:
        """The first (or only) teacher."""
        return next(iter(self.teachers.values()))

    # -- weights and modes ---------------------------------------------------------------------
    def init_weights(self) -> None:
        """Initialise the student (its ``init_cfg``) and load every teacher checkpoint."""
        self.student.init_weights()
        for name, teacher in self.teachers.items():
            ckpt = self.teacher_checkpoints[name]
            if ckpt is None:
                warnings.warn(f'teacher {name!r} has no checkpoint (teacher_checkpoint=None): '
                              'it keeps its own initialisation, distillation will be noise')
                teacher.init_weights()
            else:
                load_complete_checkpoint(
                    teacher, ckpt, f'teacher {name!r}',
                    hint='set `teacher_checkpoint` in the model config to the trained teacher\'s '
                    'checkpoint')
            for p in teacher.parameters():
                p.requires_grad_(False)
            teacher.eval()
        self._is_init = True

    def train(self, mode: bool = True) -> 'TeacherStudentDistiller':
        """Student follows ``mode``; teachers stay in eval (BN statistics and dropout frozen)."""
        super().train(mode)
        for teacher in self.teachers.values():
            teacher.eval()
        return self

    # -- forward -------------------------------------------------------------------------------
    def forward(self, inputs: Tensor, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            if isinstance(inputs, list):
                inputs = torch.stack(inputs)
            return self.loss(inputs, data_samples)
        if mode in ('predict', 'tensor'):
            return self.student(inputs, data_samples, mode=mode)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode.')

    def predict(self, inputs: Tensor, data_samples) -> list:
        return self.student(inputs, data_samples, mode='predict')

    @torch.no_grad()
    def teacher_maps(self, inputs: Tensor, names: Optional[Sequence[str]] = None
                     ) -> Dict[str, Tensor]:
        """Raw maps of the teachers ``names`` (all by default) for a preprocessed batch."""
        out = {}
        for name in (names if names is not None else list(self.teachers)):
            teacher = self.teachers[name]
            if teacher.training:  # someone called teacher.train() directly
                teacher.eval()
            path = self._teacher_sources[name]
            t_inputs = self._input_converters[name](inputs)
            if path in OUTPUT_SOURCES:
                result = teacher(t_inputs, None, mode='tensor')
                out[name] = (result[-1] if isinstance(result, (list, tuple)) else result).detach()
                continue
            with ModuleOutputRecorder(get_module(teacher, path, f'teacher {name!r}'),
                                      f'teacher {name!r}', path) as rec:
                teacher(t_inputs, None, mode='tensor')
            out[name] = rec.single().detach()
        return out

    @staticmethod
    def _log_prefix(name: str) -> str:
        """``'loss_senior'`` -> ``'senior_'``: log names of a loss's values hold no 'loss'."""
        return name.replace('loss_', '', 1).replace('loss', '') + '_'


    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        """Student's own losses (one student forward) + every distillation loss."""
        path = self.student_source
        with ModuleOutputRecorder(get_module(self.student, path, 'student'), 'student',
                                  path) as rec:
            student_losses = self._student_loss(inputs, data_samples)
        losses = OrderedDict((self.student_loss_prefix + k, v)
                             for k, v in student_losses.items())
        if not self.distill_losses:
            return losses
        student_map = rec.single()

        # A loss whose loss_weight is 0 (e.g. switched off by ODKD's OrderlyTeacherHook) is
        # reported as 0 without running its teacher.
        active = {n: f for n, f in self.distill_losses.items()
                  if getattr(f, 'loss_weight', 1.) != 0}
        needed = list(OrderedDict.fromkeys(self._loss_teacher[n] for n in active))
        t_maps = self.teacher_maps(inputs, needed)
        for name in needed:  # e.g. the senior teacher's mask fallbacks
            losses.update(collect_log_vars(self.teachers[name], f'{name}_'))
        weights = None
        self.last_distill_inputs = {}
        for lname, loss_fn in self.distill_losses.items():
            if lname not in active:
                if lname in losses:
                    raise ValueError(f'distill loss {lname!r} clashes with a student loss')
                losses[lname] = student_map.sum() * 0.
                continue
            t_map = self._aligned(t_maps[self._loss_teacher[lname]], student_map,
                                  self._loss_teacher[lname])
            kwargs = {}
            if self._loss_takes_weights[lname]:
                if weights is None:
                    weights = self._keypoint_weights(data_samples)
                kwargs['target_weights'] = weights
            if self._loss_takes_gt[lname]:
                try:
                    kwargs['gt_heatmaps'] = torch.stack(
                        [d.gt_fields.heatmaps for d in data_samples]).to(student_map)
                except AttributeError:
                    pass
            if lname in losses:
                raise ValueError(f'distill loss {lname!r} clashes with a student loss of the same '
                                 'name; rename it or set student_loss_prefix')
            losses[lname] = loss_fn(student_map, t_map, **kwargs)
            losses.update(collect_log_vars(loss_fn, self._log_prefix(lname)))
            if self.record_distill_inputs:
                self.last_distill_inputs[lname] = (
                    student_map.detach(), t_map, None if weights is None else weights.detach())
        return losses

    def _student_loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        """``student.loss`` (``TopdownPoseEstimator.loss``: features, then the head's loss),
        with the head in float32 under bf16 autocast (its numpy accuracy has no bf16)."""
        feats = self.student.extract_feat(inputs)
        device = inputs.device.type
        if not bf16_autocast_active(device):
            return self.student.head.loss(feats, data_samples, train_cfg=self.student.train_cfg)
        with autocast_disabled(device):
            feats = type(feats)(f.float() for f in feats)
            return self.student.head.loss(feats, data_samples, train_cfg=self.student.train_cfg)

    def _aligned(self, t_map: Tensor, s_map: Tensor, name: str) -> Tensor:
        if t_map.shape[:2] != s_map.shape[:2]:
            raise ValueError(f'teacher {name!r} map {tuple(t_map.shape)} and student map '
                             f'{tuple(s_map.shape)} differ in batch or keypoint count')
        if t_map.shape == s_map.shape:
            return t_map
        if self.align is None or t_map.dim() != 4:
            raise ValueError(f'teacher {name!r} map {tuple(t_map.shape)} and student map '
                             f'{tuple(s_map.shape)} differ in size and align_heatmaps='
                             f'{self.align!r}')
        return align_heatmaps(t_map, (s_map.shape[-1], s_map.shape[-2]))

    @staticmethod
    def _keypoint_weights(data_samples) -> Optional[Tensor]:
        try:
            return torch.cat([d.gt_instance_labels.keypoint_weights for d in data_samples])
        except (AttributeError, KeyError):
            return None

    # -- export --------------------------------------------------------------------------------
    @property
    def num_students(self) -> int:
        return 1

    def export_student(self, index: int = 0) -> Tuple[dict, 'OrderedDict[str, Tensor]']:
        """(plain MMPose model config, state dict) of the student.

        The config is the student's own (MMPose types only) without ``Pretrained`` initialisers
        (the state dict carries every weight); state dict keys have no ``student.`` prefix.
        """
        if index != 0:
            raise ValueError(f'{type(self).__name__} has a single student (index 0); got index '
                             f'{index!r}')
        cfg = strip_pretrained(copy.deepcopy(self._student_cfg))
        state = OrderedDict((k, v.detach().clone()) for k, v in self.student.state_dict().items())
        # A student head with training-only outputs (ODKD MaskAwareHeatmapHead, option (b))
        # exports as its plain MMPose head.
        head = getattr(self.student, 'head', None)
        if isinstance(head, ExportsPlainHead):
            cfg['head'], state = head.export_plain(cfg['head'], state, prefix='head.')
        return cfg, state
