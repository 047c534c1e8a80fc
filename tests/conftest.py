"""Shared fixtures: paths to the real sample data and a small synthetic COCO set."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get('OKDHP_SAMPLES',
                              REPO.parent / 'shared' / 'data' / 'mmpose_samples')).resolve()
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope='session')
def repo() -> Path:
    return REPO


@pytest.fixture(scope='session')
def samples() -> Path:
    if not (SAMPLES / 'coco' / 'test_coco.json').is_file():
        pytest.fail(f'sample data not found at {SAMPLES}; set OKDHP_SAMPLES to the '
                    'mmpose_samples folder (shared/data/mmpose_samples)')
    return SAMPLES


def run_cmd(args, cwd=REPO, timeout=900, env=None, check=True) -> subprocess.CompletedProcess:
    """Run a command line, return the completed process; fail with its output on error."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='2',
                    MKL_NUM_THREADS='2', PATH=f'{VENV_BIN}{os.pathsep}{os.environ["PATH"]}')
    full_env.update(env or {})
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f'command failed ({proc.returncode}): {" ".join(map(str, args))}\n'
                    f'--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


@pytest.fixture(autouse=True, scope='session')
def _mmpose_scope():
    """Build from config dicts as MMPose's tools do: in the 'mmpose' registry scope."""
    from mmengine.registry import init_default_scope

    import okdhp_mm  # noqa: F401  (registers our modules)
    init_default_scope('mmpose')
