# MMPose's own hourglass (HourglassNet + CPMHead, the model of MMPose's hourglass config the
# recipe stands on) at OKDHP's sizes: depth 4, 256 channels, one 3x3 BasicBlock per level,
# a CPM head per stack. The single-branch td-hm_hourglass*-mmpose baselines set the stack count
# (backbone num_stacks, head num_stages).
_base_ = ['./okdhp_recipe_coco-256x192.py']

model = dict(
    backbone=dict(type='HourglassNet', downsample_times=4, stage_channels=(256, ) * 5,
                  stage_blocks=(1, ) * 5),
    head=dict(type='CPMHead', in_channels=256, out_channels=17, deconv_out_channels=None,
              loss={{_base_.gt_loss}},
              decoder={{_base_.codec}}))
