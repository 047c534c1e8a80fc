"""The parts of a training step (trunk, branches, FAU, losses, optimizer) as the benchmark
reads them from ``torch.profiler``: every family's step is cut into all its parts, no op time
is lost or counted twice, backward ops land in the part whose forward recorded them, and the
scopes change nothing the step computes."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.profiler import profile, record_function

from helpers.families import FAMILIES, batch, build
from okdhp_mm.analysis.benchmark.measure import PART, part_scopes, part_times, profiled_parts


def _step(model, opt, inputs, samples):
    def step():
        loss, _ = model.parse_losses(model.loss(inputs, samples))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss
    return step


@pytest.mark.parametrize('family', list(FAMILIES))
def test_every_part_of_every_family_is_timed_and_nothing_is_lost(family, one_thread):
    model, codec = build(family)
    inputs, samples = batch(codec)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    with part_scopes(model, opt), profile() as prof:
        _step(model, opt, inputs, samples)()
    parts = part_times(prof.events(), cuda=False)
    branches = [f'branch{k}' for k in range(model.head.num_branches)]
    for name in ['trunk', *branches, 'fau', 'losses', 'kd', 'ens_loss', 'optimizer']:
        assert parts.get(name, 0) > 0, (name, parts)
    assert set(parts) <= {'trunk', *branches, 'fau', 'losses', 'kd', 'ens_loss', 'optimizer',
                          'other'}
    # Independently: the op time of the step is its top-level ops' (those inside no other op).
    total = sum(e.cpu_time_total for e in prof.events() if e.name != '[memory]' and not
                e.name.startswith(PART) and (e.cpu_parent is None or
                                             e.cpu_parent.name.startswith(PART))) / 1e3
    assert sum(parts.values()) == pytest.approx(total, rel=1e-9)
    assert parts.get('other', 0) < 0.1 * total
    # The wrappers are gone afterwards: the instances have no attributes of them left.
    assert not {'extract_feat', 'loss', 'ensemble', 'branch_outputs'} & (
        set(vars(model)) | set(vars(model.head)))
    assert 'forward' not in vars(model.head.kd_loss) and 'step' not in vars(opt)


def test_scopes_change_nothing_the_step_computes(one_thread):
    model, codec = build('shared_encoder')
    twin = copy.deepcopy(model)
    inputs, samples = batch(codec)
    opts = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in (model, twin)]
    with part_scopes(model, opts[0]):
        scoped = _step(model, opts[0], inputs, samples)()
    plain = _step(twin, opts[1], inputs, samples)()
    assert torch.equal(scoped, plain)
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_backward_ops_land_in_the_part_of_their_forward(one_thread):
    """A cheap part and an expensive one; the backward runs outside every scope, yet the
    convolution's backward is counted in the expensive part, not in 'other'."""
    cheap, costly = nn.Linear(8, 8), nn.Conv2d(8, 64, 5, padding=2)
    x = torch.randn(4, 8, 32, 32)
    with profile() as prof:
        with record_function(PART + 'cheap'):
            h = cheap(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        with record_function(PART + 'costly'):
            y = costly(h)
        y.square().mean().backward()
    events = prof.events()
    parts = part_times(events, cuda=False)
    conv_backward = sum(e.cpu_time_total for e in events
                        if e.name.endswith('ConvolutionBackward0') and e.cpu_parent is None)
    conv_forward = sum(e.cpu_time_total for e in events
                       if e.name == 'aten::conv2d' and e.cpu_parent.name == PART + 'costly')
    assert conv_backward > 0
    # >= up to rounding: the part sums per-op milliseconds, here the microseconds are summed
    assert parts['costly'] >= (conv_forward + conv_backward) / 1e3 * (1 - 1e-9)
    assert parts['other'] < conv_backward / 1e3  # the loss and its seed only


def test_profiled_parts_of_a_real_step_add_up_to_the_step(one_thread):
    model, codec = build('rtmpose_multi_branch_cspnext')
    inputs, samples = batch(codec)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    parts = profiled_parts(_step(model, opt, inputs, samples), model, opt, torch.device('cpu'))
    assert {'branch0', 'branch1', 'branch2', 'kd', 'fau'} <= set(parts)
    assert all(p.grad is None for p in model.parameters())  # the step cleared them
