"""Record what one module outputs during a forward (how distillers read intermediate maps)."""
from __future__ import annotations

from typing import List

from torch import Tensor, nn

__all__ = ['ModuleOutputRecorder']


class ModuleOutputRecorder:
    """Records the output of ``module`` while active (a forward hook, removed on exit).

    Multi-stage outputs (lists/tuples) are recorded as their last stage, the final map.

    Example::

        with ModuleOutputRecorder(model.head.final_layer, 'student', 'head.final_layer') as rec:
            losses = model.loss(inputs, data_samples)
        logits = rec.single()
    """

    def __init__(self, module: nn.Module, role: str, path: str):
        self.module, self.role, self.path = module, role, path
        self.outputs: List[Tensor] = []
        self._handle = None

    def _hook(self, module, args, output):
        if isinstance(output, (list, tuple)):
            output = output[-1]
        self.outputs.append(output)

    def __enter__(self) -> 'ModuleOutputRecorder':
        self.outputs = []
        self._handle = self.module.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc) -> None:
        self._handle.remove()
        self._handle = None

    def single(self) -> Tensor:
        """The one recorded output; an error when the module ran another number of times."""
        if len(self.outputs) != 1:
            raise RuntimeError(
                f'{self.role} source {self.path!r} ran {len(self.outputs)} times in one step; '
                'the distiller needs exactly one output per step (point the source at a '
                'module that runs once per forward)')
        return self.outputs[0]
