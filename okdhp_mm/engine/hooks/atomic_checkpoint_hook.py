"""Checkpoints that an interrupted write cannot corrupt, and a resume that survives one.

MMEngine writes a checkpoint in place (``torch.save`` into a buffer, then one write of the
target file), updates ``last_checkpoint`` with a plain ``open(..., 'w')``, and deletes the
checkpoints beyond ``max_keep_ckpts`` *before* it writes the new one. A process killed during
the write (preemption, ``kill -9``, a full disk) leaves a truncated newest checkpoint, maybe no
older one, and a ``--resume`` that dies in ``torch.load``. :class:`AtomicCheckpointHook` is
MMEngine's ``CheckpointHook`` with each of these writes atomic -- a temporary file in the same
folder, flushed and fsynced, renamed over the target -- ``last_checkpoint`` updated only after
the rename, and the old checkpoints removed only after the new one is in place; on
``--resume`` it resumes from the newest readable checkpoint
(:func:`~okdhp_mm.engine.runner.resume.resolve_resume_checkpoint`). Every recipe we ship sets::

    default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook', ...))
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
from typing import Callable, Iterator

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmpose.registry import HOOKS

from ..runner.resume import resolve_resume_checkpoint

__all__ = ['AtomicCheckpointHook', 'atomic_write']


@contextlib.contextmanager
def atomic_write(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over
    ``path`` (then fsync the folder), on failure remove it. Readers see the old file or the
    whole new one, never a part."""
    folder, name = osp.split(osp.abspath(path))
    tmp = osp.join(folder, f'.{name}.tmp-{os.getpid()}')
    try:
        yield tmp
        with open(tmp, 'rb') as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _atomic_save(save: Callable) -> Callable:
    """``runner.save_checkpoint`` writing through :func:`atomic_write` (local folders)."""
    def save_checkpoint(out_dir, filename, *args, **kwargs):
        if '://' in str(out_dir):  # remote backends: their own semantics
            return save(out_dir, filename, *args, **kwargs)
        target = osp.join(out_dir, filename)
        with atomic_write(target) as tmp:
            save(osp.dirname(tmp), osp.basename(tmp), *args, **kwargs)

    save_checkpoint.okdhp_atomic = True
    return save_checkpoint


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` (same arguments) with atomic writes and a resume that
    falls back to the newest readable checkpoint (see the module docstring)."""

    def before_run(self, runner) -> None:
        resolve_resume_checkpoint(runner)
        # Every checkpoint the runner writes (this hook's, save_best's) goes through here.
        if not getattr(runner.save_checkpoint, 'okdhp_atomic', False):
            runner.save_checkpoint = _atomic_save(runner.save_checkpoint)
        super().before_run(runner)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        # MMEngine's order is prune, write, point; ours is write, point, prune, so that a
        # kill at any moment leaves the previous checkpoint (and last_checkpoint) valid.
        self._save_without_last_checkpoint(runner, step, meta)
        if is_main_process():
            with atomic_write(osp.join(runner.work_dir, 'last_checkpoint')) as tmp:
                with open(tmp, 'w') as f:
                    f.write(self.last_ckpt)
        if self.max_keep_ckpts > 0:
            self._prune(runner, step, self.max_keep_ckpts)

    def _save_without_last_checkpoint(self, runner, step, meta) -> None:
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)

    def _prune(self, runner, step, keep: int) -> None:
        """Keep the ``keep`` newest step checkpoints, the new one included (MMEngine's
        bookkeeping in ``keep_ckpt_ids``, a deque of at most ``keep``)."""
        ids = self.keep_ckpt_ids
        if ids and ids[-1] == step:  # _save_checkpoint and _save_best_checkpoint, one step
            return
        while len(ids) >= keep:
            old = ids.popleft()
            if is_main_process():
                path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
                if self.file_backend.isfile(path):
                    self.file_backend.remove(path)
                elif self.file_backend.isdir(path):
                    self.file_backend.rmtree(path)
        ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(ids))
