"""Hand a batch normalised for one model to a model that normalises differently."""
from __future__ import annotations

from typing import Mapping, Optional, Tuple

import torch
from mmpose.registry import MODELS
from torch import Tensor

__all__ = ['InputConverter', 'preprocessor_normalisation']


def preprocessor_normalisation(dp_cfg: Optional[Mapping]
                               ) -> Optional[Tuple[Tensor, Tensor, bool]]:
    """(mean, std, swap channels) of an ``ImgDataPreprocessor`` config, read from the config
    (so it also works for models built on the meta device); None for other preprocessors."""
    from mmengine.model import BaseDataPreprocessor, ImgDataPreprocessor

    cls = MODELS.get(dp_cfg.get('type', 'BaseDataPreprocessor')) if dp_cfg else \
        BaseDataPreprocessor
    identity = torch.zeros(1, 1, 1, device='cpu'), torch.ones(1, 1, 1, device='cpu')
    if cls is BaseDataPreprocessor:  # what BaseModel builds for data_preprocessor=None
        return (*identity, False)
    if cls is None or not issubclass(cls, ImgDataPreprocessor):
        return None
    mean, std = dp_cfg.get('mean'), dp_cfg.get('std')
    if mean is None or std is None:  # ImgDataPreprocessor normalises only with both
        mean, std = identity
    else:
        mean = torch.tensor(list(mean), dtype=torch.float32, device='cpu').view(-1, 1, 1)
        std = torch.tensor(list(std), dtype=torch.float32, device='cpu').view(-1, 1, 1)
    swap = bool(dp_cfg.get('bgr_to_rgb', False) or dp_cfg.get('rgb_to_bgr', False))
    return mean, std, swap


class InputConverter:
    """Re-normalises a batch preprocessed with ``source_cfg`` for a model with ``target_cfg``.

    ``raw = x * std_s + mean_s`` (in the source's channel order), then ``(raw' - mean_t) /
    std_t`` with the channels swapped when exactly one of the two swaps them.
    ``identity`` is True when both normalise alike (the batch is then passed as it is).

    Raises:
        ValueError: the two differ and one of them is not an ``ImgDataPreprocessor``.
    """

    def __init__(self, source_cfg: Optional[Mapping], target_cfg: Optional[Mapping],
                 what: str = 'teacher'):
        s_norm = preprocessor_normalisation(source_cfg)
        t_norm = preprocessor_normalisation(target_cfg)
        self.identity = True
        if s_norm is None or t_norm is None:
            if source_cfg != target_cfg:
                raise ValueError(f'{what} data_preprocessor {target_cfg!r} differs from the '
                                 f'student\'s {source_cfg!r} and is not an ImgDataPreprocessor '
                                 'whose normalisation can be converted')
            return
        (sm, ss, sswap), (tm, ts, tswap) = s_norm, t_norm
        if sswap == tswap and sm.shape == tm.shape and torch.equal(sm, tm) and \
                torch.equal(ss, ts):
            return
        self.identity = False
        self._source = (sm, ss)
        self._target = (tm, ts)
        self._swap = sswap != tswap

    def __call__(self, inputs: Tensor) -> Tensor:
        if self.identity:
            return inputs
        (sm, ss), (tm, ts) = ((t.to(inputs.device) for t in pair)
                              for pair in (self._source, self._target))
        raw = inputs * ss + sm
        if self._swap:
            raw = raw.flip(1)
        return (raw - tm) / ts
