"""Resume: a run killed mid-epoch and restarted with ``resume`` continues like an uninterrupted
run -- same batches, losses, learning rates, KL-ramp epoch and logged (smoothed) scalars.

Setup: the tiny OKDHP sample config with a fast shared-encoder model, 12 instances, batch 4
(3 iterations per epoch), 3 epochs, KL ramp over 3 epochs (the weight changes every epoch),
Adam with an iteration-based linear warm-up, sampler shuffling on (``DistSamplerSeedHook``
re-seeds it per epoch), no random augmentation (MMEngine checkpoints hold no RNG state, so
random augmentation cannot be replayed after a resume). The interrupted run checkpoints every
2 iterations and is stopped by an exception after iteration 5 (in the 2nd epoch); the restart
resumes from ``iter_4.pth`` like ``tools/train.py --resume`` (``resume=True``: the latest
checkpoint of the work dir).

MMEngine's ``EpochBasedTrainLoop`` restarts the interrupted epoch from its first batch
(``test_mmengine_epoch_loop_replays_the_interrupted_epoch``);
``okdhp_mm.engine.ResumableEpochBasedTrainLoop`` continues it where the checkpoint was taken.
The loop in the configs and exports: tests/test_engine/test_runner/test_resumable_loop.py.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import torch

from helpers.training import (RESUMABLE_LOOP, RESUME_EPOCHS, load_records, read_scalars,
                              resume_overrides, save_init_checkpoint, train_in_process,
                              write_config)

pytestmark = pytest.mark.usefixtures('one_thread')

MAX_EPOCHS, ITERS_PER_EPOCH, CKPT_INTERVAL, CRASH_AFTER = RESUME_EPOCHS, 3, 2, 5
PLAIN = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=MAX_EPOCHS,
             val_interval=100)
COMPARED = ['loss', 'loss_gt_b0', 'loss_kd_b0', 'loss_gt_b1', 'loss_kd_b1', 'loss_gt_b2',
            'loss_kd_b2', 'loss_gt_ens', 'kd_weight']


def _ckpt_hook(interval=CKPT_INTERVAL):
    return dict(_delete_=True, type='CheckpointHook', interval=interval, by_epoch=False)


def _new_log_dir(work: Path, before: set) -> Path:
    new = sorted(set(work.iterdir()) - before)
    new = [d for d in new if d.is_dir() and (d / 'vis_data').is_dir()]
    assert len(new) == 1, new
    return new[0]


@pytest.fixture(scope='module')
def runs(tmp_path_factory, samples):
    """The uninterrupted run and the killed one (its work dir holds iter_2/iter_4.pth)."""
    tmp = tmp_path_factory.mktemp('resume')
    full = write_config(tmp / 'full.py', resume_overrides(samples, RESUMABLE_LOOP),
                        recorder=dict(out_dir=str(tmp), tag='full'))
    # PyTorch's default initialisation: branch heatmaps differ, the KD terms are not ~0
    init = str(save_init_checkpoint(full, tmp / 'init.pth'))
    train_in_process(full, tmp / 'full', load_from=init)
    killed = write_config(tmp / 'killed.py',
                          resume_overrides(samples, RESUMABLE_LOOP, _ckpt_hook()),
                          recorder=dict(out_dir=str(tmp), tag='killed',
                                        crash_after=CRASH_AFTER))
    with pytest.raises(RuntimeError, match='simulated kill after iteration 5'):
        train_in_process(killed, tmp / 'killed', load_from=init)
    assert sorted(p.name for p in (tmp / 'killed').glob('iter_*.pth')) == [
        'iter_2.pth', 'iter_4.pth']
    full_dir = _new_log_dir(tmp / 'full', set())
    return dict(tmp=tmp, samples=samples, full=load_records(tmp / 'full_rank0.pt'),
                full_scalars=read_scalars(full_dir), killed=load_records(tmp / 'killed_rank0.pt'))


def _resume(runs, name, train_cfg, monkeypatch=None):
    """Copy the killed run's work dir and resume in it (auto: its latest checkpoint)."""
    tmp = runs['tmp']
    work = tmp / name
    shutil.copytree(tmp / 'killed', work)
    before = set(work.iterdir())
    time.sleep(1.1)  # a new timestamped log dir, not the killed run's
    cfg = write_config(tmp / f'{name}.py',
                       resume_overrides(runs['samples'], train_cfg, _ckpt_hook()),
                       recorder=dict(out_dir=str(tmp), tag=name))
    train_in_process(cfg, work, resume=True)
    return load_records(tmp / f'{name}_rank0.pt'), read_scalars(_new_log_dir(work, before))


def test_uninterrupted_reference_run_is_what_we_think(runs):
    full = runs['full']
    assert [r['iter'] for r in full] == list(range(MAX_EPOCHS * ITERS_PER_EPOCH))
    # the KL ramp moves every epoch (epochs 0, 1, 2 of a 3-epoch ramp) and the KD terms count
    assert min(r['losses']['loss_kd_b0'] for r in full) > 1e-5
    weights = sorted({round(r['losses']['kd_weight'], 6) for r in full})
    assert len(weights) == 3 and all(0 < w < 1 for w in weights)
    assert [r['hub_epoch'] for r in full] == [i // ITERS_PER_EPOCH for i in range(9)]
    # ... shuffling gives each epoch another order, and the warm-up another lr per iteration
    orders = [tuple(sum((full[i]['ids'] for i in range(e * 3, e * 3 + 3)), []))
              for e in range(MAX_EPOCHS)]
    assert len(set(orders)) == MAX_EPOCHS and len({o for o in map(frozenset, orders)}) == 1
    assert len({r['lr'] for r in full[:6]}) == 6  # (recorded after the scheduler step)
    # the killed run is the same run up to the kill
    assert [r['losses'] for r in runs['killed']] == [r['losses'] for r in full[:CRASH_AFTER]]


def test_resume_mid_epoch_continues_like_the_uninterrupted_run(runs, monkeypatch):
    """Resumable loop: iterations 5..9 after resuming from iter_4.pth equal the reference."""
    import okdhp_mm.utils.safe_checkpoint as safe

    loaded, torch_loads = [], []
    real_safe, real_torch_load = safe.safe_torch_load, torch.load

    def spy_safe(filename, map_location=None):
        loaded.append(str(filename))
        return real_safe(filename, map_location=map_location)

    def spy_torch_load(*args, **kwargs):
        torch_loads.append(kwargs.get('weights_only'))
        return real_torch_load(*args, **kwargs)

    monkeypatch.setattr(safe, 'safe_torch_load', spy_safe)
    monkeypatch.setattr(torch, 'load', spy_torch_load)
    resumed, scalars = _resume(runs, 'resumed', RESUMABLE_LOOP)
    monkeypatch.undo()

    # the checkpoint came through our loader, with weights_only=True
    assert [Path(p).name for p in loaded] == ['iter_4.pth']
    assert torch_loads and all(w is True for w in torch_loads), torch_loads

    full = runs['full']
    assert [r['iter'] for r in resumed] == list(range(4, 9))
    for rec in resumed:
        ref = full[rec['iter']]
        assert rec['ids'] == ref['ids'], rec['iter']            # same batch
        assert rec['epoch'] == ref['epoch'] and rec['hub_epoch'] == ref['hub_epoch']
        assert rec['lr'] == pytest.approx(ref['lr'], rel=1e-12)
        for key in COMPARED:                                      # same losses, KD ramp weight
            assert rec['losses'][key] == pytest.approx(ref['losses'][key], rel=1e-6,
                                                       abs=1e-9), (rec['iter'], key)
    # what the user reads: the logged (window-smoothed) scalars after the resume equal the
    # uninterrupted run's, so the message hub history came back from the checkpoint too
    ref_scalars = runs['full_scalars']
    assert sorted(scalars) == list(range(5, 10))
    for step, entry in scalars.items():
        for key in COMPARED + ['lr', 'epoch', 'iter']:
            assert entry[key] == pytest.approx(ref_scalars[step][key], rel=1e-6, abs=1e-9), (
                step, key)


def test_mmengine_epoch_loop_replays_the_interrupted_epoch(runs):
    """Why ResumableEpochBasedTrainLoop exists: MMEngine 0.10.7's EpochBasedTrainLoop
    restarts epoch 2 from its first batch after resuming from iter_4.pth, so the batches
    of iterations 3-4 are trained twice and every later loss differs from the reference."""
    resumed, _ = _resume(runs, 'resumed_plain', PLAIN)
    full = runs['full']
    assert [r['iter'] for r in resumed] == list(range(4, 10))  # one iteration too many
    assert resumed[0]['ids'] == full[3]['ids'] != full[4]['ids']  # epoch 2, batch 0 again
