"""A training step of the multi-branch model against its single-branch baseline.

Both run forward loss + backward + Adam step on the same batch, in the same round robin. The
FAU + KL share of the multi-branch step is measured by *replay*: the FAU forward, the ensemble
GT loss and every pixel-wise KL term forward + backward, run on detached copies (leaves
requiring grad) of the very tensors one training forward fed them (captured with forward
pre-hooks, so the shapes and the number of KL terms are the real ones).
"""
from __future__ import annotations

import copy
import time
from typing import Any, Callable, Dict, Tuple

import torch
from torch import Tensor, nn

from ..memory import module_bytes, optimizer_state_bytes, peak_memory
from ..timing import TimedEntry, median, round_robin
from .common import BenchmarkError, log
from .complexity import count_params
from .inputs import make_batch
from .models import arg_names, capture_calls

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


def _fau_kl_replay(multi_train: nn.Module, inputs, samples):
    """Callables replaying, on leaves of the real shapes, what FAU + KL cost in one step.

    Returns ``(both, fau_only, kl_only, info)``: ``both`` = FAU forward (weights +
    aggregation), ensemble GT loss and every KL term forward, then backward of
    ``loss_gt_ens + w_kd * sum KL`` into the FAU parameters and the leaves (the branch
    heatmaps, the FAU's input feature); ``fau_only`` / ``kl_only`` split it.
    """
    head = multi_train.head
    with torch.no_grad():
        calls = capture_calls(
            dict(fau=head.fau, kd=head.kd_loss, ens=head.ensemble_loss),
            lambda: multi_train(inputs, samples, mode='loss'),
            names=dict(fau=arg_names(head.fau), kd=arg_names(head.kd_loss),
                       ens=arg_names(head.ensemble_loss)))
    fau_calls, kd_calls, ens_calls = calls['fau'], calls['kd'], calls['ens']
    if len(fau_calls) != 1 or len(ens_calls) != 1 or not kd_calls:
        raise BenchmarkError(f'the training forward called the FAU {len(fau_calls)}x, the '
                             f'ensemble loss {len(ens_calls)}x and the KD loss '
                             f'{len(kd_calls)}x: the FAU + KL replay expects 1, 1 and >= 1')
    feature, finals = fau_calls[0][0], list(fau_calls[0][1])
    gt, gt_weights = ens_calls[0][1], ens_calls[0][2]

    # Leaves: one per distinct tensor, so a final heatmap that is both a FAU input and a KL
    # student is one leaf, as in the real graph.
    leaves: Dict[int, Tensor] = {}

    def leaf(t: Tensor) -> Tensor:
        if id(t) not in leaves:
            leaves[id(t)] = t.detach().clone().requires_grad_(True)
        return leaves[id(t)]
    feat_l = leaf(feature)
    finals_l = [leaf(m) for m in finals]
    kd_preds = [leaf(c[0]) for c in kd_calls]
    kd_weights = [c[2] if len(c) > 2 else None for c in kd_calls]
    kd_w = float(head.current_kd_weight())
    detach = bool(head.detach_ensemble)
    ens_shape = finals[0].shape
    params = list(head.fau.parameters())

    def clear():
        for t in list(leaves.values()) + params:
            t.grad = None

    def both():
        ens, _ = head.fau(feat_l, finals_l)
        target = ens.detach() if detach else ens
        kd = sum(head.kd_loss(p, target, w) for p, w in zip(kd_preds, kd_weights))
        (head.ensemble_loss(ens, gt, gt_weights) + kd_w * kd).backward()
        clear()

    def fau_only():
        ens, _ = head.fau(feat_l, finals_l)
        head.ensemble_loss(ens, gt, gt_weights).backward()
        clear()

    target_l = torch.zeros(ens_shape, device=feature.device).requires_grad_(not detach)

    def kl_only():
        kd = sum(head.kd_loss(p, target_l, w) for p, w in zip(kd_preds, kd_weights))
        (kd_w * kd).backward()
        clear()
        target_l.grad = None

    info = dict(num_kl_terms=len(kd_calls), kl_shapes=[list(c[0].shape) for c in kd_calls],
                fau_feature_shape=list(feature.shape), detach_ensemble=detach, kd_weight=kd_w)
    return both, fau_only, kl_only, info


def measure_training(models: Dict[str, Any], input_size: Tuple[int, int], num_keypoints: int,
                     heatmap_size: Tuple[int, int], batch_size: int, repeats: int,
                     warmup: int, device: torch.device, timer: str,
                     verbose: bool) -> Dict[str, Any]:
    """``train`` of the result: step times, peak memory, the FAU + KL replay (no FLOPs:
    the runner adds those from the complexity measurement)."""
    multi = copy.deepcopy(models['multi']).to(device).train()
    base = copy.deepcopy(models['plain']).to(device).train()
    inputs, samples = make_batch(batch_size, input_size, num_keypoints, heatmap_size,
                                 device=device, seed=1)
    opts = {n: torch.optim.Adam(m.parameters(), lr=1e-4)
            for n, m in (('multi_branch', multi), ('baseline', base))}
    steps = {'multi_branch': _train_step_fn(multi, opts['multi_branch'], inputs, samples),
             'baseline': _train_step_fn(base, opts['baseline'], inputs, samples)}
    both, fau_only, kl_only, info = _fau_kl_replay(multi, inputs, samples)
    entries = [TimedEntry('multi_branch', steps['multi_branch']),
               TimedEntry('baseline', steps['baseline']), TimedEntry('fau_kl', both),
               TimedEntry('fau', fau_only), TimedEntry('kl', kl_only)]
    t0 = time.perf_counter()
    times = round_robin(entries, repeats, warmup, device, timer)
    med = {name: median(v) for name, v in times.items()}
    log(verbose, f'training batch {batch_size}: {time.perf_counter() - t0:.1f} s, ' +
        ', '.join(f'{n} {v:.1f} ms' for n, v in med.items()))
    result = dict(batch_size=batch_size, optimizer='Adam', samples_ms=times,
                  fau_kl=dict(ms=med['fau_kl'], fau_ms=med['fau'], kl_ms=med['kl'],
                              method='replay: FAU forward, ensemble GT loss and every KL term '
                                     'forward + backward on detached copies (leaves requiring '
                                     'grad) of the tensors one training forward fed them; '
                                     'timed in the same round robin as the training steps',
                              **info))
    t0 = time.perf_counter()
    for name, model in (('multi_branch', multi), ('baseline', base)):
        opt = opts[name]
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
