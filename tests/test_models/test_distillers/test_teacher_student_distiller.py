"""TeacherStudentDistiller (HHD: heatmap teacher -> integral student; ODKD: several teachers):
frozen teachers and their checkpoints, compatibility checks, one student forward, the
distillation losses, prediction and export of the student."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from mmpose.registry import MODELS

from helpers.builders import (MEAN_STD, int_codec, optim_for, raw_coco_batch, state_copy,
                              tiny_distiller, tiny_distiller_cfg, tiny_student, tiny_teacher)
from helpers.paths import REPO, SYN_TEACHER
from helpers.training import okdhp_overrides, train_in_process, write_config
from okdhp_mm.models.distillers import TeacherStudentDistiller
from okdhp_mm.models.losses.hhd_loss import HHDLoss
from okdhp_mm.models.utils import align_heatmaps


@pytest.fixture(scope='module')
def batch(samples):
    return raw_coco_batch(samples, int_codec())


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


def _tiny_distiller(**kw):
    cfg = tiny_distiller_cfg()
    cfg.pop('_delete_')
    cfg.update(kw)
    return cfg


@pytest.mark.usefixtures('one_thread')
def test_missing_teacher_checkpoint_stops_the_runner_before_training(tmp_path, samples):
    missing = tmp_path / 'nowhere' / 'teacher.pth'
    size, hm = (32, 32), (8, 8)
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=size),
                dict(type='GenerateTarget', encoder=int_codec(size, hm)),
                dict(type='PackPoseInputs')]
    over = okdhp_overrides(samples, pipeline=pipeline)
    over['model'] = dict(_delete_=True, **_tiny_distiller(teacher_checkpoint=str(missing)))
    cfg = write_config(tmp_path / 'distil.py', over, recorder=dict(out_dir=str(tmp_path)))
    with pytest.raises(FileNotFoundError, match=r"teacher 'teacher' checkpoint '.*nowhere/"
                                                r"teacher\.pth' does not exist"):
        train_in_process(cfg, tmp_path / 'work')
    assert not (tmp_path / 'run_rank0.pt').exists()  # not a single iteration ran


def test_teacher_checkpoint_of_another_model_errors(tmp_path):
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}}, tmp_path / 'x.pth')
    model = tiny_distiller(teacher_checkpoint=str(tmp_path / 'x.pth'))
    with pytest.raises(RuntimeError, match=r"x\.pth' does not fit"):
        model.init_weights()


def test_student_checkpoint_given_as_teacher_checkpoint_is_refused(tmp_path):
    student = MODELS.build(tiny_distiller_cfg()['student'])
    torch.save({'state_dict': student.state_dict(), 'meta': {}}, tmp_path / 'student.pth')
    model = MODELS.build(_tiny_distiller(teacher_checkpoint=str(tmp_path / 'student.pth')))
    with pytest.raises(RuntimeError, match=r"student\.pth' does not fit"):
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

    student = str(REPO / 'configs/hhd/synthetic/td-dsnt_res18-16_1xb32-20e_synthetic-'
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
    raw = raw_coco_batch(samples, int_codec((96, 128), (24, 32)), input_size=(96, 128))
    data = model.data_preprocessor(raw, True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_kpt', 'acc_pose', 'loss_a', 'loss_b'}
    with torch.no_grad():
        logits = model.student.head.simplebaseline_head(model.student.extract_feat(data['inputs']))
        t_b = model.teachers['b'](data['inputs'], None, mode='tensor')
    torch.testing.assert_close(losses['loss_b'].detach(),
                               HHDLoss(loss_weight=2.)(logits, t_b), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------------------
# Losses, one student forward, prediction, export
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
    torch.manual_seed(0)
    model = tiny_distiller().eval()
    plain = MODELS.build(tiny_student()).eval()
    plain.load_state_dict(model.student.state_dict(), strict=True)
    assert model.data_preprocessor is model.student.data_preprocessor
    test_batch = raw_coco_batch(samples)
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
    torch.manual_seed(0)
    model = tiny_distiller()
    model.train()  # move the BN statistics away from their initial values
    optim = optim_for(model)
    model.train_step(raw_coco_batch(samples, int_codec()), optim)
    model.eval()
    cfg, state = model.export_student()
    assert cfg['type'] == 'TopdownPoseEstimator' and 'teacher' not in str(cfg)
    assert not any(k.startswith(('student.', 'teachers.')) for k in state)
    assert set(state) == set(model.student.state_dict())
    plain = MODELS.build(cfg).eval()
    plain.load_state_dict(state, strict=True)
    test_batch = raw_coco_batch(samples)
    with torch.no_grad():
        ours = model.test_step(copy.deepcopy(test_batch))
        ref = plain.test_step(copy.deepcopy(test_batch))
    for a, b in zip(ours, ref):
        assert np.abs(a.pred_instances.keypoints - b.pred_instances.keypoints).max() <= 1e-4
    with pytest.raises(ValueError, match='single student'):
        model.export_student(1)


def test_export_drops_pretrained_initialisers():
    from mmengine.config import Config
    cfg = Config.fromfile(REPO / 'configs/hhd/mpii/'
                          'hhd_hrnet-w48_mobilenetv2-dsnt_1xb64-210e_mpii-256x256.py')
    assert cfg.model.student.backbone.init_cfg.type == 'Pretrained'
    model = MODELS.build(cfg.model)
    student_cfg, _ = model.export_student()
    assert 'init_cfg' not in student_cfg['backbone'] and 'Pretrained' not in str(student_cfg)
