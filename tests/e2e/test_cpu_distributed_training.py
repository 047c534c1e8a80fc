"""Distributed training on the CPU: MMEngine's pytorch launcher with 2 gloo processes.

``torchrun --standalone --nproc_per_node 2 mmpose/.mim/tools/train.py CFG --launcher pytorch
--cfg-options env_cfg.dist_cfg.backend=gloo`` trains OKDHP (and the HHD distiller), and the
first iterations' losses (mean of the two ranks) and all-reduced gradients equal those of one
process on the same global batch.

Determinism: both runs start from one saved initialisation (``load_from``), read the same 12
instances in the same order (no augmentation, ``shuffle=False``; rank r gets instances
r, r+2, ... so each 2+2 global batch is the single process's batch of 4), and optimise with
plain SGD (Adam's first step is lr * sign(grad), which turns last-bit differences of
near-zero gradients into lr-sized ones). BatchNorm: torch's SyncBatchNorm only runs on GPUs
(see ``test_torch_syncbn_is_gpu_only_on_this_torch``), and with per-process batch statistics a
2-process run *should* differ from one process, so every BatchNorm is kept in eval mode
(running statistics) during these comparisons; everything else trains as configured.

What needs no processes (launcher errors, SyncBN conversion, unused parameters):
tests/test_engine/test_runner/test_cpu_distributed.py.
"""
from __future__ import annotations

import copy
import math

import pytest
import torch
from mmengine.config import Config

from helpers.builders import int_codec, tiny_distiller_cfg
from helpers.paths import VENV_BIN, run_cmd
from helpers.training import (LOSS_KEYS_OKDHP, TRAIN_PY, load_records, okdhp_overrides,
                              save_init_checkpoint, train_in_process, write_config)

pytestmark = pytest.mark.usefixtures('one_thread')

SGD = dict(optimizer=dict(_delete_=True, type='SGD', lr=0.05, momentum=0.0))
GRAD_ITERS = 1  # rank 0 stores full gradients (72 MB per iteration for the hourglass)


def _torchrun_train(cfg, work, tmp_path, extra_options=()):
    return run_cmd(
        [VENV_BIN / 'torchrun', '--standalone', '--nproc_per_node', '2', TRAIN_PY, cfg,
         '--launcher', 'pytorch', '--work-dir', work, '--cfg-options',
         'env_cfg.dist_cfg.backend=gloo', *extra_options],
        env={'PYTHONPATH': str(tmp_path), 'OMP_NUM_THREADS': '1'}, timeout=600)


def _compare_runs(ddp_dir, one_dir, loss_keys, n_iters):
    r0, r1 = (load_records(ddp_dir / f'run_rank{r}.pt') for r in (0, 1))
    one = load_records(one_dir / 'run_rank0.pt')
    assert len(r0) == len(r1) == len(one) == n_iters, (len(r0), len(r1), len(one))
    worst = {}
    for i, (a, b, s) in enumerate(zip(r0, r1, one)):
        # Same global batch: the two halves make up the single process's batch.
        assert len(a['ids']) == len(b['ids']) and sorted(a['ids'] + b['ids']) == sorted(s['ids'])
        for key in loss_keys:
            ddp = 0.5 * (a['losses'][key] + b['losses'][key])
            assert math.isfinite(ddp), (i, key)
            # float32, other reduction orders (2+2 vs 4 samples): ~1e-7 relative on the GT
            # terms; the KD terms (KL of nearly equal maps, ~1e-3) cancel and are good to
            # ~3e-8 absolute
            assert ddp == pytest.approx(s['losses'][key], rel=1e-5, abs=1e-7), (i, key)
            worst[key] = max(worst.get(key, 0.0),
                             abs(ddp - s['losses'][key]) / max(abs(s['losses'][key]), 1e-12))
        if i >= GRAD_ITERS:
            continue
        fa, fb, fs = (r['grads']['fingerprint'] for r in (a, b, s))
        ga, gs = a['grads']['grads'], s['grads']['grads']
        assert fa.keys() == fb.keys() == fs.keys() == ga.keys() == gs.keys()
        unused = sorted(n for n, g in gs.items() if g is None)
        assert not unused, f'parameters without gradient (unused): {unused[:5]}'
        unused = sorted(n for n, g in ga.items() if g is None)
        assert not unused, f'parameters without gradient under DDP: {unused[:5]}'
        # DDP's all-reduce leaves the same averaged gradient on every rank ...
        assert fa == fb
        for name, g_single in gs.items():
            # ... and it is the single process's full-batch gradient.
            scale = g_single.abs().max().item()
            torch.testing.assert_close(ga[name], g_single, rtol=1e-4, atol=1e-5 * scale + 1e-12,
                                       msg=lambda m, n=name: f'{n}: {m}')
            err = (ga[name] - g_single).norm().item() / max(g_single.norm().item(), 1e-30)
            worst['grad'] = max(worst.get('grad', 0.0), err)
    return worst


@pytest.mark.slow
def test_okdhp_trains_with_two_gloo_processes_like_one_process(tmp_path, samples):
    """tools/train.py under torchrun, 2 CPU processes, no find_unused_parameters."""
    ddp_dir, one_dir = tmp_path / 'ddp', tmp_path / 'one'
    ddp_dir.mkdir(), one_dir.mkdir()
    base = okdhp_overrides(samples, batch_size=2, kd_ramp_epochs=0)  # KD weight 1 at once
    base.update(optim_wrapper=SGD, train_cfg=dict(max_epochs=1))
    # the tiny config's layout (1 shared + 3 x 1 stacks, shared CPM head, light FAU) with
    # narrower stacks: 10M instead of 18M parameters (the 256-channel stem stays)
    base['model']['backbone'] = dict(downsample_times=1, stage_channels=(256, 16),
                                     stage_blocks=(1, 1), feat_channel=16)
    base['model']['head'].update(shared_head=dict(in_channels=16))
    base['model']['head']['branches']['in_channels'] = 16
    cfg_ddp = write_config(tmp_path / 'ddp.py', base, recorder=dict(
        out_dir=str(ddp_dir), grad_iters=GRAD_ITERS, bn_eval=True))
    init = save_init_checkpoint(cfg_ddp, tmp_path / 'init.pth')
    proc = _torchrun_train(cfg_ddp, ddp_dir / 'work', tmp_path, [f'load_from={init}'])
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log and 'Epoch(train) [1][3/3]' in log, log[-3000:]
    cfg = Config.fromfile(str(cfg_ddp), import_custom_modules=False)
    # Plain MMDistributedDataParallel with DDP's default find_unused_parameters=False: three
    # iterations passed (an unused parameter fails the second one), and every parameter got a
    # gradient (checked in _compare_runs).
    assert cfg.get('find_unused_parameters') is None and cfg.get('model_wrapper_cfg') is None

    one = dict(base, train_dataloader=dict(base['train_dataloader'], batch_size=4))
    cfg_one = write_config(tmp_path / 'one.py', one, recorder=dict(
        out_dir=str(one_dir), grad_iters=GRAD_ITERS, bn_eval=True))
    train_in_process(cfg_one, one_dir / 'work', load_from=str(init))

    worst = _compare_runs(ddp_dir, one_dir, LOSS_KEYS_OKDHP, n_iters=3)
    print('largest relative loss difference DDP vs one process:', worst)


# ---------------------------------------------------------------------------- HHD distiller
@pytest.mark.slow
def test_hhd_distiller_trains_with_two_gloo_processes_like_one_process(tmp_path, samples):
    """HHD TeacherStudentDistiller (frozen teacher, DSNT student) under the same launcher."""
    ddp_dir, one_dir = tmp_path / 'ddp', tmp_path / 'one'
    ddp_dir.mkdir(), one_dir.mkdir()
    size, hm = (32, 32), (8, 8)
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=size),
                dict(type='GenerateTarget', encoder=int_codec(size, hm)),
                dict(type='PackPoseInputs')]
    base = okdhp_overrides(samples, batch_size=2, pipeline=pipeline)
    base.update(model=tiny_distiller_cfg(size, hm), optim_wrapper=SGD,
                train_cfg=dict(max_epochs=1))
    cfg_ddp = write_config(tmp_path / 'ddp.py', base, recorder=dict(
        out_dir=str(ddp_dir), grad_iters=GRAD_ITERS, bn_eval=True))
    init = save_init_checkpoint(cfg_ddp, tmp_path / 'init.pth')
    _torchrun_train(cfg_ddp, ddp_dir / 'work', tmp_path, [f'load_from={init}'])

    one = copy.deepcopy(base)
    one['train_dataloader']['batch_size'] = 4
    cfg_one = write_config(tmp_path / 'one.py', one, recorder=dict(
        out_dir=str(one_dir), grad_iters=GRAD_ITERS, bn_eval=True))
    train_in_process(cfg_one, one_dir / 'work', load_from=str(init))

    records = load_records(ddp_dir / 'run_rank0.pt')
    assert {'loss', 'loss_kpt', 'loss_hhd'} <= set(records[0]['losses'])
    # Teacher parameters are frozen: DDP neither needs nor sees gradients for them.
    assert not any(n.startswith('teachers.') for n in records[0]['grads'])
    _compare_runs(ddp_dir, one_dir, ['loss', 'loss_kpt', 'loss_hhd'], n_iters=3)


# ---------------------------------------------------------------------------- SyncBatchNorm
SYNCBN_PROBE = '''
import torch, torch.distributed as dist
from mmengine.model import convert_sync_batchnorm
dist.init_process_group('gloo')
torch.manual_seed(0)
model = convert_sync_batchnorm(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1),
                                                   torch.nn.BatchNorm2d(4)), 'torch').train()
x = torch.randn(4, 3, 5, 5)
rank = dist.get_rank()
try:
    y = model(x[2 * rank:2 * rank + 2])
    ref = torch.nn.functional.batch_norm(model[0](x), None, None, training=True)
    print('SYNCBN_OK', rank, torch.allclose(y, ref[2 * rank:2 * rank + 2], atol=1e-5))
except Exception as e:
    print('SYNCBN_ERR', rank, type(e).__name__, e)
dist.destroy_process_group()
'''


@pytest.mark.slow
def test_torch_syncbn_is_gpu_only_on_this_torch(tmp_path):
    """Why the comparisons above keep BN in eval mode: torch's SyncBatchNorm refuses CPU
    tensors under gloo. If a future torch supports it, it must synchronise correctly (then
    switch the DDP comparisons to ``sync_bn='torch'``)."""
    if torch.cuda.is_available():
        pytest.skip('CUDA machine: SyncBN runs on the GPU there')
    script = tmp_path / 'syncbn_probe.py'
    script.write_text(SYNCBN_PROBE)
    proc = run_cmd([VENV_BIN / 'torchrun', '--standalone', '--nproc_per_node', '2', script],
                   env={'OMP_NUM_THREADS': '1'}, timeout=300)
    out = proc.stdout
    if 'SYNCBN_OK' in out:
        assert out.count('SYNCBN_OK') == 2 and 'False' not in out, out
    else:
        assert out.count('SYNCBN_ERR') == 2, out + proc.stderr[-3000:]
        assert 'SyncBatchNorm expected input tensor to be on GPU' in out, out
