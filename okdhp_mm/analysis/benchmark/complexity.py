"""Params and FLOPs of every compared model, per sample (batch 1).

One "FLOP" is one multiply-accumulate (``mmengine.analysis.FlopAnalyzer``, the fvcore
convention MMPose's model zoo uses).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

import torch
from torch import Tensor, nn

from .models import ensemble_finals, fau_features, recorded_calls

__all__ = ['count_flops', 'count_params', 'measure_complexity']


def count_params(model: nn.Module) -> int:
    """Parameters of ``model`` (mmengine's ``parameter_count``)."""
    from mmengine.analysis import parameter_count
    return int(parameter_count(model)[''])


def count_flops(module: nn.Module, inputs: tuple) -> int:
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


def measure_complexity(models: Dict[str, Any], input_size: Tuple[int, int],
                       device: torch.device, verbose: bool) -> Dict[str, Dict]:
    """``{model name: {params, flops, ...}}`` for the ``models`` of ``build_models``."""
    multi = models['multi']
    head = multi.head
    w, h = input_size
    x = torch.zeros(1, 3, h, w, device=device)
    out: Dict[str, Dict] = {}
    flops_of_student = {}
    for k, student in models['students'].items():
        flops_of_student[k] = dict(params=count_params(student),
                                   flops=count_flops(student, (x, None)))
    for k in range(models['num_branches']):
        entry = dict(flops_of_student[models['student_of'][k]])
        # The branch's own path inside the multi-branch model (predict with branch=k).
        path = _FlatOutputs(multi, lambda m, i, k=k: m.head.final_outputs(
            m.extract_feat(i), [k]))
        entry['flops_in_multi_branch'] = count_flops(path, (x,))
        out[f'branch{k}'] = entry
    ens = _FlatOutputs(multi, lambda m, i: m.head.forward(m.extract_feat(i)))
    out['ensemble'] = dict(params=count_params(multi), flops=count_flops(ens, (x,)))
    with torch.no_grad(), recorded_calls(head, ['ensemble']) as ens_calls, \
            recorded_calls(head.fau, ['compute_weights']) as fau_calls:
        head.forward(multi.extract_feat(x))
    feature = fau_calls['compute_weights'][-1][0][0]
    finals = list(ensemble_finals(ens_calls['ensemble'][-1]))
    # The FAU as the head runs it (weights + aggregation), traced on flat tensor arguments.
    per_final = len(finals[0]) if isinstance(finals[0], tuple) else None

    def ensemble(h, feat, *flat):
        maps = list(flat) if per_final is None else [
            tuple(flat[i:i + per_final]) for i in range(0, len(flat), per_final)]
        return h.ensemble(fau_features(h, feat), maps)

    flat_finals = [t for f in finals for t in (f if per_final else (f, ))]
    fau = _FlatOutputs(head, ensemble)
    out['fau'] = dict(params=count_params(head.fau),
                      flops=count_flops(fau, (feature, *flat_finals)))
    out['fau']['input_shapes'] = [list(feature.shape)] + [list(m.shape) for m in flat_finals]
    sb = models['student_branch']
    out['student'] = dict(flops_of_student[sb], branch=sb)
    for k, student in models['students'].items():
        if k != sb:
            out[f'student{k}'] = dict(flops_of_student[k], branch=k)
    plain = models['plain']
    out['plain'] = dict(params=count_params(plain), flops=count_flops(plain, (x, None)),
                        params_sum=int(sum(p.numel() for p in plain.parameters())))
    return out
