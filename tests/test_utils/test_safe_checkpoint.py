"""Safe checkpoint loading: MMEngine checkpoints load with weights_only=True, crafted ones don't."""
from __future__ import annotations

import os
import pickle
import sys

import numpy as np
import pytest
import torch
from torch import nn

from conftest import run_cmd


class _RunsCodeOnLoad:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}',))


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
    torch.save({'state_dict': {}, 'meta': _RunsCodeOnLoad(str(marker))}, path)
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
