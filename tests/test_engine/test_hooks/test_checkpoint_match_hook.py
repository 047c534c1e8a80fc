"""CheckpointMatchHook: ``load_from`` a checkpoint of another architecture stops the run
before training, naming the checkpoint and the keys that do not fit (MMEngine alone only
warns and trains on with randomly initialised heads)."""
from __future__ import annotations

import copy

import pytest
import torch
from mmpose.registry import MODELS

from helpers.builders import MEAN_STD, tiny_resnet_okdhp
from helpers.training import okdhp_overrides, train_in_process, write_config

pytestmark = pytest.mark.usefixtures('one_thread')


def _plain_resnet_checkpoint(path):
    """A plain MMPose SimpleBaseline of the same tiny ResNet: its backbone keys fit an OKDHP
    model with that encoder, its head keys do not -- the silent half-load case."""
    cfg = dict(type='TopdownPoseEstimator', data_preprocessor=MEAN_STD,
               backbone=dict(type='ResNet', depth=18, stem_channels=16, base_channels=16),
               head=dict(type='HeatmapHead', in_channels=128, out_channels=17,
                         deconv_out_channels=(16, 16, 16), deconv_kernel_sizes=(4, 4, 4)))
    torch.save({'state_dict': MODELS.build(cfg).state_dict(), 'meta': {}}, path)
    return path


@pytest.fixture
def okdhp_cfg(tmp_path, samples):
    over = okdhp_overrides(samples)
    over.update(model=tiny_resnet_okdhp(), train_cfg=dict(max_epochs=1))
    return over


def test_load_from_another_architecture_only_warns_in_mmengine(tmp_path, okdhp_cfg, capsys):
    """Why CheckpointMatchHook exists: MMEngine loads load_from non-strictly, prints the
    mismatch and trains on with randomly initialised heads."""
    ckpt = _plain_resnet_checkpoint(tmp_path / 'plain.pth')
    cfg = write_config(tmp_path / 'okdhp.py', okdhp_cfg, recorder=dict(out_dir=str(tmp_path)))
    train_in_process(cfg, tmp_path / 'work', load_from=str(ckpt))
    out = capsys.readouterr()
    assert 'The model and loaded state dict do not match exactly' in out.out + out.err
    assert 'missing keys in source state_dict: head.branch_heads.0' in out.out + out.err
    assert (tmp_path / 'run_rank0.pt').exists()  # and it trained


def test_checkpoint_match_hook_stops_load_from_of_another_architecture(tmp_path, okdhp_cfg):
    ckpt = _plain_resnet_checkpoint(tmp_path / 'plain.pth')
    okdhp_cfg['custom_hooks'] = [dict(type='CheckpointMatchHook')]
    cfg = write_config(tmp_path / 'okdhp.py', okdhp_cfg, recorder=dict(out_dir=str(tmp_path)))
    with pytest.raises(ValueError, match=r"load_from='.*plain\.pth' is a checkpoint of another "
                                         r"architecture than this config's "
                                         r'MultiBranchPoseEstimator \(\d+ of the model\'s \d+ '
                                         r'keys fit; missing keys: head\.'):
        train_in_process(cfg, tmp_path / 'work', load_from=str(ckpt))
    assert not (tmp_path / 'run_rank0.pt').exists()


def test_checkpoint_match_hook_accepts_the_right_checkpoint(tmp_path, okdhp_cfg):
    from mmengine.config import Config

    over = copy.deepcopy(okdhp_cfg)
    over['custom_hooks'] = [dict(type='CheckpointMatchHook')]
    cfg = write_config(tmp_path / 'okdhp.py', over, recorder=dict(out_dir=str(tmp_path)))
    model = MODELS.build(Config.fromfile(str(cfg), import_custom_modules=False).model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'same.pth')
    train_in_process(cfg, tmp_path / 'work', load_from=str(tmp_path / 'same.pth'))
    assert (tmp_path / 'run_rank0.pt').exists()
