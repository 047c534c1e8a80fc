# The 4-stack paper hourglass evaluated on ground-truth person boxes (the released COCO setting).
_base_ = ['./td-hm_hourglass4-paper_1xb16-150e_coco-256x192.py']

val_dataloader = dict(dataset=dict(bbox_file=None))
test_dataloader = val_dataloader
