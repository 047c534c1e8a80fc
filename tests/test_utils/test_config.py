"""okdhp_mm.utils.config: loading a config from a path, Config or dict, and its input size."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from helpers.paths import TINY_OKDHP
from okdhp_mm.utils.config import config_input_size, load_config

NO_INPUT_SIZE = ('cannot find the input size: the config has neither `codec.input_size` nor a '
                 'TopdownAffine step in val_dataloader.dataset.pipeline')


def _with_val_pipeline(*steps, **other) -> Config:
    return Config(dict(val_dataloader=dict(dataset=dict(pipeline=list(steps))), **other))


def test_input_size_comes_from_the_codec_first():
    cfg = _with_val_pipeline(dict(type='TopdownAffine', input_size=(64, 64)),
                             codec=dict(type='MSRAHeatmap', input_size=[192.0, 256]))
    size = config_input_size(cfg)
    assert size == (192, 256) and all(type(v) is int for v in size)


def test_input_size_from_the_val_pipeline_without_a_codec_size():
    steps = (dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
             dict(type='TopdownAffine', input_size=[48, 64]), dict(type='PackPoseInputs'))
    assert config_input_size(_with_val_pipeline(*steps)) == (48, 64)
    assert config_input_size(_with_val_pipeline(*steps, codec=dict(type='SimCCLabel'))) == (48, 64)


def test_input_size_of_the_tiny_okdhp_config():
    assert config_input_size(load_config(TINY_OKDHP)) == (64, 64)


@pytest.mark.parametrize('cfg', [
    Config(dict()),
    Config(dict(codec=dict(type='MSRAHeatmap'))),
    _with_val_pipeline(dict(type='LoadImage'), dict(type='PackPoseInputs')),
    Config(dict(val_dataloader=None)),
], ids=['empty', 'codec-without-size', 'pipeline-without-affine', 'no-val-dataloader'])
def test_input_size_error(cfg):
    with pytest.raises(ValueError) as err:
        config_input_size(cfg)
    assert str(err.value) == NO_INPUT_SIZE


def test_load_config_from_path_config_and_dict():
    from_path = load_config(TINY_OKDHP)
    assert isinstance(from_path, Config) and from_path.model.type == 'MultiBranchPoseEstimator'
    assert load_config(str(TINY_OKDHP)).model == from_path.model
    copied = load_config(from_path)
    assert copied is not from_path and copied.model == from_path.model
    copied.model.type = 'Other'  # a deep copy: the original stays
    assert from_path.model.type == 'MultiBranchPoseEstimator'
    source = dict(model=dict(type='X', layers=[1, 2]))
    from_dict = load_config(source)
    from_dict.model.layers.append(3)
    assert isinstance(from_dict, Config) and source == dict(model=dict(type='X', layers=[1, 2]))


def test_load_config_errors(tmp_path):
    missing = tmp_path / 'no_such_config.py'
    with pytest.raises(FileNotFoundError) as err:
        load_config(missing)
    assert str(err.value) == f'config {str(missing)!r} does not exist'
    with pytest.raises(FileNotFoundError):
        load_config(str(tmp_path))  # a directory is not a config file
    for bad, name in ((42, 'int'), (['a.py'], 'list'), (None, 'NoneType')):
        with pytest.raises(TypeError) as err:
            load_config(bad)
        assert str(err.value) == f'config must be a path, a Config or a dict, got {name}'
