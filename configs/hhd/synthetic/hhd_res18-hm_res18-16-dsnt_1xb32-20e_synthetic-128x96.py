# HHD on the built-in synthetic set: the slim ResNet-18 heatmap model
# (configs/baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py, trained first) distils
# into the half-width ResNet-18 DSNT student of td-dsnt_res18-16_1xb32-20e_synthetic-128x96.py
# (whose data, schedule and evaluation this config inherits). Point teacher_checkpoint at the
# trained teacher (default below) or pass --cfg-options model.teacher_checkpoint=PATH.
_base_ = ['./td-dsnt_res18-16_1xb32-20e_synthetic-128x96.py']

model = dict(
    _delete_=True,
    type='TeacherStudentDistiller',
    student={{_base_.model}},
    teacher='{{ fileDirname }}/../../baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py',
    teacher_checkpoint='work_dirs/td-hm_res18_1xb32-20e_synthetic-128x96/epoch_20.pth',
    distill_losses=dict(
        # The released CropbiasLoss setting: L2-normalised raw maps, 8x8 unbiased crop, x0.5.
        loss_hhd=dict(type='HHDLoss', crop_size=(8, 8), norm='l2', loss_weight=0.5)))
