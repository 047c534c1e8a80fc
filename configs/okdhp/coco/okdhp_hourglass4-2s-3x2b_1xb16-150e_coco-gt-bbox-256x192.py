# The 2 + 3x2 OKDHP hourglass evaluated on ground-truth person boxes, as the released (FPD)
# COCO configs do (TEST.USE_GT_BBOX: true); the config beside it uses detected boxes.
_base_ = ['./okdhp_hourglass4-2s-3x2b_1xb16-150e_coco-256x192.py']

val_dataloader = dict(dataset=dict(bbox_file=None))
test_dataloader = val_dataloader
