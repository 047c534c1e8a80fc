"""Peak memory of a block of code: CUDA allocator statistics, or live tensor storage on CPU.

On CUDA :func:`peak_memory` reads ``torch.cuda.max_memory_allocated`` (reset before the block)
minus what was allocated before it. On CPU it *estimates* the same quantity with
:class:`LiveStorageTracker`, a ``TorchDispatchMode`` that follows every tensor storage the
block allocates and frees. The resident bytes of a model or an optimizer (allocated before
the block, so not seen by either) come from :func:`module_bytes` and
:func:`optimizer_state_bytes`.
"""
from __future__ import annotations

import gc
import weakref
from contextlib import contextmanager
from typing import Dict, Iterable, Iterator, Optional

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ['LiveStorageTracker', 'memory_method', 'module_bytes', 'optimizer_state_bytes',
           'peak_memory', 'tensor_bytes']


def tensor_bytes(tensors: Iterable[Optional[Tensor]]) -> int:
    """Bytes of the distinct storages behind ``tensors`` (views of one storage count once)."""
    seen, total = set(), 0
    for t in tensors:
        if t is None:
            continue
        st = t.untyped_storage()
        if st.data_ptr() not in seen:
            seen.add(st.data_ptr())
            total += st.nbytes()
    return total


def module_bytes(model: nn.Module) -> int:
    """Bytes of the parameters and buffers of ``model``."""
    return tensor_bytes(list(model.parameters()) + list(model.buffers()))


def optimizer_state_bytes(opt: torch.optim.Optimizer) -> int:
    """Bytes of the tensors in the optimizer's state (Adam's moments, step counters)."""
    return tensor_bytes(v for state in opt.state.values() for v in state.values()
                        if isinstance(v, Tensor))


class LiveStorageTracker(TorchDispatchMode):
    """Peak bytes of tensor storage allocated (and still alive) since entering the mode.

    Every op's outputs are inspected; a storage is counted once (views share it) and
    subtracted when its last reference dies (weakref finalizer). Storages that existed before
    entering are never counted. An estimate: allocator rounding, workspace buffers inside
    kernels and non-tensor allocations are not seen.
    """

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._sizes: Dict[int, int] = {}
        self._old: set = set()

    def ignore(self, tensors) -> None:
        """Storages that existed before (e.g. the inputs): never counted."""
        for t in tensors:
            if isinstance(t, Tensor):
                self._old.add(t.untyped_storage().data_ptr())

    def _free(self, key: int) -> None:
        size = self._sizes.pop(key, None)
        if size is not None:
            self.live -= size

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        stack = [out]
        while stack:
            o = stack.pop()
            if isinstance(o, (list, tuple)):
                stack.extend(o)
            elif isinstance(o, Tensor) and o.device.type != 'meta':
                st = o.untyped_storage()
                key, size = st.data_ptr(), st.nbytes()
                if size == 0 or key in self._sizes or key in self._old:
                    continue
                self._sizes[key] = size
                self.live += size
                self.peak = max(self.peak, self.live)
                weakref.finalize(st, self._free, key)
        return out


@contextmanager
def peak_memory(device: torch.device, ignore: Iterable[Tensor] = ()) -> Iterator[dict]:
    """Yields a dict whose ``bytes`` is the peak extra memory of the block (after it ends).

    ``ignore``: tensors that exist before the block (e.g. its inputs); on CPU their storages
    are never counted (on CUDA nothing allocated before the block is).
    """
    result = {'bytes': 0}
    if device.type == 'cuda':
        gc.collect()  # tensors held only by reference cycles would count as in use
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        yield result
        torch.cuda.synchronize(device)
        result['bytes'] = int(torch.cuda.max_memory_allocated(device) - before)
    else:
        tracker = LiveStorageTracker()
        tracker.ignore(ignore)
        with tracker:
            yield result
        result['bytes'] = int(tracker.peak)


def memory_method(device: torch.device) -> str:
    """How the benchmark's ``peak_mem_mb`` values are measured on ``device`` (for reports)."""
    if device.type == 'cuda':
        return ('cuda: torch.cuda.max_memory_allocated during the run (peak stats reset before) '
                'minus memory allocated before it, plus the model\'s own parameters and buffers '
                '(and Adam state and gradients for training); input batch not counted')
    return ('cpu ESTIMATE: the model\'s parameter + buffer bytes (+ Adam state for training) plus '
            'the peak of live tensor storage allocated during the run (TorchDispatchMode op '
            'tracker: gradients, activations, saved-for-backward tensors, temporaries); input '
            'batch, allocator overhead and kernel workspaces not counted')
