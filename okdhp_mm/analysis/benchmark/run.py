"""The benchmark run: arguments checked, models built, every measurement in order, the result
(``benchmark.json``, every key in docs/benchmarks.md) assembled and written."""
from __future__ import annotations

import copy
import json
import os
import os.path as osp
import platform
import time
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

from okdhp_mm.utils.config import ConfigLike, build_model_from_config, load_config
from .measure import (Sampling, build_models, clock_for, count_flops, count_params, make_batch,
                      profiled_parts, round_robin)
from .stats import (CONFIDENCE, TARGET_HALF_WIDTH, check_entry, paired_ratio,
                    relative_half_width, severity)

__all__ = ['BenchmarkError', 'SCHEMA', 'run_benchmark', 'write_outputs']

SCHEMA = 'okdhp_mm.benchmark/3'  # 3: batch-means intervals, profiler parts
DEFAULTS = dict(batch_sizes=(1, 32), repeats=15, warmup=3, max_repeats=400, time_cap_s=60.0)
QUICK = dict(batch_sizes=(1, 2), repeats=3, warmup=1, time_cap_s=10.0)
FAU_KL_PARTS = ('fau', 'kd', 'ens_loss')
COPIES = 5  # of every model timed for latency


class BenchmarkError(ValueError):  # the benchmark cannot run as asked; the message says why
    pass


def _sampling(quick, repeats, warmup, max_repeats, time_cap_s, half_width, timer, device):
    base = dict(DEFAULTS, **(QUICK if quick else {}))
    repeats = int(base['repeats'] if repeats is None else repeats)
    warmup = int(base['warmup'] if warmup is None else warmup)
    max_repeats = int(max_repeats if max_repeats is not None else
                      (repeats if quick else max(repeats, base['max_repeats'])))
    timer = timer or ('cuda' if device.type == 'cuda' else 'wall')
    if repeats < 1 or warmup < 0 or max_repeats < repeats:
        raise BenchmarkError(f'repeats={repeats}, warmup={warmup}, max_repeats={max_repeats}: '
                             'give repeats >= 1, warmup >= 0, max_repeats >= repeats')
    if timer not in ('wall', 'cpu', 'cuda') or (timer == 'cuda') != (device.type == 'cuda'):
        raise BenchmarkError(f"timer={timer!r} on {device}: 'wall' or 'cpu' on a CPU; CUDA work "
                             "is timed with CUDA events (timer='cuda', the default there)")
    return Sampling(repeats, warmup, max_repeats, float(time_cap_s or base['time_cap_s']),
                    float(half_width), CONFIDENCE, timer)


def run_benchmark(config: ConfigLike, checkpoint: Optional[str] = None, device: str = 'cpu',
                  batch_sizes: Optional[Sequence[int]] = None, repeats: Optional[int] = None,
                  warmup: Optional[int] = None, train_batch_size: Optional[int] = None,
                  quick: bool = False, student_branch: int = 0, out_dir: Optional[str] = None,
                  threads: Optional[int] = None, timer: Optional[str] = None,
                  verbose: bool = False, seed: int = 0, max_repeats: Optional[int] = None,
                  time_cap_s: Optional[float] = None,
                  half_width: float = TARGET_HALF_WIDTH) -> Dict[str, Any]:
    """Benchmark a multi-branch (OKDHP) config against its exported students and plain MMPose
    (defaults: ``DEFAULTS``, ``QUICK``); with ``out_dir``, write benchmark.json and .png."""
    try:
        cfg = load_config(config)
    except (FileNotFoundError, TypeError) as err:
        raise BenchmarkError(str(err)) from None
    dev = torch.device(device)
    if dev.type not in ('cpu', 'cuda') or (dev.type == 'cuda' and not torch.cuda.is_available()):
        raise BenchmarkError(f'--device {device}: only cpu or an available CUDA device (CUDA is '
                             f"{'' if torch.cuda.is_available() else 'not '}available here)")
    sizes = sorted({int(b) for b in batch_sizes or (QUICK if quick else DEFAULTS)['batch_sizes']})
    if sizes[0] < 1:
        raise BenchmarkError(f'batch sizes must be positive ints, got {sizes}')
    sampling = _sampling(quick, repeats, warmup, max_repeats, time_cap_s, half_width, timer, dev)
    multi = build_model_from_config(cfg)
    if not (hasattr(getattr(multi, 'head', None), 'ensemble') and hasattr(multi,
                                                                          'export_student')):
        raise BenchmarkError(f'{type(multi).__name__} is not a multi-branch model (OKDHP '
                             'MultiBranchPoseEstimator with a MultiBranchHead or '
                             'MultiBranchRTMCCHead): nothing to compare against its students')
    if not 0 <= student_branch < multi.head.num_branches:
        raise BenchmarkError(f'student_branch={student_branch}: the model has branches 0..'
                             f'{multi.head.num_branches - 1}')
    if checkpoint:
        from mmengine.runner import load_checkpoint
        try:
            load_checkpoint(multi, checkpoint, map_location='cpu', strict=True)
        except (RuntimeError, FileNotFoundError, ValueError) as err:
            raise BenchmarkError(f'checkpoint {checkpoint!r} does not fit the config: '
                                 f'{err}') from None
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(int(threads or saved_threads))
    torch.manual_seed(seed)
    try:
        result = _run(multi, dev, sizes, sampling, int(train_batch_size or sizes[-1]),
                      student_branch, lambda msg: verbose and print(f'[benchmark] {msg}',
                                                                   flush=True))
    finally:
        torch.set_num_threads(saved_threads)
    result.update(checkpoint=checkpoint, config=str(config) if isinstance(
        config, (str, os.PathLike)) else (cfg.filename or '<config>'))
    if out_dir:
        write_outputs(result, out_dir)
    return result


def _median(values) -> float:
    return float(np.median(values))


def _converged(pairs, sampling: Sampling, groups: int = 0):
    return lambda times: all(relative_half_width(paired_ratio(
        n, d, sampling.confidence, groups)) <= sampling.half_width for n, d in pairs(times))


def _name(k: int, student_branch: int) -> str:
    return 'student' if k == student_branch else f'student{k}'


def _latency(multi, models, dev, sizes, sampling, student_branch, log) -> Dict[str, Any]:
    """Predict latency of the branches, ensemble, FAU, students and plain model. Each model has
    ``COPIES`` copies, repeat r timing copy r % COPIES of each: where a model's weights lie in
    memory can change its speed by a per cent, for the whole process, so the interval's blocks
    are the copies (docs/benchmarks.md)."""
    head, clock = multi.head, clock_for(sampling.timer, dev)
    sampling = sampling._replace(warmup=max(sampling.warmup, COPIES))  # every copy warm
    names = {k: _name(j, student_branch) for k, j in models['student_of'].items()}
    pairs = [('student_vs_plain', 'student', 'plain')] + [
        (f'branch_vs_student/{k}', f'branch{k}', names[k]) for k in names]
    out: Dict[str, Any] = dict(latency={}, samples={}, ci={})
    for bs in sizes:
        batch = make_batch(multi, bs, models['codec'], head.num_keypoints, False)

        def predict(model, test_cfg=None):
            copies, calls = [model] + [copy.deepcopy(model) for _ in range(COPIES - 1)], [0]

            def run():
                model, calls[0] = copies[calls[0] % COPIES], calls[0] + 1
                if test_cfg is not None:  # the multi-branch model serves several entries
                    model.test_cfg = test_cfg
                with torch.no_grad():
                    return model(batch['inputs'], batch['data_samples'], mode='predict')
            return run
        with torch.no_grad():
            feats = multi.extract_feat(batch['inputs'])
            finals = [head.branch_final(feats, k) for k in range(head.num_branches)]
        entries = {f'branch{k}': predict(multi, dict(multi.test_cfg, branch=k, output_all=False))
                   for k in range(head.num_branches)}
        entries['ensemble'] = predict(multi, dict(multi.test_cfg, branch='ensemble',
                                                  output_all=False))
        entries['fau'] = lambda: head.ensemble(feats, finals)
        entries.update({_name(k, student_branch): predict(m)
                        for k, m in models['students'].items()}, plain=predict(models['plain']))
        times = round_robin(entries, sampling, clock, _converged(
            lambda t: [(t[a], t[b]) for _, a, b in pairs], sampling, COPIES))
        out['latency'][bs] = {n: _median(v) for n, v in times.items()}
        out['samples'][bs] = times
        out['ci'][bs] = {r: check_entry(r, paired_ratio(times[a], times[b], groups=COPIES))
                         for r, a, b in pairs}
        log(f'latency batch {bs}: {times.rounds} repeats ({times.stopped_by}), ' +
             ', '.join(f'{n} {v:.2f} ms' for n, v in out['latency'][bs].items()))
    return out


def _training(multi, plain, codec, dev, bs, sampling, log) -> Dict[str, Any]:
    """The multi-branch and baseline training steps, and the multi-branch step's parts."""
    models = {'multi_branch': copy.deepcopy(multi).train(),
              'baseline': copy.deepcopy(plain).train()}
    opts = {n: torch.optim.Adam(m.parameters(), lr=1e-4) for n, m in models.items()}
    batch = make_batch(multi, bs, codec, multi.head.num_keypoints, True)

    def step_of(name):
        def step():
            loss, _ = models[name].parse_losses(models[name](**batch, mode='loss'))
            loss.backward()
            opts[name].step()
            opts[name].zero_grad(set_to_none=True)
        return step
    parts: list = []
    entries = {n: step_of(n) for n in models}
    entries['profiled'] = lambda: parts.append(profiled_parts(
        step_of('multi_branch'), models['multi_branch'], opts['multi_branch'], dev))

    def pairs(times):
        got = parts[-len(times['multi_branch']):] if times['multi_branch'] else []
        return [(times['multi_branch'], [sum(p.values()) for p in got]),
                ([sum(p.get(k, 0.0) for k in FAU_KL_PARTS) for p in got], times['multi_branch'])]
    times = round_robin(entries, sampling, clock_for(sampling.timer, dev),
                        _converged(pairs, sampling))
    parts = parts[-times.rounds:]  # the warm-up's are not timed repeats
    names = ['trunk', *sorted({k for p in parts for k in p if k.startswith('branch')},
                              key=lambda k: int(k[6:])),
             'fau', 'losses', 'kd', 'ens_loss', 'optimizer', 'other']
    per_part = {k: [p.get(k, 0.0) for p in parts] for k in names}
    parts_ms = {k: _median(v) for k, v in per_part.items()}
    step_vs_parts, share = pairs(times)
    result = dict(batch_size=bs, optimizer='Adam', rounds=times.info(),
                  samples_ms=dict(times, **{f'part/{k}': v for k, v in per_part.items()}),
                  parts_ms=parts_ms, parts_sum_ms=sum(parts_ms.values()),
                  fau_kl=dict(ms=sum(parts_ms[k] for k in FAU_KL_PARTS), fau_ms=parts_ms['fau'],
                              kl_ms=parts_ms['kd'], ens_loss_ms=parts_ms['ens_loss'],
                              detach_ensemble=bool(multi.head.detach_ensemble)),
                  ci=dict(train_step_vs_parts=check_entry('train_step_vs_parts',
                                                          paired_ratio(*step_vs_parts)),
                          fau_kl_share=check_entry('fau_kl_share', paired_ratio(*share))))
    for name, model in models.items():
        result[name] = dict(step_ms=_median(times[name]), params=count_params(model))
    log(f'training batch {bs}: {times.rounds} repeats ({times.stopped_by}), step '
         f"{result['multi_branch']['step_ms']:.1f} ms, baseline "
         f"{result['baseline']['step_ms']:.1f} ms, parts " +
         ', '.join(f'{k} {v:.1f}' for k, v in parts_ms.items()))
    return result


def _complexity(multi, models, x, student_branch) -> Dict[str, Dict[str, Any]]:
    """Params and FLOPs per sample; the FAU's are the ensemble's minus all branches'."""
    head, info = multi.head, {}
    flops = {k: count_flops(m, x, lambda m, i: m(i, None)) for k, m in models['students'].items()}
    for k, j in models['student_of'].items():
        info[f'branch{k}'] = dict(params=count_params(models['students'][j]), flops=flops[j],
                                  flops_in_multi_branch=count_flops(
                                      multi, x, lambda m, i, k=k: m.head.final_outputs(
                                          m.extract_feat(i), [k])))
    ens = count_flops(multi, x, lambda m, i: m.head.forward(m.extract_feat(i)))
    branches = count_flops(multi, x, lambda m, i: m.head.final_outputs(
        m.extract_feat(i), list(range(head.num_branches))))
    info['ensemble'] = dict(params=count_params(multi), flops=ens)
    info['fau'] = dict(params=count_params(head.fau), flops=ens - branches)
    for k, m in models['students'].items():
        info[_name(k, student_branch)] = dict(params=count_params(m), flops=flops[k], branch=k)
    info['plain'] = dict(params=count_params(models['plain']),
                         flops=count_flops(models['plain'], x, lambda m, i: m(i, None)))
    return info


def _run(multi, dev, sizes, sampling, train_bs, student_branch, log) -> Dict[str, Any]:
    import mmpose

    t0 = time.perf_counter()
    models = build_models(multi, dev, student_branch)
    head, codec = multi.head, models['codec']
    w, h = codec['input_size']
    info = _complexity(multi, models, torch.zeros(1, 3, h, w, device=dev), student_branch)
    log(f'{head.num_branches} branches, input {w}x{h}, device {dev}, '
         f'{torch.get_num_threads()} threads; params and FLOPs counted')
    lat = _latency(multi, models, dev, sizes, sampling, student_branch, log)
    train = _training(multi, models['plain'], codec, dev, train_bs, sampling, log)
    for name, entry in info.items():
        entry.update({f'latency_ms_b{bs}': lat['latency'][bs][name] for bs in sizes})
    by_batch = {str(bs): lat['ci'][bs] for bs in sizes}
    ratios_ci = {r: max((by_batch[str(bs)][r] for bs in sizes), key=lambda e, r=r: severity(e, r))
                 for r in lat['ci'][sizes[0]]}
    ratios_ci.update(train.pop('ci'))
    return dict(
        schema=SCHEMA, device=str(dev), device_name=torch.cuda.get_device_name(dev)
        if dev.type == 'cuda' else f'{platform.machine()}, {os.cpu_count()} cores',
        threads=torch.get_num_threads(), torch_version=torch.__version__,
        mmpose_version=mmpose.__version__, timer=sampling.timer, repeats=sampling.repeats,
        warmup=sampling.warmup, max_repeats=sampling.max_repeats,
        time_cap_s=sampling.time_cap_s, batch_sizes=sizes,
        input_size=[w, h], codec=codec['type'], num_branches=head.num_branches,
        heatmap_size=list(codec['heatmap_size']) if 'heatmap_size' in codec else None,
        student_branch=student_branch,
        student_of_branch={str(k): v for k, v in models['student_of'].items()},
        ratios_ci=ratios_ci, ratios_ci_by_batch=by_batch,
        malloc_env={k: v for k, v in os.environ.items() if k.startswith('MALLOC_')},
        any_failed=any(e['verdict'] == 'fail' for e in ratios_ci.values()),
        ratio_stats=dict(confidence=sampling.confidence,
                         target_half_width=sampling.half_width,
                         rounds={**{f'b{bs}': lat['samples'][bs].info() for bs in sizes},
                                 'train': train['rounds']}),
        models=info, train=train, samples_ms={f'b{bs}': dict(lat['samples'][bs]) for bs in sizes},
        wall_s=time.perf_counter() - t0)


def write_outputs(result: Dict[str, Any], out_dir: str) -> Dict[str, str]:
    """``benchmark.json`` and ``benchmark.png`` in ``out_dir``; returns their paths."""
    from okdhp_mm.visualization.measurements import plot_benchmark

    os.makedirs(out_dir, exist_ok=True)
    paths = dict(json=osp.join(out_dir, 'benchmark.json'), png=osp.join(out_dir, 'benchmark.png'))
    with open(paths['json'], 'w') as f:
        json.dump(result, f, indent=1)
    plot_benchmark(result, paths['png'])
    return paths
