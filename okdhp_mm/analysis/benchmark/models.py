"""The models the benchmark compares, and hooks that see what they are called with.

:func:`build_models` builds the multi-branch model (any ``MultiBranchHeadBase`` head:
heatmaps or RTMPose's SimCC), its exported students (one per distinct architecture) and the
plain MMPose model of the student's architecture.
"""
from __future__ import annotations

import copy
import inspect
import json
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import torch
from mmengine.config import Config
from torch import Tensor, nn

from okdhp_mm.export import ExportableStudent
from okdhp_mm.models.backbones.multi_branch_base import MultiBranchFeatures
from okdhp_mm.models.heads.multi_branch_base import MultiBranchHeadBase
from okdhp_mm.models.utils import BranchIndexError, check_branch_index
from okdhp_mm.utils.checkpoint import compare_state_dicts, read_checkpoint
from okdhp_mm.utils.config import build_model_from_config

from .common import BenchmarkError, log

__all__ = ['arg_names', 'build_models', 'capture_calls', 'ensemble_finals', 'fau_features',
           'recorded_calls', 'set_test_cfg', 'training_codec']


def set_test_cfg(model: nn.Module, **overrides) -> None:
    """Flip test and heatmap output off, then ``overrides``, in ``model.test_cfg``."""
    base = dict(model.test_cfg or {})
    base.update(flip_test=False, output_heatmaps=False)
    base.update(overrides)
    model.test_cfg = base


def build_models(cfg: Config, checkpoint: Optional[str], device: torch.device,
                 student_branch: int, verbose: bool) -> Dict[str, Any]:
    """``multi``, ``students`` ({branch: model}), ``student_of`` ({branch: the branch whose
    student it shares}), ``plain``, ``plain_cfg`` and ``num_branches``, in eval mode on
    ``device``; ``checkpoint`` (optional) is loaded into the multi-branch model."""
    from mmpose.registry import MODELS

    multi = build_model_from_config(cfg)
    head = getattr(multi, 'head', None)
    if not isinstance(multi, ExportableStudent) or not isinstance(head, MultiBranchHeadBase):
        raise BenchmarkError(f'{type(multi).__name__} is not a multi-branch model (OKDHP '
                             'MultiBranchPoseEstimator with a MultiBranchHead or '
                             'MultiBranchRTMCCHead): nothing to compare against its students')
    if checkpoint:
        log(verbose, f'loading {checkpoint}')
        try:
            _, state = read_checkpoint(checkpoint)
        except (FileNotFoundError, ValueError) as err:
            raise BenchmarkError(str(err)) from None
        mismatch = compare_state_dicts(multi.state_dict(), state)
        if mismatch:
            raise BenchmarkError(f'checkpoint {checkpoint!r} does not fit the config: '
                                 f'{mismatch.describe()}')
        multi.load_state_dict(state, strict=True)
    num_branches = head.num_branches
    try:
        check_branch_index(student_branch, num_branches, 'student_branch')
    except BranchIndexError as err:
        raise BenchmarkError(str(err)) from None
    # Students: the student branch's, then one per other branch whose exported architecture
    # differs from every student built so far; a branch of an already built architecture
    # shares that student's FLOPs and timing (they do not depend on the weights).
    students, keys, student_of = {}, {}, {}
    plain_cfg = None
    for k in [student_branch] + [j for j in range(num_branches) if j != student_branch]:
        scfg, state = multi.export_student(k)
        key = json.dumps(scfg, sort_keys=True, default=str)
        twin = next((j for j, other in keys.items() if other == key), None)
        if twin is not None:
            student_of[k] = twin
            continue
        student = MODELS.build(copy.deepcopy(scfg))
        student.load_state_dict(state, strict=True)
        students[k], keys[k], student_of[k] = student, key, k
        if k == student_branch:
            plain_cfg = scfg
    student_of = dict(sorted(student_of.items()))
    # The plain MMPose model of the student's architecture, built fresh from the export
    # config: random init, no export involved.
    plain = MODELS.build(copy.deepcopy(plain_cfg))
    models = dict(multi=multi, students=students, student_of=student_of, plain=plain,
                  plain_cfg=plain_cfg, num_branches=num_branches)
    for m in [multi, plain, *students.values()]:
        m.to(device).eval()
        set_test_cfg(m)
    return models


def arg_names(module: nn.Module) -> List[str]:
    """Names of the arguments of ``module.forward`` that can be passed by position."""
    return [p.name for p in inspect.signature(module.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def training_codec(models: Dict[str, Any], cfg: Config) -> dict:
    """The codec config the training targets are encoded with: the student's head decoder
    (the codec its branch is trained and decoded with), else the config's ``codec``."""
    codec = models['plain_cfg'].get('head', {}).get('decoder') or cfg.get('codec')
    if not codec:
        raise BenchmarkError('no codec to encode training targets with: give the branch heads '
                             'a decoder=dict(type=...) (or the config a top-level codec)')
    return copy.deepcopy(dict(codec))


def _no_branch(index: int):
    raise RuntimeError('fau_features: only the FAU input is available, not branch features')


def fau_features(head: MultiBranchHeadBase, feature: Tensor) -> MultiBranchFeatures:
    """Backbone output carrying only ``feature`` as the FAU input: ``head.ensemble`` on it
    runs the FAU on exactly that tensor, whatever the backbone was."""
    return MultiBranchFeatures(shared=[], fau_input=feature, num_branches=head.num_branches,
                               compute_branch=_no_branch)


def ensemble_finals(call: tuple) -> Any:
    """The branches' final outputs that a recorded ``head.ensemble(feats, finals)`` call
    (``(args, kwargs, result)`` of :func:`recorded_calls`) received."""
    args, kwargs, _ = call
    return args[1] if len(args) > 1 else kwargs['finals']


@contextmanager
def recorded_calls(obj: Any, names: Sequence[str]) -> Iterator[Dict[str, list]]:
    """Yields ``{name: [(args, kwargs, result), ...]}`` of every outermost call of the methods
    ``names`` of ``obj`` inside the block (a recorded method called by another one is not
    recorded again). The methods are wrapped on the instance and restored afterwards."""
    calls: Dict[str, list] = {n: [] for n in names}
    depth = [0]

    def wrap(name, method):
        def wrapper(*args, **kwargs):
            depth[0] += 1
            try:
                result = method(*args, **kwargs)
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                calls[name].append((args, kwargs, result))
            return result
        return wrapper

    saved = {n: obj.__dict__.get(n) for n in names}
    for n in names:
        setattr(obj, n, wrap(n, getattr(obj, n)))
    try:
        yield calls
    finally:
        for n, old in saved.items():
            if old is None:
                delattr(obj, n)
            else:
                setattr(obj, n, old)


def capture_calls(modules: Dict[str, nn.Module], run: Callable[[], Any],
                  names: Optional[Dict[str, Sequence[str]]] = None) -> Dict[str, list]:
    """The arguments of every call of each module during one ``run()``.

    Each call is a tuple of its positional arguments, followed by the keyword arguments named
    in ``names[module]`` (in that order, ``None`` when absent) that were passed by keyword.
    """
    calls: Dict[str, list] = {name: [] for name in modules}
    names = names or {}

    def hook(mod, args, kwargs, name):
        params = list(names.get(name, ()))
        extra = [kwargs.get(p) for p in params[len(args):]]
        calls[name].append(tuple(args) + tuple(extra))

    handles = [m.register_forward_pre_hook(
        lambda mod, args, kwargs, name=name: hook(mod, args, kwargs, name), with_kwargs=True)
        for name, m in modules.items()]
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return calls
