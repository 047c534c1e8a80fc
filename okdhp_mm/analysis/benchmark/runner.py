"""The benchmark run: arguments checked, every stage in order, outputs written."""
from __future__ import annotations

import json
import os
import os.path as osp
import platform
import time
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

from okdhp_mm.utils.config import ConfigLike

from ..memory import memory_method
from ..timing import TIMERS
from .common import (DEFAULT_BATCH_SIZES, DEFAULT_REPEATS, DEFAULT_WARMUP, QUICK_BATCH_SIZES,
                     QUICK_REPEATS, QUICK_WARMUP, SCHEMA, BenchmarkError,
                     benchmark_input_size, load_benchmark_config, log, resolve_device)
from .complexity import measure_complexity
from .latency import measure_latency
from .models import build_models, predicted_heatmap_size
from .plot import plot_benchmark
from .ratios import compute_ratios
from .training import measure_training

__all__ = ['run_benchmark', 'write_outputs']


def run_benchmark(config: ConfigLike, checkpoint: Optional[str] = None, device: str = 'cpu',
                  batch_sizes: Optional[Sequence[int]] = None, repeats: Optional[int] = None,
                  warmup: Optional[int] = None, train_batch_size: Optional[int] = None,
                  quick: bool = False, student_branch: int = 0, out_dir: Optional[str] = None,
                  threads: Optional[int] = None, timer: str = 'wall', verbose: bool = False,
                  seed: int = 0) -> Dict[str, Any]:
    """Benchmark a multi-branch config; return the result dict.

    What is measured and every key of the result: :mod:`okdhp_mm.analysis.benchmark`.

    Args:
        config: config path, ``mmengine.Config`` or dict of a ``MultiBranchPoseEstimator``.
        checkpoint: optional weights (loaded with ``mmengine.runner.load_checkpoint``, which
            this package makes safe); timing does not need them.
        device: ``'cpu'`` or ``'cuda'`` (``'cuda:N'``).
        batch_sizes: inference batch sizes (default (1, 32); (1, 2) with ``quick``).
        repeats, warmup: timed and warm-up runs per model (default 15 and 3; 3 and 1 with
            ``quick``).
        train_batch_size: batch of the training-step comparison (default: the largest of
            ``batch_sizes``).
        quick: a fast run (few repeats, small batches) for tests and demos.
        student_branch: the branch whose export is "the student" (and whose plain
            architecture is the plain model and the training baseline).
        threads: ``torch.set_num_threads`` for the run (restored afterwards); default: leave
            as is. On a shared CPU, 1 thread avoids the large slow-downs that intra-op
            thread barriers suffer when another process takes a core.
        timer: ``'wall'`` (default) or ``'cpu'`` (this process's CPU time; CPU device only;
            robust to other processes on a shared machine, meant for ``threads=1``).
        out_dir: if given, ``benchmark.json`` and ``benchmark.png`` are written there.
        verbose: print progress.
    """
    cfg = load_benchmark_config(config)
    dev = resolve_device(device)
    if batch_sizes is None:
        batch_sizes = QUICK_BATCH_SIZES if quick else DEFAULT_BATCH_SIZES
    batch_sizes = sorted({int(b) for b in batch_sizes})
    if not batch_sizes or batch_sizes[0] < 1:
        raise BenchmarkError(f'batch sizes must be positive ints, got {batch_sizes}')
    repeats = int(repeats if repeats is not None else (QUICK_REPEATS if quick
                                                       else DEFAULT_REPEATS))
    warmup = int(warmup if warmup is not None else (QUICK_WARMUP if quick else DEFAULT_WARMUP))
    if repeats < 1 or warmup < 0:
        raise BenchmarkError(f'repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}')
    train_batch_size = int(train_batch_size or max(batch_sizes))
    if timer not in TIMERS:
        raise BenchmarkError(f'timer must be one of {TIMERS}, got {timer!r}')
    if timer == 'cpu' and dev.type != 'cpu':
        raise BenchmarkError('timer="cpu" measures host CPU time: use it with device="cpu"')
    if threads is not None and int(threads) < 1:
        raise BenchmarkError(f'threads must be >= 1, got {threads}')
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _run(cfg, config, checkpoint, dev, batch_sizes, repeats, warmup,
                    train_batch_size, student_branch, out_dir, timer, verbose, seed)
    finally:
        torch.set_num_threads(saved_threads)


def _run(cfg, config, checkpoint, dev, batch_sizes, repeats, warmup, train_batch_size,
         student_branch, out_dir, timer, verbose, seed) -> Dict[str, Any]:
    torch.manual_seed(seed)
    t_start = time.perf_counter()
    input_size = benchmark_input_size(cfg)
    models = build_models(cfg, checkpoint, dev, student_branch, verbose)
    models['student_branch'] = student_branch
    num_keypoints = models['multi'].head.num_keypoints
    heatmap_size = predicted_heatmap_size(models['plain'], input_size, dev)
    log(verbose, f'models built: {time.perf_counter() - t_start:.1f} s')
    log(verbose, f'{models["num_branches"]} branches, input {input_size[0]}x{input_size[1]} '
        f'(WxH), heatmaps {heatmap_size[0]}x{heatmap_size[1]}, device {dev}, '
        f'{torch.get_num_threads()} threads')

    t_phase = time.perf_counter()
    info = measure_complexity(models, input_size, dev, verbose)
    log(verbose, f'params / FLOPs: {time.perf_counter() - t_phase:.1f} s')
    latency, peak_mb, samples_ms = measure_latency(models, input_size, num_keypoints,
                                                   batch_sizes, repeats, warmup, dev, timer,
                                                   verbose)
    train = measure_training(models, input_size, num_keypoints, heatmap_size,
                             train_batch_size, repeats, warmup, dev, timer, verbose)
    train['multi_branch']['flops'] = info['ensemble']['flops']
    train['baseline']['flops'] = info['plain']['flops']
    train['flop_ratio'] = info['ensemble']['flops'] / info['plain']['flops']
    train['ideal_step_ms'] = train['baseline']['step_ms'] * train['flop_ratio']

    for name, entry in info.items():
        for bs in batch_sizes:
            entry[f'latency_ms_b{bs}'] = latency[bs][name]
        entry['peak_mem_mb'] = peak_mb[name]
    ratios, by_batch, checks = compute_ratios(latency, info, models['student_of'],
                                              student_branch, train)
    import mmpose
    result = dict(
        schema=SCHEMA,
        config=str(config) if isinstance(config, (str, os.PathLike)) else
        (getattr(cfg, 'filename', None) or '<config>'),
        checkpoint=checkpoint, device=str(dev),
        device_name=_device_name(dev),
        threads=torch.get_num_threads(), torch_version=torch.__version__,
        mmpose_version=mmpose.__version__, repeats=repeats, warmup=warmup, timer=timer,
        batch_sizes=batch_sizes, peak_mem_batch_size=max(batch_sizes),
        input_size=list(input_size), heatmap_size=list(heatmap_size),
        num_branches=models['num_branches'], student_branch=student_branch,
        student_of_branch={str(k): v for k, v in models['student_of'].items()},
        flops_method='mmengine.analysis.FlopAnalyzer, per sample (batch 1); 1 FLOP = 1 '
                     'multiply-accumulate (fvcore convention); elementwise ops not counted',
        latency_method='predict mode, flip test off, median over repeats of a rotating '
                       'round robin across all models (after warm-up); ratios are ratios of '
                       'medians, the headline one the worst over the batch sizes',
        memory_method=memory_method(dev), memory_is_estimate=dev.type != 'cuda',
        ratios=ratios, ratios_by_batch=by_batch, checks=checks,
        all_passed=all(c['passed'] for c in checks),
        models=info, train=train, samples_ms=samples_ms,
        wall_s=time.perf_counter() - t_start)
    result = _jsonable(result)
    if out_dir:
        t0 = time.perf_counter()
        write_outputs(result, out_dir)
        log(verbose, f'outputs written: {time.perf_counter() - t0:.1f} s')
    return result


def _device_name(dev: torch.device) -> str:
    if dev.type == 'cuda':
        return torch.cuda.get_device_name(dev)
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores'


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, torch.Size):
        return list(x)
    return x


def write_outputs(result: Dict[str, Any], out_dir: str) -> Dict[str, str]:
    """Write ``benchmark.json`` and ``benchmark.png`` into ``out_dir``; return their paths."""
    os.makedirs(out_dir, exist_ok=True)
    json_path = osp.join(out_dir, 'benchmark.json')
    with open(json_path, 'w') as f:
        json.dump(result, f, indent=2)
    png_path = osp.join(out_dir, 'benchmark.png')
    plot_benchmark(result, png_path)
    return dict(json=json_path, png=png_path)
