"""Faults during training lose nothing: a kill inside a checkpoint write, a truncated newest
checkpoint on ``--resume``, and the tools' errors on unreadable files.

Every run is ``mim train mmpose`` on the tiny COCO-samples OKDHP config (4 images with 12
annotated people: 3 iterations per epoch, a checkpoint every epoch, ``AtomicCheckpointHook``
from its recipe).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.paths import REPO, TINY_OKDHP, VENV_BIN, run_cmd

pytestmark = pytest.mark.slow

MIM = VENV_BIN / 'mim'

# Imported by the killed run (custom_imports): the local write of epoch_2's checkpoint stops
# half way, announces itself and sleeps, so that the test kills it inside the write.
SLOW_WRITE = '''
import os, time
from mmengine.fileio.backends import LocalBackend

_put = LocalBackend.put


def put(self, obj, filepath):
    if 'epoch_2' in os.path.basename(str(filepath)) or 'epoch_2' in str(filepath):
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
            os.fsync(f.fileno())
        open(os.environ['OKDHP_WRITE_MARKER'], 'w').close()
        time.sleep(120)
    return _put(self, obj, filepath)


LocalBackend.put = put
'''


def _train(work: Path, *extra, env=None, check=True):
    return run_cmd([MIM, 'train', 'mmpose', TINY_OKDHP, '--work-dir', work, *extra],
                   env=env, check=check, timeout=600)


def _losses(work: Path) -> list:
    logs = sorted(work.glob('*/vis_data/scalars.json'))
    with open(logs[-1]) as f:
        return [json.loads(line)['loss'] for line in f if '"loss"' in line]


def test_resume_past_a_truncated_newest_checkpoint(tmp_path):
    work = tmp_path / 'work'
    _train(work)
    assert (work / 'epoch_1.pth').is_file() and (work / 'epoch_2.pth').is_file()
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_2.pth')
    ckpt = work / 'epoch_2.pth'
    ckpt.write_bytes(ckpt.read_bytes()[:ckpt.stat().st_size // 2])
    proc = _train(work, '--resume', '--cfg-options', 'train_cfg.max_epochs=3')
    out = proc.stdout + proc.stderr
    assert 'epoch_2.pth is unreadable (truncated or not a PyTorch checkpoint)' in out
    assert f'resuming from {work / "epoch_1.pth"}' in out
    assert 'resumed epoch: 1' in out  # MMEngine's own line: it continued after epoch 1
    assert (work / 'epoch_3.pth').is_file()
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_3.pth')


def test_a_kill_inside_the_write_leaves_the_previous_checkpoint_to_resume_from(tmp_path):
    plugin = tmp_path / 'slow_write.py'
    plugin.write_text(SLOW_WRITE)
    marker = tmp_path / 'writing'
    work = tmp_path / 'killed'
    env = dict(os.environ, PYTHONPATH=f'{tmp_path}{os.pathsep}{os.environ.get("PYTHONPATH", "")}',
               OKDHP_WRITE_MARKER=str(marker), PYTHONUNBUFFERED='1',
               PATH=f'{VENV_BIN}{os.pathsep}{os.environ["PATH"]}')
    # Config.fromfile imports custom_imports before --cfg-options are merged: the plugin goes
    # into a config of its own.
    config = tmp_path / 'tiny_slow_write.py'
    config.write_text(f"_base_ = [{str(TINY_OKDHP)!r}]\n"
                      "custom_imports = dict(imports=['okdhp_mm', 'slow_write'], "
                      "allow_failed_imports=False)\n")
    cmd = [str(MIM), 'train', 'mmpose', str(config), '--work-dir', str(work)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while not marker.exists():
            assert proc.poll() is None, 'the run ended before writing epoch_2'
            assert time.time() < deadline, 'the run never reached the epoch_2 write'
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # mim spawns the trainer: kill the whole group
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # Every named checkpoint is complete or absent: epoch_2 was never renamed into place.
    names = sorted(p.name for p in work.glob('*.pth'))
    assert names == ['best_coco_AP_epoch_1.pth', 'epoch_1.pth'], names  # save_best: epoch 1
    assert (work / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
    # The resumed run completes like one resumed from an untouched copy of the same checkpoint.
    reference = tmp_path / 'reference'
    reference.mkdir()
    (reference / 'epoch_1.pth').write_bytes((work / 'epoch_1.pth').read_bytes())
    (reference / 'last_checkpoint').write_text(str(reference / 'epoch_1.pth'))
    for w in (work, reference):  # a fixed seed: the same data order and augmentation
        _train(w, '--resume', '--cfg-options', 'train_cfg.max_epochs=3', 'randomness.seed=0')
        assert (w / 'epoch_3.pth').is_file()
    # epochs 2 and 3 resumed, 3 iterations each (12 annotated people, batch 4)
    assert _losses(work) == _losses(reference) and len(_losses(work)) == 6


@pytest.mark.parametrize('tool', ['export_student', 'verify_student', 'benchmark'])
def test_tools_report_an_unreadable_checkpoint_without_a_traceback(tmp_path, tool, samples):
    bad = tmp_path / 'bad.pth'
    bad.write_bytes(b'PK\x03\x04 a zip header and nothing else')
    args = {'export_student': [TINY_OKDHP, bad, '--branch', '0', '--out', tmp_path / 'z'],
            'verify_student': [TINY_OKDHP, bad, '--ann', samples / 'coco' / 'test_coco.json',
                               '--img-dir', samples / 'coco', '--out', tmp_path / 'p.npz'],
            'benchmark': [TINY_OKDHP, '--checkpoint', bad, '--quick', '--quiet',
                          '--out', tmp_path / 'b']}[tool]
    proc = run_cmd([sys.executable, REPO / 'tools' / f'{tool}.py', *args], check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f'checkpoint {bad} is unreadable (truncated or not a PyTorch checkpoint)' in \
        proc.stderr
    assert 'Traceback' not in proc.stderr
