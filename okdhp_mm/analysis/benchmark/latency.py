"""Inference latency (``predict`` mode, flip test off) and peak inference memory.

Per batch size, after warm-up, every repeat runs each model once in a rotating round robin
(:func:`okdhp_mm.analysis.timing.round_robin`); latency = median over the repeats.
"""
from __future__ import annotations

import time
from typing import Any, Dict, List, Sequence, Tuple

import torch

from ..memory import module_bytes, peak_memory
from ..timing import TimedEntry, median, round_robin
from .common import log
from .inputs import make_batch
from .models import capture_calls, set_test_cfg

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
    with torch.no_grad():
        fau_args = capture_calls(dict(fau=multi.head.fau),
                                 lambda: multi(inputs, samples, mode='predict'))['fau'][-1]
    feature, heatmaps = fau_args[0], list(fau_args[1])

    def fau_run():
        with torch.no_grad():
            return multi.head.fau(feature, heatmaps)
    entries.append(TimedEntry('fau', fau_run, None, multi.head.fau))
    sb = models['student_branch']
    for k, student in models['students'].items():
        entries.append(predict('student' if k == sb else f'student{k}', student))
    entries.append(predict('plain', models['plain']))
    return entries


def measure_latency(models: Dict[str, Any], input_size: Tuple[int, int], num_keypoints: int,
                    batch_sizes: Sequence[int], repeats: int, warmup: int,
                    device: torch.device, timer: str, verbose: bool
                    ) -> Tuple[Dict[int, Dict[str, float]], Dict[str, float], Dict]:
    """Median predict latency per batch size and model, peak memory at the largest batch, and
    every timed sample (ms, in repeat order)."""
    latency: Dict[int, Dict[str, float]] = {}
    samples_ms: Dict[str, Dict[str, List[float]]] = {}
    peak_mb: Dict[str, float] = {}
    for bs in batch_sizes:
        inputs, samples = make_batch(bs, input_size, num_keypoints, device=device)
        entries = _inference_entries(models, inputs, samples)
        t0 = time.perf_counter()
        times = round_robin(entries, repeats, warmup, device, timer)
        latency[bs] = {name: median(v) for name, v in times.items()}
        samples_ms[f'b{bs}'] = times
        log(verbose, f'latency batch {bs}: {time.perf_counter() - t0:.1f} s, ' + ', '.join(
            f'{n} {v:.2f} ms' for n, v in latency[bs].items()))
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
