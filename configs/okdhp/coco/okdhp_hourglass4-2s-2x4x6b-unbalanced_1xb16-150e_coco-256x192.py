# OKDHP, unbalanced: stem + 2 shared stacks + branches of 2, 4 and 6 stacks (a 4-stack target
# branch, 6- and 8-stack auxiliary branches). Branch 0 exports as the 4-stack baseline beside.
_base_ = ['../_base_/multi_branch_hourglass_coco-256x192.py']

model = dict(
    backbone=dict(num_shared_stacks=2, branch_stacks=(2, 4, 6)),
    # The head is written anew: unlike the balanced piece it sets no loss (the heads' and
    # MultiBranchHead's defaults apply) and lists the branches one by one.
    head=dict(
        _delete_=True, type='MultiBranchHead', fau=_base_.model.head.fau, kd_ramp_epochs=90,
        shared_head=dict(type='CPMHead', in_channels=256, out_channels=17, num_stages=2,
                         deconv_out_channels=None),
        branches=[
            dict(type='CPMHead', in_channels=256, out_channels=17, num_stages=stages,
                 deconv_out_channels=None, decoder={{_base_.codec}}) for stages in (2, 4, 6)
        ]))
