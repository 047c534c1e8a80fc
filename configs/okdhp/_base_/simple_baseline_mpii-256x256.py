# The SimpleBaseline of the MobilePose setting with the OKDHP MPII recipe: MMPose's HeatmapHead
# (3 deconvolutions) on the encoder each config sets (backbone and head.in_channels): the
# recipe has no network, so a config adds its backbone.
_base_ = ['./okdhp_recipe_mpii-256x256.py']

model = dict(head=dict(type='HeatmapHead', out_channels=16, loss={{_base_.gt_loss}},
                       decoder={{_base_.codec}}))
