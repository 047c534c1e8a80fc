"""Values a module reports for the training log (not losses: MMEngine logs, never sums them)."""
from __future__ import annotations

from typing import Dict, Protocol, runtime_checkable

from torch import Tensor, nn

__all__ = ['ReportsLogVars', 'collect_log_vars']


@runtime_checkable
class ReportsLogVars(Protocol):
    """A module whose last forward produced values worth logging (as tensors, so that reading
    them costs no host synchronisation)."""

    def log_vars(self) -> Dict[str, Tensor]:
        ...


def collect_log_vars(model: nn.Module, prefix: str) -> Dict[str, Tensor]:
    """``{prefix + name: value}`` of every :class:`ReportsLogVars` submodule of ``model``.

    The names must not contain ``'loss'`` (MMEngine would add them to the total loss).
    """
    out = {}
    for module in model.modules():
        if isinstance(module, ReportsLogVars):
            for name, value in module.log_vars().items():
                key = f'{prefix}{name}'
                if 'loss' in key:
                    raise ValueError(f'log value {key!r} of {type(module).__name__} contains '
                                     '"loss": MMEngine would sum it into the loss')
                out[key] = value
    return out
