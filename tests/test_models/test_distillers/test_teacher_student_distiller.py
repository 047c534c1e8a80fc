"""HHD: TeacherStudentDistiller (heatmap teacher -> integral student), its configs and export."""
from __future__ import annotations

import copy
import glob
import sys

import numpy as np
import pytest
import torch

from conftest import REPO, run_cmd

from okdhp_mm.analysis.distill_cost import hhd_loss_share
from okdhp_mm.models.distillers import TeacherStudentDistiller
from okdhp_mm.models.utils import align_heatmaps
from okdhp_mm.models.losses.hhd_loss import HHDLoss

SYN_HHD = (REPO / 'configs/hhd/synthetic/'
           'hhd_res18-hm_mobilenetv2-0.5x-dsnt_1xb32-20e_synthetic-128x96.py')
SYN_TEACHER = REPO / 'configs/baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py'
HHD_CONFIGS = sorted(glob.glob(str(REPO / 'configs/hhd/**/*.py'), recursive=True))
URLS = {
    'mpii': 'https://download.openmmlab.com/mmpose/top_down/hrnet/'
            'hrnet_w48_mpii_256x256-92cab7bd_20200812.pth',
    'coco': 'https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/'
            'td-hm_hrnet-w48_8xb32-210e_coco-256x192-0e67c616_20220913.pth',
}
MEAN_STD = dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375], bgr_to_rgb=True)


# ------------------------------------------------------------------------------------------
# Tiny models on 64x64 crops (16x16 maps) and real COCO sample batches
# ------------------------------------------------------------------------------------------
def int_codec(size=(64, 64), hm=(16, 16)):
    return dict(type='IntegralRegressionLabel', input_size=size, heatmap_size=hm, sigma=1.0,
                normalize=True)


def hm_codec(size=(64, 64), hm=(16, 16)):
    return dict(type='MSRAHeatmap', input_size=size, heatmap_size=hm, sigma=1.0)


def tiny_teacher(K=17, size=(64, 64), hm=(16, 16), deconvs=(16, 16, 16), dp=MEAN_STD):
    return dict(
        type='TopdownPoseEstimator', data_preprocessor=dp,
        backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16),
        head=dict(type='HeatmapHead', in_channels=128, out_channels=K,
                  deconv_out_channels=deconvs, deconv_kernel_sizes=(4, ) * len(deconvs),
                  loss=dict(type='KeypointMSELoss', use_target_weight=True),
                  decoder=hm_codec(size, hm)),
        test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))


def tiny_student(K=17, size=(64, 64), hm=(16, 16)):
    return dict(
        type='TopdownPoseEstimator', data_preprocessor=MEAN_STD,
        backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
        head=dict(type='DSNTHead', in_channels=64, in_featuremap_size=(size[0] // 32,
                                                                      size[1] // 32),
                  num_joints=K, beta=10., deconv_out_channels=(16, 16, 16),
                  loss=dict(type='MultipleLossWrapper', losses=[
                      dict(type='SmoothL1Loss', use_target_weight=True),
                      dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=0.)]),
                  decoder=int_codec(size, hm)),
        test_cfg=dict(flip_test=True, shift_coords=True, shift_heatmap=True))


def tiny_distiller(teacher=None, student=None, **kw) -> TeacherStudentDistiller:
    from mmpose.registry import MODELS

    kw.setdefault('distill_losses', dict(loss_hhd=dict(type='HHDLoss', loss_weight=0.5)))
    if 'teachers' not in kw:
        kw['teacher'] = teacher or tiny_teacher()
    return MODELS.build(dict(type='TeacherStudentDistiller', student=student or tiny_student(),
                             **kw))


def sample_batch(samples, codec=None, train=True, n=4, input_size=(64, 64)):
    """Raw (un-preprocessed) collated batch of COCO sample instances."""
    from mmengine.dataset import pseudo_collate
    from mmpose.datasets import CocoDataset

    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=input_size)]
    if train:
        pipeline.append(dict(type='GenerateTarget', encoder=codec or int_codec(input_size)))
    pipeline.append(dict(type='PackPoseInputs'))
    ds = CocoDataset(ann_file='test_coco.json', data_root=str(samples / 'coco') + '/',
                     data_prefix=dict(img=''), data_mode='topdown', pipeline=pipeline,
                     test_mode=not train)
    return pseudo_collate([ds[i] for i in range(n)])


def state_copy(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def optim_for(model):
    from mmengine.optim import OptimWrapper

    return OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))


@pytest.fixture(scope='module')
def batch(samples):
    return sample_batch(samples)


# ------------------------------------------------------------------------------------------
# Configs
# ------------------------------------------------------------------------------------------
def test_every_hhd_config_is_there():
    names = {p.split('/configs/hhd/')[1] for p in HHD_CONFIGS}
    for ds, size in (('mpii', '256x256'), ('coco', '256x192')):
        for arch, bs in (('litehrnet-18', '1xb64'), ('litehrnet-30', '1xb32'),
                         ('mobilenetv2', '1xb64')):
            assert f'{ds}/td-dsnt_{arch}_{bs}-210e_{ds}-{size}.py' in names
            assert f'{ds}/hhd_hrnet-w48_{arch}-dsnt_{bs}-210e_{ds}-{size}.py' in names
    assert 'synthetic/' + SYN_HHD.name in names


@pytest.mark.parametrize('path', HHD_CONFIGS, ids=lambda p: p.split('/configs/hhd/')[1])
def test_config_parses_and_builds(path):
    """Every config parses and builds without touching the network (no init_weights)."""
    from mmengine.config import Config
    from mmpose.registry import MODELS

    cfg = Config.fromfile(path)
    assert cfg.custom_imports == dict(imports=['okdhp_mm'], allow_failed_imports=False)
    model = MODELS.build(copy.deepcopy(cfg.model))
    student = model.student if isinstance(model, TeacherStudentDistiller) else model
    head = student.head
    assert type(head).__name__ == 'DSNTHead' and head.beta == 10
    assert cfg.codec.type == 'IntegralRegressionLabel'
    assert tuple(head.decoder.keypoint_codec.input_size) == tuple(cfg.codec.input_size)
    if '/synthetic/' in path:
        return
    ds = 'mpii' if '/mpii/' in path else 'coco'
    assert head.num_joints == (16 if ds == 'mpii' else 17)
    assert (cfg.optim_wrapper.optimizer.type, cfg.optim_wrapper.optimizer.lr) == ('Adam', 5e-4)
    warm, steps = cfg.param_scheduler
    assert (warm.type, warm.end, warm.start_factor, warm.by_epoch) == \
        ('LinearLR', 500, 0.001, False)
    assert (steps.type, list(steps.milestones), steps.gamma) == ('MultiStepLR', [170, 200], 0.1)
    assert cfg.train_cfg.max_epochs == 210
    assert cfg.train_dataloader.batch_size == (32 if 'litehrnet-30' in path else 64)
    if 'litehrnet' in path:
        assert head.simplebaseline_head is None and head.final_layer.in_channels == 40
        assert tuple(head.heatmap_size) == ((64, 64) if ds == 'mpii' else (48, 64))
        extra = cfg.model.get('student', cfg.model).backbone.extra
        assert extra.with_head is True
        assert tuple(extra.stages_spec.num_modules) == \
            ((3, 8, 3) if 'litehrnet-30' in path else (2, 4, 2))
    if isinstance(model, TeacherStudentDistiller):
        assert model.teacher_checkpoints == {'teacher': URLS[ds]}
        assert type(model.teacher.backbone).__name__ == 'HRNet'
        assert model.teacher.head.final_layer.in_channels == 48  # HRNet-W48, raw 1x1 conv
        loss = model.distill_losses['loss_hhd']
        assert isinstance(loss, HHDLoss)
        assert (loss.crop_size, loss.student_norm, loss.teacher_norm, loss.loss_weight) == \
            ((8, 8), 'l2', 'l2', 0.5)
        assert model._teacher_sources == {'teacher': 'head.final_layer'}
        assert all(not p.requires_grad for p in model.teacher.parameters())


# ------------------------------------------------------------------------------------------
# Teacher handling
# ------------------------------------------------------------------------------------------
def test_teacher_stays_frozen_through_train_mode_and_optimizer_steps(batch):
    torch.manual_seed(0)
    model = tiny_distiller()
    teacher_before, student_before = state_copy(model.teacher), state_copy(model.student)
    model.train()
    assert model.student.training and not model.teacher.training
    assert not any(m.training for m in model.teacher.modules())
    assert all(not p.requires_grad for p in model.teacher.parameters())
    optim = optim_for(model)
    for _ in range(3):
        log = model.train_step(copy.deepcopy(batch), optim)
        assert set(log) >= {'loss', 'loss_kpt', 'loss_hhd'}
        model.train()  # as the runner's loops do
    for k, v in state_copy(model.teacher).items():  # weights and BN statistics, bitwise
        assert torch.equal(v, teacher_before[k]), k
    assert all(p.grad is None for p in model.teacher.parameters())
    assert not all(torch.equal(v, student_before[k])
                   for k, v in state_copy(model.student).items())
    bn = 'backbone.bn1.running_mean'
    assert not torch.equal(model.student.state_dict()[bn], student_before[bn])
    assert not model.teacher.training


def test_teacher_checkpoint_is_loaded_in_init_weights_mmpose0x_keys_too(tmp_path):
    torch.manual_seed(1)
    trained = tiny_distiller().teacher
    # An MMPose 0.x-style checkpoint (keypoint_head.*), as the official MPII HRNet-W48 file.
    old = {k.replace('head.', 'keypoint_head.', 1) if k.startswith('head.') else k: v
           for k, v in trained.state_dict().items()}
    torch.save({'state_dict': old, 'meta': {}}, tmp_path / 'teacher.pth')
    model = tiny_distiller(teacher_checkpoint=str(tmp_path / 'teacher.pth'))
    assert not torch.equal(model.teacher.head.final_layer.weight, trained.head.final_layer.weight)
    model.init_weights()
    for k, v in trained.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[k], v), k
    assert all(not p.requires_grad for p in model.teacher.parameters())
    assert not model.teacher.training


def test_missing_teacher_checkpoint_errors_naming_the_path(tmp_path):
    missing = tmp_path / 'nowhere' / 'teacher_epoch_20.pth'
    model = tiny_distiller(teacher_checkpoint=str(missing))  # building needs no file
    with pytest.raises(FileNotFoundError, match=r"teacher 'teacher' checkpoint '.*nowhere/"
                                                r"teacher_epoch_20\.pth' does not exist"):
        model.init_weights()


def test_teacher_checkpoint_of_another_model_errors(tmp_path):
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}}, tmp_path / 'x.pth')
    model = tiny_distiller(teacher_checkpoint=str(tmp_path / 'x.pth'))
    with pytest.raises(RuntimeError, match=r"x\.pth' does not fit"):
        model.init_weights()


def test_mismatched_keypoints_error():
    with pytest.raises(ValueError, match=r"teacher 'teacher' predicts 16 keypoints but the "
                                         r"student predicts 17"):
        tiny_distiller(teacher=tiny_teacher(K=16))


def test_mismatched_input_sizes_error():
    with pytest.raises(ValueError, match=r'input size \(64, 96\).*student input size '
                                         r'\(64, 64\)'):
        tiny_distiller(teacher=tiny_teacher(size=(64, 96), hm=(16, 24)))


def test_other_heatmap_size_is_resampled_or_refused(batch):
    teacher = tiny_teacher(hm=(32, 32), deconvs=(16, 16, 16, 16))
    with pytest.raises(ValueError, match=r'heatmap size \(32, 32\).*student heatmap size '
                                         r'\(16, 16\) and align_heatmaps=None'):
        tiny_distiller(teacher=teacher, align_heatmaps=None)
    torch.manual_seed(0)
    model = tiny_distiller(teacher=teacher)
    model.record_distill_inputs = True
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    raw = model.teacher_maps(data['inputs'])['teacher']
    assert raw.shape[-2:] == (32, 32)
    _, aligned, _ = model.last_distill_inputs['loss_hhd']
    # Pixel j of the student grid sits at input j*4 = teacher pixel 2j: an exact subsample.
    torch.testing.assert_close(aligned, raw[..., ::2, ::2], rtol=0, atol=1e-5)
    assert torch.isfinite(losses['loss_hhd'])
    # Up-sampling reads in-between pixels bilinearly.
    up = align_heatmaps(raw, (64, 64))
    torch.testing.assert_close(up[..., 1::2, 1::2][..., :-1, :-1],
                               (raw[..., :-1, :-1] + raw[..., 1:, :-1] + raw[..., :-1, 1:] +
                                raw[..., 1:, 1:]) / 4, rtol=0, atol=1e-5)


def test_teacher_with_other_normalisation_gets_its_own_inputs(batch):
    dp = dict(type='PoseDataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.],
              bgr_to_rgb=False)
    model = tiny_distiller(teacher=tiny_teacher(dp=dp))
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    expected = model.teacher.data_preprocessor(copy.deepcopy(batch), True)['inputs']
    torch.testing.assert_close(model._input_converters['teacher'](data['inputs']), expected,
                               rtol=1e-5, atol=1e-5)
    same = tiny_distiller()
    assert same._input_converters['teacher'](data['inputs']) is data['inputs']


def test_bad_wiring_errors():
    with pytest.raises(ValueError, match='a teacher is required'):
        TeacherStudentDistiller(student=tiny_student())
    with pytest.raises(ValueError, match=r"teacher_name 'other' is not one of the teachers"):
        tiny_distiller(distill_losses=dict(loss_hhd=dict(type='HHDLoss', teacher_name='other')))
    with pytest.raises(ValueError, match=r'must contain "loss"'):
        tiny_distiller(distill_losses=dict(hhd=dict(type='HHDLoss')))
    with pytest.raises(ValueError, match=r"student source 'head.nothing' is not a module"):
        tiny_distiller(student_source='head.nothing')
    with pytest.raises(FileNotFoundError, match=r"model config file 'no/such/config.py'"):
        tiny_distiller(teacher='no/such/config.py')
    with pytest.raises(ValueError, match=r"student_source 'head': MMPose heads call"):
        tiny_distiller(student_source='head')
    with pytest.raises(ValueError, match='takes no data_preprocessor'):
        tiny_distiller(data_preprocessor=MEAN_STD)


def test_mmpose_config_paths_are_read_and_checked():
    """Student and teacher from MMPose's own config files: a 256x192 heatmap teacher cannot
    teach a 256x256 integral student."""
    with pytest.raises(ValueError, match=r"teacher 'teacher' input size \(192, 256\) \(w, h\) "
                                         r'differs from the student input size \(256, 256\)'):
        tiny_distiller(
            student='mmpose::body_2d_keypoint/integral_regression/coco/'
                    'ipr_res50_dsnt-8xb64-210e_coco-256x256.py',
            teacher='mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                    'td-hm_res50_8xb64-210e_coco-256x192.py')


def test_several_named_teachers(samples):
    """`teachers`: config file path or dict each, own checkpoint and source; every loss names
    its teacher."""
    from mmengine.config import Config

    student = str(REPO / 'configs/hhd/synthetic/td-dsnt_mobilenetv2-0.5x_1xb32-20e_synthetic-'
                         '128x96.py')
    teacher_b = Config.fromfile(SYN_TEACHER).model.to_dict()
    torch.manual_seed(0)
    model = tiny_distiller(
        student=student,
        teachers=dict(a=dict(model=str(SYN_TEACHER)),
                      b=dict(model=teacher_b, checkpoint='b.pth', source='head')),
        distill_losses=dict(loss_a=dict(type='HHDLoss'),
                            loss_b=dict(type='HHDLoss', teacher_name='b', loss_weight=2.)))
    assert list(model.teachers) == ['a', 'b'] and model.teacher is model.teachers['a']
    assert model.teacher_checkpoints == {'a': None, 'b': 'b.pth'}
    assert model._teacher_sources == {'a': 'head.final_layer', 'b': 'head'}
    model.train()
    assert not model.teachers['a'].training and not model.teachers['b'].training
    raw = sample_batch(samples, codec=int_codec((96, 128), (24, 32)), input_size=(96, 128))
    data = model.data_preprocessor(raw, True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_kpt', 'acc_pose', 'loss_a', 'loss_b'}
    with torch.no_grad():
        logits = model.student.head.simplebaseline_head(model.student.extract_feat(data['inputs']))
        t_b = model.teachers['b'](data['inputs'], None, mode='tensor')
    torch.testing.assert_close(losses['loss_b'].detach(),
                               HHDLoss(loss_weight=2.)(logits, t_b), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------------------
# Losses, one student forward, prediction
# ------------------------------------------------------------------------------------------
def test_losses_hold_student_and_hhd_and_hhd_matches_an_independent_computation(batch):
    torch.manual_seed(0)
    model = tiny_distiller(distill_losses=dict(
        loss_hhd=dict(type='HHDLoss', crop_size=(8, 8), norm='l2', loss_weight=0.5)))
    model.train()
    data = model.data_preprocessor(copy.deepcopy(batch), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_kpt', 'acc_pose', 'loss_hhd'}

    # Independently: the student's DSNT logits from its own submodules, in the head's order,
    # the teacher's raw heatmap (HeatmapHead.forward = head.final_layer output), HHDLoss.
    with torch.no_grad():
        feats = model.student.extract_feat(data['inputs'])
        logits = model.student.head.simplebaseline_head(feats)
        t_map = model.teacher.head(model.teacher.extract_feat(data['inputs']))
        expected = HHDLoss(crop_size=(8, 8), norm='l2', loss_weight=0.5)(logits, t_map)
        # The student's own loss is MMPose's DSNTHead loss on the same forward.
        kpt = model.student.head.loss(feats, data['data_samples'])['loss_kpt']
    torch.testing.assert_close(losses['loss_hhd'].detach(), expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(losses['loss_kpt'].detach(), kpt, rtol=1e-5, atol=1e-7)
    assert losses['loss_hhd'].requires_grad and losses['loss_hhd'] > 0

    prefixed = tiny_distiller(student_loss_prefix='student.')
    assert set(prefixed(**data, mode='loss')) == {'student.loss_kpt', 'student.acc_pose',
                                                   'loss_hhd'}


def test_student_forward_runs_once_per_training_step(batch):
    model = tiny_distiller()
    calls = {}

    def counter(name):
        def hook(*_):
            calls[name] = calls.get(name, 0) + 1
        return hook

    # (MMPose heads call their own forward() directly, so the head is counted at its layers.)
    for name, mod in (('student.backbone', model.student.backbone),
                      ('student.deconv', model.student.head.simplebaseline_head.deconv_layers),
                      ('student.logits', model.student.head.simplebaseline_head.final_layer),
                      ('teacher.backbone', model.teacher.backbone),
                      ('teacher.logits', model.teacher.head.final_layer)):
        mod.register_forward_hook(counter(name))
    optim = optim_for(model)
    model.train()
    for step in range(1, 3):
        model.train_step(copy.deepcopy(batch), optim)
        assert calls == {'student.backbone': step, 'student.deconv': step,
                         'student.logits': step, 'teacher.backbone': step,
                         'teacher.logits': step}


def test_predict_and_tensor_are_the_plain_students(batch, samples):
    from mmpose.registry import MODELS

    torch.manual_seed(0)
    model = tiny_distiller().eval()
    plain = MODELS.build(tiny_student()).eval()
    plain.load_state_dict(model.student.state_dict(), strict=True)
    assert model.data_preprocessor is model.student.data_preprocessor
    test_batch = sample_batch(samples, train=False)
    with torch.no_grad():
        ours = model.test_step(copy.deepcopy(test_batch))
        ref = plain.test_step(copy.deepcopy(test_batch))
        data = model.data_preprocessor(copy.deepcopy(test_batch), False)
        t_ours = model(**data, mode='tensor')
        t_ref = plain(**data, mode='tensor')
    for a, b in zip(ours, ref):
        np.testing.assert_array_equal(a.pred_instances.keypoints, b.pred_instances.keypoints)
        np.testing.assert_array_equal(a.pred_instances.keypoint_scores,
                                      b.pred_instances.keypoint_scores)
    torch.testing.assert_close(t_ours[0], t_ref[0], rtol=0, atol=0)


def test_export_student_builds_a_plain_model_that_predicts_the_same(samples):
    from mmpose.registry import MODELS

    torch.manual_seed(0)
    model = tiny_distiller()
    model.train()  # move the BN statistics away from their initial values
    optim = optim_for(model)
    model.train_step(sample_batch(samples), optim)
    model.eval()
    cfg, state = model.export_student()
    assert cfg['type'] == 'TopdownPoseEstimator' and 'teacher' not in str(cfg)
    assert not any(k.startswith(('student.', 'teachers.')) for k in state)
    assert set(state) == set(model.student.state_dict())
    plain = MODELS.build(cfg).eval()
    plain.load_state_dict(state, strict=True)
    test_batch = sample_batch(samples, train=False)
    with torch.no_grad():
        ours = model.test_step(copy.deepcopy(test_batch))
        ref = plain.test_step(copy.deepcopy(test_batch))
    for a, b in zip(ours, ref):
        assert np.abs(a.pred_instances.keypoints - b.pred_instances.keypoints).max() <= 1e-4
    with pytest.raises(ValueError, match='single student'):
        model.export_student(1)


def test_export_drops_pretrained_initialisers():
    from mmengine.config import Config
    from mmpose.registry import MODELS

    cfg = Config.fromfile(REPO / 'configs/hhd/mpii/'
                          'hhd_hrnet-w48_mobilenetv2-dsnt_1xb64-210e_mpii-256x256.py')
    assert cfg.model.student.backbone.init_cfg.type == 'Pretrained'
    model = MODELS.build(cfg.model)
    student_cfg, _ = model.export_student()
    assert 'init_cfg' not in student_cfg['backbone'] and 'Pretrained' not in str(student_cfg)


def _predict_in_process(config, checkpoint, samples, out):
    """tools/verify_student.py's predictions, in this process, for a distiller config.

    MMPose's ``init_model`` reads ``config.model.backbone`` unless ``cfg_options`` is given,
    which a distiller config has not, hence ``cfg_options={}``.
    """
    import json
    import os.path as osp

    from mmpose.apis import inference_topdown, init_model

    model = init_model(str(config), str(checkpoint), device='cpu', cfg_options={})
    coco = json.load(open(samples / 'coco/test_coco.json'))
    files = {im['id']: im['file_name'] for im in coco['images']}
    ids, kpts, scores = [], [], []
    for ann in coco['annotations']:
        if ann.get('iscrowd', 0) or ann.get('num_keypoints', 1) == 0:
            continue
        x, y, w, h = ann['bbox']
        res = inference_topdown(model, osp.join(samples / 'coco', files[ann['image_id']]),
                                bboxes=np.array([[x, y, x + w, y + h]]), bbox_format='xyxy')
        ids.append(ann['id'])
        kpts.append(res[0].pred_instances.keypoints[0])
        scores.append(res[0].pred_instances.keypoint_scores[0])
    np.savez(out, ann_ids=np.array(ids), keypoints=np.array(kpts), scores=np.array(scores))
    return np.load(out)


def test_export_tool_writes_a_student_plain_mmpose_loads(tmp_path, samples):
    """okdhp_mm.export.export_student on the synthetic HHD config; plain MMPose (okdhp_mm not
    importable) predicts like the distiller."""
    import yaml
    from mmengine.config import Config

    from okdhp_mm.export import export_student
    from okdhp_mm.utils.config import build_model_from_config

    torch.manual_seed(0)
    model = build_model_from_config(Config.fromfile(SYN_HHD))
    for m in model.student.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ckpt = tmp_path / 'distiller.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    info = export_student(str(SYN_HHD), str(ckpt), str(tmp_path / 'zoo'))
    assert info['branch'] is None
    raw = torch.load(info['checkpoint'], map_location='cpu', weights_only=True)
    assert set(raw['state_dict']) == set(model.student.state_dict())
    text = open(info['config']).read()
    assert 'okdhp_mm' not in text and 'TeacherStudentDistiller' not in text
    assert 'HHDLoss' not in text and 'DSNTHead' in text
    meta = yaml.safe_load(open(info['metafile']))['Models'][0]
    assert meta['Metadata']['Architecture'] == ['MobileNetV2', 'DSNTHead']

    common = ['--ann', samples / 'coco/test_coco.json', '--img-dir', samples / 'coco']
    run_cmd([sys.executable, REPO / 'tools/verify_student.py', info['config'],
             info['checkpoint'], *common, '--out', tmp_path / 'plain.npz',
             '--forbid', 'okdhp_mm'])
    plain = np.load(tmp_path / 'plain.npz')
    ours = _predict_in_process(SYN_HHD, ckpt, samples, tmp_path / 'ours.npz')
    np.testing.assert_array_equal(plain['ann_ids'], ours['ann_ids'])
    assert len(plain['ann_ids']) >= 4
    assert np.abs(plain['keypoints'] - ours['keypoints']).max() <= 1e-4
    np.testing.assert_allclose(plain['scores'], ours['scores'], atol=1e-6)


def test_hhd_loss_share_runs_and_leaves_the_model_unchanged(batch):
    model = tiny_distiller()
    before = state_copy(model.student)
    out = hhd_loss_share(model, batch, repeats=2)
    assert 0 < out['share'] < 1 and out['batch_size'] == 4
    assert out['loss_s'] > 0 and out['step_s'] > out['loss_s']
    for k, v in state_copy(model.student).items():
        if 'running' not in k and 'num_batches' not in k:
            assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())


# ------------------------------------------------------------------------------------------
# End to end on the synthetic set: teacher -> checkpoint -> HHD distillation
# ------------------------------------------------------------------------------------------
def _short_run(cfg, data_root, work_dir, iters, batch_size=8, aug=True, val=False):
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


@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory):
    from okdhp_mm.datasets.synthetic import generate_synthetic_coco

    root = tmp_path_factory.mktemp('hhd_data') / 'synthetic_coco'
    generate_synthetic_coco(root, num_train_images=24, num_val_images=2, seed=0,
                            image_size=(128, 128))
    return root


@pytest.mark.slow
def test_train_teacher_then_distil_on_the_synthetic_set(tmp_path, synthetic_root):
    from mmengine.config import Config
    from mmengine.runner import Runner

    torch.set_num_threads(2)
    # 1. A few iterations of the tiny heatmap teacher, checkpoint saved by the runner.
    t_cfg = _short_run(Config.fromfile(SYN_TEACHER), synthetic_root, tmp_path / 'teacher',
                       iters=3, batch_size=4)
    Runner.from_cfg(t_cfg).train()
    t_ckpt = tmp_path / 'teacher' / 'iter_3.pth'
    assert t_ckpt.is_file()

    # 2. HHD from it into the tiny DSNT student (loads the teacher in init_weights).
    iters = 8
    cfg = _short_run(Config.fromfile(SYN_HHD), synthetic_root, tmp_path / 'hhd', iters=iters,
                     batch_size=4, aug=False, val=True)
    cfg.model.teacher_checkpoint = str(t_ckpt)
    runner = Runner.from_cfg(cfg)
    runner.train()
    saved = torch.load(t_ckpt, map_location='cpu', weights_only=True)['state_dict']
    for k, v in runner.model.teacher.state_dict().items():  # loaded, then never changed
        assert torch.equal(v, saved[k]), k
    hub = runner.message_hub
    hist = {k: hub.get_scalar(f'train/{k}').data[0] for k in ('loss', 'loss_kpt', 'loss_hhd')}
    print('\n' + '\n'.join(f'{k}: {np.round(v, 4).tolist()}' for k, v in hist.items()))
    assert len(hist['loss']) == iters
    for k in ('loss', 'loss_hhd'):
        first, last = np.mean(hist[k][:3]), np.mean(hist[k][-3:])
        assert last < first, f'{k} did not decrease: {hist[k]}'
        # ... and keeps decreasing after the large first step (random logits vs teacher).
        assert last < np.mean(hist[k][1:4]), f'{k} stopped decreasing: {hist[k]}'
    assert (tmp_path / 'hhd' / f'iter_{iters}.pth').is_file()
    # The runner's validation ran on the student (COCO metric on the synthetic val split).
    assert 'val/coco/AP' in hub.log_scalars


@pytest.mark.slow
def test_hhd_loss_share_of_a_training_step_at_batch_32(synthetic_root):
    """Cost of the HHD loss (forward + backward) in a full distillation step of the synthetic
    tiny config at batch 32 (goal: <= 3 %)."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from okdhp_mm.utils.config import build_model_from_config

    torch.set_num_threads(2)
    torch.manual_seed(0)
    cfg = _short_run(Config.fromfile(SYN_HHD), synthetic_root, '/unused', iters=1,
                     batch_size=32)
    model = build_model_from_config(cfg)
    share = hhd_loss_share(model, next(iter(Runner.build_dataloader(cfg.train_dataloader))),
                           repeats=2)
    print(f"\nHHD loss share at batch {share['batch_size']}: {100 * share['share']:.2f} % "
          f"(loss fwd+bwd {1e3 * share['loss_s']:.1f} ms / step {1e3 * share['step_s']:.0f} ms)")
    assert share['batch_size'] == 32
    assert share['share'] <= 0.03
