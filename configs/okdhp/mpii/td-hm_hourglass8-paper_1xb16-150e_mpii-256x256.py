# Single-branch 8-stack hourglass with the paper's stack size (depth 4, 256 channels, one block
# per level): the OKDHP baseline, and the architecture of the student exported from OKDHP.
_base_ = ['../_base_/okdhp_recipe_mpii-256x256.py']

model = dict(
    backbone=dict(num_stacks=8, downsample_times=4, stage_channels=(256, ) * 5,
                  stage_blocks=(1, ) * 5),
    head=dict(num_stages=8, decoder={{_base_.codec}}))
