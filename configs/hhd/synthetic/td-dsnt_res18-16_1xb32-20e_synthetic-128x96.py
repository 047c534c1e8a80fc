# Integral (DSNT) student on the built-in synthetic set: the half-width ResNet-18 of
# configs/odkd/synthetic/td-hm_res18-16_1xb32-20e_synthetic-128x96.py with MMPose's DSNTHead
# (its 3 slim deconvolutions, beta=10) and the HHD task loss (SmoothL1 on coordinates, heatmap
# term weight 0), same data, schedule and 128x96 input as the heatmap teacher
# configs/baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py, whose 24x32 grid it
# shares. Like the released HHD students (and MMPose's DSNT recipes) it should start from a
# heatmap-trained model of its architecture: tools/evidence.py initialises it from the
# half-width heatmap student trained alone (load_from, keys mapped onto the integral head by
# okdhp_mm.utils.checkpoint.heatmap_to_integral_state). Trained alone it is the integral
# baseline of HHD's comparison.
_base_ = ['../../odkd/synthetic/td-hm_res18-16_1xb32-20e_synthetic-128x96.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

codec = dict(type='IntegralRegressionLabel', input_size=(96, 128), heatmap_size=(24, 32),
             sigma=1.5, normalize=True)
model = dict(
    head=dict(
        _delete_=True, type='DSNTHead', in_channels=128, num_joints=17, beta=10.,
        in_featuremap_size=(3, 4),  # (w, h) of the 1/32 feature map
        deconv_out_channels=(32, 32, 32), deconv_kernel_sizes=(4, 4, 4), decoder=codec,
        loss=dict(type='MultipleLossWrapper', losses=[
            dict(type='SmoothL1Loss', use_target_weight=True),
            dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=0.)])),
    test_cfg=dict(_delete_=True, flip_test=True, shift_coords=True, shift_heatmap=True))

# The teacher's augmentation, with integral-regression targets.
train_pipeline = [dict(step, encoder=codec) if step.type == 'GenerateTarget' else step
                  for step in _base_.train_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
