"""Timing helpers shared by the benchmark and the distillation-cost tools: one copy of each.

Times are taken with the device synchronised before and after the timed call, so that CUDA
work queued by the call is counted in it. :func:`round_robin` interleaves several
measurements so that machine noise hits all of them alike.
"""
from __future__ import annotations

import gc
import statistics
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import torch
from torch import nn

__all__ = ['TIMERS', 'TimedEntry', 'median', 'round_robin', 'sync', 'timed']

TIMERS = ('wall', 'cpu')


def sync(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (a no-op on the CPU)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def median(values: Sequence[float]) -> float:
    """Median of ``values`` (the mean of the two middle ones for an even count)."""
    return float(statistics.median(values))


def timed(fn: Callable[[], Any], device: torch.device, timer: str = 'wall') -> float:
    """Time of ``fn()`` in ms: wall clock (device work included), or this process's CPU time.

    The CPU timer (``time.process_time``, CPU device only) ignores time the process spends
    descheduled, so it stays meaningful on a shared machine; with several intra-op threads it
    sums their CPU time (spin-waits included), so use it with one thread.
    """
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


def round_robin(entries: List[TimedEntry], repeats: int, warmup: int, device: torch.device,
                timer: str = 'wall') -> Dict[str, List[float]]:
    """Run every entry once per repeat, rotating the order; returns the times in ms."""
    times: Dict[str, List[float]] = {e.name: [] for e in entries}
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
    try:
        n = len(entries)
        for r in range(repeats):
            order = entries[r % n:] + entries[:r % n]
            for e in order:
                if e.setup is not None:
                    e.setup()
                times[e.name].append(timed(e.run, device, timer))
            gc.collect()
    finally:
        gc.unfreeze()
        if gc_was_enabled:
            gc.enable()
    return times
