"""okdhp_mm.utils.checkpoint: the one checkpoint reader and key-mismatch report."""
from __future__ import annotations

import re
from collections import OrderedDict

import pytest
import torch
from torch import nn

from okdhp_mm.utils.checkpoint import (StateDictMismatch, compare_state_dicts, is_remote,
                                       load_complete_checkpoint, load_state_into,
                                       read_checkpoint)


def _net() -> nn.Module:
    """Keys: 0.weight (4, 3, 1, 1), 0.bias (4), 1.weight/bias/running_mean/running_var (4),
    1.num_batches_tracked ()."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))


def _state(**changes) -> 'OrderedDict':
    """A state dict of _net() with other values, and entries replaced (None: dropped)."""
    state = OrderedDict((k, torch.full_like(v, 7)) for k, v in _net().state_dict().items())
    for key, value in changes.items():
        key = key.replace('__', '.')
        if value is None:
            del state[key]
        else:
            state[key] = value
    return state


def _unchanged(model: nn.Module) -> bool:
    return all(torch.equal(v, _net().state_dict()[k]) for k, v in model.state_dict().items())


# ------------------------------------------------------------------------ compare_state_dicts
def test_compare_finds_missing_unexpected_and_shape_mismatches():
    model = _net().state_dict()
    ckpt = _state(**{'0__bias': None, '1__running_var': None, '0__weight': torch.zeros(4, 3),
                     'head__weight': torch.zeros(1), 'extra': torch.zeros(2)})
    m = compare_state_dicts(model, ckpt)
    assert m.total == 7
    assert m.missing == ['0.bias', '1.running_var']
    assert m.unexpected == ['extra', 'head.weight']
    assert m.mismatched == ['0.weight (4, 3) vs model (4, 3, 1, 1)']
    assert m.fitting == 4 and bool(m)


def test_compare_of_a_fitting_state_is_empty_and_strips_module_prefix():
    model = _net().state_dict()
    wrapped = OrderedDict((f'module.{k}', v) for k, v in _state().items())
    m = compare_state_dicts(model, wrapped)
    assert m == StateDictMismatch(total=7) and not m and m.fitting == 7
    # only a leading 'module.' is a wrapper prefix
    m = compare_state_dicts(model, {f'x.module.{k}': v for k, v in _state().items()})
    assert len(m.missing) == len(m.unexpected) == 7


def test_compare_allows_the_given_patterns():
    model = _net().state_dict()
    ckpt = _state(**{'1__running_mean': None, '1__running_var': None,
                     'teachers__a__w': torch.zeros(1)})
    m = compare_state_dicts(model, ckpt, allow_missing=[r'^1\.running_'],
                            allow_unexpected=[r'^teachers\.'])
    assert not m and m.fitting == 7
    m = compare_state_dicts(model, ckpt, allow_missing=['running_mean'])
    assert m.missing == ['1.running_var'] and m.unexpected == ['teachers.a.w']
    # non-tensor entries have no shape to compare
    assert not compare_state_dicts({'a': torch.zeros(2)}, {'a': 'not a tensor'})


def test_describe_text():
    assert StateDictMismatch(total=3).describe() == "3 of the model's 3 keys fit"
    m = StateDictMismatch(total=10, missing=['a', 'b'], unexpected=['x'],
                          mismatched=['c (1,) vs model (2,)'])
    assert m.describe() == ("7 of the model's 10 keys fit; missing keys: a, b; unexpected "
                            "keys: x; shape mismatches: c (1,) vs model (2,)")
    many = StateDictMismatch(total=9, missing=[f'k{i}' for i in range(7)])
    assert many.describe() == ("2 of the model's 9 keys fit; missing keys: k0, k1, k2, k3, "
                               "k4 ... (7 in all)")


# ------------------------------------------------------------------------ read_checkpoint
def test_read_checkpoint_returns_the_file_and_its_clean_state(tmp_path):
    state = OrderedDict((f'module.{k}', v) for k, v in _state().items())
    state._metadata = OrderedDict([('module.1', {'version': 2})])
    torch.save({'state_dict': state, 'meta': {'epoch': 3}}, tmp_path / 'c.pth')
    ckpt, clean = read_checkpoint(str(tmp_path / 'c.pth'))
    assert ckpt['meta'] == {'epoch': 3}
    assert list(clean) == list(_net().state_dict())
    assert clean._metadata == OrderedDict([('1', {'version': 2})])
    assert all(torch.equal(clean[k], v) for k, v in _state().items())
    # a bare state dict (no 'state_dict' entry) is its own state dict
    torch.save(_state(), tmp_path / 'bare.pth')
    ckpt, clean = read_checkpoint(str(tmp_path / 'bare.pth'))
    assert list(clean) == list(ckpt) == list(_net().state_dict())


def test_read_checkpoint_errors_name_the_file(tmp_path):
    missing = tmp_path / 'nowhere' / 'nope.pth'
    with pytest.raises(FileNotFoundError) as err:
        read_checkpoint(str(missing), what='teacher checkpoint')
    assert str(err.value) == (f"teacher checkpoint {str(missing)!r} does not exist (resolved "
                              f"to {str(missing)!r})")
    for name, content in (('list.pth', [1, 2]), ('entry.pth', {'state_dict': [1, 2]})):
        torch.save(content, tmp_path / name)
        with pytest.raises(ValueError) as err:
            read_checkpoint(str(tmp_path / name))
        assert str(err.value) == f'checkpoint {str(tmp_path / name)!r} holds no state_dict'


def test_is_remote():
    for name in ('https://x.org/a.pth', 's3://bucket/a.pth', 'open-mmlab://resnet50_v1c',
                 'torchvision://resnet18', 'mmcls://mobilenet_v2'):
        assert is_remote(name), name
    for name in ('a.pth', '/abs/a.pth', 'work_dirs/x/epoch_20.pth', 'C_drive.pth'):
        assert not is_remote(name), name


# ------------------------------------------------------------------------ load_state_into
def test_load_state_into_loads_what_fits_and_reports_the_rest():
    model = _net()
    result = load_state_into(model, _state(**{'0__bias': None, 'extra': torch.zeros(1)}))
    assert result == StateDictMismatch(total=7, missing=['0.bias'], unexpected=['extra'])
    assert torch.equal(model.state_dict()['0.weight'], torch.full((4, 3, 1, 1), 7.))
    assert torch.equal(model.state_dict()['0.bias'], _net().state_dict()['0.bias'])


def test_load_state_into_loads_nothing_on_a_shape_mismatch():
    model = _net()
    result = load_state_into(model, _state(**{'1__weight': torch.zeros(5),
                                              'extra': torch.zeros(1)}))
    assert result == StateDictMismatch(total=7, mismatched=['1.weight (5,) vs model (4,)'])
    assert _unchanged(model)


# ------------------------------------------------------------------------ load_complete_checkpoint
def test_load_complete_checkpoint_loads_everything(tmp_path):
    torch.save({'state_dict': _state()}, tmp_path / 'ok.pth')
    model = _net()
    load_complete_checkpoint(model, str(tmp_path / 'ok.pth'), 'teacher')
    assert all(torch.equal(model.state_dict()[k], v) for k, v in _state().items())


def test_load_complete_checkpoint_refuses_a_partial_or_misshapen_checkpoint(tmp_path):
    path = tmp_path / 'part.pth'
    torch.save({'state_dict': _state(**{'0__bias': None})}, path)
    model = _net()
    with pytest.raises(RuntimeError) as err:
        load_complete_checkpoint(model, str(path), 'teacher')
    assert str(err.value) == (f"teacher checkpoint {str(path)!r} does not fit the teacher model "
                              "(6 of the model's 7 keys fit; missing keys: 0.bias); a partly "
                              'loaded model would predict noise')

    torch.save({'state_dict': _state(**{'0__bias': torch.zeros(3)})}, path)
    model = _net()
    with pytest.raises(RuntimeError, match=re.escape(
            "(6 of the model's 7 keys fit; shape mismatches: 0.bias (3,) vs model (4,))")):
        load_complete_checkpoint(model, str(path), 'teacher')
    assert _unchanged(model)  # nothing was loaded


def test_load_complete_checkpoint_warns_about_unexpected_keys(tmp_path):
    path = tmp_path / 'more.pth'
    torch.save({'state_dict': _state(**{'head__w': torch.zeros(1), 'head__b': torch.zeros(1)})},
               path)
    model = _net()
    with pytest.warns(UserWarning) as caught:
        load_complete_checkpoint(model, str(path), 'teacher')
    assert [str(w.message) for w in caught] == [
        f"teacher checkpoint {str(path)!r}: ignored 2 unexpected keys (head.b, head.w)"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in _state().items())


def test_load_complete_checkpoint_errors_name_the_file(tmp_path):
    missing = tmp_path / 'teacher_epoch_20.pth'
    with pytest.raises(FileNotFoundError) as err:
        load_complete_checkpoint(_net(), str(missing), 'teacher', hint='train the teacher first')
    assert str(err.value) == (f"teacher checkpoint {str(missing)!r} does not exist (resolved to "
                              f"{str(missing)!r}); train the teacher first")
    with pytest.raises(FileNotFoundError) as err:
        load_complete_checkpoint(_net(), str(missing), 'teacher')
    assert str(err.value).endswith(f'(resolved to {str(missing)!r})')
    torch.save([1, 2], tmp_path / 'list.pth')
    with pytest.raises(RuntimeError) as err:
        load_complete_checkpoint(_net(), str(tmp_path / 'list.pth'), 'teacher')
    assert str(err.value) == (f"teacher checkpoint {str(tmp_path / 'list.pth')!r} holds no "
                              'state_dict')
