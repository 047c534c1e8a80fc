# OKDHP on MMPose's HourglassNet, unbalanced: stem + 2 shared stacks + branches of 2, 4 and
# 6 stacks (a 4-stack target branch, 6- and 8-stack auxiliary branches). Branch 0 exports as
# the 4-stack MMPose-hourglass baseline beside this file.
_base_ = ['../_base_/multi_branch_hourglass-mmpose_coco-256x192.py']

model = dict(
    backbone=dict(num_shared_stacks=2, branch_stacks=(2, 4, 6)),
    # The head lists the branches one by one (they differ in stage count).
    head=dict(
        _delete_=True, type='MultiBranchHead', fau=_base_.model.head.fau, kd_ramp_epochs=90,
        ensemble_loss=_base_.gt_loss,
        shared_head=dict(type='CPMHead', in_channels=256, out_channels=17, num_stages=2,
                         deconv_out_channels=None, loss=_base_.gt_loss),
        branches=[
            dict(type='CPMHead', in_channels=256, out_channels=17, num_stages=stages,
                 deconv_out_channels=None, loss=_base_.gt_loss, decoder={{_base_.codec}})
            for stages in (2, 4, 6)
        ]))
