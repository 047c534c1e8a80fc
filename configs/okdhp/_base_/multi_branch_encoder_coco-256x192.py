# OKDHP in the MobilePose setting: the whole encoder (set by each config) is shared and each of
# the 3 branches is a full SimpleBaseline decoder (an MMPose HeatmapHead), so a branch exports as
# the SimpleBaseline of the same encoder; the official FAU reads the encoder output.
_base_ = ['./okdhp_multi_output_coco-256x192.py']

model = dict(head=dict(
    type='MultiBranchHead', num_branches=3,
    # simple_baseline_coco-256x192.py's head: the baseline a branch exports as.
    branches=dict(type='HeatmapHead', out_channels=17, loss={{_base_.gt_loss}},
                  decoder={{_base_.codec}}),
    # The released FAU is 256 channels wide: a 1x1 reduction keeps it so on wider encoders.
    fau=dict(type='FeatureAggregationUnit', mode='official', reduce_channels=256),
    kd_ramp_epochs=90))
