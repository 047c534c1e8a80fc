"""No host synchronisation from our code in a training step (``model.train_step``).

Every way a tensor reaches the host, or host data reaches a tensor, is counted while
``model.train_step(data, optim_wrapper)`` runs: ``Tensor.item / tolist / numpy / cpu``,
``.to('cpu')`` (a literal ``'cpu'``), ``bool()`` / ``float()`` / ``int()`` of a tensor,
MMPose's ``to_numpy`` (in every module that imported it), and ``torch.tensor / as_tensor /
from_numpy`` (a tensor made from host data: on CUDA a synchronous host-to-device copy). On a
GPU each is a stall of the stream; on this CPU they cost nothing, so they are counted rather
than timed.

What MMEngine and PyTorch do themselves, found by running this test: MMEngine's
``BaseModel.train_step`` and ``parse_losses`` call no ``.item()`` (the log variables stay
tensors; the runner's hooks read them after the step); its data preprocessor's
``stack_batch`` evaluates ``padded_sizes.sum() == 0`` on a CPU tensor of image shapes, and
``torch.optim.Adam`` reads its step counters with ``.item()``, which are CPU tensors too: no
device synchronisation, and not our code. So only calls made *from* ``okdhp_mm`` code (the
caller frame's module) must be zero; the others are listed in the failure message.
"""
from __future__ import annotations

import collections
import copy
import sys

import pytest
import torch

from helpers.families import FAMILIES, build, packed

_TENSOR_METHODS = ('item', 'tolist', 'numpy', 'cpu', '__bool__', '__float__', '__int__')
_FACTORIES = ('tensor', 'as_tensor', 'from_numpy')


@pytest.fixture
def host_transfers(monkeypatch):
    """``{(what, caller module, line): count}``, filled while the test runs."""
    counts = collections.Counter()

    def counting(name, original):
        def wrapper(*args, **kwargs):
            frame = sys._getframe(1)
            counts[(name, frame.f_globals.get('__name__', '?'), frame.f_lineno)] += 1
            return original(*args, **kwargs)
        return wrapper

    for name in _TENSOR_METHODS:
        monkeypatch.setattr(torch.Tensor, name, counting(name, getattr(torch.Tensor, name)))
    for name in _FACTORIES:
        monkeypatch.setattr(torch, name, counting(f'torch.{name}', getattr(torch, name)))
    original_to = torch.Tensor.to

    def to(self, *args, **kwargs):
        # A literal 'cpu' only: `.to(other.device)` is device-agnostic (on a GPU it stays
        # there), and on this CPU it cannot be told from a real move to the host.
        target = kwargs.get('device', args[0] if args else None)
        if isinstance(target, str) and target.startswith('cpu'):
            frame = sys._getframe(1)
            counts[('to(cpu)', frame.f_globals.get('__name__', '?'), frame.f_lineno)] += 1
        return original_to(self, *args, **kwargs)
    monkeypatch.setattr(torch.Tensor, 'to', to)
    # MMPose's to_numpy, wherever it was imported by name.
    from mmpose.utils import tensor_utils
    original_to_numpy = tensor_utils.to_numpy
    wrapped = counting('to_numpy', original_to_numpy)
    for module in list(sys.modules.values()):
        if getattr(module, 'to_numpy', None) is original_to_numpy:
            monkeypatch.setattr(module, 'to_numpy', wrapped)
    return counts


def _ours(counts) -> dict:
    return {k: v for k, v in counts.items() if k[1].split('.')[0] == 'okdhp_mm'}


def test_the_counter_sees_every_kind_of_transfer_and_its_caller(host_transfers):
    t = torch.ones(())
    code = ('t.item(); t.tolist(); t.numpy(); t.cpu(); t.to("cpu"); bool(t); float(t); '
            'int(t); torch.tensor(1.); torch.as_tensor([1.]); to_numpy(t)')
    from mmpose.utils.tensor_utils import to_numpy
    exec(code, {'__name__': 'okdhp_mm._probe', 't': t, 'torch': torch,
                'to_numpy': to_numpy})
    seen = {name for name, module, _ in _ours(host_transfers)}
    assert seen == {'item', 'tolist', 'numpy', 'cpu', 'to(cpu)', '__bool__', '__float__',
                    '__int__', 'torch.tensor', 'torch.as_tensor', 'to_numpy'}
    bool(t)  # from this test module: not ours
    assert sum(v for k, v in host_transfers.items() if k[1] == __name__) == 1


@pytest.mark.parametrize('family', list(FAMILIES))
def test_train_step_makes_no_host_transfer_from_our_code(family, host_transfers, one_thread):
    from mmengine.optim import OptimWrapper

    model, codec = build(family)
    data = packed(codec)  # what a dataloader yields: uint8 images, the codec's targets
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    model.train_step(copy.deepcopy(data), wrapper)  # first step: optimizer state created
    host_transfers.clear()
    log_vars = model.train_step(copy.deepcopy(data), wrapper)
    ours = _ours(host_transfers)
    assert not ours, (f'host transfers from okdhp_mm in a training step: {ours}; all: '
                      f'{dict(host_transfers)}')
    # The logged values are still tensors: read after the step, by the logger.
    assert all(isinstance(v, torch.Tensor) for v in log_vars.values())
    assert any(k.startswith('acc_pose') for k in log_vars)
