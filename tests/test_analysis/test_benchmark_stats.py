"""The benchmark's statistics and timers, with fake timers and mocked CUDA events (no real
timing): paired medians and their intervals, verdicts, the adaptive round robin, CUDA events.
"""
from __future__ import annotations

import math
import random

import pytest
import torch

from okdhp_mm.analysis import timing
from okdhp_mm.analysis.benchmark.common import BenchmarkError
from okdhp_mm.analysis.benchmark.ratios import TARGETS, verdict
from okdhp_mm.analysis.benchmark.runner import _timer
from okdhp_mm.analysis.benchmark.stats import (RatioSpec, converged_when, median_ci,
                                               pair_ratios, ratio_ci, relative_half_width)
from okdhp_mm.analysis.timing import TimedEntry, round_robin

CPU = torch.device('cpu')


# ---------------------------------------------------------------- intervals
def test_median_interval_is_the_sign_test_order_statistics():
    xs = [float(v) for v in range(1, 11)]          # n = 10: ranks 2 and 9 (coverage 97.9 %)
    ci = median_ci(list(reversed(xs)))
    assert (ci.value, ci.low, ci.high, ci.n) == (5.5, 2.0, 9.0, 10)
    ci = median_ci([float(v) for v in range(1, 21)])  # n = 20: ranks 6 and 15
    assert (ci.low, ci.high) == (6.0, 15.0)
    ci = median_ci([3.0, 1.0, 2.0, 5.0, 4.0, 6.0])   # n = 6: the extremes (96.9 %)
    assert (ci.value, ci.low, ci.high) == (3.5, 1.0, 6.0)
    # Fewer than 6 values: no 95 % interval exists for a median.
    ci = median_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (ci.value, ci.low, ci.high) == (3.0, None, None)
    assert relative_half_width(ci) == math.inf
    assert median_ci([float(v) for v in range(1, 101)])[1:3] == (40.0, 61.0)
    with pytest.raises(ValueError, match='at least one'):
        median_ci([])


def test_median_interval_covers_the_true_median_at_least_95_percent():
    """Distribution-free: lognormal, heavy-tailed (outliers) pairs alike."""
    rng = random.Random(0)
    for draw, true_median in ((lambda: rng.lognormvariate(0.1, 0.3), math.exp(0.1)),
                              (lambda: 1.0 + (rng.paretovariate(1.5) - 2 ** (1 / 1.5))
                               * 0.01, 1.0)):
        hits = 0
        for _ in range(2000):
            ci = median_ci([draw() for _ in range(25)])
            hits += ci.low <= true_median <= ci.high
        assert hits / 2000 >= 0.94  # nominal >= 95.7 % for n = 25, minus simulation noise


def test_pairs_are_repeat_by_repeat_and_cancel_a_common_slowdown():
    # Repeat 3 was slow for everyone (x10): the pair ratio is unchanged, the medians' ratio
    # would be unaffected too, but a mean of either side would not.
    times = {'a': [2.0, 2.0, 20.0, 2.0], 'b1': [1.0, 1.0, 10.0, 1.0], 'b2': [1.0, 1.0, 10.0, 1.0]}
    assert pair_ratios(times, RatioSpec('x', ('a', ), ('b1', ))) == [2.0] * 4
    # Sums of parts, and a scaled denominator.
    assert pair_ratios(times, RatioSpec('x', ('a', ), ('b1', 'b2'), 0.5)) == [2.0] * 4
    with pytest.raises(KeyError, match="needs entries \\['c'\\]"):
        pair_ratios(times, RatioSpec('x', ('a', ), ('c', )))
    ci = ratio_ci({'a': [2.0] * 6, 'b': [1.0] * 6}, RatioSpec('x', ('a', ), ('b', )))
    assert (ci.value, ci.low, ci.high) == (2.0, 2.0, 2.0) and relative_half_width(ci) == 0


# ---------------------------------------------------------------- verdicts
@pytest.mark.parametrize('name,low,high,expected', [
    ('branch_vs_student/0', 0.98, 1.04, 'pass'),      # all of it <= 1.05
    ('branch_vs_student/0', 1.06, 1.20, 'fail'),      # all of it > 1.05
    ('branch_vs_student/0', 1.00, 1.10, 'within_noise'),
    ('train_step_vs_parts', 1.00, 1.03, 'pass'),
    ('train_step_vs_parts', 1.031, 1.05, 'fail'),
    ('fau_kl_share', 0.01, 0.049, 'pass'),
    ('fau_kl_share', 0.04, 0.06, 'within_noise'),
    ('student_vs_plain', 0.98, 1.02, 'pass'),         # inside the band 1.00 +/- 0.03
    ('student_vs_plain', 0.95, 1.01, 'within_noise'),  # straddles its lower edge
    ('student_vs_plain', 1.04, 1.10, 'fail'),          # above it
    ('student_vs_plain', 0.80, 0.96, 'fail'),          # below it
    ('student_vs_plain', None, None, 'within_noise'),  # no interval
])
def test_verdict_needs_the_whole_interval(name, low, high, expected):
    assert verdict(name, low, high) == expected


def test_targets_are_the_issue_s():
    assert TARGETS['student_vs_plain'][1:] == ('band', (1.0, 0.03))
    assert TARGETS['branch_vs_student'][1:] == ('max', 1.05)
    assert TARGETS['train_step_vs_parts'][1:] == ('max', 1.03)
    assert TARGETS['fau_kl_share'][1:] == ('max', 0.05)


# ---------------------------------------------------------------- round robin, fake timers
class _Fake:
    """Entries whose 'time' is read from a script; a clock that advances per measurement."""

    def __init__(self, script):
        self.script = script          # name -> callable(repeat index) -> ms
        self.log = []
        self.now = 0.0
        self.counts = {n: 0 for n in script}

    def entry(self, name):
        def run():
            self.log.append(name)
        return TimedEntry(name, run, lambda: self.log.append(f'setup:{name}'))

    def measure(self, fn):
        fn()
        name = self.log[-1]
        ms = self.script[name](self.counts[name])
        self.counts[name] += 1
        self.now += ms / 1e3
        return ms

    def clock(self):
        return self.now


def _run(fake, names, **kw):
    return round_robin([fake.entry(n) for n in names], warmup=kw.pop('warmup', 0),
                       device=CPU, measure=fake.measure, clock=fake.clock, **kw)


def test_round_robin_rotates_and_runs_setup_right_before_each_run():
    fake = _Fake({'a': lambda i: 1.0, 'b': lambda i: 1.0, 'c': lambda i: 1.0})
    times = _run(fake, ['a', 'b', 'c'], repeats=3, warmup=1)
    runs = [x for x in fake.log if not x.startswith('setup:')]
    assert runs == ['a', 'b', 'c'] + ['a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b']
    assert all(fake.log[i + 1] == x[len('setup:'):]
               for i, x in enumerate(fake.log) if x.startswith('setup:'))
    assert times == {'a': [1.0] * 3, 'b': [1.0] * 3, 'c': [1.0] * 3}
    assert (times.rounds, times.stopped_by) == (3, 'repeats')


def test_round_robin_repeats_until_the_ratio_interval_is_tight():
    # a / b is exactly 2 every repeat: the interval has zero width once it exists (6 pairs).
    fake = _Fake({'a': lambda i: 2.0, 'b': lambda i: 1.0})
    spec = RatioSpec('r', ('a', ), ('b', ))
    times = _run(fake, ['a', 'b'], repeats=3, max_repeats=100,
                 converged=converged_when([spec], 0.01))
    assert (times.rounds, times.stopped_by) == (6, 'converged')
    # A ratio that jitters by +-10 % converges later, and within +-1 % at the end.
    jitter = random.Random(1)
    fake = _Fake({'a': lambda i: 2.0 * (1 + jitter.uniform(-0.1, 0.1)), 'b': lambda i: 1.0})
    times = _run(fake, ['a', 'b'], repeats=3, max_repeats=5000,
                 converged=converged_when([spec], 0.01))
    assert times.stopped_by == 'converged' and times.rounds > 50
    assert relative_half_width(ratio_ci(times, spec)) <= 0.01


def test_round_robin_stops_at_its_caps():
    spec = RatioSpec('r', ('a', ), ('b', ))
    alternating = _Fake({'a': lambda i: 1.0 if i % 2 else 3.0, 'b': lambda i: 1.0})
    times = _run(alternating, ['a', 'b'], repeats=3, max_repeats=40,
                 converged=converged_when([spec], 0.01))
    assert (times.rounds, times.stopped_by) == (40, 'max_repeats')
    assert len(times['a']) == len(times['b']) == 40
    # Repeats of 4 s, 2 s, 4 s (fake clock): a 9 s cap stops after the third (10 s).
    slow = _Fake({'a': lambda i: 1000.0 if i % 2 else 3000.0, 'b': lambda i: 1000.0})
    times = _run(slow, ['a', 'b'], repeats=1, max_repeats=1000, time_cap_s=9.0,
                 converged=converged_when([spec], 0.01))
    assert (times.rounds, times.stopped_by) == (3, 'time_cap')
    assert times.elapsed_s == pytest.approx(10.0)
    # The minimum always runs, whatever the caps.
    times = _run(_Fake({'a': lambda i: 5000.0}), ['a'], repeats=4, max_repeats=10,
                 time_cap_s=0.001)
    assert times.rounds == 4
    with pytest.raises(ValueError, match='max_repeats=2 is below repeats=3'):
        _run(_Fake({'a': lambda i: 1.0}), ['a'], repeats=3, max_repeats=2)
    with pytest.raises(ValueError, match='distinct'):
        _run(_Fake({'a': lambda i: 1.0}), ['a', 'a'], repeats=1)


# ---------------------------------------------------------------- CUDA events (mocked)
class _FakeEvent:
    events = []

    def __init__(self, enable_timing=False):
        assert enable_timing, 'CUDA events must be created with enable_timing=True'
        self.recorded_at = None
        _FakeEvent.events.append(self)

    def record(self, stream=None):
        self.recorded_at = len(_CALLS)
        _CALLS.append('record')

    def synchronize(self):
        _CALLS.append('event_sync')

    def elapsed_time(self, end):
        assert self.recorded_at is not None and end.recorded_at is not None
        return 12.5


_CALLS: list = []


@pytest.fixture
def fake_cuda(monkeypatch):
    import contextlib

    _CALLS.clear()
    _FakeEvent.events.clear()
    monkeypatch.setattr(torch.cuda, 'Event', _FakeEvent)
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda device=None: _CALLS.append('sync'))
    monkeypatch.setattr(torch.cuda, 'device', lambda device: contextlib.nullcontext())
    return torch.device('cuda', 0)


def test_cuda_timer_uses_events_around_the_call_not_the_host_clock(fake_cuda, monkeypatch):
    monkeypatch.setattr(timing.time, 'perf_counter',
                        lambda: pytest.fail('the host clock was read for a CUDA timing'))
    ms = timing.timed(lambda: _CALLS.append('fn'), fake_cuda, 'cuda')
    assert ms == 12.5
    # Queue drained first, then start event, the call, end event, wait for the end event.
    assert _CALLS == ['sync', 'record', 'fn', 'record', 'event_sync']
    assert len(_FakeEvent.events) == 2


def test_round_robin_on_cuda_times_every_entry_with_events(fake_cuda):
    entries = [TimedEntry(n, lambda: None) for n in ('a', 'b')]
    times = round_robin(entries, 3, 1, fake_cuda, 'cuda')
    assert times == {'a': [12.5] * 3, 'b': [12.5] * 3}
    assert len(_FakeEvent.events) == 2 * 6


def test_timer_choice_per_device():
    cuda, cpu = torch.device('cuda'), torch.device('cpu')
    assert timing.default_timer(cuda) == 'cuda' and timing.default_timer(cpu) == 'wall'
    assert _timer(None, cuda) == 'cuda' and _timer(None, cpu) == 'wall'
    assert _timer('cpu', cpu) == 'cpu'
    with pytest.raises(BenchmarkError, match='CUDA events'):
        _timer('wall', cuda)
    with pytest.raises(BenchmarkError, match='CUDA events'):
        _timer('cuda', cpu)
    with pytest.raises(ValueError, match='needs a CUDA device'):
        timing.timed(lambda: None, cpu, 'cuda')
