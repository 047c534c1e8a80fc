"""In-process training: derived config files, a step-recording hook, the runner, its records.

The configs derive from the tiny OKDHP hourglass config on the real COCO samples, shrunk to
32x32 crops (8x8 heatmaps), without random augmentation, sampler shuffling or validation, so
that two runs of the same config see the same batches in the same order.
"""
from __future__ import annotations

import copy
import sys
import uuid
from pathlib import Path
from typing import Optional

import torch

from helpers.builders import tiny_resnet_okdhp
from helpers.paths import TINY_OKDHP

TRAIN_PY = Path(sys.executable).parent.parent / 'lib' / (
    f'python{sys.version_info.major}.{sys.version_info.minor}') / 'site-packages' / 'mmpose' / \
    '.mim' / 'tools' / 'train.py'
# Loss keys (what MMEngine sums into `loss`) and the logged KD ramp weight.
LOSS_KEYS_OKDHP = ['loss', 'loss_gt_shared', 'loss_kd_shared', 'loss_gt_b0', 'loss_kd_b0',
                   'loss_gt_b1', 'loss_kd_b1', 'loss_gt_b2', 'loss_kd_b2', 'loss_gt_ens',
                   'kd_weight']

# A hook module the derived configs import (custom_imports), in the test process and in
# torchrun's workers alike. Per training iteration it records the instance ids of the batch,
# the rank-local losses, the learning rate and the MessageHub epoch; for the first
# `grad_iters` iterations the gradients as the optimizer sees them (after DDP's all-reduce):
# a (sum, sum of squares) fingerprint per parameter on every rank, the tensors on rank 0.
# Records are written at the end of training (or at the simulated crash).
# `bn_eval` keeps every BatchNorm in eval mode (running statistics), `crash_after` raises
# after that many iterations (after the CheckpointHook wrote its checkpoint).
RECORDER_SRC = '''
import os.path as osp

import pytest
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS
from torch.nn.modules.batchnorm import _BatchNorm


class SimulatedCrash(RuntimeError):
    """Raised by RecordStepHook(crash_after=n) to stop a run as a kill would."""


@HOOKS.register_module(force=True)
class RecordStepHook(Hook):
    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW) in after_train_iter

    def __init__(self, out_dir, grad_iters=0, bn_eval=False, crash_after=None, tag='run'):
        self.out_dir = out_dir
        self.grad_iters = grad_iters
        self.bn_eval = bn_eval
        self.crash_after = crash_after
        self.tag = tag
        self.records = []
        self._grads = None

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner):
        model = self._model(runner)
        optim_wrapper = runner.optim_wrapper
        step = optim_wrapper.step

        def recording_step(*args, **kwargs):
            if runner.iter < self.grad_iters:
                grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
                # Every rank: a fingerprint; rank 0 also the gradients themselves.
                self._grads = dict(fingerprint={
                    n: None if g is None else (float(g.double().sum()),
                                               float(g.double().square().sum()))
                    for n, g in grads.items()})
                if get_rank() == 0:
                    self._grads['grads'] = {
                        n: None if g is None else g.detach().clone() for n, g in grads.items()}
            return step(*args, **kwargs)

        if hasattr(step, '_with_counter'):  # keep MMEngine's scheduler bookkeeping
            recording_step._with_counter = step._with_counter
        optim_wrapper.step = recording_step

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._grads = None
        if self.bn_eval:
            for m in self._model(runner).modules():
                if isinstance(m, _BatchNorm):
                    m.eval()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        rec = dict(
            iter=runner.iter, epoch=runner.epoch, batch_idx=batch_idx,
            ids=[int(s.metainfo['id']) for s in data_batch['data_samples']],
            losses={k: float(v.detach()) for k, v in outputs.items()},
            lr=float(runner.optim_wrapper.get_lr()['lr'][0]),
            hub_epoch=runner.message_hub.get_info('epoch'))
        if self._grads is not None:
            rec['grads'] = self._grads
        self.records.append(rec)
        if self.crash_after is not None and runner.iter + 1 >= self.crash_after:
            self._dump()
            raise SimulatedCrash(f'simulated kill after iteration {runner.iter + 1}')

    def after_train(self, runner):
        self._dump()

    def _dump(self):
        torch.save(self.records, osp.join(self.out_dir, f'{self.tag}_rank{get_rank()}.pt'))
'''


def write_recorder(directory: Path) -> None:
    (directory / 'reliability_recorder.py').write_text(RECORDER_SRC)


def load_records(path: Path) -> list:
    return torch.load(path, map_location='cpu', weights_only=True)


def okdhp_overrides(samples: Path, batch_size: int = 4, input_size=(32, 32),
                    heatmap_size=(8, 8), kd_ramp_epochs: int = 2, pipeline: Optional[list] = None,
                    data_root: Optional[str] = None, ann_file: str = 'test_coco.json') -> dict:
    """Overrides of the tiny OKDHP config: small deterministic training, no validation."""
    codec = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=heatmap_size, sigma=1)
    if pipeline is None:
        pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                    dict(type='TopdownAffine', input_size=input_size),
                    dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')]
    root = data_root or f'{samples}/coco/'
    return dict(
        data_root=root,
        model=dict(head=dict(branches=dict(decoder=codec), kd_ramp_epochs=kd_ramp_epochs),
                   test_cfg=dict(flip_test=False, output_all=False)),
        train_dataloader=dict(
            batch_size=batch_size, num_workers=0, persistent_workers=False,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(data_root=root, ann_file=ann_file, data_prefix=dict(img=''),
                         pipeline=pipeline)),
        val_cfg=None, val_dataloader=None, val_evaluator=None,
        test_cfg=None, test_dataloader=None, test_evaluator=None,
        default_hooks=dict(checkpoint=None, logger=dict(interval=1)),
        log_processor=dict(window_size=1),
        randomness=dict(seed=0),
    )


def write_config(path: Path, overrides: dict, base: Path = TINY_OKDHP,
                 recorder: Optional[dict] = None) -> Path:
    """A config file ``_base_``-ing ``base`` with ``overrides`` (and the recorder hook)."""
    overrides = copy.deepcopy(overrides)
    imports = ['okdhp_mm']
    if recorder is not None:
        write_recorder(path.parent)
        imports.append('reliability_recorder')
        overrides['custom_hooks'] = [dict(type='RecordStepHook', **recorder)] + list(
            overrides.get('custom_hooks', []))
    lines = [f'_base_ = [{str(base)!r}]',
             f'custom_imports = dict(imports={imports!r}, allow_failed_imports=False)']
    lines += [f'{key} = {value!r}' for key, value in overrides.items()]
    path.write_text('\n'.join(lines) + '\n')
    return path


def train_in_process(cfg_path: Path, work_dir: Path, **updates):
    """Train ``cfg_path`` with MMEngine's Runner in this process (as tools/train.py would).

    Returns the runner. Afterwards a fresh MessageHub is made current so that later tests do
    not read this run's 'epoch' (the OKDHP head reads it from the current hub). Runs with one
    intra-op thread, like each torchrun worker.
    """
    from mmengine.config import Config
    from mmengine.logging import MessageHub
    from mmengine.runner import Runner

    sys.path.insert(0, str(cfg_path.parent))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each torchrun worker (OMP_NUM_THREADS=1); fast on a busy CPU
    try:
        cfg = Config.fromfile(str(cfg_path))
        cfg.work_dir = str(work_dir)
        cfg.merge_from_dict(updates)
        # MMPose configs name the visualizer 'visualizer': a second runner in this process
        # would get the first one's instance and log into the first run's vis_data.
        cfg.visualizer.name = f'visualizer-{uuid.uuid4().hex}'
        runner = Runner.from_cfg(cfg)
        try:
            runner.train()
        finally:
            MessageHub.get_instance(f'reliability-{uuid.uuid4().hex}')
        return runner
    finally:
        torch.set_num_threads(threads)
        sys.path.remove(str(cfg_path.parent))


def save_init_checkpoint(cfg_path: Path, out: Path, init_weights: bool = False) -> Path:
    """Starting weights of the config's model, for `load_from` in several runs.

    By default PyTorch's own initialisation (not the hourglass' N(0, 0.001) init_cfg): its
    heatmaps differ between branches, so the KD terms and their gradients are far from 0.
    """
    from mmengine.config import Config
    from mmpose.registry import MODELS

    sys.path.insert(0, str(cfg_path.parent))
    try:
        cfg = Config.fromfile(str(cfg_path))
    finally:
        sys.path.remove(str(cfg_path.parent))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if init_weights:
        model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, out)
    return out


def read_scalars(log_dir: Path) -> dict:
    """iteration -> logged scalars of one run's ``vis_data/scalars.json``."""
    import json

    out = {}
    for line in (log_dir / 'vis_data' / 'scalars.json').read_text().splitlines():
        entry = json.loads(line)
        out[entry['step']] = entry
    return out


# The synthetic set of the HHD runs (generate_synthetic_coco settings).
HHD_SYNTHETIC_SET = dict(num_train_images=24, num_val_images=2, seed=0, image_size=(128, 128))


def short_run_config(cfg, data_root: Path, work_dir, iters: int, batch_size: int = 8,
                     aug: bool = True, val: bool = False):
    """``cfg`` (a synthetic-set config) cut down to ``iters`` iterations on ``data_root``:
    constant-lr Adam, one checkpoint at the end, no test (and no validation unless ``val``:
    then on the synthetic val split at the end), optionally without random augmentation."""
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters,
                         val_interval=iters if val else 10 ** 6)
    for key in ('test_cfg', 'test_dataloader', 'test_evaluator') + (
            () if val else ('val_cfg', 'val_dataloader', 'val_evaluator')):
        cfg[key] = None
    if val:  # validation on the synthetic val split at the end of the run
        vdl = cfg.val_dataloader
        vdl.num_workers, vdl.persistent_workers, vdl.batch_size = 0, False, 4
        vdl.dataset.data_root = str(data_root) + '/'
        cfg.val_evaluator.ann_file = str(data_root / 'annotations/person_keypoints_val.json')
    cfg.param_scheduler = None
    cfg.optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters, by_epoch=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=0)
    dl = cfg.train_dataloader
    dl.batch_size, dl.num_workers, dl.persistent_workers = batch_size, 0, False
    dl.dataset.data_root = str(data_root) + '/'
    if not aug:
        dl.dataset.pipeline = [t for t in dl.dataset.pipeline
                               if t['type'] not in ('RandomFlip', 'RandomBBoxTransform')]
    return cfg


# Resume: 12 instances, batch 4 (3 iterations per epoch), 3 epochs.
RESUME_EPOCHS = 3
RESUMABLE_LOOP = dict(_delete_=True, type='ResumableEpochBasedTrainLoop',
                      max_epochs=RESUME_EPOCHS, val_interval=100)


def resume_overrides(samples: Path, train_cfg: dict, checkpoint: Optional[dict] = None) -> dict:
    """The resume setup: the fast shared-encoder model, a KL ramp over 3 epochs, Adam with an
    iteration-based warm-up, sampler shuffling, window-smoothed logs."""
    o = okdhp_overrides(samples, batch_size=4)
    o.update(
        model=tiny_resnet_okdhp(kd_ramp_epochs=3),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)),
        param_scheduler=[dict(type='LinearLR', start_factor=0.1, by_epoch=False,
                              begin=0, end=7)],
        log_processor=dict(window_size=50))  # smoothed logs: needs the restored history
    o['train_dataloader']['sampler'] = dict(type='DefaultSampler', shuffle=True)
    o['default_hooks'] = dict(logger=dict(interval=1), checkpoint=checkpoint)
    return o
