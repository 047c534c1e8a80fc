"""Safe checkpoint loading stays on.

* No ``torch.load(...)`` in ``okdhp_mm/`` or ``tools/`` passes ``weights_only=False`` (or an
  expression that could be False), none is reached through an alias, and nothing sets
  ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` / ``TORCH_FORCE_WEIGHTS_ONLY_LOAD``.
* After ``import okdhp_mm``, MMEngine's loader for local files is ours and reads with
  ``weights_only=True``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from conftest import REPO

SCANNED = ('okdhp_mm', 'tools')


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
