"""Peak memory of a block of code: CUDA allocator statistics, or live tensor storage on CPU.

On CUDA :func:`peak_memory` reads ``torch.cuda.max_memory_allocated`` (reset before the block)
minus what was allocated before it. On CPU it *estimates* the same quantity with
:class:`LiveStorageTracker`, a ``TorchDispatchMode`` that follows every tensor storage the
block allocates and frees. The resident bytes of a model or an optimizer (allocated before
the block, so not seen by either) come from :func:`module_bytes` and
:func:`optimizer_state_bytes`.

:func:`measure_build_memory` measures what building a model costs in host memory (peak RSS
growth in a fresh interpreter against the model's weights); :func:`retain_freed_memory` stops
glibc from handing large freed blocks back to the system (see its docstring).
"""
from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
import weakref
from contextlib import contextmanager
from typing import Any, Dict, Iterable, Iterator, Optional

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ['LiveStorageTracker', 'build_memory', 'malloc_mode', 'measure_build_memory',
           'memory_method', 'module_bytes', 'optimizer_state_bytes', 'peak_memory',
           'retain_freed_memory', 'tensor_bytes']


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


# ------------------------------------------------------------------ host allocator
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_MMAP_THRESHOLD_MAX = 32 * 2 ** 20             # glibc's largest (64-bit: HEAP_MAX_SIZE / 2)
_malloc_mode = {'mode': 'default'}


def retain_freed_memory() -> bool:
    """Keep freed host memory in this process (glibc ``mallopt``); True when applied.

    By default glibc serves blocks above a (dynamic) threshold with ``mmap`` and returns them,
    and the free top of its heap, to the system when freed: every training step's large
    tensors (activations, gradients, optimizer temporaries) then page-fault afresh, which on a
    CPU costs a large share of a step (see docs/benchmarks.md). This sets the mmap threshold
    to its maximum (32 MiB) and the trim threshold out of reach, for the rest of the process.
    ``MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=2147483647`` in the environment
    does the same from the process's start. No effect (False) without glibc.
    """
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1 and \
        libc.mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1) == 1
    if ok:
        _malloc_mode['mode'] = 'retain (mallopt: mmap threshold 32 MiB, no trim)'
    return ok


def malloc_mode() -> str:
    """``'default'`` or what :func:`retain_freed_memory` set (for reports)."""
    if os.environ.get('MALLOC_MMAP_THRESHOLD_') or os.environ.get('MALLOC_TRIM_THRESHOLD_'):
        return (f"environment: MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_')}"
                f", MALLOC_TRIM_THRESHOLD_={os.environ.get('MALLOC_TRIM_THRESHOLD_')}")
    return _malloc_mode['mode']


# ------------------------------------------------------------------ build memory
def _current_rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def _rss_parts() -> Dict[str, int]:
    """Bytes of this process's anonymous and file-backed resident memory (Linux)."""
    parts = {}
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(('RssAnon:', 'RssFile:', 'RssShmem:')):
                key, value = line.split(':', 1)
                parts[key] = int(value.split()[0]) * 1024
    return parts


def _reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark to its current RSS (Linux >= 4.0:
    ``/proc/self/clear_refs``); False where that is not possible."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    """This process's RSS high-water mark: ``VmHWM`` (its own memory map's), else
    ``ru_maxrss``, which also holds the RSS of the process that exec'd it (the kernel keeps
    the old memory map's peak across ``exec``: a subprocess of a large parent starts high)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build_memory(config: str) -> Dict[str, Any]:
    """Host memory of building ``config``'s model in *this* process (meant for a fresh one:
    :func:`measure_build_memory`). Every import happens before the measurement, and the RSS
    high-water mark is reset right before the build.

    Returns ``weights_mb`` (parameter + buffer bytes), ``rss_before_mb``, ``build_peak_mb``
    (the peak RSS after the build, :func:`_peak_rss_bytes`, minus the RSS before it),
    ``ratio`` (build peak / weights), ``growth_mb`` (RSS growth by kind: anonymous, file,
    shared) and ``peak_is_upper_bound`` (the high-water mark could not be reset and the
    process's peak was reached before the build, e.g. by the imports, so the build's own
    peak is at most ``build_peak_mb``).
    """
    from mmpose.registry import MODELS

    from okdhp_mm.utils.config import build_model_from_config, load_config

    cfg = load_config(config)
    MODELS.import_from_location()  # the registry's lazy imports, outside the measurement
    gc.collect()
    reset = _reset_peak_rss()
    max_before = _peak_rss_bytes()
    rss_before, parts_before = _current_rss_bytes(), _rss_parts()
    model = build_model_from_config(cfg)
    max_after = _peak_rss_bytes()
    parts_after = _rss_parts()
    weights = module_bytes(model)
    peak = max_after - rss_before
    return dict(config=str(config), weights_mb=weights / 2 ** 20,
                rss_before_mb=rss_before / 2 ** 20, build_peak_mb=peak / 2 ** 20,
                ratio=peak / weights, peak_is_upper_bound=not reset and max_after <= max_before,
                params=int(sum(p.numel() for p in model.parameters())),
                growth_mb={k: (parts_after.get(k, 0) - v) / 2 ** 20
                           for k, v in parts_before.items()})


def measure_build_memory(config: str, python: str = sys.executable,
                         timeout: float = 900) -> Dict[str, Any]:
    """:func:`build_memory` of ``config`` in a fresh ``python`` interpreter (so nothing built
    earlier in this process counts); raises ``RuntimeError`` with its output if it fails."""
    code = ('import json, sys; from okdhp_mm.analysis.memory import build_memory; '
            'print("BUILD_MEMORY " + json.dumps(build_memory(sys.argv[1])))')
    proc = subprocess.run([python, '-c', code, str(config)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, OMP_NUM_THREADS='1'))
    for line in proc.stdout.splitlines():
        if line.startswith('BUILD_MEMORY '):
            return json.loads(line[len('BUILD_MEMORY '):])
    raise RuntimeError(f'building {config} in a subprocess failed ({proc.returncode}):\n'
                       f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
