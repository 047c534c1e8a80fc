"""Load MMEngine checkpoints with ``torch.load(weights_only=True)``.

torch >= 2.6 loads with ``weights_only=True`` by default, and MMEngine 0.10.7 calls
``torch.load`` without arguments, so every checkpoint MMEngine writes fails to load: its
``meta`` holds numpy arrays and scalars (``dataset_meta``, seeds) and its ``message_hub`` holds
``HistoryBuffer`` objects. Switching the safety off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` or
``weights_only=False``) would let a crafted file run code, so instead we allow-list exactly the
types those checkpoints contain: plain data containers whose unpickling calls no user code.
"""
from __future__ import annotations

import os.path as osp
import pickle
import re
from typing import Any, Callable, List, Optional, Union

import numpy as np
import torch

__all__ = [
    'UnreadableCheckpointError', 'UnsafeCheckpointError', 'enable_safe_checkpoint_loading',
    'safe_globals', 'safe_torch_load'
]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint asks to build an object outside the safe allow-list."""


def _numpy_safe_globals() -> List[Any]:
    """numpy types that appear when arrays, dtypes and scalars are pickled."""
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    items: List[Any] = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    # numpy >= 1.25 pickles dtypes through their per-type classes (np.dtypes.Float64DType ...).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        items += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')
                  and isinstance(getattr(dtypes, n), type)]
    return items


_HISTORY_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})


def _restricted_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while unpickling.

    A ``HistoryBuffer`` pickles its statistics methods by qualified name, which pickle turns
    into ``getattr(HistoryBuffer, 'mean')``. The real ``getattr`` would let a crafted file walk
    from any allowed object to ``os.system``; this one returns only those methods.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    # The class registry fills on first instantiation; the four built-ins are always there.
    allowed = _HISTORY_STATISTICS | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise UnsafeCheckpointError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only the statistics methods of '
        f'HistoryBuffer ({sorted(allowed)}) may be looked up')


def safe_globals() -> List[Any]:
    """Every global that an MMEngine/MMPose checkpoint needs beyond torch's defaults."""
    from mmengine.logging.history_buffer import HistoryBuffer

    # HistoryBuffer is a plain container: its state is numpy arrays, ints and its statistics
    # methods (looked up through _restricted_getattr); its __setstate__ only stores them.
    return _numpy_safe_globals() + [HistoryBuffer]


class UnreadableCheckpointError(ValueError):
    """A checkpoint file that cannot be read: truncated (an interrupted write), empty, or not
    a PyTorch checkpoint at all."""

    def __init__(self, filename: Any, reason: str):
        self.filename, self.reason = filename, reason
        super().__init__(f'checkpoint {filename} is unreadable (truncated or not a PyTorch '
                         f'checkpoint): {reason}')


# What torch's weights-only unpickler says of a pickle that is no torch checkpoint format.
_NOT_TORCH_FORMAT = 'Unsupported operand'
# torch words the refusal in two ways: an unknown global, or one from a blocked module (os).
_UNSUPPORTED_GLOBAL = re.compile(r'(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)')


def safe_torch_load(filename: Union[str, Any],
                    map_location: Optional[Union[str, torch.device, Callable]] = None) -> Any:
    """``torch.load(filename, weights_only=True)`` with a clear error for unsafe files.

    Raises:
        UnsafeCheckpointError: the file asks for a global outside the allow-list (for
            example ``os.system`` in a crafted checkpoint); it is refused, never executed.
    """
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if _NOT_TORCH_FORMAT in str(err):  # a pickle torch cannot read at all: no checkpoint
            raise UnreadableCheckpointError(filename, 'not a PyTorch checkpoint') from None
        found = _UNSUPPORTED_GLOBAL.search(str(err))
        what = found.group(1) if found else 'an object outside the allow-list'
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        detail = '' if found else f' ({lines[-2] if len(lines) > 1 else lines[-1]})'
        raise UnsafeCheckpointError(
            f'Refused to load checkpoint {filename!r}: it asks to build {what}{detail}, which '
            'is not a tensor, a container or one of the numpy/MMEngine types okdhp_mm '
            'allow-lists (okdhp_mm.utils.safe_checkpoint.safe_globals). Loading it could run '
            'code, so it is not loaded. If you trust the file and know what it contains, '
            'convert it yourself into a checkpoint of tensors and plain data.') from err
    except (RuntimeError, OSError, EOFError, KeyError, ValueError, IndexError) as err:
        # A truncated zip (an interrupted write), an empty file, text: torch's readers fail
        # deep inside with messages that name no file ("[Errno 22] Invalid argument").
        if isinstance(err, FileNotFoundError):
            raise
        reason = f'{type(err).__name__}: {err}' if str(err) else 'the file ends too early'
        raise UnreadableCheckpointError(filename, reason) from None


def _load_from_local(filename: str, map_location=None) -> Any:
    """MMEngine's local-file loader, with weights_only=True kept on."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return safe_torch_load(filename, map_location=map_location)


_ENABLED = False


def enable_safe_checkpoint_loading() -> None:
    """Allow-list the safe checkpoint types and route MMEngine's local loads through them.

    Idempotent. Called when ``okdhp_mm`` is imported, so ``mim test -C ckpt.pth``,
    ``load_from`` and ``resume`` work in any config with our ``custom_imports``.
    """
    global _ENABLED
    if _ENABLED:
        return
    torch.serialization.add_safe_globals(
        safe_globals() + [(_restricted_getattr, 'builtins.getattr')])
    from mmengine.runner.checkpoint import CheckpointLoader

    # Same prefix ('') as MMEngine's own loader for local paths; force replaces it.
    CheckpointLoader.register_scheme(prefixes='', force=True)(_load_from_local)
    _ENABLED = True
