"""okdhp_mm.export.export_student: what it refuses (checkpoints of another architecture, a
student plain MMPose cannot build, ``--branch best`` without metrics) and the HHD distiller's
student it writes (the mim-trained OKDHP round trip: tests/e2e/test_export_workflow.py)."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from mmpose.registry import MODELS

from helpers.builders import tiny_mobile_okdhp
from helpers.paths import REPO, SYN_HHD, TINY_OKDHP, load_tool, run_cmd
from okdhp_mm.export import verify_student


def test_export_refuses_a_checkpoint_of_another_architecture(tmp_path):
    from mmengine.config import Config

    from okdhp_mm.export import ExportError, export_student
    from okdhp_mm.utils.config import build_model_from_config

    other = Config.fromfile(REPO / 'configs/baseline/coco_samples/'
                            'td-hm_res18_1xb4-2e_coco-samples-256x192.py')
    torch.save({'state_dict': build_model_from_config(other).state_dict()}, tmp_path / 'o.pth')
    with pytest.raises(ExportError, match=r'o\.pth.* does not match config .*missing keys: '
                                          r'backbone\.branches'):
        export_student(str(TINY_OKDHP), str(tmp_path / 'o.pth'), str(tmp_path / 'z'),
                       branch=0)


def test_export_refuses_a_shared_encoder_checkpoint_for_the_hourglass_config(tmp_path):
    """The tiny hourglass config with a (shared-encoder) ResNet OKDHP checkpoint."""
    from okdhp_mm.export import ExportError, export_student

    other = MODELS.build(tiny_mobile_okdhp())
    torch.save({'state_dict': other.state_dict(), 'meta': {}}, tmp_path / 'other.pth')
    cfg = TINY_OKDHP
    with pytest.raises(ExportError, match=r"other\.pth' does not match config .*okdhp_hourglass"
                                          r".*missing keys: .*unexpected keys: .*pass the "
                                          r'checkpoint trained with this config'):
        export_student(str(cfg), str(tmp_path / 'other.pth'), str(tmp_path / 'out'), branch=0)
    assert not (tmp_path / 'out').exists()


def test_export_refuses_a_student_plain_mmpose_cannot_build(tmp_path):
    from mmengine.config import Config
    from mmpose.models.heads import CPMHead

    from okdhp_mm.export import ExportError, export_student
    from okdhp_mm.utils.config import build_model_from_config

    @MODELS.register_module(force=True)
    class PluginOnlyCPMHead(CPMHead):
        """A head that exists only where its plugin is installed."""

    cfg = Config.fromfile(TINY_OKDHP)
    cfg.model.head.branches.type = 'PluginOnlyCPMHead'
    torch.save({'state_dict': build_model_from_config(cfg).state_dict()}, tmp_path / 'p.pth')
    with pytest.raises(ExportError, match=r'not expressible.*head\.type=PluginOnlyCPMHead'):
        export_student(cfg, str(tmp_path / 'p.pth'), str(tmp_path / 'z'), branch=0)


def test_best_branch_needs_per_branch_metrics(tmp_path):
    from mmengine.config import Config

    from okdhp_mm.export import ExportError, export_student
    from okdhp_mm.utils.config import build_model_from_config

    cfg = Config.fromfile(TINY_OKDHP)
    torch.save({'state_dict': build_model_from_config(cfg).state_dict()}, tmp_path / 'c.pth')
    with pytest.raises(ExportError,
                       match=r'--branch best needs val/branch0\.\.2/coco/AP .* work_dir'):
        export_student(cfg, str(tmp_path / 'c.pth'), str(tmp_path / 'z'), branch='best')


# ------------------------------------------------------------------------------ HHD student
def test_export_tool_writes_a_student_plain_mmpose_loads(tmp_path, samples):
    """okdhp_mm.export.export_student on the synthetic HHD config; plain MMPose (okdhp_mm not
    importable) predicts like the distiller."""
    import yaml
    from mmengine.config import Config

    from okdhp_mm.export import export_student
    from okdhp_mm.utils.config import build_model_from_config

    torch.manual_seed(0)
    model = build_model_from_config(Config.fromfile(SYN_HHD))
    for m in model.student.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ckpt = tmp_path / 'distiller.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    info = export_student(str(SYN_HHD), str(ckpt), str(tmp_path / 'zoo'))
    assert info['branch'] is None
    raw = torch.load(info['checkpoint'], map_location='cpu', weights_only=True)
    assert set(raw['state_dict']) == set(model.student.state_dict())
    text = open(info['config']).read()
    assert 'okdhp_mm' not in text and 'TeacherStudentDistiller' not in text
    assert 'AtomicCheckpointHook' not in text and 'checkpoint_hook' not in text
    assert 'HHDLoss' not in text and 'DSNTHead' in text
    meta = yaml.safe_load(open(info['metafile']))['Models'][0]
    assert meta['Metadata']['Architecture'] == ['ResNet', 'DSNTHead']  # res18-16 DSNT

    common = ['--ann', samples / 'coco/test_coco.json', '--img-dir', samples / 'coco']
    run_cmd([sys.executable, REPO / 'tools/verify_student.py', info['config'],
             info['checkpoint'], *common, '--out', tmp_path / 'plain.npz',
             '--forbid', 'okdhp_mm'])
    plain = np.load(tmp_path / 'plain.npz')
    # The distiller's own predictions: the same tool, in this process (okdhp_mm importable).
    assert verify_student.main([str(a) for a in (
        SYN_HHD, ckpt, *common, '--out', tmp_path / 'ours.npz')]) == 0
    ours = np.load(tmp_path / 'ours.npz')
    np.testing.assert_array_equal(plain['ann_ids'], ours['ann_ids'])
    assert len(plain['ann_ids']) >= 4
    assert np.abs(plain['keypoints'] - ours['keypoints']).max() <= 1e-4
    np.testing.assert_allclose(plain['scores'], ours['scores'], atol=1e-6)
