"""Statistics of a method against the same student trained alone, over seeds."""
from __future__ import annotations

import math
from typing import Dict, List, Sequence

__all__ = ['mean', 'paired_gain', 'sample_std']


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError('mean of no values')
    return float(sum(values)) / len(values)


def sample_std(values: Sequence[float]) -> float:
    """Standard deviation with Bessel's correction (0 for a single value)."""
    n = len(values)
    if n < 2:
        return 0.0
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))


def paired_gain(alone: Sequence[float], method: Sequence[float]) -> Dict[str, object]:
    """Per-seed gains ``method - alone`` (same seed: same initialisation and data order),
    their mean, sample standard deviation and standard error ``std / sqrt(n)``.

    ``significant`` is True when the mean gain exceeds two standard errors (n >= 2).
    """
    if len(alone) != len(method) or not alone:
        raise ValueError(f'paired_gain needs as many method values as alone values (>= 1), '
                         f'got {len(alone)} and {len(method)}')
    gains: List[float] = [float(m) - float(a) for a, m in zip(alone, method)]
    std = sample_std(gains)
    sem = std / math.sqrt(len(gains)) if len(gains) > 1 else float('nan')
    g = mean(gains)
    return dict(gains=gains, gain_mean=g, gain_std=std, gain_sem=sem,
                significant=bool(len(gains) > 1 and g > 2 * sem))
