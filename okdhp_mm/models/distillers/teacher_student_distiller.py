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
import os.path as osp
import re
import time
import warnings
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.model import BaseModel
from mmpose.models.heads import IntegralRegressionHead
from mmpose.registry import MODELS
from torch import Tensor, nn

__all__ = ['TeacherStudentDistiller', 'align_heatmaps', 'hhd_loss_share',
           'load_model_config', 'load_teacher_checkpoint']

ModelSpec = Union[str, dict, Config, ConfigDict]
DEFAULT_TEACHER = 'teacher'
# Teacher sources meaning "what the teacher's forward(mode='tensor') returns" (the head's
# output; MMPose estimators call ``head.forward`` directly, so a hook on the head never fires).
_OUTPUT_SOURCES = ('head', 'output')


# ----------------------------------------------------------------------------------------------
# Config and checkpoint helpers
# ----------------------------------------------------------------------------------------------
def _resolve_config_path(path: str) -> str:
    """Local path, or ``'mmpose::body_2d_keypoint/...py'`` inside an installed package."""
    if '::' in path:
        from mmengine.config.utils import (_get_external_cfg_base_path,
                                           _get_package_and_cfg_path)
        from mmengine.utils import get_installed_path

        package, rel = _get_package_and_cfg_path(path)
        return _get_external_cfg_base_path(get_installed_path(package), rel)
    full = osp.abspath(osp.expanduser(path))
    if not osp.isfile(full):
        raise FileNotFoundError(f'model config file {path!r} does not exist (resolved to '
                                f'{full!r})')
    return full


def load_model_config(spec: ModelSpec, role: str = 'model') -> dict:
    """A model config dict from a dict, a ``Config`` or a config file path (``pkg::`` too).

    For a file the ``model`` field of the file is returned. The result is a plain ``dict``
    (nested ``ConfigDict``s converted) and a deep copy.
    """
    if isinstance(spec, (str, bytes)) or hasattr(spec, '__fspath__'):
        path = _resolve_config_path(str(spec))
        cfg = Config.fromfile(path)
        if 'model' not in cfg:
            raise ValueError(f'{role} config file {spec!r} has no `model` field')
        model = cfg.model
    elif isinstance(spec, Config):
        model = spec.model if 'model' in spec else spec
    elif isinstance(spec, Mapping):
        model = spec
    else:
        raise TypeError(f'{role} must be a model config dict or a config file path, got '
                        f'{type(spec).__name__}')
    model = model.to_dict() if isinstance(model, ConfigDict) else copy.deepcopy(dict(model))
    if 'type' not in model:
        raise ValueError(f'{role} config has no `type`: {sorted(model)}')
    return model


def _is_remote(filename: str) -> bool:
    return bool(re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*://', filename)) or \
        filename.startswith(('open-mmlab:', 'openmmlab:', 'mmcls:', 'torchvision:', 'modelzoo:'))


def load_teacher_checkpoint(model: nn.Module, filename: str, name: str = DEFAULT_TEACHER,
                            map_location: str = 'cpu') -> None:
    """Load ``filename`` into the teacher ``model``; every teacher weight must be present.

    Uses MMEngine's checkpoint loader (the safe, ``weights_only`` loading that ``okdhp_mm``
    installs for local files; MMEngine's loaders for URLs and ``open-mmlab://``). MMPose 0.x
    checkpoints (``keypoint_head.*``) are converted by MMPose's own load hooks.

    Raises:
        FileNotFoundError: a local ``filename`` does not exist (the message names the path).
        RuntimeError: the checkpoint lacks some of the teacher's weights or has another shape.
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    if not _is_remote(filename):
        path = osp.expanduser(filename)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{name} checkpoint {filename!r} does not exist (resolved to '
                f'{osp.abspath(path)!r}); set `teacher_checkpoint` in the model config to the '
                f'trained teacher\'s checkpoint')
    ckpt = _load_checkpoint(filename, map_location=map_location)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise RuntimeError(f'{name} checkpoint {filename!r} holds no state_dict')
    metadata = getattr(state, '_metadata', OrderedDict())
    strip = re.compile(r'^module\.')
    state = OrderedDict((strip.sub('', k), v) for k, v in state.items())
    state._metadata = OrderedDict((strip.sub('', k), v) for k, v in metadata.items())

    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # size mismatches
        raise RuntimeError(f'{name} checkpoint {filename!r} does not fit the {name} model: '
                           f'{err}') from err
    if result.missing_keys:
        keys = result.missing_keys
        few = ', '.join(keys[:5]) + (f' ... ({len(keys)} in all)' if len(keys) > 5 else '')
        raise RuntimeError(f'{name} checkpoint {filename!r} does not fit the {name} model: '
                           f'missing keys {few}; a partly loaded teacher would distil noise')
    if result.unexpected_keys:
        warnings.warn(f'{name} checkpoint {filename!r}: ignored {len(result.unexpected_keys)} '
                      f'unexpected keys ({", ".join(result.unexpected_keys[:5])} ...)')


# ----------------------------------------------------------------------------------------------
# Model inspection helpers
# ----------------------------------------------------------------------------------------------
def _num_keypoints(model: nn.Module) -> Optional[int]:
    head = getattr(model, 'head', None)
    for attr in ('num_joints', 'num_keypoints', 'out_channels'):
        value = getattr(head, attr, None)
        if isinstance(value, int):
            return value
    return None


def _decoder_size(model: nn.Module, attr: str) -> Optional[Tuple[int, int]]:
    """``attr`` ((w, h)) of the head's codec, or of a codec it wraps
    (``IntegralRegressionLabel`` keeps its sizes in ``heatmap_codec`` / ``keypoint_codec``)."""
    decoder = getattr(getattr(model, 'head', None), 'decoder', None)
    for codec in (decoder, getattr(decoder, 'heatmap_codec', None),
                  getattr(decoder, 'keypoint_codec', None)):
        value = getattr(codec, attr, None)
        if value is not None:
            return tuple(int(v) for v in value)
    return None


def _heatmap_size(model: nn.Module) -> Optional[Tuple[int, int]]:
    """(W, H) of the map the head regresses from / predicts, when known."""
    head = getattr(model, 'head', None)
    if isinstance(head, IntegralRegressionHead):
        return tuple(int(v) for v in head.heatmap_size)
    return _decoder_size(model, 'heatmap_size')


def auto_source(model: nn.Module, role: str) -> str:
    """Module path (relative to ``model``) whose output is the model's raw map.

    Integral heads (``IntegralRegressionHead``, ``DSNTHead``): the tensor multiplied by
    ``beta`` before the flat softmax, i.e. ``head.simplebaseline_head.final_layer`` when the
    head has deconvolutions, else ``head.final_layer``. Heatmap heads: ``head.final_layer``.
    """
    head = getattr(model, 'head', None)
    if head is None:
        raise ValueError(f'{role} has no head; give its map source explicitly')
    if isinstance(head, IntegralRegressionHead):
        if head.simplebaseline_head is not None:
            return 'head.simplebaseline_head.final_layer'
        if head.final_layer is not None:
            return 'head.final_layer'
        raise ValueError(f'{role}: {type(head).__name__} has no final_layer (final_layer=None '
                         'and no deconvolutions); give its map source explicitly')
    if isinstance(getattr(head, 'final_layer', None), nn.Module):
        return 'head.final_layer'
    raise ValueError(f'{role}: cannot tell which module of {type(head).__name__} outputs the '
                     'raw map; give its source (a module path such as "head.final_layer")')


def _get_module(model: nn.Module, path: str, role: str) -> nn.Module:
    if path in ('', '.'):
        return model
    try:
        return model.get_submodule(path)
    except AttributeError as err:
        raise ValueError(f'{role} source {path!r} is not a module of the {role} '
                         f'({type(model).__name__}): {err}') from None


class _Recorder:
    """Records the output of one module while active (forward hook)."""

    def __init__(self, module: nn.Module, role: str, path: str):
        self.module, self.role, self.path = module, role, path
        self.outputs: List[Tensor] = []
        self._handle = None

    def _hook(self, module, args, output):
        if isinstance(output, (list, tuple)):  # multi-stage outputs: the last stage
            output = output[-1]
        self.outputs.append(output)

    def __enter__(self) -> '_Recorder':
        self.outputs = []
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        self._handle = None

    def single(self) -> Tensor:
        if len(self.outputs) != 1:
            raise RuntimeError(
                f'{self.role} source {self.path!r} ran {len(self.outputs)} times in one step; '
                'the distiller needs exactly one output per step (point the source at a '
                'module that runs once per forward)')
        return self.outputs[0]


def _normalisation(dp_cfg: Optional[Mapping]) -> Optional[Tuple[Tensor, Tensor, bool]]:
    """(mean, std, swap channels) of an ``ImgDataPreprocessor`` config, from the config (so it
    also works for models built on the meta device); None for other preprocessor types."""
    from mmengine.model import BaseDataPreprocessor, ImgDataPreprocessor

    cls = MODELS.get(dp_cfg.get('type', 'BaseDataPreprocessor')) if dp_cfg else \
        BaseDataPreprocessor
    if cls is BaseDataPreprocessor:  # what BaseModel builds for data_preprocessor=None
        return torch.zeros(1, 1, 1, device='cpu'), torch.ones(1, 1, 1, device='cpu'), False
    if cls is None or not issubclass(cls, ImgDataPreprocessor):
        return None
    mean, std = dp_cfg.get('mean'), dp_cfg.get('std')
    if mean is None or std is None:  # ImgDataPreprocessor normalises only with both
        mean, std = torch.zeros(1, 1, 1, device='cpu'), torch.ones(1, 1, 1, device='cpu')
    else:
        mean = torch.tensor(list(mean), dtype=torch.float32, device='cpu').view(-1, 1, 1)
        std = torch.tensor(list(std), dtype=torch.float32, device='cpu').view(-1, 1, 1)
    swap = bool(dp_cfg.get('bgr_to_rgb', False) or dp_cfg.get('rgb_to_bgr', False))
    return mean, std, swap


def align_heatmaps(maps: Tensor, size_wh: Sequence[int]) -> Tensor:
    """Resample ``(B, K, H_t, W_t)`` maps onto a ``(W_s, H_s)`` grid, bilinearly.

    MMPose places heatmap pixel ``i`` at input coordinate ``i * stride`` (``MSRAHeatmap``
    encodes ``keypoint / stride``; integral heads decode ``sum P(u) * u / W * input_w``), so
    student pixel ``j`` is read at teacher coordinate ``j * W_t / W_s`` (and ``i * H_t / H_s``
    for rows), bilinearly, clamped to the border. For an integer down-sampling ratio this
    picks teacher pixels exactly (``j * r``). Only meaningful when teacher and student see the
    same input crop (same input size), which the distiller checks.
    """
    b, k, ht, wt = maps.shape
    ws, hs = (int(s) for s in size_wh)
    if (ht, wt) == (hs, ws):
        return maps
    dev = maps.device
    xs = torch.arange(ws, device=dev, dtype=torch.float32) * (wt / ws)
    ys = torch.arange(hs, device=dev, dtype=torch.float32) * (ht / hs)
    gx = xs / (wt - 1) * 2 - 1 if wt > 1 else torch.zeros_like(xs)
    gy = ys / (ht - 1) * 2 - 1 if ht > 1 else torch.zeros_like(ys)
    grid = torch.stack(torch.meshgrid(gy, gx, indexing='ij')[::-1], dim=-1)   # (hs, ws, 2)
    grid = grid.unsqueeze(0).expand(b, hs, ws, 2)
    out = F.grid_sample(maps.float(), grid, mode='bilinear', padding_mode='border',
                        align_corners=True)
    return out.to(maps.dtype)


def _strip_pretrained(cfg: Any) -> Any:
    """Drop every ``init_cfg`` that loads weights (the exported checkpoint has them all)."""
    def loads(init):
        items = init if isinstance(init, (list, tuple)) else [init]
        return any(isinstance(i, Mapping) and i.get('type') == 'Pretrained' for i in items)

    if isinstance(cfg, Mapping):
        return {k: _strip_pretrained(v) for k, v in cfg.items()
                if not (k == 'init_cfg' and loads(v))}
    if isinstance(cfg, list):
        return [_strip_pretrained(v) for v in cfg]
    if isinstance(cfg, tuple):
        return tuple(_strip_pretrained(v) for v in cfg)
    return cfg


# ----------------------------------------------------------------------------------------------
# The distiller
# ----------------------------------------------------------------------------------------------
@MODELS.register_module()
class TeacherStudentDistiller(BaseModel):
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

    State dict: ``student.*`` and ``teachers.<name>.*`` (checkpoints hold the teacher, so
    ``resume`` and the export tool's strict loading work).
    """

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

        specs = self._teacher_specs(teacher, teacher_checkpoint, teacher_source, teachers)
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
            if src not in _OUTPUT_SOURCES:
                _get_module(model, src, f'teacher {name!r}')
            self._teacher_sources[name] = src

        self.student_source = (auto_source(self.student, 'student')
                               if student_source == 'auto' else student_source)
        if self.student_source in _OUTPUT_SOURCES + ('', '.'):
            raise ValueError(f'student_source {student_source!r}: MMPose heads call their own '
                             'forward() inside loss(), so a hook on the head never fires and '
                             'its output is coordinates for integral heads; name the submodule '
                             'that outputs the map (e.g. "head.final_layer")')
        _get_module(self.student, self.student_source, 'student')
        self.align = align_heatmaps
        self.student_loss_prefix = student_loss_prefix

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

        self._input_maps: Dict[str, Any] = {}
        for name in self.teachers:
            self._check_compatible(name)
            self._input_maps[name] = self._make_input_map(name)
        # Set to True to keep (detached) student/teacher maps of the last step in
        # `last_distill_inputs` (tests, hhd_loss_share).
        self.record_distill_inputs = False
        self.last_distill_inputs: Dict[str, Tuple[Tensor, Tensor, Optional[Tensor]]] = {}

    # -- construction --------------------------------------------------------------------------
    @staticmethod
    def _teacher_specs(teacher, teacher_checkpoint, teacher_source, teachers) -> 'OrderedDict':
        if teachers is not None and teacher is not None:
            raise ValueError('give either `teacher` (+ `teacher_checkpoint`) or `teachers`, '
                             'not both')
        specs = OrderedDict()
        if teachers is not None:
            if teacher_checkpoint is not None:
                raise ValueError('`teacher_checkpoint` goes with `teacher`; with `teachers` give '
                                 'each teacher its own `checkpoint`')
            if not teachers:
                raise ValueError('`teachers` is empty')
            for name, spec in teachers.items():
                spec = dict(spec)
                unknown = set(spec) - {'model', 'checkpoint', 'source'}
                if 'model' not in spec or unknown:
                    raise ValueError(f'teacher {name!r}: expected dict(model=..., checkpoint=..., '
                                     f'source=...), got keys {sorted(spec)}')
                specs[str(name)] = spec
        elif teacher is not None:
            specs[DEFAULT_TEACHER] = dict(model=teacher, checkpoint=teacher_checkpoint,
                                          source=teacher_source)
        else:
            raise ValueError('a teacher is required: give `teacher` or `teachers`')
        return specs

    def _check_compatible(self, name: str) -> None:
        teacher, student = self.teachers[name], self.student
        kt, ks = _num_keypoints(teacher), _num_keypoints(student)
        if kt is not None and ks is not None and kt != ks:
            raise ValueError(f'teacher {name!r} predicts {kt} keypoints but the student predicts '
                             f'{ks}: they must use the same keypoint set')
        it, is_ = _decoder_size(teacher, 'input_size'), _decoder_size(student, 'input_size')
        if it is not None and is_ is not None and it != is_:
            raise ValueError(f'teacher {name!r} input size {it} (w, h) differs from the student '
                             f'input size {is_}: both must see the same input crop')
        ht, hs = _heatmap_size(teacher), _heatmap_size(student)
        if ht is not None and hs is not None and ht != hs and self.align is None:
            raise ValueError(f'teacher {name!r} heatmap size {ht} (w, h) differs from the '
                             f'student heatmap size {hs} and align_heatmaps=None; set '
                             "align_heatmaps='bilinear' to resample the teacher map")
        if ht is not None and hs is not None and ht != hs and (it is None or is_ is None):
            raise ValueError(f'teacher {name!r} heatmap size {ht} differs from the student\'s '
                             f'{hs}, and without both input sizes (head decoders) the alignment '
                             'is not defined')

    def _make_input_map(self, name: str):
        """None when the teacher takes the student's batch as is, else the conversion."""
        s_cfg = self._student_cfg.get('data_preprocessor')
        t_cfg = self._teacher_cfgs[name].get('data_preprocessor')
        s_norm, t_norm = _normalisation(s_cfg), _normalisation(t_cfg)
        if s_norm is None or t_norm is None:
            if s_cfg != t_cfg:
                raise ValueError(f'teacher {name!r} data_preprocessor {t_cfg!r} differs from the '
                                 f'student\'s {s_cfg!r} and is not an ImgDataPreprocessor whose '
                                 'normalisation can be converted')
            return None
        (sm, ss, sswap), (tm, ts, tswap) = s_norm, t_norm
        if sswap == tswap and sm.shape == tm.shape and torch.equal(sm, tm) and \
                torch.equal(ss, ts):
            return None
        # raw = x * ss + sm (in the student's channel order); teacher: (raw' - tm) / ts.
        return sm, ss, sswap != tswap, tm, ts

    def _teacher_inputs(self, name: str, inputs: Tensor) -> Tensor:
        conv = self._input_maps[name]
        if conv is None:
            return inputs
        sm, ss, swap, tm, ts = (c.to(inputs.device) if isinstance(c, Tensor) else c
                                for c in conv)
        raw = inputs * ss + sm
        if swap:
            raw = raw.flip(1)
        return (raw - tm) / ts

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
                load_teacher_checkpoint(teacher, ckpt, f'teacher {name!r}')
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
            t_inputs = self._teacher_inputs(name, inputs)
            if path in _OUTPUT_SOURCES:
                result = teacher(t_inputs, None, mode='tensor')
                out[name] = (result[-1] if isinstance(result, (list, tuple)) else result).detach()
                continue
            with _Recorder(_get_module(teacher, path, f'teacher {name!r}'),
                           f'teacher {name!r}', path) as rec:
                teacher(t_inputs, None, mode='tensor')
            out[name] = rec.single().detach()
        return out

    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        """Student's own losses (one student forward) + every distillation loss."""
        path = self.student_source
        with _Recorder(_get_module(self.student, path, 'student'), 'student', path) as rec:
            student_losses = self.student.loss(inputs, data_samples)
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
            if self.record_distill_inputs:
                self.last_distill_inputs[lname] = (
                    student_map.detach(), t_map, None if weights is None else weights.detach())
        return losses

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
    def export_student(self, index: Optional[int] = None
                       ) -> Tuple[dict, 'OrderedDict[str, Tensor]']:
        """(plain MMPose model config, state dict) of the student.

        The config is the student's own (MMPose types only) without ``Pretrained`` initialisers
        (the state dict carries every weight); state dict keys have no ``student.`` prefix.
        """
        if index not in (None, 0):
            raise ValueError(f'{type(self).__name__} has a single student; got index {index!r}')
        cfg = _strip_pretrained(copy.deepcopy(self._student_cfg))
        state = OrderedDict((k, v.detach().clone()) for k, v in self.student.state_dict().items())
        # A student head with training-only outputs (ODKD MaskAwareHeatmapHead, option (b))
        # exports as its plain MMPose head.
        export_plain = getattr(getattr(self.student, 'head', None), 'export_plain', None)
        if export_plain is not None:
            cfg['head'], state = export_plain(cfg['head'], state, prefix='head.')
        return cfg, state


# ----------------------------------------------------------------------------------------------
# Cost of the distillation loss
# ----------------------------------------------------------------------------------------------
def _median(xs: Sequence[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


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
    try:
        for i in range(warmup + repeats):
            model.zero_grad(set_to_none=True)
            _sync(device)
            t0 = time.perf_counter()
            data = model.data_preprocessor(copy.deepcopy(batch), True)
            losses = model(**data, mode='loss')
            total, _ = model.parse_losses(losses)
            total.backward()
            _sync(device)
            t1 = time.perf_counter()

            s_map, t_map, w = model.last_distill_inputs[loss_name]
            loss_fn = model.distill_losses[loss_name]
            kwargs = {'target_weights': w} if model._loss_takes_weights[loss_name] else {}
            for _ in range(loss_repeats):
                s_in = s_map.detach().clone().requires_grad_(True)
                _sync(device)
                t2 = time.perf_counter()
                loss_fn(s_in, t_map, **kwargs).backward()
                _sync(device)
                if i >= warmup:
                    loss_times.append(time.perf_counter() - t2)
            if i >= warmup:
                step_times.append(t1 - t0)
    finally:
        model.zero_grad(set_to_none=True)
        model.record_distill_inputs = was_recording
        model.last_distill_inputs = {}
        model.train(was_training)
    pick = _median if median else min
    step_s, loss_s = pick(step_times), pick(loss_times)
    return dict(share=loss_s / step_s, loss_s=loss_s, step_s=step_s,
                batch_size=int(len(batch['inputs'])))
