"""Timing helpers shared by the benchmark and the distillation-cost tools: one copy of each.

Times are taken with the device synchronised before the timed call, so that nothing queued
earlier is counted in it, and after it (host timers) or at its end event (``timer='cuda'``),
so that the device work it queued is. :func:`round_robin` interleaves several measurements
(every repeat runs each of them once, in a rotating order) so that machine noise hits all of
them alike and the i-th samples of two entries form a pair; it can repeat until a
convergence test says the estimates are tight enough, or a cap is hit.
"""
from __future__ import annotations

import gc
import statistics
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import torch
from torch import nn

__all__ = ['TIMERS', 'TimedEntry', 'TimedRounds', 'default_timer', 'median', 'round_robin',
           'sync', 'timed']

# 'wall': host clock (device synchronised around the call); 'cpu': this process's CPU time
# (CPU device only); 'cuda': CUDA events on the device's current stream (CUDA device only).
TIMERS = ('wall', 'cpu', 'cuda')


def sync(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def median(values: Sequence[float]) -> float:
    """Median of ``values`` (the mean of the two middle ones for an even count)."""
    return float(statistics.median(values))


def default_timer(device: torch.device) -> str:
    """The timer a device is measured with unless asked otherwise: CUDA events on CUDA
    (device time, no host clock), the wall clock elsewhere."""
    return 'cuda' if device.type == 'cuda' else 'wall'


def _cuda_event_ms(fn: Callable[[], Any], device: torch.device) -> float:
    with torch.cuda.device(device):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end))


def timed(fn: Callable[[], Any], device: torch.device, timer: str = 'wall') -> float:
    """Time of ``fn()`` in ms.

    ``'wall'``: the host clock, device work included (synchronised before and after);
    ``'cpu'``: this process's CPU time (``time.process_time``, CPU device only), which ignores
    time the process spends descheduled, so it stays meaningful on a shared machine (with
    several intra-op threads it sums their CPU time, spin-waits included: use one thread);
    ``'cuda'``: the time between two CUDA events recorded on the current stream around the
    call (``torch.cuda.Event(enable_timing=True)``), i.e. what the device spent from the
    start of the call to the end of its last kernel, host launch gaps included.
    """
    if timer not in TIMERS:
        raise ValueError(f'timer must be one of {TIMERS}, got {timer!r}')
    if timer == 'cuda':
        if device.type != 'cuda':
            raise ValueError(f"timer='cuda' times CUDA events: it needs a CUDA device, "
                             f'got {device}')
        sync(device)  # nothing queued earlier may run inside the timed span
        return _cuda_event_ms(fn, device)
    clock = time.process_time if timer == 'cpu' else time.perf_counter
    sync(device)
    start = clock()
    fn()
    sync(device)
    return (clock() - start) * 1e3


class TimedEntry(NamedTuple):
    """One timed measurement: ``run`` is timed, ``setup`` (untimed) runs right before it."""
    name: str
    run: Callable[[], Any]
    setup: Optional[Callable[[], Any]] = None
    owner: Optional[nn.Module] = None  # the module whose weights are resident while it runs


class TimedRounds(dict):
    """``{entry name: [ms per repeat]}`` (a plain dict for JSON), plus how the rounds ended.

    Attributes:
        rounds (int): repeats timed (every entry has that many samples).
        stopped_by (str): ``'converged'`` (the convergence test passed), ``'max_repeats'``,
            ``'time_cap'`` or ``'repeats'`` (a fixed number of repeats was asked for).
        elapsed_s (float): seconds spent in the timed repeats (warm-up excluded).
    """
    rounds: int = 0
    stopped_by: str = 'repeats'
    elapsed_s: float = 0.0


def round_robin(entries: List[TimedEntry], repeats: int, warmup: int, device: torch.device,
                timer: str = 'wall', *, max_repeats: Optional[int] = None,
                time_cap_s: Optional[float] = None,
                converged: Optional[Callable[[Dict[str, List[float]]], bool]] = None,
                measure: Optional[Callable[[Callable[[], Any]], float]] = None,
                clock: Callable[[], float] = time.perf_counter) -> TimedRounds:
    """Run every entry once per repeat, rotating the order; returns the times in ms.

    At least ``repeats`` repeats run. With ``max_repeats`` above that, repeats go on until
    ``converged(times so far)`` is true, ``max_repeats`` is reached, or ``time_cap_s`` seconds
    of timed repeats have passed (checked after each full repeat, so every entry always has
    the same number of samples and sample i of every entry comes from repeat i).
    ``measure(fn)`` (default :func:`timed` with ``device`` and ``timer``) and ``clock`` (the
    time cap's clock) can be replaced, e.g. by fakes in tests.
    """
    if repeats < 1:
        raise ValueError(f'repeats must be >= 1, got {repeats}')
    max_repeats = repeats if max_repeats is None else int(max_repeats)
    if max_repeats < repeats:
        raise ValueError(f'max_repeats={max_repeats} is below repeats={repeats}: give '
                         'max_repeats >= repeats (repeats is the minimum)')
    if measure is None:
        def measure(fn):
            return timed(fn, device, timer)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f'entry names must be distinct, got {names}')
    times = TimedRounds({e.name: [] for e in entries})
    for _ in range(warmup):
        for e in entries:
            if e.setup is not None:
                e.setup()
            e.run()
    sync(device)
    # No collector pauses inside a timed call: collect between repeats instead, with every
    # object that exists now frozen out of the collector's scans (so those collections are
    # cheap and take the same time for every model).
    gc.collect()
    gc.freeze()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    start = clock()
    try:
        n = len(entries)
        r = 0
        while True:
            order = entries[r % n:] + entries[:r % n]
            for e in order:
                if e.setup is not None:
                    e.setup()
                times[e.name].append(measure(e.run))
            gc.collect()
            r += 1
            if r < repeats:
                continue
            if max_repeats == repeats:
                times.stopped_by = 'repeats'
                break
            if converged is not None and converged(times):
                times.stopped_by = 'converged'
                break
            if r >= max_repeats:
                times.stopped_by = 'max_repeats'
                break
            if time_cap_s is not None and clock() - start >= time_cap_s:
                times.stopped_by = 'time_cap'
                break
    finally:
        gc.unfreeze()
        if gc_was_enabled:
            gc.enable()
    times.rounds = r
    times.elapsed_s = clock() - start
    return times
