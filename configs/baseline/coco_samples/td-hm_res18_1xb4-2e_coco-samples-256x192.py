# SimpleBaseline ResNet-18 on the real COCO samples (shared/data/mmpose_samples/coco): a smoke
# config for `mim train` / `mim test`, far too little data to measure accuracy.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

# Override on the command line (--cfg-options data_root=...) when the samples live elsewhere.
data_root = '{{ fileDirname }}/../../../../shared/data/mmpose_samples/coco/'

train_cfg = dict(max_epochs=2, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(type='AtomicCheckpointHook', interval=1))
auto_scale_lr = dict(enable=False)

model = dict(
    backbone=dict(depth=18, init_cfg=None),  # no download: trained from scratch
    head=dict(in_channels=512, deconv_out_channels=(128, 128, 128)))

train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file='test_coco.json', data_prefix=dict(img='')))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, ann_file='test_coco.json', data_prefix=dict(img=''),
                 bbox_file=None))  # ground-truth boxes
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'test_coco.json')
test_evaluator = val_evaluator
