# The 2 + 3x2 OKDHP hourglass at 384x288 (heatmaps 96x72, sigma 3), as the released
# hg*_384x288 COCO configs: the 256x192 config with its codec and pipelines resized.
_base_ = ['./okdhp_hourglass4-2s-3x2b_1xb16-150e_coco-256x192.py']

codec = dict(type='MSRAHeatmap', input_size=(288, 384), heatmap_size=(72, 96), sigma=3)
resized = dict(TopdownAffine=dict(input_size=codec['input_size']),
               GenerateTarget=dict(encoder=codec))
train_dataloader = dict(dataset=dict(
    pipeline=[dict(t, **resized.get(t['type'], {})) for t in _base_.train_pipeline]))
val_dataloader = dict(dataset=dict(
    pipeline=[dict(t, **resized.get(t['type'], {})) for t in _base_.val_pipeline]))
test_dataloader = val_dataloader
model = dict(head=dict(branches=dict(decoder=codec)))
