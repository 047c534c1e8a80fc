"""Inference latency (``predict`` mode, flip test off) and peak inference memory.

Per batch size, after warm-up, every repeat runs each model once in a rotating round robin
(:func:`okdhp_mm.analysis.timing.round_robin`), until the paired latency ratios' intervals
are tight enough or a cap is hit; latency = median over the repeats.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Sequence, Tuple

import torch

from ..memory import module_bytes, peak_memory
from ..timing import TimedEntry, TimedRounds, median, round_robin
from .common import Sampling, log
from .inputs import make_batch
from .models import ensemble_finals, fau_features, recorded_calls, set_test_cfg
from .stats import RatioSpec, converged_when

__all__ = ['measure_latency']


def _inference_entries(models, inputs, samples) -> List[TimedEntry]:
    """Every predict-mode measurement (the FAU: forward alone, on captured inputs)."""
    multi = models['multi']
    entries = []

    def predict(name, model, **test_cfg):
        def run():
            with torch.no_grad():
                return model(inputs, samples, mode='predict')
        # The multi-branch model serves several entries: its test_cfg is set before each run.
        setup = (lambda: set_test_cfg(model, **test_cfg)) if test_cfg else None
        return TimedEntry(name, run, setup, model)

    for k in range(models['num_branches']):
        entries.append(predict(f'branch{k}', multi, branch=k, output_all=False))
    entries.append(predict('ensemble', multi, branch='ensemble', output_all=False))
    # FAU alone, on the very tensors the ensemble prediction feeds it.
    set_test_cfg(multi, branch='ensemble', output_all=False)
    head = multi.head
    with torch.no_grad(), recorded_calls(head, ['ensemble']) as ens_calls, \
            recorded_calls(head.fau, ['compute_weights']) as fau_calls:
        multi(inputs, samples, mode='predict')
    feats = fau_features(head, fau_calls['compute_weights'][-1][0][0])
    finals = ensemble_finals(ens_calls['ensemble'][-1])

    def fau_run():
        with torch.no_grad():
            return head.ensemble(feats, finals)
    entries.append(TimedEntry('fau', fau_run, None, head.fau))
    sb = models['student_branch']
    for k, student in models['students'].items():
        entries.append(predict('student' if k == sb else f'student{k}', student))
    entries.append(predict('plain', models['plain']))
    return entries


def measure_latency(models: Dict[str, Any], input_size: Tuple[int, int], num_keypoints: int,
                    batch_sizes: Sequence[int], sampling: Sampling, specs: List[RatioSpec],
                    device: torch.device, verbose: bool
                    ) -> Tuple[Dict[int, Dict[str, float]], Dict[str, float],
                               Dict[int, TimedRounds]]:
    """Median predict latency per batch size and model, peak memory at the largest batch, and
    every timed sample per batch size (ms, in repeat order; repeats go on until ``specs``'
    intervals are tight enough, see :class:`Sampling`)."""
    latency: Dict[int, Dict[str, float]] = {}
    samples_ms: Dict[int, TimedRounds] = {}
    peak_mb: Dict[str, float] = {}
    converged = converged_when(specs, sampling.half_width, sampling.confidence)
    for bs in batch_sizes:
        inputs, samples = make_batch(bs, input_size, num_keypoints, device=device)
        entries = _inference_entries(models, inputs, samples)
        times = round_robin(entries, sampling.repeats, sampling.warmup, device, sampling.timer,
                            max_repeats=sampling.max_repeats, time_cap_s=sampling.time_cap_s,
                            converged=converged)
        latency[bs] = {name: median(v) for name, v in times.items()}
        samples_ms[bs] = times
        log(verbose, f'latency batch {bs}: {times.elapsed_s:.1f} s, {times.rounds} repeats '
            f'({times.stopped_by}), ' + ', '.join(f'{n} {v:.2f} ms'
                                                  for n, v in latency[bs].items()))
        if bs == max(batch_sizes):
            t0 = time.perf_counter()
            for e in entries:
                if e.setup is not None:
                    e.setup()
                with torch.no_grad(), peak_memory(device, ignore=[inputs]) as mem:
                    e.run()
                peak_mb[e.name] = (module_bytes(e.owner) + mem['bytes']) / 2 ** 20
            log(verbose, f'inference memory batch {bs}: {time.perf_counter() - t0:.1f} s')
    return latency, peak_mb, samples_ms
