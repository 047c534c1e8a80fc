# The SimpleBaseline of the MobilePose setting with the OKDHP COCO recipe: MMPose's HeatmapHead
# (3 deconvolutions) on the encoder each config sets (backbone and head.in_channels).
_base_ = ['./okdhp_recipe_coco-256x192.py']

model = dict(head=dict(_delete_=True, type='HeatmapHead', out_channels=17,
                       loss={{_base_.gt_loss}},
                       decoder={{_base_.codec}}))
