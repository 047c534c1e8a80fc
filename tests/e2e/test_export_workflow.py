"""Student export end to end: `mim train` a tiny OKDHP model, export a branch, load it with
plain MMPose (in a process where okdhp_mm cannot be imported) and predict like the branch."""
from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
import torch
import yaml

from helpers import paths
from helpers.paths import REPO, VENV_BIN, run_cmd

# Relative, as a user types it in the repository (the commands run there).
TINY_OKDHP = str(paths.TINY_OKDHP.relative_to(REPO))


@pytest.fixture(scope='module')
def trained_okdhp(tmp_path_factory, samples):
    """2 epochs of the tiny OKDHP hourglass on the COCO samples, through `mim train`."""
    work = tmp_path_factory.mktemp('okdhp_train')
    proc = run_cmd([VENV_BIN / 'mim', 'train', 'mmpose', TINY_OKDHP, '--work-dir', work])
    return work, proc.stdout + proc.stderr


def _export(cfg, ckpt, out, *extra, check=True):
    return run_cmd([sys.executable, REPO / 'tools/export_student.py', cfg, ckpt, '--out', out,
                    *extra], check=check)


def _predict(cfg, ckpt, out, samples, *extra):
    run_cmd([sys.executable, REPO / 'tools/verify_student.py', cfg, ckpt, '--ann',
             samples / 'coco/test_coco.json', '--img-dir', samples / 'coco', '--out', out,
             *extra])
    return np.load(out)


@pytest.mark.slow
def test_mim_train_validates_every_branch_and_the_ensemble(trained_okdhp):
    work, log = trained_okdhp
    for name in ('branch0', 'branch1', 'branch2', 'ensemble'):
        assert re.search(rf'{name}/coco/AP: [0-9.]+', log), f'{name} missing\n{log[-2000:]}'
    assert re.search(r' coco/AP: [0-9.]+', log)  # the main output, for save_best
    for t in range(3):
        assert re.search(rf'loss_gt_b{t}: [0-9.]+', log) and re.search(rf'loss_kd_b{t}: ', log)


@pytest.mark.slow
def test_mim_test_runs_the_tiny_okdhp_config(trained_okdhp):
    work, _ = trained_okdhp
    proc = run_cmd([VENV_BIN / 'mim', 'test', 'mmpose', TINY_OKDHP, '-C', work / 'epoch_2.pth',
                    '--work-dir', work / 'test'])
    assert re.search(r'Epoch\(test\).*ensemble/coco/AP: [0-9.]+', proc.stdout + proc.stderr)


@pytest.mark.slow
def test_export_picks_the_requested_branch(trained_okdhp, tmp_path):
    from okdhp_mm.export import export_student

    work, _ = trained_okdhp
    info = export_student(TINY_OKDHP, str(work / 'epoch_2.pth'), str(tmp_path), branch=2)
    raw = torch.load(info['checkpoint'], map_location='cpu', weights_only=True)
    assert info['branch'] == raw['meta']['branch'] == 2
    assert raw['meta']['metric']['coco/AP'] == pytest.approx(info['metric'])


@pytest.mark.slow
def test_exported_student_predicts_like_its_branch_in_plain_mmpose(trained_okdhp, samples,
                                                                   tmp_path):
    work, _ = trained_okdhp
    ckpt = work / 'epoch_2.pth'
    out = _export(TINY_OKDHP, ckpt, tmp_path / 'zoo', '--branch', 'best').stdout
    info = json.loads(out.strip().splitlines()[-1])
    k = info['branch']
    assert k in (0, 1, 2)
    assert re.fullmatch(r'.*-[0-9a-f]{8}_\d{8}\.pth', info['checkpoint'])

    # The checkpoint holds meta and state_dict only, loadable with weights_only=True as is.
    raw = torch.load(info['checkpoint'], map_location='cpu', weights_only=True)
    assert set(raw) == {'meta', 'state_dict'}
    assert raw['meta']['branch'] == k
    with open(info['config']) as f:
        text = f.read()
    assert 'okdhp_mm' not in text and 'MultiBranch' not in text and 'custom_imports' not in text
    assert 'AtomicCheckpointHook' not in text and 'checkpoint_hook' not in text
    meta = yaml.safe_load(open(info['metafile']))['Models'][0]
    params = sum(v.numel() for n, v in raw['state_dict'].items()
                 if not n.endswith(('running_mean', 'running_var', 'num_batches_tracked')))
    assert meta['Metadata']['Params'] == params
    assert meta['Metadata']['FLOPs'] > 0
    assert meta['Weights'] == info['checkpoint'].rsplit('/', 1)[-1]
    assert meta['Results'][0]['Metrics']['AP'] == pytest.approx(info['metric'], abs=1e-4)

    # Plain MMPose, in a process where `import okdhp_mm` fails ...
    plain = _predict(info['config'], info['checkpoint'], tmp_path / 'plain.npz', samples,
                     '--forbid', 'okdhp_mm')
    # ... against branch k of the multi-branch model.
    ours = _predict(TINY_OKDHP, ckpt, tmp_path / 'ours.npz', samples, '--cfg-options',
                    f'model.test_cfg.branch={k}', 'model.test_cfg.output_all=False')
    np.testing.assert_array_equal(plain['ann_ids'], ours['ann_ids'])
    assert len(plain['ann_ids']) >= 5
    assert np.abs(plain['keypoints'] - ours['keypoints']).max() <= 1e-4
    np.testing.assert_allclose(plain['scores'], ours['scores'], atol=1e-6)


@pytest.mark.slow
def test_export_refuses_a_branch_that_does_not_exist(trained_okdhp, tmp_path):
    work, _ = trained_okdhp
    proc = _export(TINY_OKDHP, work / 'epoch_2.pth', tmp_path, '--branch', '3', check=False)
    assert proc.returncode == 2
    assert '--branch=3 is not a branch of this model (3 branches): use 0..2' in proc.stderr
