"""Paired ratios of round-robin timings and their distribution-free confidence intervals.

Estimator: repeat i of a round robin times both sides of a ratio back to back, so the pair
``(a_i, b_i)`` shares whatever the machine was doing then; the ratio of a pair, ``a_i / b_i``,
cancels that common slow-down. The estimate is the **median of the per-pair ratios**, and its
confidence interval the exact, distribution-free one of a median (the sign test's): with
``n`` pairs sorted, ``[r_(k), r_(n+1-k)]`` with the largest ``k`` for which
``P(Binomial(n, 1/2) <= k - 1) <= (1 - confidence) / 2``, which covers the true median of the
pair ratios with probability >= ``confidence`` whatever their distribution.

Why this one: pairing removes the drift that a shared machine adds to both sides alike; the
median ignores the few pairs a descheduled thread or a page fault stretched (a mean, and a
t-interval with it, would be dragged by them, and assume a normality that timings lack);
the interval needs no resampling (deterministic, cheap to recompute after every repeat, which
the stopping rule does). Its price: with fewer than 6 pairs no 95 % interval exists (the
bounds are then ``None``), and the median is somewhat less efficient than a mean on
well-behaved data (more repeats for the same width).
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

__all__ = ['CONFIDENCE', 'TARGET_HALF_WIDTH', 'RatioCI', 'RatioSpec', 'converged_when',
           'median_ci', 'pair_ratios', 'ratio_ci', 'relative_half_width']

CONFIDENCE = 0.95
TARGET_HALF_WIDTH = 0.01  # stop when every interval is within +-1 % of its value


class RatioSpec(NamedTuple):
    """A ratio of round-robin entries: per repeat, ``sum(num) / (den_scale * sum(den))``."""
    name: str
    num: Tuple[str, ...]
    den: Tuple[str, ...]
    den_scale: float = 1.0


class RatioCI(NamedTuple):
    """A ratio's estimate and its confidence interval (``None`` bounds: too few pairs)."""
    value: float
    low: Optional[float]
    high: Optional[float]
    n: int


def pair_ratios(times: Mapping[str, Sequence[float]], spec: RatioSpec) -> List[float]:
    """The per-repeat ratios of ``spec`` from round-robin samples (repeat i of every entry)."""
    names = spec.num + spec.den
    missing = [n for n in names if n not in times]
    if missing:
        raise KeyError(f'ratio {spec.name!r} needs entries {missing}, which were not timed '
                       f'(timed: {sorted(times)})')
    n = min(len(times[name]) for name in names)
    return [sum(times[a][i] for a in spec.num) /
            (spec.den_scale * sum(times[b][i] for b in spec.den)) for i in range(n)]


@functools.lru_cache(maxsize=None)
def _order_index(n: int, confidence: float) -> int:
    """The largest ``k <= (n + 1) // 2`` with ``P(Binomial(n, 1/2) <= k - 1) <= (1 -
    confidence) / 2`` (exact integer arithmetic), or 0 when even ``k = 1`` is too wide."""
    alpha_half = Fraction(1 - confidence) / 2
    total = 2 ** n
    k, term, cum = 0, 1, 0  # term = C(n, k), cum = sum of C(n, i) for i < k + 1
    while k + 1 <= (n + 1) // 2:
        cum += term
        if cum > alpha_half * total:
            break
        k += 1
        term = term * (n - k + 1) // k
    return k


def median_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> RatioCI:
    """Median of ``values`` and its distribution-free (sign-test) ``confidence`` interval."""
    if not values:
        raise ValueError('median_ci needs at least one value')
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be in (0, 1), got {confidence}')
    xs = sorted(values)
    n = len(xs)
    mid = n // 2
    value = xs[mid] if n % 2 else 0.5 * (xs[mid - 1] + xs[mid])
    k = _order_index(n, float(confidence))
    if k == 0:
        return RatioCI(float(value), None, None, n)
    return RatioCI(float(value), float(xs[k - 1]), float(xs[n - k]), n)


def ratio_ci(times: Mapping[str, Sequence[float]], spec: RatioSpec,
             confidence: float = CONFIDENCE) -> RatioCI:
    """:func:`median_ci` of the per-repeat ratios of ``spec``."""
    return median_ci(pair_ratios(times, spec), confidence)


def relative_half_width(ci: RatioCI) -> float:
    """``(high - low) / 2 / value``; infinite without an interval."""
    if ci.low is None or ci.high is None or ci.value <= 0:
        return math.inf
    return (ci.high - ci.low) / 2 / ci.value


def converged_when(specs: Sequence[RatioSpec], half_width: float = TARGET_HALF_WIDTH,
                   confidence: float = CONFIDENCE
                   ) -> Callable[[Dict[str, List[float]]], bool]:
    """A ``round_robin`` convergence test: every ratio's interval within ``+-half_width``
    (relative) of its value."""
    if not half_width > 0:
        raise ValueError(f'the target half-width must be > 0, got {half_width}')

    def converged(times: Dict[str, List[float]]) -> bool:
        return all(relative_half_width(ratio_ci(times, s, confidence)) <= half_width
                   for s in specs)
    return converged
