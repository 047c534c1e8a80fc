"""A training step of the multi-branch model against its single-branch baseline.

Both run forward loss + backward + Adam step on the same batch (training targets encoded by
the model's own codec), in one round robin together with the replays of one recorded step
(:mod:`.replay`): the FAU + KL replay (the distillation machinery alone) and the parts of the
step timed on their own (:mod:`.parts`: trunk, every branch, FAU, losses, optimizer), whose
sum the step is compared with.
"""
from __future__ import annotations

import copy
import time
from typing import Any, Callable, Dict, Tuple

import torch
from torch import nn

from ..memory import module_bytes, optimizer_state_bytes, peak_memory
from ..timing import TimedEntry, TimedRounds, median, round_robin
from .common import Sampling, log
from .complexity import count_params
from .inputs import make_batch
from .parts import PART_PREFIX, fau_kl_replay, part_entries
from .ratios import training_specs
from .replay import capture_step, grad_clearer
from .stats import converged_when

__all__ = ['measure_training']


def _train_step_fn(model: nn.Module, opt: torch.optim.Optimizer, inputs,
                   samples) -> Callable[[], None]:
    def step():
        losses = model(inputs, samples, mode='loss')
        loss, _ = model.parse_losses(losses)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def measure_training(models: Dict[str, Any], input_size: Tuple[int, int], num_keypoints: int,
                     codec: dict, batch_size: int, sampling: Sampling, device: torch.device,
                     verbose: bool) -> Dict[str, Any]:
    """``train`` of the result: step times, the parts, peak memory, the FAU + KL replay (no
    FLOPs: the runner adds those from the complexity measurement)."""
    multi = copy.deepcopy(models['multi']).to(device).train()
    base = copy.deepcopy(models['plain']).to(device).train()
    inputs, samples = make_batch(batch_size, input_size, num_keypoints, device=device, seed=1,
                                 codec=codec)
    opts = {n: torch.optim.Adam(m.parameters(), lr=1e-4)
            for n, m in (('multi_branch', multi), ('baseline', base))}
    steps = {'multi_branch': _train_step_fn(multi, opts['multi_branch'], inputs, samples),
             'baseline': _train_step_fn(base, opts['baseline'], inputs, samples)}
    capture = capture_step(multi, inputs, samples)
    both, fau_only, kl_only, info = fau_kl_replay(multi, capture)
    parts = part_entries(multi, capture, inputs, samples, opts['multi_branch'])
    part_names = [e.name for e in parts]
    # The parts leave gradients behind: every step starts from none, as in training.
    entries = [TimedEntry('multi_branch', steps['multi_branch'], grad_clearer(multi)),
               TimedEntry('baseline', steps['baseline'], grad_clearer(base)),
               both, fau_only, kl_only, *parts]
    times: TimedRounds = round_robin(
        entries, sampling.repeats, sampling.warmup, device, sampling.timer,
        max_repeats=sampling.max_repeats, time_cap_s=sampling.time_cap_s,
        converged=converged_when(training_specs(part_names), sampling.half_width,
                                 sampling.confidence))
    med = {name: median(v) for name, v in times.items()}
    log(verbose, f'training batch {batch_size}: {times.elapsed_s:.1f} s, {times.rounds} '
        f'repeats ({times.stopped_by}), ' +
        ', '.join(f'{n} {v:.1f} ms' for n, v in med.items()))
    parts_ms = {n[len(PART_PREFIX):]: med[n] for n in part_names}
    result = dict(batch_size=batch_size, optimizer='Adam', samples_ms=times,
                  rounds=dict(repeats=times.rounds, stopped_by=times.stopped_by,
                              elapsed_s=times.elapsed_s),
                  parts_ms=parts_ms, parts_sum_ms=sum(parts_ms.values()),
                  sum_of_parts=med['multi_branch'] / sum(parts_ms.values()),
                  parts_method='each part forward + backward on its own, on leaves of the '
                               'tensors one recorded training step handed it, back-propagating '
                               'the gradients that step sent into its outputs; the optimizer '
                               'part is the Adam step + zero_grad on that step\'s gradients; '
                               'timed in the same round robin as the training steps',
                  fau_kl=dict(ms=med['fau_kl'], fau_ms=med['fau'], kl_ms=med['kl'],
                              method='replay: FAU forward, ensemble GT loss and every KL term '
                                     'forward + backward on detached copies (leaves requiring '
                                     'grad) of the tensors one training forward fed them; '
                                     'timed in the same round robin as the training steps',
                              **info))
    del capture, parts, both, fau_only, kl_only, entries
    t0 = time.perf_counter()
    for name, model in (('multi_branch', multi), ('baseline', base)):
        opt = opts[name]
        grad_clearer(model)()
        with peak_memory(device, ignore=[inputs]) as mem:
            steps[name]()
        resident = module_bytes(model) + optimizer_state_bytes(opt)
        result[name] = dict(step_ms=med[name], params=count_params(model),
                            peak_mem_mb=(resident + mem['bytes']) / 2 ** 20,
                            mem_breakdown_mb=dict(
                                params_buffers=module_bytes(model) / 2 ** 20,
                                optimizer_state=optimizer_state_bytes(opt) / 2 ** 20,
                                step_peak_extra=mem['bytes'] / 2 ** 20))
    log(verbose, f'training memory: {time.perf_counter() - t0:.1f} s')
    del multi, base, opts
    return result
