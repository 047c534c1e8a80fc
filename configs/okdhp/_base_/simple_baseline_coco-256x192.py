# The SimpleBaseline of the MobilePose setting with the OKDHP COCO recipe: MMPose's HeatmapHead
# (3 deconvolutions) on the encoder each config sets (backbone and head.in_channels): the
# recipe has no network, so a config adds its backbone.
_base_ = ['./okdhp_recipe_coco-256x192.py']

model = dict(head=dict(type='HeatmapHead', out_channels=17, loss={{_base_.gt_loss}},
                       decoder={{_base_.codec}}))
