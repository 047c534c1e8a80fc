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

from ..memory import malloc_mode, memory_method
from ..timing import TIMERS, default_timer
from .common import (DEFAULT_BATCH_SIZES, DEFAULT_MAX_REPEATS, DEFAULT_REPEATS,
                     DEFAULT_TIME_CAP_S, DEFAULT_WARMUP, QUICK_BATCH_SIZES, QUICK_REPEATS,
                     QUICK_TIME_CAP_S, QUICK_WARMUP, SCHEMA, BenchmarkError, Sampling,
                     benchmark_input_size, load_benchmark_config, log, resolve_device)
from .complexity import measure_complexity
from .latency import measure_latency
from .models import build_models, training_codec
from .parts import PART_PREFIX
from .plot import plot_benchmark
from .ratios import compute_ratio_cis, compute_ratios, ideal_spec, latency_specs, training_specs
from .stats import CONFIDENCE, TARGET_HALF_WIDTH, ratio_ci
from .training import measure_training

__all__ = ['run_benchmark', 'write_outputs']


def run_benchmark(config: ConfigLike, checkpoint: Optional[str] = None, device: str = 'cpu',
                  batch_sizes: Optional[Sequence[int]] = None, repeats: Optional[int] = None,
                  warmup: Optional[int] = None, train_batch_size: Optional[int] = None,
                  quick: bool = False, student_branch: int = 0, out_dir: Optional[str] = None,
                  threads: Optional[int] = None, timer: Optional[str] = None,
                  verbose: bool = False, seed: int = 0, max_repeats: Optional[int] = None,
                  time_cap_s: Optional[float] = None,
                  half_width: float = TARGET_HALF_WIDTH) -> Dict[str, Any]:
    """Benchmark a multi-branch config; return the result dict.

    What is measured and every key of the result: :mod:`okdhp_mm.analysis.benchmark`.

    Args:
        config: config path, ``mmengine.Config`` or dict of a ``MultiBranchPoseEstimator``
            (heatmap ``MultiBranchHead`` or RTMPose ``MultiBranchRTMCCHead``).
        checkpoint: optional weights (loaded with ``mmengine.runner.load_checkpoint``, which
            this package makes safe); timing does not need them.
        device: ``'cpu'`` or ``'cuda'`` (``'cuda:N'``).
        batch_sizes: inference batch sizes (default (1, 32); (1, 2) with ``quick``).
        repeats, warmup: the minimum timed repeats and the warm-up runs of every round robin
            (default 15 and 3; 3 and 1 with ``quick``).
        max_repeats, time_cap_s: caps of each round robin's repeats, which go on past
            ``repeats`` until every ratio's 95 % interval is within ``+-half_width`` of its
            value (default 400 repeats, 60 s; with ``quick`` no more than ``repeats`` and
            10 s).
        half_width: the relative half-width the intervals must reach (default 0.01).
        train_batch_size: batch of the training-step comparison (default: the largest of
            ``batch_sizes``).
        quick: a fast run (few repeats, small batches) for tests and demos.
        student_branch: the branch whose export is "the student" (and whose plain
            architecture is the plain model and the training baseline).
        threads: ``torch.set_num_threads`` for the run (restored afterwards); default: leave
            as is. On a shared CPU, 1 thread avoids the large slow-downs that intra-op
            thread barriers suffer when another process takes a core.
        timer: ``'cuda'`` (CUDA events; the default, and the only timer, on CUDA), ``'wall'``
            (the default on CPU) or ``'cpu'`` (this process's CPU time; CPU device only;
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
    train_batch_size = int(train_batch_size or max(batch_sizes))
    sampling = _sampling(quick, repeats, warmup, max_repeats, time_cap_s, half_width,
                         _timer(timer, dev))
    if threads is not None and int(threads) < 1:
        raise BenchmarkError(f'threads must be >= 1, got {threads}')
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _run(cfg, config, checkpoint, dev, batch_sizes, sampling, train_batch_size,
                    student_branch, out_dir, verbose, seed)
    finally:
        torch.set_num_threads(saved_threads)


def _timer(timer: Optional[str], dev: torch.device) -> str:
    timer = timer or default_timer(dev)
    if timer not in TIMERS:
        raise BenchmarkError(f'timer must be one of {TIMERS}, got {timer!r}')
    if dev.type == 'cuda' and timer != 'cuda':
        raise BenchmarkError(f'timer={timer!r} on {dev}: CUDA work is timed with CUDA events '
                             "(timer='cuda', the default there), not the host clock")
    if timer == 'cuda' and dev.type != 'cuda':
        raise BenchmarkError(f"timer='cuda' times CUDA events: use it with a CUDA device, "
                             f'not {dev}')
    return timer


def _sampling(quick, repeats, warmup, max_repeats, time_cap_s, half_width, timer) -> Sampling:
    repeats = int(repeats if repeats is not None else (QUICK_REPEATS if quick
                                                       else DEFAULT_REPEATS))
    warmup = int(warmup if warmup is not None else (QUICK_WARMUP if quick else DEFAULT_WARMUP))
    if repeats < 1 or warmup < 0:
        raise BenchmarkError(f'repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}')
    if max_repeats is None:
        max_repeats = repeats if quick else max(repeats, DEFAULT_MAX_REPEATS)
    if int(max_repeats) < repeats:
        raise BenchmarkError(f'max_repeats={max_repeats} is below repeats={repeats}: the '
                             'repeats are the minimum, give max_repeats >= repeats')
    if time_cap_s is None:
        time_cap_s = QUICK_TIME_CAP_S if quick else DEFAULT_TIME_CAP_S
    if not time_cap_s > 0 or not half_width > 0:
        raise BenchmarkError(f'time_cap_s and half_width must be > 0, got {time_cap_s}, '
                             f'{half_width}')
    return Sampling(repeats, warmup, int(max_repeats), float(time_cap_s), float(half_width),
                    CONFIDENCE, timer)


def _run(cfg, config, checkpoint, dev, batch_sizes, sampling, train_batch_size,
         student_branch, out_dir, verbose, seed) -> Dict[str, Any]:
    torch.manual_seed(seed)
    t_start = time.perf_counter()
    input_size = benchmark_input_size(cfg)
    models = build_models(cfg, checkpoint, dev, student_branch, verbose)
    models['student_branch'] = student_branch
    num_keypoints = models['multi'].head.num_keypoints
    codec = training_codec(models, cfg)
    log(verbose, f'models built: {time.perf_counter() - t_start:.1f} s')
    log(verbose, f'{models["num_branches"]} branches, input {input_size[0]}x{input_size[1]} '
        f'(WxH), codec {codec["type"]}, device {dev}, {torch.get_num_threads()} threads')

    t_phase = time.perf_counter()
    info = measure_complexity(models, input_size, dev, verbose)
    log(verbose, f'params / FLOPs: {time.perf_counter() - t_phase:.1f} s')
    lat_specs = latency_specs(models['student_of'], student_branch)
    latency, peak_mb, samples = measure_latency(models, input_size, num_keypoints,
                                                batch_sizes, sampling, lat_specs, dev, verbose)
    train = measure_training(models, input_size, num_keypoints, codec, train_batch_size,
                             sampling, dev, verbose)
    train['multi_branch']['flops'] = info['ensemble']['flops']
    train['baseline']['flops'] = info['plain']['flops']
    train['flop_ratio'] = info['ensemble']['flops'] / info['plain']['flops']
    train['ideal_step_ms'] = train['baseline']['step_ms'] * train['flop_ratio']
    ideal = ratio_ci(train['samples_ms'], ideal_spec(train['flop_ratio']), sampling.confidence)
    train['ideal_ratio_ci'] = dict(value=ideal.value, low=ideal.low, high=ideal.high)

    for name, entry in info.items():
        for bs in batch_sizes:
            entry[f'latency_ms_b{bs}'] = latency[bs][name]
        entry['peak_mem_mb'] = peak_mb[name]
    part_names = [f'{PART_PREFIX}{p}' for p in train['parts_ms']]
    ratios_ci, ci_by_batch = compute_ratio_cis(samples, train['samples_ms'], lat_specs,
                                               training_specs(part_names), sampling.confidence)
    ratios, by_batch, checks = compute_ratios(latency, models['student_of'], student_branch,
                                              train, ratios_ci)
    import mmpose
    result = dict(
        schema=SCHEMA,
        config=str(config) if isinstance(config, (str, os.PathLike)) else
        (getattr(cfg, 'filename', None) or '<config>'),
        checkpoint=checkpoint, device=str(dev),
        device_name=_device_name(dev), cpu_malloc=malloc_mode(),
        threads=torch.get_num_threads(), torch_version=torch.__version__,
        mmpose_version=mmpose.__version__, repeats=sampling.repeats, warmup=sampling.warmup,
        timer=sampling.timer, max_repeats=sampling.max_repeats,
        time_cap_s=sampling.time_cap_s, batch_sizes=batch_sizes,
        peak_mem_batch_size=max(batch_sizes), input_size=list(input_size),
        codec=codec['type'], heatmap_size=_heatmap_size(codec),
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
        ratios_ci=ratios_ci, ratios_ci_by_batch=ci_by_batch,
        any_failed=any(e['verdict'] == 'fail' for e in ratios_ci.values()),
        ratio_stats=dict(
            estimator=STATS_METHOD, confidence=sampling.confidence,
            target_half_width=sampling.half_width, min_repeats=sampling.repeats,
            max_repeats=sampling.max_repeats, time_cap_s=sampling.time_cap_s,
            rounds={**{f'b{bs}': _rounds(samples[bs]) for bs in batch_sizes},
                    'train': train['rounds']}),
        models=info, train=train, samples_ms={f'b{bs}': samples[bs] for bs in batch_sizes},
        wall_s=time.perf_counter() - t_start)
    result = _jsonable(result)
    if out_dir:
        t0 = time.perf_counter()
        write_outputs(result, out_dir)
        log(verbose, f'outputs written: {time.perf_counter() - t0:.1f} s')
    return result


STATS_METHOD = ('median of the per-repeat paired ratios (both sides timed in the same repeat '
                'of a rotating round robin), with the exact distribution-free (sign-test / '
                'binomial order-statistic) confidence interval of a median; bounds null with '
                'fewer than 6 pairs')


def _rounds(times) -> Dict[str, Any]:
    return dict(repeats=times.rounds, stopped_by=times.stopped_by, elapsed_s=times.elapsed_s)


def _heatmap_size(codec: dict) -> Optional[list]:
    size = codec.get('heatmap_size')
    return list(size) if size is not None else None


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
