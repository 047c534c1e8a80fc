"""Building a model costs no more host memory than its weights need (each hourglass stack is
built once): the RSS high-water mark of the build, in a fresh interpreter, against parameter +
buffer bytes. The high-water mark is reset right before the build (``/proc/self/clear_refs``)
and read from ``VmHWM``, not ``ru_maxrss``, which the kernel carries across ``exec`` from this
large pytest process. The 8-stack OKDHP model on MMPose's hourglass (283 M parameters,
1.08 GB) builds within 1.3x its weights.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers.paths import REPO

HOURGLASS8 = REPO / 'configs/okdhp/coco/okdhp_hourglass8-mmpose-4s-3x4b_1xb16-150e_coco-256x192.py'
HOURGLASS2 = REPO / 'configs/okdhp/coco/okdhp_hourglass2-mmpose-1s-3x1b_1xb16-150e_coco-256x192.py'
MAX_RATIO = 1.3
BUILD = '''
import json, sys
from mmpose.registry import MODELS
from okdhp_mm.utils.config import build_model_from_config, load_config

def status(key):
    with open('/proc/self/status') as f:
        return int(next(l for l in f if l.startswith(key)).split()[1]) * 1024

cfg = load_config(sys.argv[1])
MODELS.import_from_location()  # the registry's lazy imports, outside the measurement
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')  # the high-water mark := the current RSS
before = status('VmRSS:')
model = build_model_from_config(cfg)
print(json.dumps(dict(peak=status('VmHWM:') - before, params=sum(
    p.numel() for p in model.parameters()), weights=sum(
    t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()]))))
'''


def _build(config) -> dict:
    proc = subprocess.run([sys.executable, '-c', BUILD, str(config)], capture_output=True,
                          text=True, timeout=900, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check(report: dict, params: int) -> None:
    assert report['params'] == params
    # float32 weights plus BN buffers: a little above 4 bytes per parameter.
    assert 4 * params <= report['weights'] <= 4.05 * params
    assert report['peak'] >= 0.9 * report['weights']  # the weights themselves were measured
    assert report['peak'] <= MAX_RATIO * report['weights'], (
        f"building peaked at {report['peak'] / 2 ** 20:.0f} MB of RSS for "
        f"{report['weights'] / 2 ** 20:.0f} MB of weights (> {MAX_RATIO}x)")


def test_two_stack_hourglass_builds_within_its_weights():
    from mmengine.config import Config
    from mmpose.registry import MODELS

    model = MODELS.build(Config.fromfile(str(HOURGLASS2)).model)
    _check(_build(HOURGLASS2), sum(p.numel() for p in model.parameters()))


@pytest.mark.slow
def test_eight_stack_hourglass_builds_within_1_3x_its_weights():
    """About 15 s and 1.8 GB of RSS on a busy 2-core machine."""
    _check(_build(HOURGLASS8), 282_787_779)
