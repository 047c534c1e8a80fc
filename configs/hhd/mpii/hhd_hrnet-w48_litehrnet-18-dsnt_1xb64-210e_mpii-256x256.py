# HHD on MPII 256x256: MMPose's HRNet-W48 heatmap model (PCKh 0.901), frozen, distils into the
# Lite-HRNet-18 DSNT student of td-dsnt_litehrnet-18_1xb64-210e_mpii-256x256.py, whose data,
# schedule and evaluation this config inherits. As released in ducongju/HHD
# (mmrazor/configs/lzy_configs/mmpose/HHD-lite/lite18.py). The student's raw DSNT logits (before
# beta and softmax) and the teacher's raw head.final_layer heatmap go through
# HHDLoss(crop_size=(8, 8), norm='l2', loss_weight=0.5), the released CropbiasLoss(mode=2,
# ifsoftmax=0, norm_mode_s=2, norm_mode_t=2, crop_size=[8, 8], loss_weight=0.5); total loss =
# student SmoothL1 + 0 x heatmap MSE + HHD. The teacher is frozen (eval, no grad); its checkpoint
# is loaded when training starts (TeacherStudentDistiller.init_weights). Validation, testing and
# export (tools/export_student.py) use the student only.
_base_ = ['./td-dsnt_litehrnet-18_1xb64-210e_mpii-256x256.py']

model = dict(
    _delete_=True,
    type='TeacherStudentDistiller',
    student={{_base_.model}},
    teacher='mmpose::body_2d_keypoint/topdown_heatmap/mpii/'
    'td-hm_hrnet-w48_8xb64-210e_mpii-256x256.py',
    teacher_checkpoint='https://download.openmmlab.com/mmpose/top_down/hrnet/'
    'hrnet_w48_mpii_256x256-92cab7bd_20200812.pth',
    distill_losses=dict(
        loss_hhd=dict(type='HHDLoss', crop_size=(8, 8), norm='l2', loss_weight=0.5)))
