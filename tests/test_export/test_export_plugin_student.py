"""A student on the released stacked hourglass needs okdhp_mm: the export says so, and works."""
from __future__ import annotations

import copy

import torch
import yaml
from mmengine.config import Config

from helpers.paths import TINY_OKDHP


def _tiny_paper_okdhp() -> Config:
    """The tiny COCO-samples OKDHP config on a small MultiBranchStackedHourglassNet."""
    cfg = Config.fromfile(TINY_OKDHP)
    k = 17
    cfg.model.backbone = dict(type='MultiBranchStackedHourglassNet', num_shared_stacks=1,
                              branch_stacks=(1, 1, 1), num_keypoints=k, num_feats=16, depth=2)
    stage = dict(type='CPMHead', in_channels=k, out_channels=k, deconv_out_channels=None,
                 final_layer=None, num_stages=1)
    cfg.model.head.shared_head = stage
    cfg.model.head.branches = dict(stage, decoder=copy.deepcopy(cfg.codec))
    cfg.model.head.fau = dict(type='FeatureAggregationUnit', in_channels=16, mode='light')
    return cfg


def test_paper_hourglass_student_exports_with_custom_imports(tmp_path):
    from mmpose.registry import MODELS

    from okdhp_mm.export import export_student
    from okdhp_mm.utils.config import build_model_from_config

    cfg = _tiny_paper_okdhp()
    torch.manual_seed(0)
    model = build_model_from_config(cfg)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'm.pth')
    info = export_student(cfg, str(tmp_path / 'm.pth'), str(tmp_path / 'zoo'), branch=1,
                          name='paper')
    assert info['requires'] == ['okdhp_mm'] and info['plain_mmpose'] is False
    exported = Config.fromfile(info['config'])
    assert exported.custom_imports == dict(imports=['okdhp_mm'], allow_failed_imports=False)
    assert exported.model.backbone.type == 'StackedHourglassNet'
    assert exported.model.backbone.num_stacks == 2 and exported.model.head.num_stages == 2
    meta = yaml.safe_load(open(info['metafile']))['Models'][0]['Metadata']
    assert meta['Requires'] == ['okdhp_mm']
    ckpt = torch.load(info['checkpoint'], weights_only=True)
    assert ckpt['meta']['requires'] == ['okdhp_mm']
    # The exported weights are branch 1: same heatmaps as the multi-branch model's branch 1.
    student = MODELS.build(exported.model).eval()
    student.load_state_dict(ckpt['state_dict'], strict=True)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = model.backbone(x)
        expected = feats.shared + feats.branch(1)
        got = list(student.backbone(x))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_plain_students_need_no_plugin(tmp_path):
    from okdhp_mm.export import export_student
    from okdhp_mm.utils.config import build_model_from_config

    cfg = Config.fromfile(TINY_OKDHP)
    torch.save({'state_dict': build_model_from_config(cfg).state_dict()}, tmp_path / 'm.pth')
    info = export_student(cfg, str(tmp_path / 'm.pth'), str(tmp_path / 'zoo'), branch=0)
    assert info['requires'] == [] and info['plain_mmpose'] is True
    assert 'custom_imports' not in Config.fromfile(info['config'])
    meta = yaml.safe_load(open(info['metafile']))['Models'][0]['Metadata']
    assert 'Requires' not in meta
