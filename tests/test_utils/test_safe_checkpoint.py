"""Safe checkpoint loading: MMEngine checkpoints load with weights_only=True, crafted ones don't.

And it stays on:

* No ``torch.load(...)`` in ``okdhp_mm/`` or ``tools/`` passes ``weights_only=False`` (or an
  expression that could be False), none is reached through an alias, and nothing sets
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` / ``TORCH_FORCE_WEIGHTS_ONLY_LOAD``.
* After ``import okdhp_mm``, MMEngine's loader for local files is ours and reads with
  ``weights_only=True``.
"""
from __future__ import annotations

import ast
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from helpers.malicious_checkpoint import RunsCodeOnLoad
from helpers.paths import REPO, run_cmd

SCANNED = ('okdhp_mm', 'tools')


def _write_mmengine_checkpoint(path) -> nn.Module:
    """A checkpoint shaped like the ones MMEngine's runner writes (numpy meta, HistoryBuffer)."""
    from mmengine.logging import HistoryBuffer

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    buf = HistoryBuffer()
    buf.update(0.5, 2)
    ckpt = dict(
        meta=dict(epoch=2, iter=10, seed=np.int64(7),
                  dataset_meta=dict(sigmas=np.array([0.026, 0.025], dtype=np.float32),
                                    flip_indices=[1, 0],
                                    keypoint_colors=np.array([[255, 0, 0]], dtype=np.uint8),
                                    weights=np.ones(2, dtype=np.float64))),
        state_dict=model.state_dict(),
        message_hub=dict(log_scalars={'train/loss': buf}, runtime_info={'epoch': 2}),
    )
    torch.save(ckpt, path)
    return model


def test_plain_torch_load_rejects_mmengine_checkpoint_without_our_allow_list(tmp_path):
    """The problem we fix: in a fresh interpreter, weights_only=True refuses numpy meta."""
    path = tmp_path / 'ckpt.pth'
    _write_mmengine_checkpoint(path)
    code = ('import torch, sys\n'
            f'try:\n    torch.load({str(path)!r})\nexcept Exception as e:\n'
            '    print("REFUSED", type(e).__name__, e); sys.exit(0)\nprint("LOADED")\n')
    out = run_cmd([sys.executable, '-c', code]).stdout
    assert 'REFUSED' in out and 'numpy' in out


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    import okdhp_mm  # noqa: F401
    from mmengine.runner import load_checkpoint

    path = tmp_path / 'ckpt.pth'
    src = _write_mmengine_checkpoint(path)
    dst = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    ckpt = load_checkpoint(dst, str(path), map_location='cpu')
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)
    assert ckpt['meta']['seed'] == 7
    np.testing.assert_allclose(ckpt['meta']['dataset_meta']['sigmas'], [0.026, 0.025])
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 0.5


def test_crafted_checkpoint_is_refused_and_never_runs(tmp_path):
    import okdhp_mm  # noqa: F401
    from mmengine.runner import load_checkpoint

    from okdhp_mm.utils.safe_checkpoint import UnsafeCheckpointError

    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': RunsCodeOnLoad(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth.*(posix|os)\.system'):
        load_checkpoint(nn.Linear(2, 2), str(path), map_location='cpu')
    assert not marker.exists()
    # The refusal is an UnpicklingError, so code that already handles torch's error still does.
    assert issubclass(UnsafeCheckpointError, pickle.UnpicklingError)


def test_missing_checkpoint_names_the_path(tmp_path):
    import okdhp_mm  # noqa: F401
    from mmengine.runner import load_checkpoint

    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint(nn.Linear(2, 2), str(tmp_path / 'nope.pth'))


def test_allow_list_is_only_data_types():
    """Nothing callable beyond numpy's array rebuild and plain classes is allow-listed."""
    from okdhp_mm.utils.safe_checkpoint import safe_globals

    names = {f'{g.__module__}.{g.__qualname__}' for g in safe_globals()}
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in names
    for bad in ('os.system', 'posix.system', 'builtins.eval', 'builtins.exec',
                'subprocess.Popen', 'builtins.getattr'):
        assert bad not in names
    assert all(n.startswith(('numpy', 'mmengine.logging')) for n in names), names


class _LooksUpAnAttribute:
    """A getattr chain is how a crafted pickle walks from an allowed class to os.system."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    import okdhp_mm  # noqa: F401
    from mmengine.logging import HistoryBuffer

    from okdhp_mm.utils.safe_checkpoint import UnsafeCheckpointError, safe_torch_load

    path = tmp_path / 'walk.pth'
    torch.save({'meta': _LooksUpAnAttribute()}, path)
    with pytest.raises(UnsafeCheckpointError, match='__init__'):
        safe_torch_load(str(path))
    # ... while the lookups real MMEngine checkpoints contain still work
    buf = HistoryBuffer()
    buf.update(3.0)
    torch.save({'b': buf}, tmp_path / 'ok.pth')
    assert safe_torch_load(str(tmp_path / 'ok.pth'))['b'].mean() == 3.0


# ---------------------------------------------------------------- it stays on
def _python_files():
    files = sorted(p for d in SCANNED for p in (REPO / d).rglob('*.py'))
    assert len(files) > 10, files
    return files


def _torch_load_calls(tree: ast.AST):
    """(call node, how it was named) for every call of torch.load in a module."""
    torch_names = {'torch'}
    load_names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            torch_names |= {a.asname for a in node.names if a.name == 'torch' and a.asname}
        elif isinstance(node, ast.ImportFrom) and node.module in ('torch', 'torch.serialization'):
            load_names |= {a.asname or a.name for a in node.names if a.name == 'load'}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr == 'load':
            base = f.value
            if isinstance(base, ast.Name) and base.id in torch_names:
                yield node, f'{base.id}.load'
            elif (isinstance(base, ast.Attribute) and base.attr == 'serialization'
                  and isinstance(base.value, ast.Name) and base.value.id in torch_names):
                yield node, 'torch.serialization.load'
        elif isinstance(f, ast.Name) and f.id in load_names:
            yield node, f.id


def _unsafe(node: ast.Call):
    """Why this torch.load call may load with weights_only=False (None: it cannot)."""
    kw = {k.arg: k.value for k in node.keywords}
    if None in kw:
        return 'passes **kwargs'
    if 'weights_only' not in kw:
        return None  # torch >= 2.6 default: weights_only=True
    value = kw['weights_only']
    if isinstance(value, ast.Constant) and value.value is True:
        return None
    return f'passes weights_only={ast.unparse(value)}'


def test_no_torch_load_switches_weights_only_off():
    calls, bad = [], []
    for path in _python_files():
        rel = path.relative_to(REPO)
        tree = ast.parse(path.read_text(), filename=str(rel))
        for node, name in _torch_load_calls(tree):
            where = f'{rel}:{node.lineno} {name}(...)'
            calls.append(where)
            why = _unsafe(node)
            if why:
                bad.append(f'{where} {why}')
    assert not bad, bad
    # the scan sees the one real call (the safe loader), so it is not vacuous
    assert any(c.startswith('okdhp_mm/utils/safe_checkpoint.py') for c in calls), calls


def test_scanner_catches_the_unsafe_forms():
    src = '''
import torch as T
from torch import load as tl
import torch
torch.load(f, weights_only=False)
T.load(f, weights_only=flag)
tl(f, weights_only=False)
torch.serialization.load(f, **kw)
torch.load(f, weights_only=True)
torch.load(f)
'''
    found = list(_torch_load_calls(ast.parse(src)))
    assert len(found) == 6
    assert [bool(_unsafe(n)) for n, _ in sorted(found, key=lambda c: c[0].lineno)] == [
        True, True, True, True, False, False]


def test_nothing_forces_weights_only_off():
    for path in _python_files():
        text = path.read_text()
        for var in ('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', 'TORCH_FORCE_WEIGHTS_ONLY_LOAD'):
            if var in text:
                # only documentation may name them (the safe loader explains why not)
                code = ast.parse(text)
                strings = [n for n in ast.walk(code) if isinstance(n, ast.Constant)
                           and isinstance(n.value, str) and var in n.value]
                docs = {ast.get_docstring(n, clean=False) for n in ast.walk(code)
                        if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))}
                assert all(s.value in docs for s in strings), f'{path}: sets {var}?'


def test_mmengine_local_loader_is_ours_and_uses_weights_only(tmp_path, monkeypatch):
    import okdhp_mm  # noqa: F401
    from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

    from okdhp_mm.utils import safe_checkpoint

    path = tmp_path / 'ckpt.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {}}, path)
    loader = CheckpointLoader._get_checkpoint_loader(str(path))
    assert loader is safe_checkpoint._load_from_local
    assert CheckpointLoader._schemes[''] is safe_checkpoint._load_from_local

    seen = []
    real = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get('weights_only'))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    ckpt = _load_checkpoint(str(path), map_location='cpu')
    assert seen == [True] and torch.equal(ckpt['state_dict']['w'], torch.ones(2))


@pytest.mark.parametrize('name', ['okdhp_mm', 'okdhp_mm.engine'])
def test_importing_the_package_keeps_the_loader(name):
    """Re-importing (custom_imports does it per config) does not undo or double-wrap it."""
    import importlib

    from mmengine.runner.checkpoint import CheckpointLoader

    from okdhp_mm.utils import safe_checkpoint

    importlib.import_module(name)
    assert CheckpointLoader._schemes[''] is safe_checkpoint._load_from_local
    assert Path(safe_checkpoint.__file__).is_relative_to(REPO / 'okdhp_mm')
