# ODKD senior teacher on the synthetic set: the slim ResNet-18 baseline with a person-mask output
# (MaskAwareHeatmapHead: class-balanced BCE + Dice on the synthetic figures' segmentation,
# rasterised on the 24x32 heatmap grid by TopdownGenerateMask). Evaluated with CocoMetric and the
# mask IoU (MaskIoUMetric) on the same split. Short fine-tune from the heatmap model: pass
# load_from=<the slim ResNet-18 baseline's checkpoint> (its mask layer starts fresh) and fewer
# epochs, as tools/evidence.py does.
_base_ = ['../../baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

data_root = '{{ fileDirname }}/../../../data/synthetic_coco/'
mask = dict(type='TopdownGenerateMask', heatmap_size={{_base_.codec.heatmap_size}})
# Mask loss weight 1e-3: the class-balanced BCE + Dice is ~0.7-1.7 against ~1e-3 for MMPose's
# heatmap MSE. Fine-tuned from the heatmap teacher (AP 0.694 on the evidence tune split) with
# weight 1 the senior fell to AP 0.222 (mask IoU 0.83); with 0.01 AP 0.693 (IoU 0.79); with
# 1e-3 AP 0.712 (IoU 0.70): stronger than the primary teacher, with a real mask. (Adam scales
# the mask layer's own updates, so its mask still trains at full speed.)
model = dict(head=dict(type='MaskAwareHeatmapHead', mask_loss_weight=1e-3),
             test_cfg=dict(output_mask=True))
train_pipeline = _base_.train_pipeline[:-1] + [mask, _base_.train_pipeline[-1]]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_pipeline = _base_.val_pipeline[:-1] + [mask, _base_.val_pipeline[-1]]
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val.json'),
    dict(type='MaskIoUMetric')]
test_evaluator = val_evaluator
