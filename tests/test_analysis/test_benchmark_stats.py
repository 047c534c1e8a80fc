"""The benchmark's intervals, verdicts, round robin and clocks, against hand-computed values
and simulated timings whose true ratio is known."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from okdhp_mm.analysis.benchmark.measure import Sampling, clock_for, round_robin
from okdhp_mm.analysis.benchmark.stats import TARGETS, paired_ratio, relative_half_width, verdict


def test_interval_is_student_t_over_block_medians_of_the_log_ratios():
    rng = np.random.default_rng(0)
    den = rng.uniform(9, 11, 40)
    num = den * np.exp(rng.normal(0.02, 0.03, 40))
    ci = paired_ratio(num, den)
    # Written out independently: 10 consecutive blocks of 4 pairs, their medians, t(9).
    logs = np.log(num / den).reshape(10, 4)
    medians = np.median(logs, axis=1)
    half = sps.t.ppf(0.975, 9) * medians.std(ddof=1) / math.sqrt(10)
    assert ci.value == pytest.approx(math.exp(medians.mean()))
    assert (ci.low, ci.high) == pytest.approx((math.exp(medians.mean() - half),
                                               math.exp(medians.mean() + half)))
    assert ci.n == 40
    assert relative_half_width(ci) == pytest.approx((ci.high - ci.low) / 2 / ci.value)


def test_fewer_than_six_pairs_give_no_interval():
    ci = paired_ratio([2.0, 4.0, 3.0, 6.0, 5.0], [1.0, 2.0, 1.0, 2.0, 2.0])
    assert ci.low is None and ci.high is None and ci.value == pytest.approx(2.5)  # median
    assert relative_half_width(ci) == math.inf
    with pytest.raises(ValueError, match='as many numerators'):
        paired_ratio([1.0], [1.0, 2.0])


def test_interval_covers_the_true_ratio_under_drift_and_outliers():
    """Both sides share a slow random-walk drift (a neighbour process), each pair has its own
    noise, and 5 % of the repeats are stretched 3x (descheduled): the 95 % interval of the
    ratio of two identical graphs contains 1.0 in at least 93 % of 400 simulated runs, where
    independent pairs would claim far too narrow intervals."""
    rng = np.random.default_rng(1)
    covered = naive = 0
    for _ in range(400):
        n = 40
        drift = np.exp(np.cumsum(rng.normal(0, 0.02, 2 * n)))
        times = 10 * drift * np.exp(rng.normal(0, 0.01, 2 * n))
        times *= np.where(rng.random(2 * n) < 0.05, 3.0, 1.0)
        a, b = times[0::2], times[1::2]  # timed back to back, a before b
        ci = paired_ratio(a, b)
        covered += ci.low <= 1.0 <= ci.high
        logs = np.log(a / b)
        half = 1.96 * logs.std(ddof=1) / math.sqrt(n)
        naive += abs(logs.mean()) <= half
    assert covered >= 0.93 * 400, covered


@pytest.mark.parametrize('name,low,high,expected', [
    ('student_vs_plain', 0.98, 1.02, 'pass'), ('student_vs_plain', 0.95, 1.02, 'within_noise'),
    ('student_vs_plain', 1.04, 1.10, 'fail'), ('student_vs_plain', 0.90, 0.96, 'fail'),
    ('branch_vs_student/2', 0.90, 1.05, 'pass'), ('branch_vs_student/0', 1.0, 1.06,
                                                   'within_noise'),
    ('fau_kl_share', 0.051, 0.06, 'fail'), ('train_step_vs_parts', None, None, 'within_noise')])
def test_verdict_needs_the_whole_interval(name, low, high, expected):
    assert verdict(name, low, high) == expected


def test_targets():
    assert TARGETS['student_vs_plain'][1:] == ('band', (1.0, 0.03))
    assert TARGETS['branch_vs_student'][1:] == ('max', 1.05)
    assert TARGETS['train_step_vs_parts'][1:] == ('max', 1.03)
    assert TARGETS['fau_kl_share'][1:] == ('max', 0.05)


def _sampling(repeats, max_repeats=None, time_cap_s=60.0, warmup=0):
    return Sampling(repeats, warmup, max_repeats or repeats, time_cap_s, 0.01, 0.95, 'wall')


def test_round_robin_times_each_entry_once_per_repeat_in_varied_orders():
    """Every repeat is a permutation of the entries, and over many repeats every entry follows
    every other about as often (a fixed rotation would give each the same predecessor)."""
    calls = []
    entries = {n: (lambda n=n: calls.append(n)) for n in 'abcd'}
    times = round_robin(entries, _sampling(600, warmup=1), clock_for('wall', torch.device('cpu')))
    assert calls[:4] == ['a', 'b', 'c', 'd']  # warm-up: each once
    repeats = [calls[i:i + 4] for i in range(4, len(calls), 4)]
    assert len(repeats) == 600 and all(sorted(r) == list('abcd') for r in repeats)
    follows = {(a, b): 0 for a in 'abcd' for b in 'abcd' if a != b}
    for r in repeats:
        for a, b in zip(r, r[1:]):
            follows[a, b] += 1
    assert min(follows.values()) > 0.7 * max(follows.values())  # 150 each on average
    assert (times.rounds, times.stopped_by) == (600, 'repeats')
    assert all(len(v) == 600 and min(v) > 0 for v in times.values())


def test_round_robin_stops_when_converged_or_at_its_caps():
    clock = clock_for('wall', torch.device('cpu'))
    entries = {'a': lambda: None, 'b': lambda: None}
    seen = []

    def converged(times):
        seen.append(times.rounds)
        return times.rounds >= 9
    times = round_robin(entries, _sampling(5, max_repeats=100), clock, converged)
    assert (times.rounds, times.stopped_by, seen[0]) == (9, 'converged', 5)
    times = round_robin(entries, _sampling(2, max_repeats=7), clock, lambda t: False)
    assert (times.rounds, times.stopped_by) == (7, 'max_repeats')
    times = round_robin({'slow': lambda: torch.randn(200, 200) @ torch.randn(200, 200)},
                        _sampling(2, max_repeats=10 ** 6, time_cap_s=0.05), clock,
                        lambda t: False)
    assert times.stopped_by == 'time_cap' and times.elapsed_s >= 0.05


class _FakeEvent:
    recorded: list = []

    def __init__(self, enable_timing=False):
        assert enable_timing, 'CUDA events must be created with enable_timing=True'
        self.at = None

    def record(self, stream=None):
        self.at = len(_FakeEvent.recorded) * 2.5  # the device reaches it 2.5 ms later each
        _FakeEvent.recorded.append(self)

    def synchronize(self):
        pass

    def elapsed_time(self, end):
        return end.at - self.at


def test_cuda_clock_reads_events_not_the_host_clock(monkeypatch):
    import time
    _FakeEvent.recorded.clear()
    monkeypatch.setattr(torch.cuda, 'Event', _FakeEvent)
    monkeypatch.setattr(time, 'perf_counter', lambda: pytest.fail('host clock read'))
    clock = clock_for('cuda', torch.device('cuda'))
    assert (clock(), clock()) == (pytest.approx(2.5e-3), pytest.approx(5e-3))
    assert clock_for('cpu', torch.device('cpu')) is time.process_time
