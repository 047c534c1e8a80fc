"""Building a model costs no more host memory than its weights need (each hourglass stack is
built once): peak RSS growth of the build, in a fresh interpreter (even one started by this
large pytest process), against parameter + buffer bytes. The 8-stack OKDHP model on MMPose's
hourglass (283 M parameters, 1.08 GB) builds within 1.3x its weights.
"""
from __future__ import annotations

import pytest

from helpers.paths import REPO
from okdhp_mm.analysis.memory import measure_build_memory

HOURGLASS8 = REPO / 'configs/okdhp/coco/okdhp_hourglass8-mmpose-4s-3x4b_1xb16-150e_coco-256x192.py'
HOURGLASS2 = REPO / 'configs/okdhp/coco/okdhp_hourglass2-mmpose-1s-3x1b_1xb16-150e_coco-256x192.py'
MAX_RATIO = 1.3


def _check(report: dict, params: int) -> None:
    assert set(report) == {'config', 'weights_mb', 'rss_before_mb', 'build_peak_mb', 'ratio',
                           'peak_is_upper_bound', 'params', 'growth_mb'}
    assert report['params'] == params
    # float32 weights plus BN buffers: a little above 4 bytes per parameter.
    assert 4 * params <= report['weights_mb'] * 2 ** 20 <= 4.05 * params
    # The build's own peak was measured (not hidden under an earlier, larger one).
    assert report['peak_is_upper_bound'] is False
    assert report['build_peak_mb'] >= 0.9 * report['weights_mb']  # the weights themselves
    assert report['ratio'] <= MAX_RATIO, (
        f"building {report['config']} peaked at {report['build_peak_mb']:.0f} MB of RSS for "
        f"{report['weights_mb']:.0f} MB of weights ({report['ratio']:.2f}x > {MAX_RATIO}x); "
        f"RSS growth by kind: {report['growth_mb']}")


def test_two_stack_hourglass_builds_within_its_weights():
    report = measure_build_memory(str(HOURGLASS2))
    from mmengine.config import Config
    from mmpose.registry import MODELS

    model = MODELS.build(Config.fromfile(str(HOURGLASS2)).model)
    _check(report, sum(p.numel() for p in model.parameters()))


@pytest.mark.slow
def test_eight_stack_hourglass_builds_within_1_3x_its_weights():
    """About 15 s and 1.8 GB of RSS on a busy 2-core machine."""
    report = measure_build_memory(str(HOURGLASS8))
    _check(report, 282_787_779)
