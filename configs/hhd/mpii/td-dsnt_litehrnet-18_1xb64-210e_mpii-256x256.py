# Lite-HRNet-18 + DSNT integral head on MPII 256x256: the HHD student (ducongju/HHD
# mmpose/configs/lzy_configs/dsnt_lite18.py) trained alone, i.e. the integral baseline HHD
# improves on. As released: LiteHRNet with_head=True (one 40-channel map at 1/4 resolution),
# DSNTHead(in_channels=40, in_featuremap_size=(64, 64), deconv_out_channels=None, num_joints=16,
# beta=10), loss = SmoothL1(coords) + 0 x MSE(heatmap), IntegralRegressionLabel(sigma=2,
# normalize=True); Adam 5e-4, 210 epochs, x0.1 at 170/200, LinearLR warm-up 500 iters from
# 0.001, batch 64 on one GPU, RandomBBoxTransform(shift_prob=0) with MMPose's defaults
# (scale 0.5-1.5, rotate +-80 w.p. 0.6), no half-body; flip test with shifted coordinates.
# From scratch: the HHD configs point at the missing `dsnt_lite18_nopre.py` ("no pretrain").
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/mpii/'
    'td-hm_litehrnet-18_8xb64-210e_mpii-256x256.py',
    '../../_base_/okdhp_mm_runtime.py'
]
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

train_cfg = dict(max_epochs=210, val_interval=10)
default_hooks = dict(checkpoint=dict(_base_.checkpoint_hook, interval=50, save_best='PCK',
                                     rule='greater'))

codec = dict(type='IntegralRegressionLabel', input_size=(256, 256), heatmap_size=(64, 64),
             sigma=2.0, normalize=True)
model = dict(
    head=dict(
        _delete_=True,
        type='DSNTHead',
        in_channels=40,
        in_featuremap_size=(64, 64),
        num_joints=16,
        beta=10.,
        deconv_out_channels=None,
        loss=dict(type='MultipleLossWrapper', losses=[
            dict(type='SmoothL1Loss', use_target_weight=True),
            dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=0.)]),
        decoder=codec),
    test_cfg=dict(_delete_=True, flip_test=True, shift_coords=True, shift_heatmap=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
