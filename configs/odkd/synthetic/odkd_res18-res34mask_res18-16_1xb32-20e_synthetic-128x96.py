# ODKD on the synthetic set: primary teacher the slim ResNet-18 baseline
# (configs/baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py), senior teacher a
# stronger network, a mask-aware ResNet-34 of the same width
# (td-hm-mask_res34_1xb32-20e_synthetic-128x96.py), student the half-width
# ResNet-18 (td-hm_res18-16_1xb32-20e_synthetic-128x96.py, whose data and schedule this config
# inherits). Train both teachers first. Epochs 0-9 learn from the primary teacher, then the
# hand-over to the senior is gradual (OrderlyTeacherHook). Binarisation keeps the teacher's
# values above half its peak ('keep'; the 0/1 disc 'hard' lost 0.016 AP on the tune split).
_base_ = ['./td-hm_res18-16_1xb32-20e_synthetic-128x96.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

kd = dict(type='ODKDHeatmapLoss', threshold=0.5, relative=True, mode='keep')
model = dict(
    _delete_=True,
    type='TeacherStudentDistiller',
    student={{_base_.model}},
    teachers=dict(
        primary=dict(
            model='{{ fileDirname }}/../../baseline/synthetic/'
            'td-hm_res18_1xb32-20e_synthetic-128x96.py',
            checkpoint='work_dirs/td-hm_res18_1xb32-20e_synthetic-128x96/epoch_20.pth'),
        senior=dict(
            model='{{ fileDirname }}/td-hm-mask_res34_1xb32-20e_synthetic-128x96.py',
            checkpoint='work_dirs/td-hm-mask_res34_1xb32-20e_synthetic-128x96/epoch_20.pth',
            source='head.masked_output')),
    distill_losses=dict(
        loss_primary=dict(kd, teacher_name='primary', loss_weight=1.0),
        loss_senior=dict(kd, teacher_name='senior', loss_weight=0.0)))
custom_hooks = [dict(type='OrderlyTeacherHook', switch_epoch=10)]
