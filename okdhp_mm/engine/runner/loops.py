"""A training loop that resumes mid-epoch where the checkpoint was written.

MMEngine's ``EpochBasedTrainLoop`` restores ``epoch`` and ``iter`` from a checkpoint but then
runs the interrupted epoch from its first batch again: after a run saved every ``n`` iterations
(``default_hooks.checkpoint=dict(by_epoch=False, interval=n)``) is killed mid-epoch and
restarted with ``--resume``, the batches already trained are trained a second time, the
iteration counter runs past ``max_iters`` and every later loss differs from an uninterrupted
run's. (``IterBasedTrainLoop`` skips the consumed batches; the epoch loop does not.)

:class:`ResumableEpochBasedTrainLoop` skips, in the resumed epoch, the batches the checkpoint
had already consumed (``iter - epoch * len(dataloader)``), so the resumed run sees the same
batches, learning rates and KL-ramp epoch as an uninterrupted one. The sampler order is
reproduced because ``DistSamplerSeedHook`` sets the same epoch seed again; the skipped batches
are read (not trained), as ``IterBasedTrainLoop`` does. Use it with::

    train_cfg = dict(_delete_=True, type='ResumableEpochBasedTrainLoop', max_epochs=210,
                     val_interval=10)

Random data augmentation is not replayed exactly: MMEngine checkpoints hold no RNG state.
"""
from __future__ import annotations

from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from mmpose.registry import LOOPS

__all__ = ['ResumableEpochBasedTrainLoop']


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that continues a resumed epoch at the next unseen batch."""

    def run_epoch(self) -> None:
        done = self._iter - self._epoch * len(self.dataloader)
        if done <= 0:
            return super().run_epoch()
        print_log(f'Resuming epoch {self._epoch + 1} after its first {done} of '
                  f'{len(self.dataloader)} batches (already trained before the checkpoint): '
                  'skipping them', logger='current')
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        for idx, data_batch in enumerate(self.dataloader):
            if idx < done:
                continue
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
