"""The headline ratios of the benchmark, their targets, intervals and verdicts.

Two estimates of each ratio: ``ratios`` (the ratio of the two sides' medians, as before) and
``ratios_ci`` (the median of the per-repeat paired ratios with its 95 % interval, see
:mod:`.stats`), whose verdict noise cannot flip: ``fail`` only when the whole interval misses
the target, ``pass`` only when the whole interval meets it, ``within_noise`` otherwise.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .stats import RatioCI, RatioSpec, ratio_ci

__all__ = ['TARGETS', 'VERDICTS', 'compute_ratio_cis', 'compute_ratios', 'ideal_spec',
           'latency_specs', 'training_specs', 'verdict']

# name -> (description, kind, bound(s)); kind 'band' = |value - 1| <= tol, 'max' = value <= bound
TARGETS = {
    'student_vs_plain': ('exported student / plain MMPose latency', 'band', (1.0, 0.03)),
    'branch_vs_student': ('branch k of multi-branch / exported student k latency', 'max', 1.05),
    'train_step_vs_parts': ('multi-branch train step / sum of its parts timed alone', 'max',
                            1.03),
    'fau_kl_share': ('share of the multi-branch train step in FAU + KL', 'max', 0.05),
}
VERDICTS = ('pass', 'fail', 'within_noise')
_SEVERITY = {'pass': 0, 'within_noise': 1, 'fail': 2}


def _target_of(name: str) -> Tuple[str, str, Any]:
    """(description, kind, bound) of a ratio name (``branch_vs_student/<k>`` included)."""
    return TARGETS[name.split('/')[0].split('[')[0]]


def _meets(name: str, value: float) -> bool:
    _, kind, bound = _target_of(name)
    if kind == 'band':
        return abs(value - bound[0]) <= bound[1]
    return value <= bound


def _distance(name: str, value: float) -> float:
    """How far from the target's good side a value is (larger: worse)."""
    _, kind, bound = _target_of(name)
    return abs(value - bound[0]) if kind == 'band' else value


def verdict(name: str, low: Optional[float], high: Optional[float]) -> str:
    """``'pass'`` if all of ``[low, high]`` meets ratio ``name``'s target, ``'fail'`` if all
    of it misses, ``'within_noise'`` otherwise (and without an interval)."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return 'within_noise'
    _, kind, bound = _target_of(name)
    if kind == 'band':
        lo_ok, hi_ok = bound[0] - bound[1], bound[0] + bound[1]
        if lo_ok <= low and high <= hi_ok:
            return 'pass'
        return 'fail' if high < lo_ok or low > hi_ok else 'within_noise'
    if high <= bound:
        return 'pass'
    return 'fail' if low > bound else 'within_noise'


def latency_specs(student_of: Mapping[int, int], student_branch: int) -> List[RatioSpec]:
    """Paired ratios of one latency round robin: ``student_vs_plain``,
    ``branch_vs_student/<k>``."""
    def student_name(k):
        j = student_of[k]
        return 'student' if j == student_branch else f'student{j}'
    return [RatioSpec('student_vs_plain', ('student', ), ('plain', ))] + [
        RatioSpec(f'branch_vs_student/{k}', (f'branch{k}', ), (student_name(k), ))
        for k in sorted(student_of)]


def training_specs(part_names: Sequence[str]) -> List[RatioSpec]:
    """Paired ratios with a target of the training round robin."""
    return [RatioSpec('train_step_vs_parts', ('multi_branch', ), tuple(part_names)),
            RatioSpec('fau_kl_share', ('fau_kl', ), ('multi_branch', ))]


def ideal_spec(flop_ratio: float) -> RatioSpec:
    """Multi-branch step / (baseline step x FLOP ratio): information, no target."""
    return RatioSpec('train_step_vs_ideal', ('multi_branch', ), ('baseline', ), flop_ratio)


def _entry(name: str, ci: RatioCI) -> Dict[str, Any]:
    return dict(value=ci.value, low=ci.low, high=ci.high, verdict=verdict(name, ci.low,
                                                                           ci.high))


def compute_ratio_cis(latency_samples: Mapping[int, Mapping[str, Sequence[float]]],
                      train_samples: Mapping[str, Sequence[float]],
                      latency: Sequence[RatioSpec], training: Sequence[RatioSpec],
                      confidence: float) -> Tuple[Dict, Dict]:
    """``(ratios_ci, ratios_ci_by_batch)``: the training ratios, and per latency ratio the
    batch size with the worst verdict (ties: the value farthest on the target's bad side)."""
    by_batch = {str(bs): {s.name: _entry(s.name, ratio_ci(times, s, confidence))
                          for s in latency}
                for bs, times in latency_samples.items()}
    out: Dict[str, Dict[str, Any]] = {}
    for s in latency:
        out[s.name] = max((per[s.name] for per in by_batch.values()),
                          key=lambda e: (_SEVERITY[e['verdict']], _distance(s.name,
                                                                            e['value'])))
    for s in training:
        out[s.name] = _entry(s.name, ratio_ci(train_samples, s, confidence))
    return out, by_batch


def _check(name: str, value: float, ci: Dict[str, Any], label: str) -> Dict[str, Any]:
    desc, kind, bound = _target_of(name)
    if kind == 'band':
        target = f'{bound[0]:.2f} +/- {bound[1]:.2f}'
    else:
        target = f'<= {bound:.0%}' if name == 'fau_kl_share' else f'<= {bound:.2f}'
    return dict(name=label, value=float(value), target=target,
                passed=bool(_meets(name, value) and math.isfinite(value)), description=desc,
                low=ci['low'], high=ci['high'], verdict=ci['verdict'])


def compute_ratios(latency: Dict[int, Dict[str, float]], student_of: Dict[int, int],
                   student_branch: int, train: Dict[str, Any],
                   ratios_ci: Dict[str, Dict[str, Any]]) -> Tuple[Dict, Dict, List]:
    """``(ratios, ratios_by_batch, checks)`` of the result (see the package docstring)."""
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
    step = train['multi_branch']['step_ms']
    ratios = dict(student_vs_plain=svp, branch_vs_student=bvs,
                  train_step_vs_parts=step / train['parts_sum_ms'],
                  train_step_vs_ideal=step / train['ideal_step_ms'],
                  fau_kl_share=train['fau_kl']['ms'] / step)
    checks = [_check('student_vs_plain', svp, ratios_ci['student_vs_plain'],
                     'student_vs_plain')]
    checks += [_check('branch_vs_student', v, ratios_ci[f'branch_vs_student/{k}'],
                      f'branch_vs_student[{k}]') for k, v in bvs.items()]
    checks += [_check(n, ratios[n], ratios_ci[n], n)
               for n in ('train_step_vs_parts', 'fau_kl_share')]
    return ratios, by_batch, checks
