# What every OKDHP MPII model shares: a MultiBranchPoseEstimator that predicts with branch 0
# (the student it exports) and, for validation, returns every branch and the ensemble, each
# scored by MpiiPCKAccuracy (MultiOutputMetric, which names the outputs after the model: branch0,
# ..., ensemble). No network: the multi-branch pieces beside this file add backbone and head.
_base_ = ['./okdhp_recipe_mpii-256x256.py']

model = dict(type='MultiBranchPoseEstimator', test_cfg=dict(branch=0, output_all=True))
val_evaluator = dict(
    _delete_=True, type='MultiOutputMetric',
    metric=dict(type='MpiiPCKAccuracy'))
test_evaluator = val_evaluator
# Keep the checkpoint whose best branch is best, as the released code does (it reports the best
# branch); plain keys (PCK, coco/AP) are those of branch 0.
default_hooks = dict(checkpoint=dict(save_best='best_branch/PCK', rule='greater'))
