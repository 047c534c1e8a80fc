# OKDHP in the MobilePose setting: the whole encoder (set by each config) is shared and each of
# the 3 branches is a full SimpleBaseline decoder (an MMPose HeatmapHead), so a branch exports as
# the SimpleBaseline of the same encoder; the official FAU reads the encoder output.
_base_ = ['./okdhp_multi_output_coco-256x192.py']

model = dict(head=dict(
    _delete_=True, type='MultiBranchHead', branches=_base_.model.head, num_branches=3,
    # The released FAU is 256 channels wide: a 1x1 reduction keeps it so on wider encoders.
    fau=dict(type='FeatureAggregationUnit', mode='official', reduce_channels=256),
    kd_ramp_epochs=90))
