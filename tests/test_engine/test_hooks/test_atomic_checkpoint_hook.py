"""Atomic writes, the resume fallback past an unreadable checkpoint, and its errors."""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import torch

from okdhp_mm.engine.hooks import atomic_write
from okdhp_mm.engine.runner.resume import (NoReadableCheckpointError,
                                           resolve_resume_checkpoint, unreadable_reason)
from okdhp_mm.utils.safe_checkpoint import UnreadableCheckpointError, safe_torch_load


def _ckpt(path, value=1.0):
    torch.save({'state_dict': {'w': torch.full((64, 64), value)}, 'meta': {}}, path)
    return path


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / 'epoch_1.pth'
    _ckpt(target, 1.0)
    with pytest.raises(RuntimeError, match='killed'):
        with atomic_write(str(target)) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half a checkpoint')
            raise RuntimeError('killed')
    assert safe_torch_load(str(target))['state_dict']['w'][0, 0] == 1.0  # the old one, whole
    with atomic_write(str(target)) as tmp:
        _ckpt(tmp, 2.0)
        assert safe_torch_load(str(target))['state_dict']['w'][0, 0] == 1.0  # not yet renamed
    assert safe_torch_load(str(target))['state_dict']['w'][0, 0] == 2.0
    assert sorted(os.listdir(tmp_path)) == ['epoch_1.pth']  # no temporary file left


@pytest.mark.parametrize('content', [b'', b'not a checkpoint\n' * 20, 'truncate'])
def test_unreadable_files_get_one_clear_error(tmp_path, content):
    path = tmp_path / 'x.pth'
    if content == 'truncate':
        _truncate(_ckpt(path))
    else:
        path.write_bytes(content)
    with pytest.raises(UnreadableCheckpointError,
                       match=r'checkpoint .*x\.pth is unreadable \(truncated or not a PyTorch '
                             r'checkpoint\): '):
        safe_torch_load(str(path))
    assert unreadable_reason(str(path))
    assert unreadable_reason(str(_ckpt(tmp_path / 'ok.pth'))) is None


def _runner(work_dir, resume=True, load_from=None):
    return SimpleNamespace(_resume=resume, _load_from=load_from, work_dir=str(work_dir))


def test_resume_falls_back_to_the_newest_readable_checkpoint(tmp_path):
    for n in (1, 2, 3):
        _ckpt(tmp_path / f'epoch_{n}.pth', n)
    _truncate(tmp_path / 'epoch_3.pth')
    _truncate(tmp_path / 'epoch_2.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    runner = _runner(tmp_path)
    with pytest.warns(UserWarning, match=r'epoch_3\.pth is unreadable \(truncated or not a '
                                         r'PyTorch checkpoint\): .*; resuming from .*'
                                         r'epoch_1\.pth'):
        assert resolve_resume_checkpoint(runner) == str(tmp_path / 'epoch_1.pth')
    assert runner._load_from == str(tmp_path / 'epoch_1.pth')
    assert resolve_resume_checkpoint(runner) == str(tmp_path / 'epoch_1.pth')  # once


def test_resume_keeps_a_readable_checkpoint_and_ignores_runs_that_do_not_resume(tmp_path):
    _ckpt(tmp_path / 'epoch_1.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    assert resolve_resume_checkpoint(_runner(tmp_path)) == str(tmp_path / 'epoch_1.pth')
    assert resolve_resume_checkpoint(_runner(tmp_path, resume=False)) is None
    assert resolve_resume_checkpoint(_runner(tmp_path / 'empty')) is None


def test_resume_with_no_readable_checkpoint_names_every_file(tmp_path):
    for n in (1, 2):
        _truncate(_ckpt(tmp_path / f'iter_{n}.pth'))
    with pytest.raises(NoReadableCheckpointError,
                       match=r'no checkpoint .* can be read: .*iter_2\.pth .*iter_1\.pth'):
        resolve_resume_checkpoint(_runner(tmp_path))
