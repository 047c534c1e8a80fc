# RTMPose-t (CSPNeXt-t + RTMCCHead, SimCC) on the built-in synthetic set at 128x96, from scratch,
# with the synthetic recipe of td-hm_res18_1xb32-20e_synthetic-128x96.py beside this file (its
# data, augmentation, Adam schedule and flip test); RTMPose's own model and SimCC codec. The
# student alone of the synthetic OKDHP-RTMPose config. Plain MMPose modules.
_base_ = ['./td-hm_res18_1xb32-20e_synthetic-128x96.py']
custom_imports = dict(imports=['okdhp_mm'], allow_failed_imports=False)

simcc = dict(type='SimCCLabel', input_size=(96, 128), sigma=(2.45, 2.83), simcc_split_ratio=2.0,
             normalize=False, use_dark=False)
codec = dict(_delete_=True, **simcc)  # replaces the base's heatmap codec, not merged into it
model = dict(
    backbone=dict(_delete_=True, _scope_='mmdet', type='CSPNeXt', arch='P5', expand_ratio=0.5,
                  deepen_factor=0.167, widen_factor=0.375, out_indices=(4, ),
                  channel_attention=True, norm_cfg=dict(type='BN'), act_cfg=dict(type='SiLU')),
    head=dict(
        _delete_=True, type='RTMCCHead', in_channels=384, out_channels=17,
        input_size=simcc['input_size'], in_featuremap_size=(3, 4), simcc_split_ratio=2.0,
        final_layer_kernel_size=7,
        gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2, dropout_rate=0., drop_path=0.,
                     act_fn='SiLU', use_rel_bias=False, pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10., label_softmax=True),
        decoder=simcc),
    test_cfg=dict(_delete_=True, flip_test=True))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(step, encoder=simcc) if step.type == 'GenerateTarget' else step
    for step in _base_.train_pipeline]))
