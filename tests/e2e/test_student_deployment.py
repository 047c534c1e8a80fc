"""Exported students deploy with plain MMPose: MMPoseInferencer in a process where okdhp_mm
cannot be imported predicts what branch k of the multi-branch model predicts (an OKDHP-RTMPose
model here), the checkpoint carries dataset_meta, and ONNX Runtime reproduces PyTorch."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from mmengine.config import Config

from helpers.paths import REPO, run_cmd

pytestmark = pytest.mark.slow

RTM_OKDHP = REPO / 'configs/okdhp/synthetic/okdhp_rtmpose-t-3b_1xb32-20e_synthetic-128x96.py'


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    from okdhp_mm.utils.config import build_model_from_config

    tmp = tmp_path_factory.mktemp('rtm')
    torch.manual_seed(0)
    model = build_model_from_config(Config.fromfile(RTM_OKDHP))
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp / 'okdhp_rtm.pth')
    proc = run_cmd(['python', REPO / 'tools/export_student.py', RTM_OKDHP, tmp / 'okdhp_rtm.pth',
                    '--branch', '1', '--out', tmp / 'zoo', '--onnx'])
    return tmp, json.loads(proc.stdout.strip().splitlines()[-1]), proc


def _verify(config, ckpt, samples, out, *extra):
    proc = run_cmd(['python', REPO / 'tools/verify_student.py', config, ckpt,
                    '--ann', samples / 'coco' / 'test_coco.json', '--img-dir', samples / 'coco',
                    '--out', out, *extra])
    return np.load(out), proc.stdout + proc.stderr


def test_rtmpose_student_in_mmpose_inferencer_without_the_plugin(exported, samples):
    tmp, info, _ = exported
    plain, log = _verify(info['config'], info['checkpoint'], samples, tmp / 'plain.npz',
                         '--api', 'inferencer', '--forbid', 'okdhp_mm')
    assert 'dataset_meta are not saved' not in log  # the checkpoint carries them
    ours, _ = _verify(RTM_OKDHP, tmp / 'okdhp_rtm.pth', samples, tmp / 'ours.npz', '--crop',
                      '--cfg-options', 'model.test_cfg.branch=1', 'model.test_cfg.output_all=False')
    assert len(plain['ann_ids']) >= 5 and (plain['ann_ids'] == ours['ann_ids']).all()
    assert np.abs(plain['keypoints'] - ours['keypoints']).max() < 1e-3


def test_exported_checkpoint_carries_dataset_meta_and_loads_weights_only(exported):
    _, info, _ = exported
    ckpt = torch.load(info['checkpoint'], weights_only=True)
    meta = ckpt['meta']['dataset_meta']
    assert len(meta['keypoint_id2name']) == 17 and meta['num_keypoints'] == 17
    assert meta['flip_indices'] == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    assert len(meta['sigmas']) == 17 and meta['dataset_name'] == 'coco'


def test_onnx_student_matches_pytorch(exported):
    import onnxruntime as ort

    _, info, proc = exported
    assert info['outputs'] == ['simcc_x', 'simcc_y'] and info['max_abs_diff'] <= 1e-4
    assert 'max |onnxruntime - pytorch|' in proc.stderr
    session = ort.InferenceSession(info['onnx'], providers=['CPUExecutionProvider'])
    for batch in (1, 3):  # dynamic batch
        x, y = session.run(None, {'image': np.zeros((batch, 3, 128, 96), np.float32)})
        assert x.shape == (batch, 17, 192) and y.shape == (batch, 17, 256)


DWPOSE = REPO / ('configs/dwpose/synthetic/'
                 'dwpose_rtmpose-s-s16_rtmpose-t-s16_1xb32-20e_synthetic-128x96.py')
RTM_T = REPO / 'configs/baseline/synthetic/rtmpose-t-s16_1xb32-20e_synthetic-128x96.py'


def test_dwpose_student_exports_as_mmposes_pth_transfer_and_runs_in_plain_mmpose(
        tmp_path, samples):
    """MMPose's DWPoseDistiller checkpoint: our export holds exactly the weights MMPose's own
    tools/misc/pth_transfer.py (run unmodified) keeps, and its plain config predicts in a
    process without okdhp_mm what RTMPose-t with pth_transfer's weights predicts."""
    import mmpose

    from okdhp_mm.utils.config import build_model_from_config

    torch.manual_seed(0)
    model = build_model_from_config(Config.fromfile(DWPOSE))
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'dwpose.pth')
    pth_transfer = mmpose.__path__[0] + '/.mim/tools/misc/pth_transfer.py'
    run_cmd(['python', pth_transfer, tmp_path / 'dwpose.pth', tmp_path / 'transferred.pth'])
    info = json.loads(run_cmd(['python', REPO / 'tools/export_student.py', DWPOSE,
                               tmp_path / 'dwpose.pth', '--out', tmp_path / 'zoo']
                              ).stdout.strip().splitlines()[-1])
    ours = torch.load(info['checkpoint'], weights_only=True)
    theirs = torch.load(tmp_path / 'transferred.pth', weights_only=True)['state_dict']
    assert list(ours['state_dict']) == list(theirs) and len(theirs) > 100
    assert all(torch.equal(ours['state_dict'][k], v) for k, v in theirs.items())
    assert ours['meta']['dataset_meta']['num_keypoints'] == 17
    plain, _ = _verify(info['config'], info['checkpoint'], samples, tmp_path / 'plain.npz',
                       '--forbid', 'okdhp_mm')
    reference, _ = _verify(RTM_T, tmp_path / 'transferred.pth', samples, tmp_path / 'ref.npz')
    assert len(plain['ann_ids']) >= 5 and (plain['ann_ids'] == reference['ann_ids']).all()
    assert np.abs(plain['keypoints'] - reference['keypoints']).max() < 1e-4
