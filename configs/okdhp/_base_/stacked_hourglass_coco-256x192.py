# The released stacked hourglass (Newell et al., as OKDHP and FPD ship it: pre-activation
# bottlenecks, heatmaps re-injected between stacks; 13.02 M parameters for 4 stacks).
# StackedHourglassNet outputs every stack's heatmaps; MMPose's CPMHead, with no layers of its
# own (final_layer=None), supervises each stack and decodes the last. Configs set num_stacks.
_base_ = ['./okdhp_recipe_coco-256x192.py']

model = dict(
    backbone=dict(type='StackedHourglassNet', num_keypoints=17),
    head=dict(type='CPMHead', in_channels=17, out_channels=17, deconv_out_channels=None,
              final_layer=None, loss={{_base_.gt_loss}}, decoder={{_base_.codec}}))
