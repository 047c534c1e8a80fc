# DWPose's first stage (Yang et al., "Effective Whole-body Pose Estimation with Two-stages
# Distillation", ICCV 2023 workshops) as MMPose ships it: MMPose's DWPoseDistiller, unmodified,
# distils a larger RTMPose trained first on the same data (RTMPose-s, rtmpose-s-s16) into
# RTMPose-t (rtmpose-t-s16, whose data and schedule this config inherits) with MMPose's FeaLoss
# (MSE of the 1x1-aligned last feature maps, alpha 7e-5) and KDLoss (SimCC logit KL, weight
# 0.1), both decayed linearly to 0 over the schedule; DWPose's settings for RTMPose-t. The
# two-stage peer of OKDHP-RTMPose in tools/evidence.py, which sets `teacher_pretrained` to the
# trained teacher. `tools/export_student.py` (the weights MMPose's `tools/misc/pth_transfer.py`
# keeps, with a plain config and dataset_meta) turns a checkpoint into the plain RTMPose-t.
_base_ = ['../../baseline/synthetic/rtmpose-t-s16_1xb32-20e_synthetic-128x96.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='DWPoseDistiller',
    teacher_cfg='{{ fileDirname }}/../../baseline/synthetic/'
    'rtmpose-s-s16_1xb32-20e_synthetic-128x96.py',
    student_cfg='{{ fileDirname }}/../../baseline/synthetic/'
    'rtmpose-t-s16_1xb32-20e_synthetic-128x96.py',
    teacher_pretrained=None,
    distill_cfg=[
        dict(methods=[dict(type='FeaLoss', name='loss_fea', use_this=True,
                           student_channels=192, teacher_channels=256, alpha_fea=0.00007)]),
        dict(methods=[dict(type='KDLoss', name='loss_logit', use_this=True, weight=0.1)])],
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True))
optim_wrapper = dict(clip_grad=dict(max_norm=1., norm_type=2))
