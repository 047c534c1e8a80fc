"""tools/gpu_check.sh, the prepared GPU check: its dry run (``--cpu``: CUDA replaced by the
CPU; ``--tiny`` sizes, about a minute on 2 cores) passes on the existing .venv and writes the
summary; a step whose worker process dies is recorded and the others still run."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers.paths import REPO

STEPS = ['environment', 'data', 'cuda_tests', 'benchmark_okdhp_res18',
         'benchmark_okdhp_rtmpose_t', 'train_teachers', 'train_okdhp', 'train_hhd', 'train_odkd',
         'train_okdhp_rtmpose']
METHODS = ['train_okdhp', 'train_hhd', 'train_odkd', 'train_okdhp_rtmpose']


def _output(proc, out):
    log = out / 'gpu_check.log'
    return (proc.stdout[-4000:] + proc.stderr[-2000:] +
            (log.read_text(errors='replace')[-4000:] if log.exists() else ''))


def test_dry_run_passes_and_writes_the_summary(tmp_path):
    if not (REPO / '.venv' / '.okdhp_stack_stamp').is_file():
        pytest.skip('needs the .venv of tools/setup_env.sh (make setup): the dry run must not '
                    'install')
    out = tmp_path / 'out'
    proc = subprocess.run(['bash', 'tools/gpu_check.sh', '--cpu', '--tiny', '--work',
                           str(tmp_path / 'work'), str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, _output(proc, out)
    summary = json.loads((out / 'gpu_check.json').read_text())
    assert [s['name'] for s in summary['steps']] == ['install'] + STEPS
    assert all(s['ok'] for s in summary['steps']), _output(proc, out)
    assert summary['ok'] and summary['dry_run'] and summary['device'] == 'cpu'
    assert 'up to date' in summary['install_route'] and summary['install_seconds'] < 120
    assert summary['torch'] and summary['device_name'].startswith('CPU')
    steps = {s['name']: s for s in summary['steps']}
    assert steps['cuda_tests']['details']['tests'] >= 1  # collected (and skipped: no GPU)
    for name in ('benchmark_okdhp_res18', 'benchmark_okdhp_rtmpose_t'):
        assert steps[name]['details']['timer'] == 'cpu', name
        assert (out / f'{name}.json').is_file(), name
    for name in METHODS:
        d = steps[name]['details']
        assert d['finite_losses'] and d['amp'] == 'bfloat16' and d['param_device'] == 'cpu', name
        assert d['persons'] >= 1 and d['max_px_diff'] <= 1e-3, (name, d['max_px_diff'])
    table = (out / 'gpu_check.md').read_text()
    for name in ['install'] + STEPS:
        assert f'| {name} | yes |' in table, name


def test_a_dying_worker_costs_its_step_only(tmp_path):
    """The orchestrator alone (no torch), its worker a program that exits at once: every step
    is recorded as failed, the summary is written, the exit status is 1."""
    out = tmp_path / 'out'
    proc = subprocess.run([sys.executable, 'tools/gpu_check.py', str(out), '--device', 'cpu',
                           '--tiny', '--work', str(tmp_path / 'work'), '--python', 'false'],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = json.loads((out / 'gpu_check.json').read_text())
    assert [s['name'] for s in summary['steps']] == ['install'] + STEPS
    assert summary['failed'] == STEPS and not summary['ok']
    assert all('worker process ended' in s['details']['error'] for s in summary['steps'][1:])
    assert '| train_odkd | **no** |' in (out / 'gpu_check.md').read_text()
