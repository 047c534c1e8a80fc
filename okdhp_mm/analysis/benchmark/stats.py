"""Targets, paired-ratio intervals (batch means: Student's t over the medians of blocks of log
pair ratios, consecutive repeats or those of one model copy) and verdicts of the benchmark;
docs/benchmarks.md explains them."""
from __future__ import annotations

import math
from typing import Any, Dict, NamedTuple, Optional, Sequence

import numpy as np
from scipy import stats

__all__ = ['CONFIDENCE', 'TARGETS', 'TARGET_HALF_WIDTH', 'VERDICTS', 'RatioCI', 'check_entry',
           'paired_ratio', 'relative_half_width', 'severity', 'target_bounds', 'verdict']

CONFIDENCE, TARGET_HALF_WIDTH = 0.95, 0.01
# name -> (description, kind, bound(s)); 'band': |value - centre| <= tol, 'max': value <= bound
TARGETS = {
    'student_vs_plain': ('exported student / plain MMPose latency', 'band', (1.0, 0.03)),
    'branch_vs_student': ('branch k of multi-branch / exported student k latency', 'max', 1.05),
    'train_step_vs_parts': ('multi-branch train step / sum of its parts (op times)', 'max',
                            1.03),
    'fau_kl_share': ('share of the multi-branch train step in FAU + KL', 'max', 0.05),
}
VERDICTS = ('pass', 'fail', 'within_noise')


class RatioCI(NamedTuple):
    value: float
    low: Optional[float]
    high: Optional[float]
    n: int


def paired_ratio(num: Sequence[float], den: Sequence[float], confidence: float = CONFIDENCE,
                 groups: int = 0) -> RatioCI:
    """The batch-means interval of the per-repeat ratios ``num[i] / den[i]``; with ``groups``,
    the blocks are the repeats ``i`` with the same ``i % groups`` (the same model copies)."""
    if len(num) != len(den) or not len(num):
        raise ValueError(f'paired_ratio needs as many numerators as denominators (>= 1), got '
                         f'{len(num)} and {len(den)}')
    logs = np.log(np.asarray(num, float)) - np.log(np.asarray(den, float))
    blocks = min(groups or 10, len(logs) // 2)
    if blocks < 3:
        return RatioCI(float(np.exp(np.median(logs))), None, None, len(logs))
    medians = np.array([np.median(b) for b in (
        [logs[j::groups] for j in range(groups)] if groups and blocks == groups
        else np.array_split(logs, blocks))])
    centre, sem = medians.mean(), stats.sem(medians)
    low, high = stats.t.interval(confidence, blocks - 1, loc=centre, scale=sem) if sem > 0 \
        else (centre, centre)
    return RatioCI(float(np.exp(centre)), float(np.exp(low)), float(np.exp(high)), len(logs))


def relative_half_width(ci: RatioCI) -> float:
    return math.inf if ci.low is None else (ci.high - ci.low) / 2 / ci.value


def target_bounds(name: str):
    """(lowest, highest) value meeting ratio ``name``'s target (``branch_vs_student/k`` too)."""
    _, kind, bound = TARGETS[name.split('/')[0].split('[')[0]]
    return (bound[0] - bound[1], bound[0] + bound[1]) if kind == 'band' else (-math.inf, bound)


def verdict(name: str, low: Optional[float], high: Optional[float]) -> str:
    """``'pass'``: all of ``[low, high]`` meets the target; ``'fail'``: all of it misses;
    ``'within_noise'`` otherwise (also without an interval)."""
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return 'within_noise'
    lo, hi = target_bounds(name)
    if lo <= low and high <= hi:
        return 'pass'
    return 'fail' if high < lo or low > hi else 'within_noise'


def severity(entry: Dict[str, Any], name: str) -> tuple:
    """Sort key, worst last: the verdict, then the distance from a band's centre, or the value."""
    lo, hi = target_bounds(name)
    distance = abs(entry['value'] - (lo + hi) / 2) if math.isfinite(lo) else entry['value']
    return ({'pass': 0, 'within_noise': 1, 'fail': 2}[entry['verdict']], distance)


def check_entry(name: str, ci: RatioCI) -> Dict[str, Any]:
    """A ``ratios_ci`` entry: value, interval, verdict and the target."""
    lo, hi = target_bounds(name)
    target = f'{(lo + hi) / 2:.2f} +/- {(hi - lo) / 2:.2f}' if math.isfinite(lo) else (
        f'<= {hi:.0%}' if name == 'fau_kl_share' else f'<= {hi:.2f}')
    return dict(value=ci.value, low=ci.low, high=ci.high, verdict=verdict(name, ci.low, ci.high),
                target=target)
