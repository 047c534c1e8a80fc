"""The parts of a training step that the benchmark times alone (trunk, branches, FAU, losses,
optimizer) are the real step, cut at its seams: for every model family each part computes
exactly the step's own values, back-propagates into exactly its own parameters, and together
the parts reach every parameter the step trains, each once. No timing here.
"""
from __future__ import annotations

import pytest
import torch

from okdhp_mm.analysis.benchmark.parts import PART_PREFIX, fau_kl_replay, part_entries
from okdhp_mm.analysis.benchmark.replay import capture_step, tensors_of
from test_perf_models import FAMILIES, batch, build


def _close(a, b):
    assert len(tensors_of(a)) == len(tensors_of(b))
    for x, y in zip(tensors_of(a), tensors_of(b)):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


def _owner_sets(model):
    """Parameter ids of every piece: trunk (shared backbone + shared head), branch k (its
    backbone stages + head), FAU."""
    head = model.head
    backbone = model.backbone
    trunk = {id(p) for p in backbone.parameters()}
    if hasattr(backbone, 'branches'):  # a multi-branch backbone: all but the branches
        trunk -= {id(p) for p in backbone.branches.parameters()}
    if getattr(head, 'shared_head', None) is not None:
        trunk |= {id(p) for p in head.shared_head.parameters()}
    branches = []
    for k in range(head.num_branches):
        own = {id(p) for p in head.branch_heads[k].parameters()}
        if hasattr(model.backbone, 'branches'):
            own |= {id(p) for p in model.backbone.branches[k].parameters()}
        branches.append(own)
    return trunk, branches, {id(p) for p in head.fau.parameters()}


@pytest.mark.parametrize('family', list(FAMILIES))
def test_parts_are_the_step_cut_at_its_seams(family, one_thread):
    model, codec = build(family)
    inputs, samples = batch(codec)
    capture = capture_step(model, inputs, samples)
    assert all(p.grad is None for p in model.parameters()), 'the capture left gradients'
    with torch.no_grad():
        real_loss, _ = model.parse_losses(model.loss(inputs, samples))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    entries = part_entries(model, capture, inputs, samples, opt)
    names = [e.name[len(PART_PREFIX):] for e in entries]
    k_range = range(model.head.num_branches)
    assert names == ['trunk', *(f'branch{k}' for k in k_range), 'fau', 'losses', 'optimizer']

    reached, outputs = {}, {}
    for entry, name in zip(entries[:-1], names[:-1]):
        entry.setup()
        assert all(p.grad is None for p in model.parameters())
        outputs[name] = entry.run()
        reached[name] = {id(p) for p in model.parameters() if p.grad is not None}
    # Same values as the step: every branch's outputs, the ensemble, the total loss.
    calls = capture.head_calls
    for k, (args, _, result) in enumerate(calls[capture.branch_method]):
        assert args[1] == k
        _close(outputs[f'branch{k}'], result)
    _close(outputs['fau'], calls['ensemble'][0][2])
    torch.testing.assert_close(outputs['losses'], real_loss, rtol=1e-5, atol=1e-6)
    # Each part back-propagates into its own parameters only, and all of them together
    # reach exactly the parameters the step trains.
    trunk, branches, fau = _owner_sets(model)
    trained = {id(p) for p, _ in capture.param_grads}
    assert reached['trunk'] == trunk & trained and reached['trunk']
    for k in k_range:
        assert reached[f'branch{k}'] == branches[k] & trained and reached[f'branch{k}']
    assert reached['fau'] == fau & trained and reached['fau']
    assert reached['losses'] == set()  # the loss modules have no parameters
    assert set().union(*reached.values()) == trained
    assert sum(len(v) for v in reached.values()) == len(trained)  # disjoint
    # The optimizer part: Adam on the step's gradients, none left behind.
    before = [p.detach().clone() for p, _ in capture.param_grads]
    entries[-1].setup()
    entries[-1].run()
    assert all(p.grad is None for p in model.parameters())
    assert any(not torch.equal(b, p) for b, (p, _) in zip(before, capture.param_grads))
    # Stubs are gone: the model's own methods run again.
    assert all('forward' not in m.__dict__ for m in model.modules())
    assert not {'branch_outputs', 'branch_final', 'ensemble', 'shared_outputs'} & set(
        vars(model.head))


@pytest.mark.parametrize('family', ['hourglass_mmpose', 'rtmpose'])
def test_fau_kl_replay_computes_the_step_s_distillation_terms(family, one_thread):
    model, codec = build(family)
    inputs, samples = batch(codec)
    capture = capture_step(model, inputs, samples)
    both, fau_only, kl_only, info = fau_kl_replay(model, capture)
    assert info['num_kl_terms'] == len(capture.kd_calls) > 0
    for entry in (both, fau_only, kl_only):
        entry.setup()
        entry.run()
        # Gradients reach the FAU (not for kl alone) and never the rest of the model.
        fau_grads = [p.grad is not None for p in model.head.fau.parameters()]
        assert all(fau_grads) if entry.name != 'kl' else not any(fau_grads)
        assert all(p.grad is None for n, p in model.named_parameters()
                   if not n.startswith('head.fau.'))
