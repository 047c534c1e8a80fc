# OKDHP on MMPose's HourglassNet (a plain-MMPose stand-in for the released hourglass, about
# 5x its size), balanced: a stem and shared stacks, then 3 branches of stacks (depth 4, 256
# channels, one block per level), each stack with a CPM head; the official FAU on the stem
# feature ensembles the branches' final heatmaps and teaches every stack through pixel-wise KL.
# Each config sets the stack counts (backbone and the heads' num_stages).
_base_ = ['./okdhp_multi_output_coco-256x192.py']

model = dict(
    backbone=dict(type='MultiBranchHourglassNet', downsample_times=4,
                  stage_channels=(256, ) * 5, stage_blocks=(1, ) * 5),
    head=dict(
        type='MultiBranchHead', num_branches=3,
        shared_head=dict(type='CPMHead', in_channels=256, out_channels=17,
                         deconv_out_channels=None,
                         loss={{_base_.gt_loss}}),
        branches=dict(type='CPMHead', in_channels=256, out_channels=17, deconv_out_channels=None,
                      loss={{_base_.gt_loss}},
                      decoder={{_base_.codec}}),
        fau=dict(type='FeatureAggregationUnit', in_channels=256, mode='official'),
        ensemble_loss={{_base_.gt_loss}},
        kd_loss=dict(type='PixelKLDivLoss', use_target_weight=True, loss_weight=2.0),
        kd_ramp_epochs=90))
