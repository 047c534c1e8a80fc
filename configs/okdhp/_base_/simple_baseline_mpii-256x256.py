# The SimpleBaseline of the MobilePose setting with the OKDHP MPII recipe: MMPose's HeatmapHead
# (3 deconvolutions) on the encoder each config sets (backbone and head.in_channels).
_base_ = ['./okdhp_recipe_mpii-256x256.py']

model = dict(head=dict(_delete_=True, type='HeatmapHead', out_channels=16,
                       loss={{_base_.gt_loss}},
                       decoder={{_base_.codec}}))
