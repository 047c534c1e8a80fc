# Evaluate the ODKD HRNet-W16 student (COCO-trained; export it with tools/export_student.py, or
# use the plain baseline's checkpoint) on OCHuman val (MMPose's OCHumanDataset, ground-truth
# boxes, CocoMetric), e.g.
#   mim test mmpose configs/odkd/ochuman/td-hm_hrnet-w16_ochuman-256x192.py --checkpoint S.pth
# Data layout as MMPose documents it: data/ochuman/images, data/ochuman/annotations.
_base_ = ['../coco/td-hm_hrnet-w16_8xb64-210e_coco-256x192.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

data_root = 'data/ochuman/'
val_ann = 'annotations/ochuman_coco_format_val_range_0.00_1.00.json'
val_dataloader = dict(
    dataset=dict(type='OCHumanDataset', data_root=data_root, ann_file=val_ann,
                 data_prefix=dict(img='images/'), bbox_file=None))
test_dataloader = dict(
    dataset=dict(type='OCHumanDataset', data_root=data_root,
                 ann_file='annotations/ochuman_coco_format_test_range_0.00_1.00.json',
                 data_prefix=dict(img='images/'), bbox_file=None))
val_evaluator = dict(type='CocoMetric', ann_file=data_root + val_ann)
test_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/ochuman_coco_format_test_range_0.00_1.00.json')
