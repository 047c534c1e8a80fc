"""Cost of a multi-branch (OKDHP) model next to its exported student and plain MMPose.

One call, :func:`run_benchmark`, measures side by side on CPU or CUDA, with synthetic inputs of
the config's input size (no dataset is read):

* params and FLOPs (``mmengine.analysis.FlopAnalyzer``: one "FLOP" is one multiply-accumulate,
  the fvcore convention MMPose's model zoo uses; per sample, batch 1) of every branch (its
  exported plain student), the ensemble path (trunk + every branch + FAU: the training
  forward), the FAU alone, the exported student and the plain MMPose model of the same
  architecture (built fresh from the export config, random init, no export involved);
* inference latency in ``predict`` mode, flip test off: every branch of the multi-branch model
  (``test_cfg.branch=k``), the ensemble, the FAU alone (forward only, on the tensors the
  ensemble prediction feeds it), every exported student and the plain model. Per batch size,
  after warm-up, every repeat runs each model once in a rotating round-robin order (so machine
  noise hits all models alike, and no model always runs right after the same one); latency =
  median over the repeats. ``timer='wall'`` (default) times the wall clock (with
  ``torch.cuda.synchronize`` on CUDA); ``timer='cpu'`` (CPU device only) times this process's
  CPU time, which stays meaningful on a shared, overloaded machine when used with
  ``threads=1`` (with several intra-op threads, busy-waiting threads would be counted too);
* a training step (forward loss + backward + Adam step) of the multi-branch model and of the
  single-branch baseline (the plain architecture of the student branch), on the same batch, in
  the same round robin; the FLOP-proportional ideal multi-branch step = baseline step x FLOPs of
  the training forward (trunk once + every branch + FAU) / FLOPs of the student;
* the FAU + KL share of that step, by *replay*: the FAU forward, the ensemble GT loss and every
  pixel-wise KL term forward + backward, run on detached copies (leaves requiring grad) of the
  very tensors one training forward fed them (captured with forward pre-hooks, so the shapes
  and the number of KL terms are the real ones), timed in the same round robin;
* peak memory: on CUDA ``torch.cuda.max_memory_allocated`` (reset before each measurement)
  minus what was allocated before it, plus the measured model's own parameters, buffers (and
  optimizer state when training); on CPU an *estimate* of the same quantity: the model's
  parameter + buffer (+ Adam state) bytes plus the peak of live tensor storage allocated during
  the run, tracked op by op with a ``TorchDispatchMode`` (storages are counted once, views
  share them, freed storages are subtracted). The input batch is not counted.

Ratios (the ``ratios`` keys of :func:`run_benchmark`'s result and of ``benchmark.json``):

* ``student_vs_plain``: exported student latency / plain MMPose model latency, the worst (the
  farthest from 1) over the batch sizes; target 1.00 +/- 0.03;
* ``branch_vs_student``: ``{k: latency of branch k of the multi-branch model / latency of the
  exported student of branch k}``, worst (largest) over the batch sizes; target <= 1.05;
* ``train_step_vs_ideal``: multi-branch training step / FLOP-proportional ideal; target <= 1.05;
* ``fau_kl_share``: FAU + KL replay time / multi-branch training step; target <= 0.05.

Latency ratios are ratios of medians; ``ratios_by_batch`` holds them for every batch size.
``checks`` lists every target with its value and pass/fail. ``models.<name>`` holds
``params``, ``flops``, ``latency_ms_b<N>`` for every batch size N, ``peak_mem_mb`` (at the
largest batch size; see ``memory_method``) for ``branch<k>``, ``ensemble``, ``fau``,
``student`` (branch ``student_branch``), ``student<k>`` (only for branches whose exported
architecture differs from ``student``'s: students of one architecture share one timing) and
``plain``; ``branch<k>`` also has ``flops_in_multi_branch`` (branch k's own path inside the
multi-branch model), ``plain`` ``params_sum`` (sum of its parameters' numel), ``fau``
``input_shapes``. ``train`` holds ``batch_size``, ``multi_branch`` and ``baseline``
(``step_ms``, ``params``, ``flops``, ``peak_mem_mb``, ``mem_breakdown_mb``), ``flop_ratio``,
``ideal_step_ms`` and ``fau_kl`` (``ms``, ``fau_ms``, ``kl_ms``, ``method``,
``num_kl_terms``, ``kl_shapes``, ``fau_feature_shape``, ``detach_ensemble``, ``kd_weight``).
Top level also: ``schema``, ``config``, ``checkpoint``, ``device``, ``device_name``,
``threads``, ``timer``, ``torch_version``, ``mmpose_version``, ``repeats``, ``warmup``,
``batch_sizes``, ``peak_mem_batch_size``, ``input_size`` (W, H), ``heatmap_size`` (w, h),
``num_branches``, ``student_branch``, ``student_of_branch``, ``flops_method``,
``latency_method``, ``memory_method``, ``memory_is_estimate``, ``all_passed``, ``wall_s``,
``samples_ms`` (every timed predict, ``{'b<N>': {model: [ms per repeat]}}``; the training
samples are in ``train.samples_ms``).
Everything is plain JSON.
"""
from __future__ import annotations

import copy
import gc
import json
import math
import os
import os.path as osp
import platform
import statistics
import time
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ['BenchmarkError', 'run_benchmark', 'format_report', 'plot_benchmark',
           'write_outputs', 'TARGETS', 'SCHEMA']

SCHEMA = 'okdhp_mm.benchmark/1'
DEFAULT_BATCH_SIZES = (1, 32)
DEFAULT_REPEATS, DEFAULT_WARMUP = 15, 3
QUICK_BATCH_SIZES = (1, 2)
QUICK_REPEATS, QUICK_WARMUP = 3, 1

# name -> (description, kind, bound(s)); kind 'band' = |value - 1| <= tol, 'max' = value <= bound
TARGETS = {
    'student_vs_plain': ('exported student / plain MMPose latency', 'band', (1.0, 0.03)),
    'branch_vs_student': ('branch k of multi-branch / exported student k latency', 'max', 1.05),
    'train_step_vs_ideal': ('multi-branch train step / FLOP-proportional ideal', 'max', 1.05),
    'fau_kl_share': ('share of the multi-branch train step in FAU + KL', 'max', 0.05),
}

# Flip pairs of the two keypoint layouts of the paper; anything else gets identity indices
# (flip test is off in every measurement, the value only has to exist).
_COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
_MPII_FLIP = [5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10]


class BenchmarkError(ValueError):
    """The benchmark cannot run as asked; the message says what to change."""


# ----------------------------------------------------------------------------- helpers
def _log(verbose: bool, msg: str) -> None:
    if verbose:
        print(f'[benchmark] {msg}', flush=True)


def _load_config(cfg_or_path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import okdhp_mm  # noqa: F401  (registers our modules)

    if isinstance(cfg_or_path, (str, os.PathLike)):
        if not osp.isfile(cfg_or_path):
            raise BenchmarkError(f'config {str(cfg_or_path)!r} does not exist')
        cfg = Config.fromfile(str(cfg_or_path))
    elif isinstance(cfg_or_path, Config):
        cfg = copy.deepcopy(cfg_or_path)
    elif isinstance(cfg_or_path, dict):
        cfg = Config(copy.deepcopy(cfg_or_path))
    else:
        raise BenchmarkError(f'config must be a path, a Config or a dict, got '
                             f'{type(cfg_or_path).__name__}')
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return cfg


def _input_size(cfg) -> Tuple[int, int]:
    """(W, H) of the network input: the codec's, else the val pipeline's TopdownAffine."""
    codec = cfg.get('codec')
    if isinstance(codec, dict) and 'input_size' in codec:
        return tuple(int(v) for v in codec['input_size'])
    try:
        for step in cfg.val_dataloader.dataset.pipeline:
            if step.get('type') == 'TopdownAffine':
                return tuple(int(v) for v in step['input_size'])
    except (AttributeError, KeyError, TypeError):
        pass
    raise BenchmarkError('cannot find the input size: the config has neither `codec.input_size` '
                         'nor a TopdownAffine step in val_dataloader.dataset.pipeline')


def _resolve_device(device: str) -> torch.device:
    dev = torch.device(device)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        raise BenchmarkError(f'--device {device}: CUDA is not available on this machine '
                             '(use --device cpu)')
    if dev.type not in ('cpu', 'cuda'):
        raise BenchmarkError(f'--device {device}: only cpu and cuda are supported')
    return dev


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


TIMERS = ('wall', 'cpu')


def _timed(fn: Callable[[], Any], device: torch.device, timer: str = 'wall') -> float:
    """Time of ``fn()`` in ms: wall clock (device work included), or this process's CPU time.

    The CPU timer (``time.process_time``, CPU device only) ignores time the process spends
    descheduled, so it stays meaningful on a shared machine; with several intra-op threads it
    sums their CPU time (spin-waits included), so use it with one thread.
    """
    clock = time.process_time if timer == 'cpu' else time.perf_counter
    _sync(device)
    start = clock()
    fn()
    _sync(device)
    return (clock() - start) * 1e3


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _bytes_of(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:
        if t is None:
            continue
        st = t.untyped_storage()
        if st.data_ptr() not in seen:
            seen.add(st.data_ptr())
            total += st.nbytes()
    return total


def _model_bytes(model: nn.Module) -> int:
    return _bytes_of(list(model.parameters()) + list(model.buffers()))


def _optimizer_bytes(opt: torch.optim.Optimizer) -> int:
    return _bytes_of(v for state in opt.state.values() for v in state.values()
                     if isinstance(v, Tensor))


def _num_params(model: nn.Module) -> int:
    from mmengine.analysis import parameter_count
    return int(parameter_count(model)[''])


def _flops(module: nn.Module, inputs: tuple) -> int:
    """Multiply-accumulates of ``module(*inputs)`` (mmengine's FlopAnalyzer, fvcore rules)."""
    from mmengine.analysis import FlopAnalyzer

    analyzer = FlopAnalyzer(module, inputs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return int(analyzer.total())


class _FlatOutputs(nn.Module):
    """Traceable wrapper: ``fn(model, *inputs)`` flattened into a tuple of tensors."""

    def __init__(self, model: nn.Module, fn: Callable):
        super().__init__()
        self.model = model
        self.fn = fn

    def forward(self, *inputs):
        out = self.fn(self.model, *inputs)
        flat = []

        def visit(o):
            if isinstance(o, Tensor):
                flat.append(o)
            elif isinstance(o, dict):
                for v in o.values():
                    visit(v)
            elif isinstance(o, (list, tuple)):
                for v in o:
                    visit(v)
        visit(out)
        return tuple(flat)


# ----------------------------------------------------------------------------- memory (CPU)
class _LiveStorageTracker(torch.utils._python_dispatch.TorchDispatchMode):
    """Peak bytes of tensor storage allocated (and still alive) since entering the mode.

    Every op's outputs are inspected; a storage is counted once (views share it) and
    subtracted when its last reference dies (weakref finalizer). Storages that existed before
    entering are never counted. An estimate: allocator rounding, workspace buffers inside
    kernels and non-tensor allocations are not seen.
    """

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._sizes: Dict[int, int] = {}
        self._old: set = set()

    def ignore(self, tensors) -> None:
        """Storages that existed before (e.g. the inputs): never counted."""
        for t in tensors:
            if isinstance(t, Tensor):
                self._old.add(t.untyped_storage().data_ptr())

    def _free(self, key: int) -> None:
        size = self._sizes.pop(key, None)
        if size is not None:
            self.live -= size

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        stack = [out]
        while stack:
            o = stack.pop()
            if isinstance(o, (list, tuple)):
                stack.extend(o)
            elif isinstance(o, Tensor) and o.device.type != 'meta':
                st = o.untyped_storage()
                key, size = st.data_ptr(), st.nbytes()
                if size == 0 or key in self._sizes or key in self._old:
                    continue
                self._sizes[key] = size
                self.live += size
                self.peak = max(self.peak, self.live)
                weakref.finalize(st, self._free, key)
        return out


@contextmanager
def _peak_memory(device: torch.device, ignore=()):
    """Yields a dict whose ``bytes`` is the peak extra memory of the block (after it ends)."""
    result = {'bytes': 0}
    if device.type == 'cuda':
        gc.collect()  # tensors held only by reference cycles would count as in use
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        yield result
        torch.cuda.synchronize(device)
        result['bytes'] = int(torch.cuda.max_memory_allocated(device) - before)
    else:
        tracker = _LiveStorageTracker()
        tracker.ignore(ignore)
        with tracker:
            yield result
        result['bytes'] = int(tracker.peak)


def memory_method(device: torch.device) -> str:
    if device.type == 'cuda':
        return ('cuda: torch.cuda.max_memory_allocated during the run (peak stats reset before) '
                'minus memory allocated before it, plus the model\'s own parameters and buffers '
                '(and Adam state and gradients for training); input batch not counted')
    return ('cpu ESTIMATE: the model\'s parameter + buffer bytes (+ Adam state for training) plus '
            'the peak of live tensor storage allocated during the run (TorchDispatchMode op '
            'tracker: gradients, activations, saved-for-backward tensors, temporaries); input '
            'batch, allocator overhead and kernel workspaces not counted')


# ----------------------------------------------------------------------------- inputs
def _flip_indices(num_keypoints: int) -> List[int]:
    if num_keypoints == 17:
        return list(_COCO_FLIP)
    if num_keypoints == 16:
        return list(_MPII_FLIP)
    return list(range(num_keypoints))


def make_batch(batch_size: int, input_size: Tuple[int, int], num_keypoints: int,
               heatmap_size: Optional[Tuple[int, int]] = None, device='cpu', seed: int = 0):
    """Synthetic ``(inputs, data_samples)`` of ``batch_size`` crops of ``input_size`` (W, H).

    The inputs are already normalised (what the data preprocessor hands the model). Every
    sample has the metainfo ``predict`` needs (input_size/center/scale, flip_indices) and one
    ground-truth instance (bbox, bbox score); with ``heatmap_size`` (w, h) also training
    targets: ``gt_fields.heatmaps`` (K, h, w) Gaussians and ``gt_instance_labels
    .keypoint_weights`` (1, K) ones.
    """
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample

    w, h = input_size
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch_size, 3, h, w, generator=g).to(device)
    samples = []
    for i in range(batch_size):
        sample = PoseDataSample(metainfo=dict(
            id=i, img_id=i, img_path=f'synthetic_{i}.jpg', ori_shape=(h, w), img_shape=(h, w),
            input_size=(w, h), input_center=np.array([[w / 2, h / 2]], dtype=np.float32),
            input_scale=np.array([[w, h]], dtype=np.float32),
            flip_indices=_flip_indices(num_keypoints)))
        sample.gt_instances = InstanceData(
            bboxes=np.array([[0, 0, w, h]], dtype=np.float32),
            bbox_scores=np.ones(1, dtype=np.float32))
        if heatmap_size is not None:
            hw, hh = heatmap_size
            ys = torch.arange(hh, dtype=torch.float32)[:, None]
            xs = torch.arange(hw, dtype=torch.float32)[None, :]
            centres = torch.rand(num_keypoints, 2, generator=g) * torch.tensor([hw, hh])
            heatmaps = torch.exp(-((xs[None] - centres[:, 0, None, None]) ** 2 +
                                   (ys[None] - centres[:, 1, None, None]) ** 2) / (2 * 2.0 ** 2))
            sample.gt_fields = PixelData(heatmaps=heatmaps.to(device))
            sample.gt_instance_labels = InstanceData(
                keypoint_weights=torch.ones(1, num_keypoints, device=device))
        samples.append(sample)
    return inputs, samples


# ----------------------------------------------------------------------------- models
def _set_test_cfg(model: nn.Module, **overrides) -> None:
    base = dict(model.test_cfg or {})
    base.update(flip_test=False, output_heatmaps=False)
    base.update(overrides)
    model.test_cfg = base


def _build_models(cfg, checkpoint: Optional[str], device: torch.device, student_branch: int,
                  verbose: bool) -> Dict[str, Any]:
    from mmpose.registry import MODELS

    from .export import build_model_from_config

    multi = build_model_from_config(cfg)
    head = getattr(multi, 'head', None)
    if not hasattr(multi, 'export_student') or not hasattr(head, 'num_branches'):
        raise BenchmarkError(f'{type(multi).__name__} is not a multi-branch model (OKDHP '
                             'MultiBranchPoseEstimator with a MultiBranchHead): nothing to '
                             'compare against its students')
    if checkpoint:
        from mmengine.runner import load_checkpoint
        _log(verbose, f'loading {checkpoint}')
        try:
            load_checkpoint(multi, checkpoint, map_location='cpu', strict=True,
                            logger='silent')
        except (RuntimeError, KeyError) as err:
            raise BenchmarkError(f'checkpoint {checkpoint!r} does not fit the config: {err}') \
                from None
    num_branches = head.num_branches
    if not 0 <= student_branch < num_branches:
        raise BenchmarkError(f'student_branch={student_branch}: the model has {num_branches} '
                             f'branches (0..{num_branches - 1})')
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
        _set_test_cfg(m)
    return models


def _arg_names(module: nn.Module) -> List[str]:
    import inspect
    return [p.name for p in inspect.signature(module.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _heatmap_size(model: nn.Module, input_size, device) -> Tuple[int, int]:
    """(w, h) of the final heatmap the model predicts (what the training targets must be)."""
    w, h = input_size
    with torch.no_grad():
        out = model._forward(torch.zeros(1, 3, h, w, device=device))
    while isinstance(out, (list, tuple)):
        out = out[-1]
    return int(out.shape[-1]), int(out.shape[-2])


def _capture_calls(modules: Dict[str, nn.Module], run: Callable[[], Any],
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


# ----------------------------------------------------------------------------- complexity
def _complexity(models: Dict[str, Any], input_size, device, verbose: bool) -> Dict[str, Dict]:
    multi = models['multi']
    head = multi.head
    w, h = input_size
    x = torch.zeros(1, 3, h, w, device=device)
    out: Dict[str, Dict] = {}
    flops_of_student = {}
    for k, student in models['students'].items():
        flops_of_student[k] = dict(params=_num_params(student),
                                   flops=_flops(student, (x, None)))
    for k in range(models['num_branches']):
        entry = dict(flops_of_student[models['student_of'][k]])
        # The branch's own path inside the multi-branch model (predict with branch=k).
        path = _FlatOutputs(multi, lambda m, i, k=k: m.head.final_heatmaps(
            m.extract_feat(i), [k]))
        entry['flops_in_multi_branch'] = _flops(path, (x,))
        out[f'branch{k}'] = entry
    ens = _FlatOutputs(multi, lambda m, i: m.head.forward(m.extract_feat(i)))
    out['ensemble'] = dict(params=_num_params(multi), flops=_flops(ens, (x,)))
    with torch.no_grad():
        fau_args = _capture_calls(dict(fau=head.fau),
                                  lambda: head.forward(multi.extract_feat(x)))['fau'][-1]
    feature, heatmaps = fau_args[0], list(fau_args[1])
    fau = _FlatOutputs(head.fau, lambda f, feat, *maps: f(feat, list(maps)))
    out['fau'] = dict(params=_num_params(head.fau), flops=_flops(fau, (feature, *heatmaps)))
    out['fau']['input_shapes'] = [list(feature.shape)] + [list(m.shape) for m in heatmaps]
    sb = models['student_branch']
    out['student'] = dict(flops_of_student[sb], branch=sb)
    for k, student in models['students'].items():
        if k != sb:
            out[f'student{k}'] = dict(flops_of_student[k], branch=k)
    plain = models['plain']
    out['plain'] = dict(params=_num_params(plain), flops=_flops(plain, (x, None)),
                        params_sum=int(sum(p.numel() for p in plain.parameters())))
    return out


# ----------------------------------------------------------------------------- latency
class _Entry(NamedTuple):
    """One timed measurement: ``run`` is timed, ``setup`` (untimed) runs right before it."""
    name: str
    run: Callable[[], Any]
    setup: Optional[Callable[[], Any]] = None
    owner: Optional[nn.Module] = None  # the module whose weights are resident while it runs


def _round_robin(entries: List[_Entry], repeats: int, warmup: int, device: torch.device,
                 timer: str = 'wall') -> Dict[str, List[float]]:
    """Run every entry once per repeat, rotating the order; returns the times in ms."""
    times: Dict[str, List[float]] = {e.name: [] for e in entries}
    for _ in range(warmup):
        for e in entries:
            if e.setup is not None:
                e.setup()
            e.run()
    _sync(device)
    # No collector pauses inside a timed call: collect between repeats instead, with every
    # object that exists now frozen out of the collector's scans (so those collections are
    # cheap and take the same time for every model).
    gc.collect()
    gc.freeze()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        n = len(entries)
        for r in range(repeats):
            order = entries[r % n:] + entries[:r % n]
            for e in order:
                if e.setup is not None:
                    e.setup()
                times[e.name].append(_timed(e.run, device, timer))
            gc.collect()
    finally:
        gc.unfreeze()
        if gc_was_enabled:
            gc.enable()
    return times


def _inference_entries(models, inputs, samples) -> List[_Entry]:
    """Every predict-mode measurement (the FAU: forward alone, on captured inputs)."""
    multi = models['multi']
    entries = []

    def predict(name, model, **test_cfg):
        def run():
            with torch.no_grad():
                return model(inputs, samples, mode='predict')
        # The multi-branch model serves several entries: its test_cfg is set before each run.
        setup = (lambda: _set_test_cfg(model, **test_cfg)) if test_cfg else None
        return _Entry(name, run, setup, model)

    for k in range(models['num_branches']):
        entries.append(predict(f'branch{k}', multi, branch=k, output_all=False))
    entries.append(predict('ensemble', multi, branch='ensemble', output_all=False))
    # FAU alone, on the very tensors the ensemble prediction feeds it.
    _set_test_cfg(multi, branch='ensemble', output_all=False)
    with torch.no_grad():
        fau_args = _capture_calls(dict(fau=multi.head.fau),
                                  lambda: multi(inputs, samples, mode='predict'))['fau'][-1]
    feature, heatmaps = fau_args[0], list(fau_args[1])

    def fau_run():
        with torch.no_grad():
            return multi.head.fau(feature, heatmaps)
    entries.append(_Entry('fau', fau_run, None, multi.head.fau))
    sb = models['student_branch']
    for k, student in models['students'].items():
        entries.append(predict('student' if k == sb else f'student{k}', student))
    entries.append(predict('plain', models['plain']))
    return entries


def _latency(models, input_size, num_keypoints, batch_sizes, repeats, warmup, device, timer,
             verbose) -> Tuple[Dict[int, Dict[str, float]], Dict[str, float], Dict]:
    """Median predict latency per batch size and model, peak memory at the largest batch, and
    every timed sample (ms, in repeat order)."""
    latency: Dict[int, Dict[str, float]] = {}
    samples_ms: Dict[str, Dict[str, List[float]]] = {}
    peak_mb: Dict[str, float] = {}
    for bs in batch_sizes:
        inputs, samples = make_batch(bs, input_size, num_keypoints, device=device)
        entries = _inference_entries(models, inputs, samples)
        t0 = time.perf_counter()
        times = _round_robin(entries, repeats, warmup, device, timer)
        latency[bs] = {name: _median(v) for name, v in times.items()}
        samples_ms[f'b{bs}'] = times
        _log(verbose, f'latency batch {bs}: {time.perf_counter() - t0:.1f} s, ' + ', '.join(
            f'{n} {v:.2f} ms' for n, v in latency[bs].items()))
        if bs == max(batch_sizes):
            t0 = time.perf_counter()
            for e in entries:
                if e.setup is not None:
                    e.setup()
                with torch.no_grad(), _peak_memory(device, ignore=[inputs]) as mem:
                    e.run()
                peak_mb[e.name] = (_model_bytes(e.owner) + mem['bytes']) / 2 ** 20
            _log(verbose, f'inference memory batch {bs}: {time.perf_counter() - t0:.1f} s')
    return latency, peak_mb, samples_ms


# ----------------------------------------------------------------------------- training
def _train_step_fn(model: nn.Module, opt: torch.optim.Optimizer, inputs, samples):
    def step():
        losses = model(inputs, samples, mode='loss')
        loss, _ = model.parse_losses(losses)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def _fau_kl_replay(multi_train: nn.Module, inputs, samples):
    """Callables replaying, on leaves of the real shapes, what FAU + KL cost in one step.

    Returns ``(both, fau_only, kl_only, info)``: ``both`` = FAU forward (weights +
    aggregation), ensemble GT loss and every KL term forward, then backward of
    ``loss_gt_ens + w_kd * sum KL`` into the FAU parameters and the leaves (the branch
    heatmaps, the FAU's input feature); ``fau_only`` / ``kl_only`` split it.
    """
    head = multi_train.head
    with torch.no_grad():
        calls = _capture_calls(
            dict(fau=head.fau, kd=head.kd_loss, ens=head.ensemble_loss),
            lambda: multi_train(inputs, samples, mode='loss'),
            names=dict(fau=_arg_names(head.fau), kd=_arg_names(head.kd_loss),
                       ens=_arg_names(head.ensemble_loss)))
    fau_calls, kd_calls, ens_calls = calls['fau'], calls['kd'], calls['ens']
    if len(fau_calls) != 1 or len(ens_calls) != 1 or not kd_calls:
        raise BenchmarkError(f'the training forward called the FAU {len(fau_calls)}x, the '
                             f'ensemble loss {len(ens_calls)}x and the KD loss '
                             f'{len(kd_calls)}x: the FAU + KL replay expects 1, 1 and >= 1')
    feature, finals = fau_calls[0][0], list(fau_calls[0][1])
    gt, gt_weights = ens_calls[0][1], ens_calls[0][2]

    # Leaves: one per distinct tensor, so a final heatmap that is both a FAU input and a KL
    # student is one leaf, as in the real graph.
    leaves: Dict[int, Tensor] = {}

    def leaf(t: Tensor) -> Tensor:
        if id(t) not in leaves:
            leaves[id(t)] = t.detach().clone().requires_grad_(True)
        return leaves[id(t)]
    feat_l = leaf(feature)
    finals_l = [leaf(m) for m in finals]
    kd_preds = [leaf(c[0]) for c in kd_calls]
    kd_weights = [c[2] if len(c) > 2 else None for c in kd_calls]
    kd_w = float(head.current_kd_weight())
    detach = bool(head.detach_ensemble)
    ens_shape = finals[0].shape
    params = list(head.fau.parameters())

    def clear():
        for t in list(leaves.values()) + params:
            t.grad = None

    def both():
        ens, _ = head.fau(feat_l, finals_l)
        target = ens.detach() if detach else ens
        kd = sum(head.kd_loss(p, target, w) for p, w in zip(kd_preds, kd_weights))
        (head.ensemble_loss(ens, gt, gt_weights) + kd_w * kd).backward()
        clear()

    def fau_only():
        ens, _ = head.fau(feat_l, finals_l)
        head.ensemble_loss(ens, gt, gt_weights).backward()
        clear()

    target_l = torch.zeros(ens_shape, device=feature.device).requires_grad_(not detach)

    def kl_only():
        kd = sum(head.kd_loss(p, target_l, w) for p, w in zip(kd_preds, kd_weights))
        (kd_w * kd).backward()
        clear()
        target_l.grad = None

    info = dict(num_kl_terms=len(kd_calls), kl_shapes=[list(c[0].shape) for c in kd_calls],
                fau_feature_shape=list(feature.shape), detach_ensemble=detach, kd_weight=kd_w)
    return both, fau_only, kl_only, info


def _training(models, input_size, num_keypoints, heatmap_size, batch_size, repeats, warmup,
              device, timer, verbose) -> Dict[str, Any]:
    multi = copy.deepcopy(models['multi']).to(device).train()
    base = copy.deepcopy(models['plain']).to(device).train()
    inputs, samples = make_batch(batch_size, input_size, num_keypoints, heatmap_size,
                                 device=device, seed=1)
    opts = {n: torch.optim.Adam(m.parameters(), lr=1e-4)
            for n, m in (('multi_branch', multi), ('baseline', base))}
    steps = {'multi_branch': _train_step_fn(multi, opts['multi_branch'], inputs, samples),
             'baseline': _train_step_fn(base, opts['baseline'], inputs, samples)}
    both, fau_only, kl_only, info = _fau_kl_replay(multi, inputs, samples)
    entries = [_Entry('multi_branch', steps['multi_branch']),
               _Entry('baseline', steps['baseline']), _Entry('fau_kl', both),
               _Entry('fau', fau_only), _Entry('kl', kl_only)]
    t0 = time.perf_counter()
    times = _round_robin(entries, repeats, warmup, device, timer)
    med = {name: _median(v) for name, v in times.items()}
    _log(verbose, f'training batch {batch_size}: {time.perf_counter() - t0:.1f} s, ' +
         ', '.join(f'{n} {v:.1f} ms' for n, v in med.items()))
    result = dict(batch_size=batch_size, optimizer='Adam', samples_ms=times,
                  fau_kl=dict(ms=med['fau_kl'], fau_ms=med['fau'], kl_ms=med['kl'],
                              method='replay: FAU forward, ensemble GT loss and every KL term '
                                     'forward + backward on detached copies (leaves requiring '
                                     'grad) of the tensors one training forward fed them; '
                                     'timed in the same round robin as the training steps',
                              **info))
    t0 = time.perf_counter()
    for name, model in (('multi_branch', multi), ('baseline', base)):
        opt = opts[name]
        with _peak_memory(device, ignore=[inputs]) as mem:
            steps[name]()
        resident = _model_bytes(model) + _optimizer_bytes(opt)
        result[name] = dict(step_ms=med[name], params=_num_params(model),
                            peak_mem_mb=(resident + mem['bytes']) / 2 ** 20,
                            mem_breakdown_mb=dict(
                                params_buffers=_model_bytes(model) / 2 ** 20,
                                optimizer_state=_optimizer_bytes(opt) / 2 ** 20,
                                step_peak_extra=mem['bytes'] / 2 ** 20))
    _log(verbose, f'training memory: {time.perf_counter() - t0:.1f} s')
    del multi, base, opts
    return result


# ----------------------------------------------------------------------------- ratios
def _check(name: str, value: float, label: Optional[str] = None) -> Dict[str, Any]:
    desc, kind, bound = TARGETS[name]
    if kind == 'band':
        centre, tol = bound
        ok = abs(value - centre) <= tol
        target = f'{centre:.2f} +/- {tol:.2f}'
    else:
        ok = value <= bound
        target = f'<= {bound:.0%}' if name == 'fau_kl_share' else f'<= {bound:.2f}'
    return dict(name=label or name, value=float(value), target=target,
                passed=bool(ok and math.isfinite(value)), description=desc)


def _ratios(latency: Dict[int, Dict[str, float]], models_info, student_of, student_branch,
            train) -> Tuple[Dict, Dict, List]:
    def student_name(k):
        j = student_of[k]
        return 'student' if j == student_branch else f'student{j}'

    by_batch = {}
    for bs, lat in latency.items():
        by_batch[str(bs)] = dict(
            student_vs_plain=lat['student'] / lat['plain'],
            branch_vs_student={str(k): lat[f'branch{k}'] / lat[student_name(k)]
                               for k in sorted(student_of)})
    svp = max((v['student_vs_plain'] for v in by_batch.values()), key=lambda r: abs(r - 1))
    bvs = {str(k): max(v['branch_vs_student'][str(k)] for v in by_batch.values())
           for k in sorted(student_of)}
    ratios = dict(student_vs_plain=svp, branch_vs_student=bvs,
                  train_step_vs_ideal=train['multi_branch']['step_ms'] / train['ideal_step_ms'],
                  fau_kl_share=train['fau_kl']['ms'] / train['multi_branch']['step_ms'])
    checks = [_check('student_vs_plain', svp)]
    checks += [_check('branch_vs_student', v, f'branch_vs_student[{k}]') for k, v in bvs.items()]
    checks += [_check('train_step_vs_ideal', ratios['train_step_vs_ideal']),
               _check('fau_kl_share', ratios['fau_kl_share'])]
    return ratios, by_batch, checks


# ----------------------------------------------------------------------------- main entry
def run_benchmark(config, checkpoint: Optional[str] = None, device: str = 'cpu',
                  batch_sizes: Optional[Sequence[int]] = None, repeats: Optional[int] = None,
                  warmup: Optional[int] = None, train_batch_size: Optional[int] = None,
                  quick: bool = False, student_branch: int = 0, out_dir: Optional[str] = None,
                  threads: Optional[int] = None, timer: str = 'wall', verbose: bool = False,
                  seed: int = 0) -> Dict[str, Any]:
    """Benchmark a multi-branch config; return the result dict (see the module docstring).

    Args:
        config: config path, ``mmengine.Config`` or dict of a ``MultiBranchPoseEstimator``.
        checkpoint: optional weights (loaded with ``mmengine.runner.load_checkpoint``, which
            this package makes safe); timing does not need them.
        device: ``'cpu'`` or ``'cuda'`` (``'cuda:N'``).
        batch_sizes: inference batch sizes (default (1, 32); (1, 2) with ``quick``).
        repeats, warmup: timed and warm-up runs per model (default 15 and 3; 3 and 1 with
            ``quick``).
        train_batch_size: batch of the training-step comparison (default: the largest of
            ``batch_sizes``).
        quick: a fast run (few repeats, small batches) for tests and demos.
        student_branch: the branch whose export is "the student" (and whose plain
            architecture is the plain model and the training baseline).
        threads: ``torch.set_num_threads`` for the run (restored afterwards); default: leave
            as is. On a shared CPU, 1 thread avoids the large slow-downs that intra-op
            thread barriers suffer when another process takes a core.
        timer: ``'wall'`` (default) or ``'cpu'`` (this process's CPU time; CPU device only;
            robust to other processes on a shared machine, meant for ``threads=1``).
        out_dir: if given, ``benchmark.json`` and ``benchmark.png`` are written there.
        verbose: print progress.
    """
    cfg = _load_config(config)
    dev = _resolve_device(device)
    if batch_sizes is None:
        batch_sizes = QUICK_BATCH_SIZES if quick else DEFAULT_BATCH_SIZES
    batch_sizes = sorted({int(b) for b in batch_sizes})
    if not batch_sizes or batch_sizes[0] < 1:
        raise BenchmarkError(f'batch sizes must be positive ints, got {batch_sizes}')
    repeats = int(repeats if repeats is not None else (QUICK_REPEATS if quick
                                                       else DEFAULT_REPEATS))
    warmup = int(warmup if warmup is not None else (QUICK_WARMUP if quick else DEFAULT_WARMUP))
    if repeats < 1 or warmup < 0:
        raise BenchmarkError(f'repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}')
    train_batch_size = int(train_batch_size or max(batch_sizes))
    if timer not in TIMERS:
        raise BenchmarkError(f'timer must be one of {TIMERS}, got {timer!r}')
    if timer == 'cpu' and dev.type != 'cpu':
        raise BenchmarkError('timer="cpu" measures host CPU time: use it with device="cpu"')
    if threads is not None and int(threads) < 1:
        raise BenchmarkError(f'threads must be >= 1, got {threads}')
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _run(cfg, config, checkpoint, dev, batch_sizes, repeats, warmup,
                    train_batch_size, student_branch, out_dir, timer, verbose, seed)
    finally:
        torch.set_num_threads(saved_threads)


def _run(cfg, config, checkpoint, dev, batch_sizes, repeats, warmup, train_batch_size,
         student_branch, out_dir, timer, verbose, seed) -> Dict[str, Any]:
    torch.manual_seed(seed)
    t_start = time.perf_counter()
    input_size = _input_size(cfg)
    models = _build_models(cfg, checkpoint, dev, student_branch, verbose)
    models['student_branch'] = student_branch
    num_keypoints = models['multi'].head.num_keypoints
    heatmap_size = _heatmap_size(models['plain'], input_size, dev)
    _log(verbose, f'models built: {time.perf_counter() - t_start:.1f} s')
    _log(verbose, f'{models["num_branches"]} branches, input {input_size[0]}x{input_size[1]} '
         f'(WxH), heatmaps {heatmap_size[0]}x{heatmap_size[1]}, device {dev}, '
         f'{torch.get_num_threads()} threads')

    t_phase = time.perf_counter()
    info = _complexity(models, input_size, dev, verbose)
    _log(verbose, f'params / FLOPs: {time.perf_counter() - t_phase:.1f} s')
    latency, peak_mb, samples_ms = _latency(models, input_size, num_keypoints, batch_sizes,
                                            repeats, warmup, dev, timer, verbose)
    train = _training(models, input_size, num_keypoints, heatmap_size, train_batch_size,
                      repeats, warmup, dev, timer, verbose)
    train['multi_branch']['flops'] = info['ensemble']['flops']
    train['baseline']['flops'] = info['plain']['flops']
    train['flop_ratio'] = info['ensemble']['flops'] / info['plain']['flops']
    train['ideal_step_ms'] = train['baseline']['step_ms'] * train['flop_ratio']

    for name, entry in info.items():
        for bs in batch_sizes:
            entry[f'latency_ms_b{bs}'] = latency[bs][name]
        entry['peak_mem_mb'] = peak_mb[name]
    ratios, by_batch, checks = _ratios(latency, info, models['student_of'], student_branch,
                                       train)
    import mmpose
    result = dict(
        schema=SCHEMA,
        config=str(config) if isinstance(config, (str, os.PathLike)) else
        (getattr(cfg, 'filename', None) or '<config>'),
        checkpoint=checkpoint, device=str(dev),
        device_name=_device_name(dev),
        threads=torch.get_num_threads(), torch_version=torch.__version__,
        mmpose_version=mmpose.__version__, repeats=repeats, warmup=warmup, timer=timer,
        batch_sizes=batch_sizes, peak_mem_batch_size=max(batch_sizes),
        input_size=list(input_size), heatmap_size=list(heatmap_size),
        num_branches=models['num_branches'], student_branch=student_branch,
        student_of_branch={str(k): v for k, v in models['student_of'].items()},
        flops_method='mmengine.analysis.FlopAnalyzer, per sample (batch 1); 1 FLOP = 1 '
                     'multiply-accumulate (fvcore convention); elementwise ops not counted',
        latency_method='predict mode, flip test off, median over repeats of a rotating '
                       'round robin across all models (after warm-up); ratios are ratios of '
                       'medians, the headline one the worst over the batch sizes',
        memory_method=memory_method(dev), memory_is_estimate=dev.type != 'cuda',
        ratios=ratios, ratios_by_batch=by_batch, checks=checks,
        all_passed=all(c['passed'] for c in checks),
        models=info, train=train, samples_ms=samples_ms,
        wall_s=time.perf_counter() - t_start)
    result = _jsonable(result)
    if out_dir:
        t0 = time.perf_counter()
        write_outputs(result, out_dir)
        _log(verbose, f'outputs written: {time.perf_counter() - t0:.1f} s')
    return result


def _device_name(dev: torch.device) -> str:
    if dev.type == 'cuda':
        return torch.cuda.get_device_name(dev)
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores'


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, torch.Size):
        return list(x)
    return x


def write_outputs(result: Dict[str, Any], out_dir: str) -> Dict[str, str]:
    """Write ``benchmark.json`` and ``benchmark.png`` into ``out_dir``; return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    json_path = osp.join(out_dir, 'benchmark.json')
    with open(json_path, 'w') as f:
        json.dump(result, f, indent=2)
    png_path = osp.join(out_dir, 'benchmark.png')
    plot_benchmark(result, png_path)
    return dict(json=json_path, png=png_path)


# ----------------------------------------------------------------------------- report
def _fmt_count(n: Optional[float], unit: str = '') -> str:
    if n is None:
        return '-'
    for div, suffix in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
        if abs(n) >= div:
            return f'{n / div:.3g}{suffix}{unit}'
    return f'{n:.3g}{unit}'


def _model_order(result) -> List[str]:
    names = list(result['models'])
    first = [n for n in names if n.startswith('branch')] + ['ensemble', 'fau', 'student']
    rest = [n for n in names if n.startswith('student') and n != 'student'] + ['plain']
    return [n for n in first + rest if n in result['models']]


def format_report(result: Dict[str, Any]) -> str:
    """Readable table: ratios with target and pass/fail first, then absolute numbers."""
    lines = []
    bs_list = result['batch_sizes']
    lines.append(f"OKDHP benchmark: {osp.basename(str(result['config']))}")
    lines.append(f"device {result['device']} ({result['device_name']}), {result['threads']} "
                 f"torch threads, torch {result['torch_version']}")
    lines.append(f"{result['timer']} timer, repeats {result['repeats']} (+{result['warmup']} "
                 f"warm-up), input {result['input_size'][0]}x{result['input_size'][1]} (WxH), "
                 f"{result['num_branches']} branches")
    lines.append('')
    lines.append('Ratios (headline = worst over batch sizes '
                 + ', '.join(f'b{b}' for b in bs_list) + ')')
    lines.append(f"  {'ratio':<26}{'value':>9}  {'target':<15}{'result':<7}  per batch")
    for c in result['checks']:
        name = c['name']
        if name.startswith('branch_vs_student'):
            k = name[name.index('[') + 1:-1]
            per = [result['ratios_by_batch'][str(b)]['branch_vs_student'][k] for b in bs_list]
        elif name == 'student_vs_plain':
            per = [result['ratios_by_batch'][str(b)]['student_vs_plain'] for b in bs_list]
        else:
            per = []
        value = f"{c['value']:.1%}" if name == 'fau_kl_share' else f"{c['value']:.3f}"
        per_s = ', '.join(f'b{b} {v:.3f}' for b, v in zip(bs_list, per))
        lines.append(f"  {name:<26}{value:>9}  {c['target']:<15}"
                     f"{'PASS' if c['passed'] else 'FAIL':<7}  {per_s}")
    lines.append('')
    mem_note = 'estimate' if result['memory_is_estimate'] else 'cuda'
    header = (f"  {'model':<12}{'params':>9}{'FLOPs':>9}" +
              ''.join(f"{'b' + str(b) + ' ms':>11}" for b in bs_list) +
              f"{'peak MB b' + str(result['peak_mem_batch_size']):>15}  ({mem_note})")
    lines.append('Models (FLOPs = multiply-accumulates per sample; latency = median predict, '
                 'flip off)')
    lines.append(header)
    for name in _model_order(result):
        m = result['models'][name]
        lat = ''.join(f"{m[f'latency_ms_b{b}']:>11.2f}" for b in bs_list)
        lines.append(f"  {name:<12}{_fmt_count(m['params']):>9}{_fmt_count(m['flops']):>9}"
                     f"{lat}{m['peak_mem_mb']:>15.1f}")
    t = result['train']
    lines.append('')
    lines.append(f"Training step (batch {t['batch_size']}, forward loss + backward + Adam)")
    lines.append(f"  baseline (plain student arch.) {t['baseline']['step_ms']:9.1f} ms   "
                 f"peak {t['baseline']['peak_mem_mb']:.1f} MB")
    lines.append(f"  multi-branch                   {t['multi_branch']['step_ms']:9.1f} ms   "
                 f"peak {t['multi_branch']['peak_mem_mb']:.1f} MB")
    lines.append(f"  FLOP-proportional ideal        {t['ideal_step_ms']:9.1f} ms   "
                 f"(baseline x {t['flop_ratio']:.3f} = training-forward FLOPs "
                 f"{_fmt_count(t['multi_branch']['flops'])} / student "
                 f"{_fmt_count(t['baseline']['flops'])})")
    f = t['fau_kl']
    lines.append(f"  FAU + KL (replay)              {f['ms']:9.2f} ms   (FAU+ens. loss "
                 f"{f['fau_ms']:.2f} ms, {f['num_kl_terms']} KL terms {f['kl_ms']:.2f} ms)")
    lines.append('')
    lines.append(f"memory: {result['memory_method']}")
    lines.append(f"all targets met: {'yes' if result['all_passed'] else 'NO'}")
    return '\n'.join(lines)


def _fmt_ms(v: float) -> str:
    return f'{v:.0f}' if v >= 100 else (f'{v:.1f}' if v >= 10 else f'{v:.2f}')


def plot_benchmark(result: Dict[str, Any], path: str) -> str:
    """``benchmark.png``: ratio bars with their targets, FAU+KL share, latency and step bars."""
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt

    bs_list = result['batch_sizes']
    fig = plt.figure(figsize=(14, 9), dpi=110)
    outer = fig.add_gridspec(2, 1, height_ratios=[1, 1.1], hspace=0.5)
    top = outer[0].subgridspec(1, 2, width_ratios=[4, 1], wspace=0.25)
    bottom = outer[1].subgridspec(1, len(bs_list) + 1, wspace=0.35)

    # Ratios: bars (green pass, red fail), target as a dashed line or a shaded band.
    ax = fig.add_subplot(top[0])
    checks = [c for c in result['checks'] if c['name'] != 'fau_kl_share']
    labels = [c['name'].replace('branch_vs_student', 'branch/student')
              .replace('student_vs_plain', 'student/plain')
              .replace('train_step_vs_ideal', 'train step/ideal') for c in checks]
    values = [c['value'] for c in checks]
    xs = np.arange(len(checks))
    ax.bar(xs, values, width=0.6,
           color=['tab:green' if c['passed'] else 'tab:red' for c in checks])
    for x, c in zip(xs, checks):
        _, kind, bound = TARGETS[c['name'].split('[')[0]]
        if kind == 'band':
            centre, tol = bound
            ax.fill_between([x - 0.42, x + 0.42], centre - tol, centre + tol, color='0.5',
                            alpha=0.45, zorder=3, lw=0)
            ax.hlines(centre, x - 0.42, x + 0.42, colors='k', zorder=4)
            line_top = centre + tol
        else:
            ax.hlines(bound, x - 0.42, x + 0.42, colors='k', linestyles='--', zorder=4)
            line_top = bound
        ax.text(x, max(c['value'], line_top) + 0.01,
                f"{c['value']:.3f}  {'PASS' if c['passed'] else 'FAIL'}",
                ha='center', va='bottom', fontsize=8.5, fontweight='bold')
    low = min(0.8, math.floor((min(values) - 0.1) * 10) / 10)
    ax.set_ylim(max(low, 0), max(values + [1.05]) * 1.1)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=9)
    ax.axhline(1.0, color='0.75', lw=0.8, zorder=0)
    ax.set_ylabel('ratio (axis starts at %.1f)' % max(low, 0))
    ax.set_title('Ratios vs targets: student/plain 1.00 +/- 0.03 (band), others <= 1.05 '
                 '(dashed); worst over batch sizes', fontsize=10)

    share_check = next(c for c in result['checks'] if c['name'] == 'fau_kl_share')
    share, limit = share_check['value'] * 100, TARGETS['fau_kl_share'][2] * 100
    ax = fig.add_subplot(top[1])
    ax.bar([0], [share], width=0.5, color='tab:green' if share_check['passed'] else 'tab:red')
    ax.axhline(limit, color='k', ls='--')
    ax.text(0, max(share, limit) + 0.05 * limit,
            f"{share:.1f} %  {'PASS' if share_check['passed'] else 'FAIL'}",
            ha='center', va='bottom', fontsize=8.5, fontweight='bold')
    ax.set_xlim(-0.7, 0.7)
    ax.set_ylim(0, max(share, limit) * 1.35)
    ax.set_xticks([0])
    ax.set_xticklabels(['FAU + KL'])
    ax.set_ylabel('% of multi-branch train step')
    ax.set_title('FAU + KL share (<= 5 %)', fontsize=10)

    # Latency bars, one panel per batch size, then the training step.
    order = _model_order(result)
    palette = {'branch': 'tab:blue', 'ensemble': 'tab:purple', 'fau': 'tab:olive',
               'student': 'tab:orange', 'plain': 'tab:gray'}
    colours = [next(c for p, c in palette.items() if n.startswith(p)) for n in order]
    for i, bs in enumerate(bs_list):
        ax = fig.add_subplot(bottom[i])
        vals = [result['models'][n][f'latency_ms_b{bs}'] for n in order]
        ax.bar(range(len(order)), vals, color=colours)
        for x, v in enumerate(vals):
            ax.text(x, v, _fmt_ms(v), ha='center', va='bottom', fontsize=7)
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(order, rotation=45, ha='right', fontsize=8)
        ax.set_ylim(0, max(vals) * 1.15)
        ax.set_ylabel('ms (median)')
        ax.set_title(f'Predict latency, batch {bs} (flip off)', fontsize=10)
    t = result['train']
    ax = fig.add_subplot(bottom[-1])
    names = ['baseline', 'FLOP ideal', 'multi-branch', 'FAU + KL']
    vals = [t['baseline']['step_ms'], t['ideal_step_ms'], t['multi_branch']['step_ms'],
            t['fau_kl']['ms']]
    ax.bar(range(4), vals, color=['tab:gray', 'white', 'tab:blue', 'tab:olive'],
           edgecolor='k', hatch=['', '//', '', ''])
    for x, v in enumerate(vals):
        ax.text(x, v, _fmt_ms(v), ha='center', va='bottom', fontsize=7)
    ax.set_xticks(range(4))
    ax.set_xticklabels(names, rotation=45, ha='right', fontsize=8)
    ax.set_ylim(0, max(vals) * 1.15)
    ax.set_ylabel('ms (median)')
    ax.set_title(f"Train step, batch {t['batch_size']} (fwd+bwd+Adam)", fontsize=10)

    mem = 'memory: CPU estimate' if result['memory_is_estimate'] else 'memory: CUDA'
    fig.suptitle(f"{osp.basename(str(result['config']))}\n{result['device']} "
                 f"({result['device_name']}), {result['threads']} torch thread(s), "
                 f"{result['timer']} timer, {result['repeats']} repeats, torch "
                 f"{result['torch_version']}; {mem}", fontsize=10)
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)
    return path
