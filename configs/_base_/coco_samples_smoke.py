# The real COCO samples (shared/data/mmpose_samples/coco: 4 images, 14 people) as a smoke set
# for `mim train` / `mim test` and the export round trip: the COCO top-down data settings of
# MMPose's SimpleBaseline config, ground-truth boxes, batch 4, 2 epochs, our checkpoint hook.
# Data and runtime only, no network: the configs in configs/*/coco_samples/ set backbone and
# head. Far too little data to learn or to measure accuracy.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
          './okdhp_mm_runtime.py',
          './topdown_frame.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

# Override on the command line (--cfg-options data_root=...) when the samples live elsewhere.
data_root = '{{ fileDirname }}/../../../shared/data/mmpose_samples/coco/'

train_cfg = dict(max_epochs=2, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(_base_.checkpoint_hook, interval=1))
auto_scale_lr = dict(enable=False)

# The estimator's frame of MMPose's config (data preprocessor, flip test), not its network.
model = dict(_base_.topdown_frame, _delete_=True)

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
