"""An ODKD student whose head is a ``MaskAwareHeatmapHead`` (the auxiliary mask task, option
(b)) exports as a plain MMPose ``HeatmapHead`` model whatever ``mask_*`` arguments it was given:
plain MMPose's registry builds the exported config and loads the exported weights strictly."""
from __future__ import annotations

import copy
import inspect

import torch
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS

from helpers.builders import randomize_weights, tiny_teacher
from okdhp_mm.models.heads.mask_aware_head import MaskAwareHeatmapHead

# A value other than the default for every mask_* argument of MaskAwareHeatmapHead.
NON_DEFAULT_MASK_ARGS = dict(mask_loss_weight=0.25, mask_pos_weight=3.0, mask_dice_weight=0.5,
                             mask_key='person_seg', mask_mode='hard', mask_fallback='none',
                             mask_keep_ratio=0.75)


def test_the_test_sets_every_mask_argument_to_a_non_default_value():
    """A mask argument added to the head later must be added here too (and so exported)."""
    params = inspect.signature(MaskAwareHeatmapHead.__init__).parameters
    defaults = {n: p.default for n, p in params.items() if n.startswith('mask_')}
    assert set(defaults) == set(NON_DEFAULT_MASK_ARGS)
    assert all(NON_DEFAULT_MASK_ARGS[n] != d for n, d in defaults.items())


def test_odkd_student_with_every_mask_argument_exports_a_plain_heatmap_head():
    from okdhp_mm.export import find_foreign_types

    student = tiny_teacher()
    student['head'].update(type='MaskAwareHeatmapHead', **NON_DEFAULT_MASK_ARGS)
    senior = tiny_teacher()
    senior['head'].update(type='MaskAwareHeatmapHead')
    torch.manual_seed(0)
    distiller = MODELS.build(dict(
        type='TeacherStudentDistiller', student=student,
        teachers=dict(primary=dict(model=tiny_teacher()),
                      senior=dict(model=senior, source='head.masked_output')),
        distill_losses=dict(
            loss_primary=dict(type='ODKDHeatmapLoss', teacher_name='primary'),
            loss_senior=dict(type='ODKDHeatmapLoss', teacher_name='senior'))))
    assert isinstance(distiller.student.head, MaskAwareHeatmapHead)
    randomize_weights(distiller.student)

    cfg, state = distiller.export_student(0)
    head_cfg = cfg['head']
    assert head_cfg['type'] == 'HeatmapHead'
    assert not [k for k in head_cfg if k.startswith('mask_')], head_cfg
    assert find_foreign_types(cfg) == []
    assert not [k for k in state if 'mask_layer' in k]

    plain = MODELS.build(copy.deepcopy(cfg))  # plain MMPose's registry and types
    assert type(plain.head) is HeatmapHead
    plain.load_state_dict(state, strict=True)
    plain.eval()
    distiller.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = distiller.student(x, None, mode='tensor')
        theirs = plain(x, None, mode='tensor')
    assert torch.equal(ours, theirs)
