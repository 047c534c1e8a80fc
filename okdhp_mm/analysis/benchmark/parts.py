"""The pieces of a multi-branch training step, timed on their own from a :class:`StepCapture`.

Parts (their sum is what the step would cost with no overhead between them):

* ``trunk``: the shared backbone (and a shared head, the hourglass's shared stages' heatmap
  layers), forward + backward of the gradients the real step sent into its outputs;
* ``branch<k>``: branch k's own backbone stages (a multi-branch backbone) and its head, on
  leaves of the trunk's real outputs (the trunk modules are stubbed to hand them over);
* ``fau``: the FAU ensemble of the branches' final outputs, forward + backward;
* ``losses``: the head's ``loss`` (every GT, KD and ensemble loss, the logged accuracies)
  on leaves of the real outputs (the head's forward methods stubbed), ``parse_losses`` and
  the backward into those leaves;
* ``optimizer``: the Adam step and ``zero_grad`` on the real gradients.

The FAU + KL replay (:func:`fau_kl_replay`) times the distillation machinery alone: the FAU,
the ensemble GT loss and every KD term, forward + backward, on leaves of their real inputs.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..timing import TimedEntry
from .models import ensemble_finals, fau_features
from .replay import (LeafMaker, StepCapture, backward_with, detached, grad_clearer,
                     outermost_calls, patched, shapes_of, stub_forwards, tensors_of)

__all__ = ['PART_PREFIX', 'fau_kl_replay', 'part_entries']

PART_PREFIX = 'part/'


def part_entries(model: nn.Module, capture: StepCapture, inputs: Tensor, samples: Sequence,
                 optimizer: torch.optim.Optimizer) -> List[TimedEntry]:
    """One :class:`TimedEntry` per part (names ``part/<part>``; see the module docstring).
    Each entry's setup clears every gradient, as the real step starts without any; each run
    returns its part's forward output (the optimizer's: None)."""
    head = model.head
    leaves = LeafMaker()
    clear = grad_clearer(model, leaves)
    calls = capture.head_calls
    shared_calls = calls.get('shared_outputs', [])
    trunk_records = list(capture.trunk_outputs) + [r for *_, r in shared_calls]
    trunk_modules = list({id(m): m for m in capture.trunk}.values())

    def trunk():
        with outermost_calls(trunk_modules) as seen:
            feats = model.extract_feat(inputs)
        outs: List[Any] = [out for _, out in seen]
        if shared_calls:
            outs.append(head.shared_outputs(feats))
        backward_with(capture.roots_like(trunk_records, outs))
        return outs

    stubs = stub_forwards([(m, leaves(o)) for m, o in zip(capture.trunk,
                                                          capture.trunk_outputs)])

    def leaf_feats():
        """The backbone output built from the trunk's leaves (its modules stubbed)."""
        with ExitStack() as stack:
            for m, attrs in stubs:
                stack.enter_context(patched(m, attrs))
            return model.extract_feat(inputs)

    branch_calls = {args[1]: result for args, _, result in calls[capture.branch_method]}

    def branch(index: int):
        def run():
            outs = getattr(head, capture.branch_method)(leaf_feats(), index)
            backward_with(capture.roots_like(branch_calls[index], outs))
            return outs
        return run

    (ens_call, ) = calls['ensemble']
    ens_result = ens_call[2]
    fau_in = fau_features(head, leaves(capture.fau_feature))
    finals = leaves(ensemble_finals(ens_call))

    def fau():
        out = head.ensemble(fau_in, finals)
        backward_with(capture.roots_like(ens_result, out))
        return out

    stub_results = {'ensemble': leaves(ens_result)}
    if shared_calls:
        stub_results['shared_outputs'] = leaves(shared_calls[0][2])
    branch_leaves = {k: leaves(v) for k, v in branch_calls.items()}
    head_stubs = {name: (lambda out: lambda *a, **k: out)(out)
                  for name, out in stub_results.items()}
    head_stubs[capture.branch_method] = lambda feats, index: branch_leaves[index]

    def losses():
        with patched(head, head_stubs):
            raw = head.loss(fau_in, samples, train_cfg=model.train_cfg)
        loss, _ = model.parse_losses(raw)
        loss.backward()
        return loss

    def set_grads():
        clear()
        for p, g in capture.param_grads:
            p.grad = g

    def step():
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    entries = [TimedEntry(f'{PART_PREFIX}trunk', trunk, clear, model)]
    entries += [TimedEntry(f'{PART_PREFIX}branch{k}', branch(k), clear, model)
                for k in range(head.num_branches)]
    entries += [TimedEntry(f'{PART_PREFIX}fau', fau, clear, model),
                TimedEntry(f'{PART_PREFIX}losses', losses, clear, model),
                TimedEntry(f'{PART_PREFIX}optimizer', step, set_grads, model)]
    return entries


def fau_kl_replay(model: nn.Module, capture: StepCapture
                  ) -> Tuple[TimedEntry, TimedEntry, TimedEntry, Dict[str, Any]]:
    """Entries ``fau_kl``, ``fau`` and ``kl`` and the replay's info.

    ``fau_kl`` = the FAU forward (weights + aggregation), the ensemble GT loss and every KD
    term forward, then the backward of ``loss_gt_ens + w_kd * sum KD`` into the FAU's
    parameters and the leaves (the branches' outputs, the FAU's input feature); ``fau`` and
    ``kl`` split it.
    """
    head = model.head
    leaf = LeafMaker()
    clear = grad_clearer(head.fau, leaf)
    (ens_call, ) = capture.head_calls['ensemble']
    fau_in = fau_features(head, leaf(capture.fau_feature))
    finals = leaf(ensemble_finals(ens_call))
    kd_preds = [leaf(c[0]) for c in capture.kd_calls]
    kd_weights = [c[2] if len(c) > 2 else None for c in capture.kd_calls]
    _, gt, gt_weights = capture.ens_calls[0][:3]
    kd_w = float(head.current_kd_weight())
    detach = bool(head.detach_ensemble)

    def kd_sum(target):
        return sum(head.kd_loss(p, target, w) for p, w in zip(kd_preds, kd_weights))

    def both():
        ens, _ = head.ensemble(fau_in, finals)
        target = detached(ens) if detach else ens
        (head.ensemble_loss(ens, gt, gt_weights) + kd_w * kd_sum(target)).backward()

    def fau_only():
        ens, _ = head.ensemble(fau_in, finals)
        head.ensemble_loss(ens, gt, gt_weights).backward()

    # The KD terms alone: against a stand-in ensemble of the real shapes.
    target_l = LeafMaker()(ens_call[2][0])
    if detach:
        target_l = detached(target_l)

    def kl_only():
        (kd_w * kd_sum(target_l)).backward()

    def clear_all():
        clear()
        for t in tensors_of(target_l):
            t.grad = None

    info = dict(num_kl_terms=len(capture.kd_calls),
                kl_shapes=[shapes_of(c[0]) for c in capture.kd_calls],
                fau_feature_shape=list(capture.fau_feature.shape), detach_ensemble=detach,
                kd_weight=kd_w)
    return (TimedEntry('fau_kl', both, clear_all, head), TimedEntry('fau', fau_only, clear_all,
                                                                    head),
            TimedEntry('kl', kl_only, clear_all, head), info)
