"""`mim train` / `mim test` with our configs on the real COCO samples, as a user runs them."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from helpers.malicious_checkpoint import RunsCodeOnLoad
from helpers.paths import VENV_BIN, run_cmd

SAMPLE_CFG = 'configs/baseline/coco_samples/td-hm_res18_1xb4-2e_coco-samples-256x192.py'


def _mim(*args, check=True):
    return run_cmd([VENV_BIN / 'mim', *args], check=check)


@pytest.fixture(scope='module')
def trained_samples(tmp_path_factory, samples):
    work = tmp_path_factory.mktemp('mim_train')
    proc = _mim('train', 'mmpose', SAMPLE_CFG, '--work-dir', work,
                '--cfg-options', f'data_root={samples}/coco/',
                f'train_dataloader.dataset.data_root={samples}/coco/',
                f'val_dataloader.dataset.data_root={samples}/coco/',
                f'val_evaluator.ann_file={samples}/coco/test_coco.json',
                f'test_dataloader.dataset.data_root={samples}/coco/',
                f'test_evaluator.ann_file={samples}/coco/test_coco.json')
    return work, proc.stdout + proc.stderr


@pytest.mark.slow
def test_mim_train_runs_and_evaluates_with_coco_metric(trained_samples):
    work, log = trained_samples
    assert (work / 'epoch_2.pth').is_file()
    assert re.search(r'Epoch\(train\)\s+\[2\]', log), log[-3000:]
    assert re.search(r'coco/AP: [0-9.]+', log), log[-3000:]
    ckpt = torch.load(work / 'epoch_2.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['epoch'] == 2


@pytest.mark.slow
def test_mim_test_loads_the_checkpoint_it_wrote(trained_samples, samples):
    work, _ = trained_samples
    proc = _mim('test', 'mmpose', SAMPLE_CFG, '-C', work / 'epoch_2.pth', '--work-dir',
                work / 'test', '--cfg-options',
                f'test_dataloader.dataset.data_root={samples}/coco/',
                f'test_evaluator.ann_file={samples}/coco/test_coco.json')
    out = proc.stdout + proc.stderr
    assert 'Load checkpoint from' in out
    assert re.search(r'Epoch\(test\).*coco/AP: [0-9.]+', out), out[-3000:]


@pytest.mark.slow
def test_mim_test_refuses_a_crafted_checkpoint(tmp_path, samples):
    marker = tmp_path / 'pwned'
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': RunsCodeOnLoad(str(marker))}, evil)
    proc = _mim('test', 'mmpose', SAMPLE_CFG, '-C', evil, '--work-dir', tmp_path / 'w',
                '--cfg-options', f'test_dataloader.dataset.data_root={samples}/coco/',
                f'test_evaluator.ann_file={samples}/coco/test_coco.json', check=False)
    assert proc.returncode != 0
    assert 'UnsafeCheckpointError' in proc.stdout + proc.stderr
    assert not Path(marker).exists()
