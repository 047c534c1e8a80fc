# Two-stage offline KD as in FPD (Zhang et al., "Fast Human Pose Estimation", CVPR 2019) on the
# built-in synthetic set: a larger heatmap teacher (the slim ResNet-18 SimpleBaseline of
# configs/baseline/synthetic/, trained first) and the half-width ResNet-18 student of
# configs/odkd/synthetic/td-hm_res18-16_1xb32-20e_synthetic-128x96.py (whose data and schedule this
# config inherits), trained with the released FPD objective
#   L = (1 - alpha) MSE(student, GT) + alpha MSE(student, teacher),  alpha = 0.5
# (JointsMSELoss with target weights on both terms, the teacher's last output as its target).
# The second stage of OKDHP's "two-stage" comparison: tools/evidence.py counts the teacher's
# training time in this row's wall time.
_base_ = ['../../odkd/synthetic/td-hm_res18-16_1xb32-20e_synthetic-128x96.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

alpha = 0.5
student = dict(_base_.model, head=dict(
    _base_.model.head, loss=dict(type='KeypointMSELoss', use_target_weight=True,
                                 loss_weight=1 - alpha)))
model = dict(
    _delete_=True,
    type='TeacherStudentDistiller',
    student=student,
    teacher='{{ fileDirname }}/../../baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py',
    teacher_checkpoint='work_dirs/td-hm_res18_1xb32-20e_synthetic-128x96/epoch_20.pth',
    distill_losses=dict(
        loss_fpd=dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=alpha)))
