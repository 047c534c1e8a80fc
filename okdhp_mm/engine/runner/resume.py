"""Which checkpoint ``--resume`` should continue from, when the newest one cannot be read.

MMEngine resumes from the checkpoint ``last_checkpoint`` names. A process killed while that
checkpoint was written leaves it truncated, and resuming then dies inside ``torch.load`` with
``OSError: [Errno 22] Invalid argument``, naming no file. :func:`resolve_resume_checkpoint`
checks the named checkpoint first; when it is unreadable it warns (naming it and why) and
picks the newest readable ``epoch_*.pth`` / ``iter_*.pth`` of the work dir instead.
"""
from __future__ import annotations

import glob
import logging
import os.path as osp
import re
import warnings
from typing import List, Optional

from mmengine.logging import print_log

__all__ = ['NoReadableCheckpointError', 'resolve_resume_checkpoint', 'unreadable_reason']


_MISSING = 'the file does not exist'


class NoReadableCheckpointError(RuntimeError):
    """``--resume`` was asked for, and no checkpoint of the work dir can be read."""


def unreadable_reason(path: str) -> Optional[str]:
    """Why ``path`` cannot be loaded as a checkpoint, or None when it can."""
    from okdhp_mm.utils.safe_checkpoint import UnreadableCheckpointError, safe_torch_load

    if not osp.isfile(path):
        return _MISSING
    try:
        safe_torch_load(path, map_location='cpu')
    except UnreadableCheckpointError as err:
        return err.reason
    return None


def _describe(path: str, why: str) -> str:
    if why == _MISSING:
        return f'checkpoint {path} does not exist'
    return f'checkpoint {path} is unreadable (truncated or not a PyTorch checkpoint): {why}'


def _candidates(work_dir: str) -> List[str]:
    """The work dir's epoch/iteration checkpoints, newest (highest step) first."""
    found = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        m = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', osp.basename(path))
        if m:
            found.append((int(m.group(2)), osp.getmtime(path), path))
    return [p for _, _, p in sorted(found, reverse=True)]


def resolve_resume_checkpoint(runner) -> Optional[str]:
    """On ``--resume``: the checkpoint to resume from, set as ``runner``'s ``load_from``.

    Resolved once per runner (the first hook to ask does it). Returns None when the run does
    not resume.

    Raises:
        NoReadableCheckpointError: no checkpoint of the work dir can be read.
    """
    if not runner._resume:
        return None
    if getattr(runner, '_okdhp_resume_checked', False):
        return runner._load_from
    from mmengine.runner.checkpoint import find_latest_checkpoint

    named = runner._load_from or find_latest_checkpoint(runner.work_dir)
    tried = []
    for path in ([named] if named else []) + [p for p in _candidates(runner.work_dir)
                                               if p != named]:
        why = unreadable_reason(path)
        if why is None:
            if tried:
                message = (f'resume: {_describe(*tried[0])}; resuming from {path}, the newest '
                           f'readable checkpoint of {runner.work_dir}')
                warnings.warn(message)
                print_log(message, logger='current', level=logging.WARNING)
            runner._load_from = path
            runner._okdhp_resume_checked = True
            return path
        tried.append((path, why))
    if not tried:
        return None  # nothing to resume from: MMEngine starts afresh (and says so)
    listing = '; '.join(f'{p} ({why})' for p, why in tried)
    raise NoReadableCheckpointError(f'--resume: no checkpoint in {runner.work_dir} can be read: '
                                    f'{listing}. Start without --resume, or restore a '
                                    'checkpoint')
