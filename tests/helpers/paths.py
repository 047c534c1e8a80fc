"""Where the repository, the real sample data and the venv's tools are; running a command."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get('OKDHP_SAMPLES',
                              REPO.parent / 'shared' / 'data' / 'mmpose_samples')).resolve()
VENV_BIN = Path(sys.executable).parent
# Intra-op threads for a test's training: both cores, or one under pytest-xdist's two workers.
THREADS = 1 if os.environ.get('PYTEST_XDIST_WORKER') else 2
# The tiny OKDHP hourglass on the COCO samples: the base of most derived test configs.
TINY_OKDHP = (REPO / 'configs/okdhp/coco_samples' /
              'okdhp_hourglass-tiny-1s-3x1b_1xb4-2e_coco-samples-64x64.py')
# HHD on the synthetic set: the distiller and its heatmap teacher.
SYN_HHD = (REPO / 'configs/hhd/synthetic/'
           'hhd_res18-hm_res18-16-dsnt_1xb32-20e_synthetic-128x96.py')
SYN_TEACHER = REPO / 'configs/baseline/synthetic/td-hm_res18_1xb32-20e_synthetic-128x96.py'


def run_cmd(args, cwd=REPO, timeout=900, env=None, check=True) -> subprocess.CompletedProcess:
    """Run a command line, return the completed process; fail with its output on error."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS=str(THREADS),
                    MKL_NUM_THREADS=str(THREADS), PATH=f'{VENV_BIN}{os.pathsep}{os.environ["PATH"]}')
    full_env.update(env or {})
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f'command failed ({proc.returncode}): {" ".join(map(str, args))}\n'
                    f'--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a module (its ``main(argv)`` runs the tool in this process)."""
    spec = importlib.util.spec_from_file_location(f'okdhp_tools_{name}',
                                                  REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
