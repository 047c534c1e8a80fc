"""What the benchmark measures, each with the library made for it (docs/benchmarks.md): the
models, inputs (``mmpose.testing``), params and FLOPs (``mmengine.analysis``), time
(``timeit`` with a host, CPU or CUDA-event clock), the parts of a training step
(``torch.profiler``)."""
from __future__ import annotations

import copy
import json
import os
import random
import time
import timeit
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

__all__ = ['PART', 'Rounds', 'Sampling', 'build_models', 'clock_for', 'count_flops',
           'count_params', 'make_batch', 'part_scopes', 'part_times', 'profiled_parts',
           'round_robin']

PART = 'part/'  # record_function scope prefix of a training step's parts


def _profile(**kwargs) -> profile:
    os.environ.setdefault('KINETO_LOG_LEVEL', '6')  # not kineto's two lines on every use
    return profile(**kwargs)


class Sampling(NamedTuple):
    """``repeats`` (the minimum) after ``warmup``, then on until converged or a cap."""
    repeats: int
    warmup: int
    max_repeats: int
    time_cap_s: float
    half_width: float
    confidence: float
    timer: str


def build_models(multi: nn.Module, device: torch.device, student_branch: int) -> Dict[str, Any]:
    """``students`` (one per distinct exported architecture: {branch: model}), ``student_of``
    ({branch: the branch whose student it shares}), ``plain`` (MMPose's build of the student's
    export config, the student's weights copied in) and the student's ``codec`` config."""
    from mmpose.registry import MODELS

    def plain_model(cfg, state):
        model = MODELS.build(copy.deepcopy(cfg))
        model.load_state_dict(state, strict=True)
        return model
    students, student_of, seen = {}, {}, {}
    for k in [student_branch] + [k for k in range(multi.head.num_branches)
                                 if k != student_branch]:
        cfg, state = multi.export_student(k)
        key = json.dumps(cfg, sort_keys=True, default=str)
        if key not in seen:
            seen[key], students[k] = k, plain_model(cfg, state)
        student_of[k] = seen[key]
    cfg, state = multi.export_student(student_branch)
    plain = plain_model(cfg, state)
    for m in [multi, plain, *students.values()]:
        m.to(device).eval()
        m.test_cfg = dict(m.test_cfg or {}, flip_test=False, output_heatmaps=False)
    return dict(students=students, student_of=dict(sorted(student_of.items())), plain=plain,
                codec=dict(cfg['head']['decoder']))


def make_batch(model: nn.Module, batch_size: int, codec: dict, num_keypoints: int,
               training: bool) -> Dict[str, Any]:
    """A random batch of ``codec``'s input size with its targets, as the model's data
    preprocessor hands it over (``inputs``, ``data_samples`` on the model's device)."""
    from mmpose.testing import get_packed_inputs

    w, h = codec['input_size']
    packed = get_packed_inputs(
        batch_size, num_keypoints=num_keypoints, img_shape=(h, w), input_size=(w, h),
        heatmap_size=tuple(codec.get('heatmap_size', (w // 4, h // 4))),
        simcc_split_ratio=codec.get('simcc_split_ratio', 2.0),
        with_heatmap='heatmap_size' in codec, with_simcc_label='simcc_split_ratio' in codec)
    return model.data_preprocessor(packed, training)


def count_params(model: nn.Module) -> int:
    from mmengine.analysis import parameter_count
    return int(parameter_count(model)[''])  # '': the whole model


class _Flat(nn.Module):
    """Traceable wrapper: the tensors of ``fn(model, x)`` as a flat tuple."""

    def __init__(self, model: nn.Module, fn: Callable):
        super().__init__()
        self.model, self.fn = model, fn

    def forward(self, x):
        def flat(o):
            if isinstance(o, torch.Tensor):
                return [o]
            items = o.values() if isinstance(o, dict) else o
            return [t for v in items for t in flat(v)] if isinstance(o, (dict, list, tuple)) \
                else []
        return tuple(flat(self.fn(self.model, x)))


def count_flops(model: nn.Module, x: torch.Tensor, fn: Optional[Callable] = None) -> int:
    """Multiply-accumulates of ``fn(model, x)`` (default: ``model(x)``), mmengine's
    ``FlopAnalyzer`` (fvcore's rules)."""
    from mmengine.analysis import FlopAnalyzer

    analyzer = FlopAnalyzer(_Flat(model, fn or (lambda m, i: m(i))), (x, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return int(analyzer.total())


def clock_for(timer: str, device: torch.device) -> Callable[[], float]:
    """Seconds: ``'wall'`` (host), ``'cpu'`` (this process's CPU time) or ``'cuda'`` (a CUDA
    event recorded on the current stream, read once the device reaches it: no host clock)."""
    if timer == 'cpu':
        return time.process_time
    if timer == 'wall':
        return timeit.default_timer
    start = torch.cuda.Event(enable_timing=True)
    start.record()

    def cuda_clock() -> float:
        now = torch.cuda.Event(enable_timing=True)
        now.record()
        now.synchronize()
        return start.elapsed_time(now) / 1e3
    return cuda_clock


class Rounds(dict):
    """``{entry: [ms per repeat]}`` plus ``rounds``, ``stopped_by``, ``elapsed_s``."""
    rounds, stopped_by, elapsed_s = 0, 'repeats', 0.0

    def info(self) -> Dict[str, Any]:
        return dict(repeats=self.rounds, stopped_by=self.stopped_by, elapsed_s=self.elapsed_s)


def round_robin(entries: Dict[str, Callable[[], Any]], sampling: Sampling,
                clock: Callable[[], float],
                converged: Optional[Callable[[Rounds], bool]] = None) -> Rounds:
    """Every entry timed once per repeat (``timeit.Timer``, the collector off), in a new random
    order each repeat (a fixed rotation gives an entry the same predecessor almost always, and
    what ran just before biases a call), until ``sampling`` says stop. Not
    ``torch.utils.benchmark.Timer``: its ``timeit`` runs every statement twice more as warm-up,
    tripling each repeat."""
    timers = {n: timeit.Timer(f, timer=clock) for n, f in entries.items()}
    for t in timers.values():
        if sampling.warmup:
            t.timeit(sampling.warmup)
    times, names, start = Rounds({n: [] for n in entries}), list(entries), time.perf_counter()
    order = random.Random(0)  # the same orders for the same entries: a run can be repeated
    while True:
        for n in order.sample(names, len(names)):
            times[n].append(timers[n].timeit(1) * 1e3)
        times.rounds += 1
        if times.rounds < sampling.repeats:
            continue
        if sampling.max_repeats == sampling.repeats:
            times.stopped_by = 'repeats'
        elif converged is not None and converged(times):
            times.stopped_by = 'converged'
        elif times.rounds >= sampling.max_repeats:
            times.stopped_by = 'max_repeats'
        elif time.perf_counter() - start >= sampling.time_cap_s:
            times.stopped_by = 'time_cap'
        else:
            continue
        times.elapsed_s = time.perf_counter() - start
        return times


@contextmanager
def part_scopes(model: nn.Module, optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """Each part of a multi-branch training step in a ``record_function`` scope ``part/<name>``,
    by wrapping, on the instances, the methods computing it (docs/benchmarks.md)."""
    head = model.head
    wraps = [(model, 'extract_feat', 'trunk'), (head, 'shared_outputs', 'trunk'),
             (head, 'loss', 'losses'), (head, 'ensemble', 'fau'), (head.kd_loss, 'forward', 'kd'),
             (head.ensemble_loss, 'forward', 'ens_loss'), (head, 'branch_outputs', None),
             (optimizer, 'step', 'optimizer'), (optimizer, 'zero_grad', 'optimizer')]
    patched = []
    for obj, name, scope in wraps:
        if not hasattr(obj, name):
            continue

        def wrapper(*args, _method=getattr(obj, name), _scope=scope, **kwargs):
            part = _scope or f"branch{args[1] if len(args) > 1 else kwargs['index']}"
            with record_function(PART + part):
                return _method(*args, **kwargs)
        setattr(obj, name, wrapper)
        patched.append((obj, name))
    try:
        yield
    finally:
        for obj, name in patched:
            delattr(obj, name)


def part_times(events: Sequence[Any], cuda: bool) -> Dict[str, float]:
    """ms per part: a top-level op in its innermost ``part/`` scope, a backward op in the part
    of the forward op that recorded it (same ``sequence_nr``), the rest in ``other``."""
    def scope(e) -> Optional[str]:
        p = e.cpu_parent
        while p is not None and not p.name.startswith(PART):
            p = p.cpu_parent
        return p.name[len(PART):] if p is not None else None

    backward = 'autograd::engine::evaluate_function'
    forward_part: Dict[int, str] = {}
    for e in events:  # forward ops (inside a scope); ops run by the backward are not
        part = scope(e) if e.sequence_nr >= 0 else None
        if part is not None:
            forward_part.setdefault(e.sequence_nr, part)
    out: Dict[str, float] = defaultdict(float)
    for e in events:
        parent = e.cpu_parent
        if e.name.startswith(PART) or e.name == '[memory]' or (
                parent is not None and not parent.name.startswith(PART)):
            continue  # a scope, a memory record or an op nested in another op
        part = forward_part.get(e.sequence_nr) if e.name.startswith(backward) else scope(e)
        out[part or 'other'] += (e.device_time_total if cuda else e.cpu_time_total) / 1e3
    return dict(out)


def profiled_parts(step: Callable[[], Any], model: nn.Module, optimizer: torch.optim.Optimizer,
                   device: torch.device) -> Dict[str, float]:
    """:func:`part_times` of one ``step()`` under the profiler."""
    cuda = device.type == 'cuda'
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with part_scopes(model, optimizer), _profile(activities=activities) as prof:
        step()
    return part_times(prof.events(), cuda)
