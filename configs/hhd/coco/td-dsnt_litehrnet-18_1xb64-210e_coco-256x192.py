# Lite-HRNet-18 + DSNT integral head on COCO 256x192: the HHD student (trained alone: the integral
# baseline). HHD released only MPII configs; this is their student moved to COCO: MMPose's
# Lite-HRNet-18 COCO heatmap config (its data pipeline with half-body, rotation +-60,
# scale 0.75-1.25, so the comparison with MMPose's heatmap model is like for like) with the head
# swapped for the released DSNTHead(in_channels=40, deconv_out_channels=None, beta=10) on the 1/4
# map (48x64), loss SmoothL1(coords) + 0 x MSE(heatmap), IntegralRegressionLabel(sigma=2,
# normalize=True); Adam 5e-4, 210 epochs, x0.1 at 170/200, warm-up 500 iters, batch 64 on one
# GPU, from scratch.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_litehrnet-18_8xb64-210e_coco-256x192.py',
    '../../_base_/okdhp_mm_runtime.py'
]
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

train_cfg = dict(max_epochs=210, val_interval=10)
default_hooks = dict(checkpoint=dict(_base_.checkpoint_hook, interval=50, save_best='coco/AP',
                                     rule='greater'))

codec = dict(type='IntegralRegressionLabel', input_size=(192, 256), heatmap_size=(48, 64),
             sigma=2.0, normalize=True)
model = dict(
    head=dict(
        _delete_=True,
        type='DSNTHead',
        in_channels=40,
        in_featuremap_size=(48, 64),  # (w, h)
        num_joints=17,
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
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', rotate_factor=60, scale_factor=(0.75, 1.25)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
