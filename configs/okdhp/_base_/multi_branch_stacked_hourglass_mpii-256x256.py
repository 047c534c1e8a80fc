# OKDHP on the released stacked hourglass (hourglass_okd_share_less): a stem and shared stacks,
# then 3 branches of stacks; every stack's heatmaps are supervised (CPMHeads without layers of
# their own); the official FAU on the stem feature ensembles the branches' final heatmaps and
# teaches every stack through pixel-wise KL. Each config sets the stack counts.
_base_ = ['./okdhp_multi_output_mpii-256x256.py']

model = dict(
    backbone=dict(type='MultiBranchStackedHourglassNet', num_keypoints=16),
    head=dict(
        type='MultiBranchHead', num_branches=3,
        shared_head=dict(type='CPMHead', in_channels=16, out_channels=16,
                         deconv_out_channels=None, final_layer=None, loss={{_base_.gt_loss}}),
        branches=dict(type='CPMHead', in_channels=16, out_channels=16, deconv_out_channels=None,
                      final_layer=None, loss={{_base_.gt_loss}}, decoder={{_base_.codec}}),
        fau=dict(type='FeatureAggregationUnit', in_channels=256, mode='official'),
        ensemble_loss={{_base_.gt_loss}},
        kd_loss=dict(type='PixelKLDivLoss', use_target_weight=True, loss_weight=2.0),
        kd_ramp_epochs=90))
