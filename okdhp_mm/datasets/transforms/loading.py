"""Image loading that skips unreadable files during training instead of stopping it.

MMPose's ``LoadImage`` stops training on the first image it cannot decode: a corrupt or
truncated-to-garbage file makes ``mmcv.imfrombytes`` return ``None`` and
``LoadImageFromFile`` fails with ``AssertionError: failed to load image`` -- even with
``ignore_empty=True``, which only covers missing files. :class:`LoadImageOrSkip` is the same
transform but hands back ``None`` (with a warning naming the file) for an image that is
missing, empty or undecodable; MMEngine's ``BaseDataset`` then fetches another sample in
training, as it does for any transform that returns ``None``. In ``test_mode`` (validation,
testing) MMEngine still refuses a ``None`` sample, so an unreadable image is never silently
left out of an evaluation. Use it in the training pipeline::

    train_pipeline = [dict(type='LoadImageOrSkip'), dict(type='GetBBoxCenterScale'), ...]
"""
from __future__ import annotations

import logging
import warnings
from typing import Optional

from mmengine.logging import print_log
from mmpose.datasets.transforms import LoadImage
from mmpose.registry import TRANSFORMS

__all__ = ['LoadImageOrSkip', 'UnreadableImageWarning']


class UnreadableImageWarning(UserWarning):
    """An image could not be read and its sample was skipped."""


@TRANSFORMS.register_module()
class LoadImageOrSkip(LoadImage):
    """MMPose ``LoadImage`` that skips (returns ``None`` for) unreadable images with a warning.

    Args: as :class:`mmpose.datasets.transforms.LoadImage`.

    Attributes:
        skipped (dict): path -> reason of every image skipped by this process so far.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.skipped = {}

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path')
        try:
            out = super().transform(results)
            reason = None if out is not None else 'missing or empty file'
        except Exception as err:  # noqa: BLE001 - any decoding failure skips the sample
            out, reason = None, f'{type(err).__name__}: {err}'
        if out is None:
            if path not in self.skipped:  # warn once per file and process
                self.skipped[path] = reason
                message = f'LoadImageOrSkip: skipping unreadable image {path!r} ({reason})'
                warnings.warn(message, UnreadableImageWarning)
                print_log(message, logger='current', level=logging.WARNING)
            return None
        return out
